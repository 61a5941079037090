"""The daemon's socket: a Unix stream socket in the private runtime directory, mode 0600.

One request per connection: a JSON object on one line, answered by one JSON line. Both ends
check the other's uid with SO_PEERCRED, so another user can neither send nor answer.
"""

from __future__ import annotations

import json
import os
import socket
import struct
from pathlib import Path

from stream_tts.paths import runtime_dir, shorten

# Not `import typing`: the hook's fast path has no time for it (annotations are strings).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SOCKET_NAME = "daemon.sock"
MAX_REQUEST = 1 << 20  # hooks send a few fields, never tool output
_SUN_PATH_MAX = 107  # sockaddr_un.sun_path less its NUL


class ProtocolError(Exception):
    pass


def socket_path() -> Path:
    path = runtime_dir() / SOCKET_NAME
    if len(os.fsencode(path)) > _SUN_PATH_MAX:
        raise ProtocolError(f"socket path {shorten(path)} is longer than a Unix socket allows")
    return path


def peer_uid(sock: socket.socket) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def send(sock: socket.socket, message: dict[str, Any]) -> None:
    sock.sendall(json.dumps(message, separators=(",", ":")).encode() + b"\n")


def receive(sock: socket.socket, limit: int = MAX_REQUEST) -> dict[str, Any]:
    """One JSON line from `sock` (the peer closes or sends a newline at its end)."""
    return receive_header(sock, limit)[0]


def receive_body(sock: socket.socket, rest: bytes, size: int) -> bytes:
    """The `size` bytes that follow a header, `rest` of them already read with it."""
    data = bytearray(rest[:size])
    while len(data) < size:
        chunk = sock.recv(min(1 << 20, size - len(data)))
        if not chunk:
            raise ProtocolError(f"the peer closed after {len(data)} of {size} bytes")
        data += chunk
    return bytes(data)


def receive_header(sock: socket.socket, limit: int = MAX_REQUEST) -> tuple[dict[str, Any], bytes]:
    """One JSON line from `sock`, and what came after its newline in the same reads."""
    data = bytearray()
    while b"\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > limit:
            raise ProtocolError(f"message longer than {limit} bytes")
    line, _, rest = bytes(data).partition(b"\n")
    if not line:
        raise ProtocolError("the peer closed without a message")
    try:
        message = json.loads(line)
    except (ValueError, RecursionError):
        raise ProtocolError("the peer sent something that is not JSON") from None
    if not isinstance(message, dict):
        raise ProtocolError("the peer sent JSON that is not an object")
    return message, rest
