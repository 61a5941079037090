"""Wake the follow thread when a followed transcript is written (Linux inotify, via ctypes).

Polling every 20 ms put up to 20 ms (10 on average) between a text block landing in the
transcript and the daemon reading it, and woke the daemon 50 times a second while idle. With
inotify the follow thread wakes within a millisecond of the write and otherwise polls only as
a safety net (a transcript that does not exist yet, or was replaced: its new inode is watched
once the poll sees it). Where inotify is missing (macOS, a seccomp filter) `available` is
False and the daemon keeps polling often.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading
from collections.abc import Callable

IN_MODIFY = 0x2
IN_ATTRIB = 0x4
IN_CLOSE_WRITE = 0x8
IN_MOVE_SELF = 0x800
IN_DELETE_SELF = 0x400
IN_IGNORED = 0x8000  # a watch went away (removed, or its file deleted): nothing to read
IN_CLOEXEC = 0o2000000
MASK = IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVE_SELF | IN_DELETE_SELF


class Watcher:
    def __init__(self, wake: Callable[[], None]) -> None:
        self._wake = wake
        self._fd = -1
        self._watched: dict[str, tuple[int, int]] = {}  # path -> (inode, watch descriptor)
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
            self._add = libc.inotify_add_watch
            self._add.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
            self._rm = libc.inotify_rm_watch
            self._rm.argtypes = [ctypes.c_int, ctypes.c_int]
            self._fd = libc.inotify_init1(IN_CLOEXEC)
        except (OSError, AttributeError):
            return
        if self._fd >= 0:
            threading.Thread(target=self._read, name="stream-tts-watch", daemon=True).start()

    @property
    def available(self) -> bool:
        return self._fd >= 0

    def watch(self, path: str, ino: int) -> None:
        """Watch `path` (inode `ino`) if it is not watched as that inode already."""
        if self._fd < 0 or self._watched.get(path, (None,))[0] == ino:
            return
        wd = self._add(self._fd, os.fsencode(path), MASK)
        if wd >= 0:
            self._watched[path] = (ino, wd)

    def keep_only(self, paths: set[str]) -> None:
        """Stop watching transcripts no longer followed."""
        for path in [p for p in self._watched if p not in paths]:
            _ino, wd = self._watched.pop(path)
            self._rm(self._fd, wd)  # fails harmlessly if the kernel dropped it already

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self._fd, 4096)  # whole events; we only need to know one came
            except InterruptedError:
                continue
            except OSError:
                return
            if any(mask & ~IN_IGNORED for mask in _masks(data)):
                self._wake()


def _masks(data: bytes) -> list[int]:
    """The masks of the `struct inotify_event`s in `data` (wd, mask, cookie, len, name)."""
    out, pos = [], 0
    while pos + 16 <= len(data):
        out.append(int.from_bytes(data[pos + 4 : pos + 8], sys.byteorder))
        pos += 16 + int.from_bytes(data[pos + 12 : pos + 16], sys.byteorder)
    return out
