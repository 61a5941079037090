"""Where stream-tts keeps its own files, and how it opens them safely.

Runtime files (locks, the daemon's socket) live in a private per-user directory:
`$XDG_RUNTIME_DIR/stream-tts`, else `/tmp/stream-tts-<uid>`. Another local user can plant a
link or a directory at a predictable /tmp name, so the directory is created 0700 and then
checked: a real directory (not a link), ours, closed to others. Files inside it are opened
without following links. State that outlives a reboot (the hook's log, transcript offsets)
lives in `$XDG_STATE_HOME/stream-tts` (default ~/.local/state/stream-tts).
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from pathlib import Path


class UnsafePathError(Exception):
    """A directory or file of ours is not what we created: a link, someone else's, open."""


def shorten(path: str | os.PathLike[str] | bytes, limit: int = 80) -> str:
    """A path quoted for a one-line message, its middle cut if long."""
    text = os.fsdecode(path) if not isinstance(path, str) else path
    if len(text) > limit:
        keep = (limit - 3) // 2
        text = f"{text[:keep]}...{text[-keep:]}"
    return repr(text)


def _private_dir(path: Path) -> Path:
    """`path` as a directory only we can use: created 0700, or checked if it exists."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafePathError(f"{shorten(path)} is not a directory (a link or file is there)")
    if st.st_uid != os.getuid():
        raise UnsafePathError(f"{shorten(path)} belongs to uid {st.st_uid}, not to us")
    if st.st_mode & 0o077:
        raise UnsafePathError(
            f"{shorten(path)} is open to other users (mode {stat.S_IMODE(st.st_mode):o})"
        )
    return path


def runtime_dir() -> Path:
    """The private per-user directory for locks and sockets (created on first use)."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and os.path.isabs(base) and os.path.isdir(base):
        return _private_dir(Path(base) / "stream-tts")
    import tempfile  # only here: the hook's fast path imports little

    return _private_dir(Path(tempfile.gettempdir()) / f"stream-tts-{os.getuid()}")


def state_dir() -> Path:
    """$XDG_STATE_HOME/stream-tts (default ~/.local/state/stream-tts), created 0700."""
    base = os.environ.get("XDG_STATE_HOME")
    if not base or not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".local", "state")
    os.makedirs(base, exist_ok=True)
    return _private_dir(Path(base) / "stream-tts")


def open_private(path: Path, flags: int = os.O_RDWR | os.O_CREAT) -> int:
    """Open a file of ours without following a link; it must be a regular file we own."""
    fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY, 0o600)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid():
            raise UnsafePathError(f"{shorten(path)} is not a regular file of ours")
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` (a fresh file renamed over it: never half-written)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)


LOG_LIMIT = 1 << 20  # the log is rotated once past 1 MiB: one old copy is kept


def log(message: str) -> None:
    """Append one line to the hook/daemon log; never raises (the log is a courtesy)."""
    try:
        path = state_dir() / "stream-tts.log"
        with contextlib.suppress(FileNotFoundError):
            if os.lstat(path).st_size > LOG_LIMIT:
                os.replace(path, path.with_suffix(".log.1"))
        fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        line = f"{stamp} [{os.getpid()}] {message.rstrip()}\n"
        try:
            os.write(fd, line.encode("utf-8", "replace"))
        finally:
            os.close(fd)
    except (OSError, UnsafePathError):
        pass


def log_path() -> Path:
    return state_dir() / "stream-tts.log"
