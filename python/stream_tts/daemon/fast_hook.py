"""`stream-tts --hook` with a daemon running: the payload's bytes handed to it as they are.

Claude Code waits for this on every tool call, so it imports nothing beyond what the
interpreter has loaded at start (os, sys, stat) and the C `_socket`: no json, no pathlib, no
socket.py (enum), no typing. The daemon parses and checks the payload (it has the time). The
header line says how many payload bytes follow it; the daemon answers `{"ok":true}` or an
error object.

When no daemon answers here (none runs, or this finds another socket path than the full
client would), `run` returns None before anything is sent, and the caller takes the full
path, which starts a daemon.
"""

from __future__ import annotations

import _socket
import os
import stat
import sys

SOCKET_DIR = "stream-tts"
SOCKET_NAME = "daemon.sock"
PAYLOAD_BYTES = 16 << 20  # as hook_input.PAYLOAD_BYTES; more is refused by the daemon
OK = b'{"ok":true}\n'
REPLY_TIMEOUT_S = 5.0


def socket_path() -> str | None:
    """Where protocol.socket_path() puts the socket, for the usual environments; None when
    working it out needs tempfile's probing (the full path then)."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and os.path.isabs(base) and os.path.isdir(base):
        directory = os.path.join(base, SOCKET_DIR)
    else:
        tmp = os.environ.get("TMPDIR") or os.environ.get("TEMP") or os.environ.get("TMP")
        tmp = tmp or "/tmp"
        if not os.path.isabs(tmp):
            return None
        directory = os.path.join(tmp, f"stream-tts-{os.getuid()}")
    try:
        st = os.lstat(directory)
    except OSError:
        return None
    # The same checks as paths._private_dir: ours, a real directory, closed to others.
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        return None
    return os.path.join(directory, SOCKET_NAME)


def read_stdin() -> bytes:
    chunks = []
    size = 0
    while size <= PAYLOAD_BYTES:
        chunk = os.read(0, min(1 << 20, PAYLOAD_BYTES + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _connect(path: str) -> _socket.socket | None:
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    sock.settimeout(REPLY_TIMEOUT_S)
    try:
        sock.connect(path)
        creds = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
    except OSError:
        sock.close()
        return None
    if int.from_bytes(creds[4:8], sys.byteorder) != os.getuid():  # struct ucred: pid uid gid
        sock.close()
        return None  # the full path says whose it is
    return sock


def run(payload: bytes) -> int | None:
    """Hand `payload` to the running daemon: 0, or 1 with its error on stderr; None when no
    daemon answered (nothing was sent)."""
    path = socket_path()
    sock = None if path is None else _connect(path)
    if sock is None:
        return None
    try:
        sock.sendall(b'{"op":"hook_raw","size":%d}\n' % len(payload))
        sock.sendall(payload)
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    except OSError as e:
        return _failed(f"cannot talk to the daemon: {e}")
    finally:
        sock.close()
    if reply == OK:
        return 0
    if not reply:
        return _failed("the daemon closed the connection without an answer")
    import json

    try:
        error = str(json.loads(reply).get("error") or "the daemon refused the request")
    except (ValueError, AttributeError):
        error = "the daemon sent something that is not JSON"
    return _failed(error)


def _failed(message: str) -> int:
    from stream_tts.paths import log

    sys.stderr.write(f"stream-tts: {message}\n")
    sys.stderr.flush()
    log(f"hook: {message}")
    return 1  # hook_input.EXIT_HOOK_FAILED: never 2 (Claude Code's "keep working")
