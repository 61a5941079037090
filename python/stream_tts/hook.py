"""`stream-tts --hook`: speak the last answer of an interactive Claude Code session.

Claude Code runs a Stop hook when it finishes answering and gives it a JSON payload on stdin
with `transcript_path`, the session's JSONL transcript. The answer is every assistant line
after the user's last prompt (tool results are user lines too, but not prompts; subagent lines
carry `isSidechain`). Those lines have the same shape as stream-json `assistant` lines, so the
normal pipeline speaks them.

Whatever the payload names is read with care: only a regular file, opened without blocking,
its last TAIL_BYTES only, every line's parse failure caught. The speaking runs in a detached
child so Claude Code is not held up once the voice is ready; the child holds the speaker lock
(speaker_lock.py), which stops an older answer still speaking. Until the voice and the device
are ready the child's stderr is a pipe to the hook, so a speaker that cannot start makes the
hook fail with its message; everything after goes to the log (paths.log_path()).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import stat
import sys
import time
from collections.abc import Callable

from stream_tts.hook_input import (
    EXIT_HOOK_FAILED,
    HookError,
    last_answer,
    payload_from_stdin,
    read_payload,
    transcript_of,
)
from stream_tts.paths import UnsafePathError, log, open_private

# Not `import typing`: the hook's fast path has no time for it (annotations are strings).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

READY_TIMEOUT_S = 20.0  # the hook waits this long at most for the speaker to be ready


# -- the detached speaker ---------------------------------------------------------------


def remove_legacy_pid_file() -> None:
    """Versions before the lock wrote /tmp/stream-tts-hook-<uid>.pid: drop it if it is ours."""
    import tempfile

    for base in {os.environ.get("XDG_RUNTIME_DIR") or "", tempfile.gettempdir()}:
        if not base:
            continue
        path = os.path.join(base, f"stream-tts-hook-{os.getuid()}.pid")
        with contextlib.suppress(OSError):
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid():
                os.unlink(path)


class Speaker:
    """The child side: holds the speaker lock, reports to the hook until it is ready."""

    def __init__(self, status_fd: int, lock: Any) -> None:
        self.status_fd = status_fd
        self.lock = lock

    def ready(self) -> None:
        """Voice loaded, device open: the hook may return; later messages go to the log."""
        if self.status_fd < 0:
            return
        signal.signal(signal.SIGINT, signal.default_int_handler)  # now a clean stop
        _stderr_to_log()
        os.close(self.status_fd)
        self.status_fd = -1


def _stderr_to_log() -> None:
    from stream_tts.paths import log_path

    try:
        fd = open_private(log_path(), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    except (OSError, UnsafePathError):
        fd = os.open(os.devnull, os.O_WRONLY)
    os.dup2(fd, 2)
    os.close(fd)


def detach(ready_timeout: float = READY_TIMEOUT_S) -> Speaker | int:
    """Fork the speaker. In the child: a Speaker, once it holds the lock. In the hook: the
    exit status (0 when the speaker got ready or was superseded, 1 when it failed to start),
    after copying what the child said to stderr and the log."""
    from stream_tts.speaker_lock import LockTimeout, SpeakerLock, Superseded, take_ticket

    r, w = os.pipe()
    pid = os.fork()
    if pid > 0:
        os.close(w)
        return _wait_ready(pid, r, ready_timeout)
    os.close(r)
    try:
        os.setsid()
        # A hook started from a shell that ignores SIGINT passes that on: the next hook must
        # still be able to stop this speaker. Until it is ready it has nothing to finish: it
        # leaves at once, quietly (its hook then returns 0: it was superseded, not broken).
        signal.signal(signal.SIGINT, _leave)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)
        os.close(devnull)
        os.dup2(w, 2)  # until ready: the hook reads it
        remove_legacy_pid_file()
        ticket = take_ticket()
        lock = SpeakerLock()
        lock.take_over(ticket)
    except Superseded:
        os._exit(0)  # a newer answer will be spoken instead
    except (OSError, UnsafePathError, LockTimeout) as e:
        os.write(w, f"stream-tts: cannot become the speaker: {e}\n".encode())
        os._exit(1)
    return Speaker(w, lock)


def _leave(signum: int, frame: object) -> None:
    os._exit(0)


def _wait_ready(pid: int, r: int, timeout: float) -> int:
    said = b""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([r], [], [], left)[0]:
            log(f"speaker {pid} not ready after {timeout:.0f} s; the hook returns")
            os.close(r)
            return 0
        chunk = os.read(r, 4096)
        if not chunk:
            break
        said += chunk[: 1 << 16]
    os.close(r)
    text = said.decode("utf-8", "replace").strip()
    # EOF comes when the speaker is ready, or when it exits: a failure always says why first,
    # and its exit may trail its last write by a moment.
    code = None
    end = time.monotonic() + (0.5 if text else 0.0)
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            break
        if time.monotonic() >= end:
            break
        time.sleep(0.01)
    if text:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
        for line in text.splitlines():
            log(line)
    if code is not None and code < 0:
        log(f"speaker {pid} stopped by signal {-code} before it was ready")
        return 0  # another hook stopped it: a newer answer is spoken instead
    if code:
        log(f"speaker {pid} failed to start (exit {code})")
        return 1
    return 0


def feed_fd(data: bytes) -> int:
    """A pipe read end that yields `data` then end of input (a thread writes it)."""
    import threading

    r, w = os.pipe()

    def write() -> None:
        with contextlib.suppress(OSError):
            os.write(w, data)
        os.close(w)

    threading.Thread(target=write, daemon=True).start()
    return r


RunSpeech = Callable[..., int]


def run(
    settings: Any,
    con: Any,
    run_text_only: RunSpeech,
    run_speech: RunSpeech,
    serve_args: list[str],
    *,
    daemon: bool = True,
) -> int:
    """`stream-tts --hook`: hand the payload to the daemon; or speak the last answer in a
    detached speaker of its own (`daemon` off); or print/write it in the foreground
    (--text-only / --output)."""
    try:
        payload = read_payload(payload_from_stdin())
        if daemon and not settings.text_only and not settings.output:
            from stream_tts.daemon.client import forward

            return forward(payload, serve_args)
        answer = last_answer(transcript_of(payload))
    except HookError as e:
        con.error(str(e))
        log(f"hook: {e}")
        return EXIT_HOOK_FAILED
    if not answer:
        return 0
    settings.input = "stream-json"
    if settings.text_only:
        return run_text_only(settings, con, feed_fd(answer))
    if settings.output:
        return run_speech(settings, con, feed_fd(answer))
    speaker = detach()
    if isinstance(speaker, int):
        return speaker  # the hook: Claude Code goes on while the child speaks
    code = run_speech(settings, con, feed_fd(answer), ready=speaker.ready)
    speaker.ready()  # a run that ended before it got ready (an error) has said so by now
    return code
