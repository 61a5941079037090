"""One voice at a time: a lock the speaking process holds for as long as it may speak.

The lock is a POSIX record lock (fcntl) on `speaker.lock` in the private runtime directory:
the kernel drops it when its holder dies, so there is no stale pid to trust, and F_GETLK
names the holder's pid at the moment we ask, so the process we stop is the one holding our
lock, never a pid read from a file that may have been reused.

Several hooks started together each take a ticket (a counter under a second lock); only the
newest one goes on to stop the current speaker and take over, the others bow out. So ten
simultaneous hooks give one speaker, the last one's.
"""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import struct
import time
from pathlib import Path

from stream_tts.paths import open_private, runtime_dir

# struct flock on Linux (x86_64, aarch64): short type, short whence, off_t start, off_t len,
# pid_t pid, padded to 32 bytes.
_FLOCK = "hhqqi4x"
STOP_GRACE_S = 1.0  # SIGINT first (a clean stop), SIGKILL after this long
TAKE_OVER_S = 5.0


class Superseded(Exception):
    """A newer speaker came along while this one waited for the lock."""


class LockTimeout(Exception):
    """The holder of the lock did not let go (not even after SIGKILL)."""


def holder(fd: int) -> int | None:
    """The pid holding a write lock that conflicts with ours on `fd`, or None."""
    query = struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
    answer = fcntl.fcntl(fd, fcntl.F_GETLK, query)
    kind, _, _, _, pid = struct.unpack(_FLOCK, answer)
    return None if kind == fcntl.F_UNLCK or pid <= 0 else pid


def _try_lock(fd: int) -> bool:
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno in (errno.EACCES, errno.EAGAIN):
            return False
        raise
    return True


def _ours(pid: int) -> bool:
    """Same user: the lock file sits in our 0700 directory, but check the process anyway."""
    try:
        return os.stat(f"/proc/{pid}").st_uid == os.getuid()
    except OSError:
        return False


def take_ticket(directory: Path | None = None) -> int:
    """The next number in the queue of would-be speakers (the newest is the highest)."""
    d = directory or runtime_dir()
    fd = open_private(d / "speaker.ticket")
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX)
        raw = os.pread(fd, 32, 0)
        try:
            ticket = int(raw or b"0") + 1
        except ValueError:
            ticket = 1  # a torn or foreign value: start again, order still holds from here
        data = str(ticket).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        return ticket
    finally:
        os.close(fd)  # releases the ticket lock


def latest_ticket(directory: Path | None = None) -> int:
    d = directory or runtime_dir()
    fd = open_private(d / "speaker.ticket")
    try:
        fcntl.lockf(fd, fcntl.LOCK_SH)
        try:
            return int(os.pread(fd, 32, 0) or b"0")
        except ValueError:
            return 0
    finally:
        os.close(fd)


class SpeakerLock:
    """Held by the one process allowed to make sound; released when it exits."""

    def __init__(self, directory: Path | None = None, name: str = "speaker.lock") -> None:
        self.path = (directory or runtime_dir()) / name
        self.fd = open_private(self.path)

    def try_acquire(self) -> bool:
        return _try_lock(self.fd)

    def holder(self) -> int | None:
        return holder(self.fd)

    def take_over(self, ticket: int | None = None, timeout: float = TAKE_OVER_S) -> None:
        """Stop whoever speaks (if ours) and hold the lock; Superseded if a newer ticket shows."""
        deadline = time.monotonic() + timeout
        signalled: dict[int, float] = {}
        while not _try_lock(self.fd):
            if ticket is not None and latest_ticket(self.path.parent) != ticket:
                raise Superseded()
            pid = holder(self.fd)
            now = time.monotonic()
            if pid is not None and pid != os.getpid() and _ours(pid):
                first = signalled.setdefault(pid, now)
                try:
                    if first == now:
                        os.kill(pid, signal.SIGINT)
                    elif now - first > STOP_GRACE_S:
                        os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if now > deadline:
                raise LockTimeout(f"the speaker (pid {pid}) did not stop")
            time.sleep(0.01)
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, str(os.getpid()).encode(), 0)  # for people reading the file

    def close(self) -> None:
        os.close(self.fd)
