"""`stream-tts --hook`: speak the last answer of an interactive Claude Code session.

Claude Code runs a Stop hook when it finishes answering and gives it a JSON payload on stdin
with `transcript_path`, the session's JSONL transcript. The answer is every assistant line
after the user's last prompt (tool results are user lines too, but not prompts; subagent lines
carry `isSidechain`). Those lines have the same shape as stream-json `assistant` lines, so the
normal pipeline speaks them.

The hook returns at once so Claude Code is not held up: the speaking runs in a detached child.
A newer answer stops an older one still speaking (pid file in $XDG_RUNTIME_DIR or /tmp).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any


class HookError(Exception):
    pass


def _is_prompt(entry: dict[str, Any]) -> bool:
    if entry.get("type") != "user" or entry.get("isSidechain") or entry.get("isMeta"):
        return False
    content = (entry.get("message") or {}).get("content")
    if isinstance(content, str):
        return True
    if isinstance(content, list):
        return not any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content)
    return False


def last_answer(transcript: Path) -> bytes:
    """The assistant lines after the last user prompt, as stream-json input."""
    try:
        raw = transcript.read_bytes().splitlines()
    except OSError as e:
        raise HookError(f"cannot read the transcript: {e}") from None
    answer: list[bytes] = []
    for line in raw:
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a half-written last line, or junk: not ours to judge
        if not isinstance(entry, dict):
            continue
        if _is_prompt(entry):
            answer = []
        elif entry.get("type") == "assistant" and not entry.get("isSidechain"):
            answer.append(line + b"\n")
    return b"".join(answer)


def read_payload(data: bytes) -> Path:
    try:
        payload = json.loads(data)
        return Path(payload["transcript_path"]).expanduser()
    except (ValueError, KeyError, TypeError):
        raise HookError(
            "--hook expects Claude Code's hook JSON on stdin (with transcript_path)"
        ) from None


def _pid_file() -> Path:
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(base) / f"stream-tts-hook-{os.getuid()}.pid"


def stop_previous() -> None:
    """Ctrl-C the previous hook's speaker, if it is still talking."""
    path = _pid_file()
    with contextlib.suppress(OSError, ValueError):
        pid = int(path.read_text())
        # Only if that pid is still a stream-tts hook: pids get reused.
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        if pid != os.getpid() and b"stream" in cmdline and b"--hook" in cmdline:
            os.kill(pid, signal.SIGINT)


def detach() -> bool:
    """Fork; the parent returns False (and exits), the child True, in a new session."""
    if os.fork() > 0:
        return False
    os.setsid()
    # Claude Code stops reading the hook's output once it returns.
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    _pid_file().write_text(str(os.getpid()))
    return True


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


def prepare(stdin: bytes) -> bytes:
    """From the hook payload to the stream-json lines to speak (may be empty)."""
    return last_answer(read_payload(stdin))


def payload_from_stdin() -> bytes:
    return sys.stdin.buffer.read()
