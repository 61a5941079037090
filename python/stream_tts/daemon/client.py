"""Talking to the daemon: what `stream-tts --hook` and `stream-tts ctl` run.

Kept light (no numpy, no engines): Claude Code waits for the hook on every tool call, so the
hook only forwards the few fields the daemon needs and returns. When no daemon answers it
starts one, detached, and waits for its voice to be ready, so that a daemon that cannot start
(no audio device, unknown voice) fails this hook with its reason instead of dying unheard.
"""

from __future__ import annotations

import os
import socket
import sys
import time

from stream_tts.daemon.protocol import ProtocolError, peer_uid, receive, send, socket_path
from stream_tts.paths import UnsafePathError, log, log_path, open_private

# Not `import typing`: the hook's fast path has no time for it (annotations are strings).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess
    from typing import Any

CONNECT_TIMEOUT_S = 10.0  # a cold daemon: interpreter, imports, socket (not the voice)
READY_TIMEOUT_S = 60.0  # a cold daemon's voice load, on a busy machine
REPLY_TIMEOUT_S = 5.0


class DaemonError(Exception):
    """The daemon cannot be reached, or it answered with an error."""


def _connect(timeout: float) -> socket.socket | None:
    """A connection to the running daemon, or None when none listens."""
    path = socket_path()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(os.fspath(path))
    except (FileNotFoundError, ConnectionRefusedError):
        sock.close()
        return None
    except OSError:
        sock.close()
        raise
    if peer_uid(sock) != os.getuid():
        sock.close()
        raise DaemonError("the daemon's socket is held by another user")
    return sock


def start_daemon(serve_args: list[str]) -> subprocess.Popen[bytes]:
    """`stream-tts serve` in a new session, its output to the log."""
    import subprocess

    try:
        out = open_private(log_path(), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    except (OSError, UnsafePathError):
        out = os.open(os.devnull, os.O_WRONLY)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "stream_tts.cli", "serve", *serve_args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        os.close(out)
    log(f"hook: no daemon answered; started one (pid {proc.pid})")
    return proc


def _said_by(pid: int) -> str:
    """The last line the daemon `pid` wrote to the log, if any."""
    try:
        with open(log_path(), "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 65536))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    mine = [line.split("] ", 1)[1] for line in lines if f" [{pid}] " in line]
    return mine[-1] if mine else ""


def request(
    message: dict[str, Any],
    *,
    start: bool = False,
    serve_args: list[str] | None = None,
    timeout: float = REPLY_TIMEOUT_S,
) -> dict[str, Any]:
    """Send one request; with `start`, start a daemon first if none answers."""
    try:
        sock = _connect(timeout)
        started = False
        if sock is None and start:
            proc = start_daemon(serve_args or [])
            started = True
            deadline = time.monotonic() + CONNECT_TIMEOUT_S
            while sock is None and time.monotonic() < deadline:
                time.sleep(0.01)
                sock = _connect(timeout)
                code = proc.poll()
                if sock is None and code not in (None, 0):
                    # 0 is a daemon that found another one running: connect to that one.
                    why = _said_by(proc.pid) or f"exit status {code}"
                    raise DaemonError(f"the daemon did not start: {why}")
        if sock is None:
            raise DaemonError("no daemon is running (start one with `stream-tts serve`)")
        with sock:
            if started:
                message = {**message, "wait_ready": True}
                sock.settimeout(READY_TIMEOUT_S)
            send(sock, message)
            reply = receive(sock)
    except (ProtocolError, OSError) as e:
        raise DaemonError(f"cannot talk to the daemon: {e}") from None
    if not reply.get("ok"):
        raise DaemonError(str(reply.get("error") or "the daemon refused the request"))
    return reply


HOOK_FIELDS = ("hook_event_name", "session_id", "transcript_path", "cwd")


def hook_request(payload: dict[str, Any]) -> dict[str, Any]:
    """The few fields of a hook payload the daemon needs, from any agent's shape."""
    message = {k: payload[k] for k in HOOK_FIELDS if isinstance(payload.get(k), str)}
    if payload.get("type") == "agent-turn-complete":  # Codex CLI's notify program
        message["hook_event_name"] = "agent-turn-complete"
        message["text"] = payload.get("last-assistant-message")
        message["session_id"] = str(payload.get("thread-id") or "")
    elif message.get("hook_event_name") == "AfterAgent":  # Gemini CLI
        message["text"] = payload.get("prompt_response")
    elif message.get("hook_event_name") == "Notification":  # spoken if the daemon says so
        message["text"] = payload.get("message")
    message.setdefault("hook_event_name", "Stop")  # what --hook was before it had events
    return {"op": "hook", **message}


def forward(payload: dict[str, Any], serve_args: list[str] | None = None) -> int:
    """Hand a hook payload to the daemon; 0, or 1 with a message."""
    from stream_tts.hook_input import EXIT_HOOK_FAILED

    try:
        request(hook_request(payload), start=True, serve_args=serve_args)
    except (DaemonError, UnsafePathError) as e:
        print(f"stream-tts: {e}", file=sys.stderr, flush=True)
        log(f"hook: {e}")
        return EXIT_HOOK_FAILED
    return 0


def hook_main(data: bytes) -> int:
    """`stream-tts --hook [JSON]` when no daemon answered the fast path: check the payload
    (on stdin for Claude Code and Gemini CLI, the one argument for Codex CLI's notify), then
    start a daemon and hand it over."""
    from stream_tts.hook_input import EXIT_HOOK_FAILED, PAYLOAD_BYTES, HookError, read_payload

    try:
        if len(data) > PAYLOAD_BYTES:
            raise HookError(f"the hook JSON is larger than {PAYLOAD_BYTES >> 20} MiB")
        payload = read_payload(data)
    except HookError as e:
        print(f"stream-tts: {e}", file=sys.stderr, flush=True)
        log(f"hook: {e}")
        return EXIT_HOOK_FAILED
    return forward(payload)
