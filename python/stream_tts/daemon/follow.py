"""Following transcripts: what each one gained since it was last read, and where that was.

A followed transcript has an offset: the end of the last complete line handed on. Each poll
reads from there to the last newline (a half-written line waits for the next poll), keeps
the assistant text blocks (not sidechains, thinking, tool use or tool results) and moves the
offset. Offsets are saved in the state directory after each move, so a restarted daemon goes
on where the last one stopped: nothing said twice.

Reads are bounded: at most READ_MAX per poll, a line longer than that is skipped whole, and
only regular files are opened (never blocking on a FIFO or a device).
"""

from __future__ import annotations

import json
import os
import stat
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from stream_tts.hook_input import TAIL_BYTES, HookError, _is_prompt, parse_line, read_tail
from stream_tts.paths import log, shorten, state_dir, write_atomic

READ_MAX = 4 << 20
NOT_YET = -1  # the inode of a transcript that does not exist yet
FORGET_AFTER_S = 6 * 3600  # a transcript quiet this long is no longer polled (offset kept)
KEEP_OFFSETS = 200  # transcripts remembered; the oldest are forgotten first
OFFSETS_FILE = "offsets.json"


def speakable(line: bytes) -> bytes | None:
    """The assistant text of one transcript line, as a stream-json line, or None."""
    entry = parse_line(line)
    if entry is None or entry.get("type") != "assistant" or entry.get("isSidechain"):
        return None
    message = entry.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("content"), list):
        return None
    texts = [
        {"type": "text", "text": b["text"]}
        for b in message["content"]
        if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
    ]
    if not texts:
        return None
    msg_id = message.get("id") if isinstance(message.get("id"), str) else entry.get("uuid")
    out = {
        "type": "assistant",
        "message": {"id": str(msg_id), "type": "message", "role": "assistant", "content": texts},
    }
    return json.dumps(out).encode() + b"\n"


@dataclass
class Followed:
    path: str
    session: str
    offset: int
    ino: int
    seen: float
    skipping: bool = False  # inside a line longer than READ_MAX
    # Where a restarted daemon should go on: the start of the first line handed to the
    # voice and not yet said to its end (-1: the same as offset, all of it said).
    durable: int = -1

    def saved(self) -> dict[str, Any]:
        d = asdict(self)
        if self.durable >= 0:
            d["offset"] = self.durable
        return d


def _stat(path: str) -> os.stat_result:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise
    except OSError as e:
        raise HookError(f"cannot read the transcript {shorten(path)}: {e.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise HookError(f"the transcript {shorten(path)} is not a regular file")
    return st


def answer_start(path: str) -> int:
    """The offset just after the last user prompt in the transcript's tail (or its end)."""
    size = _stat(path).st_size
    data = read_tail(Path(path), TAIL_BYTES)
    pos = size - len(data)
    start = pos if size > TAIL_BYTES else 0
    for line in data.split(b"\n"):
        pos_after = pos + len(line) + 1
        entry = parse_line(line) if line.strip() else None
        if entry is not None and _is_prompt(entry) and pos_after <= size:
            start = pos_after
        pos = pos_after
    return min(start, size)


class Transcripts:
    """Every transcript followed, with offsets saved under the state directory."""

    def __init__(self, directory: Path | None = None) -> None:
        self._dir = directory
        self.followed: dict[str, Followed] = {}
        self._saved: dict[str, dict[str, Any]] = self._load()

    def _file(self) -> Path:
        return (self._dir or state_dir()) / OFFSETS_FILE

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self._file().read_bytes())
        except (OSError, ValueError, RecursionError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {k: v for k, v in data.items() if isinstance(v, dict)}

    def save(self) -> None:
        for f in self.followed.values():
            self._saved[f.path] = f.saved()
        newest = sorted(self._saved.items(), key=lambda kv: kv[1].get("seen", 0))[-KEEP_OFFSETS:]
        self._saved = dict(newest)
        try:
            write_atomic(self._file(), json.dumps(self._saved).encode())
        except OSError as e:
            log(f"daemon: cannot save transcript offsets: {e}")

    def follow(self, path: str, session: str, *, from_end: bool) -> Followed:
        """Start (or keep) following `path`. A transcript seen before goes on from its saved
        offset; a new one from its end (`from_end`) or from its current answer's start.
        One that does not exist yet (a session's first hook may come before its first
        line) is followed from its first line, once it appears."""
        f = self.followed.get(path)
        try:
            st = _stat(path)
        except FileNotFoundError:
            if f is None:
                f = self.followed[path] = Followed(path, session, 0, NOT_YET, time.time())
            f.session, f.seen = session or f.session, time.time()
            return f
        if f is None:
            saved = self._saved.get(path)
            offset = saved.get("offset") if saved else None
            fits = isinstance(offset, int) and 0 <= offset <= st.st_size
            if saved and saved.get("ino") == st.st_ino and isinstance(offset, int) and fits:
                f = Followed(path, session, offset, st.st_ino, time.time())
            else:
                start = st.st_size if from_end else answer_start(path)
                f = Followed(path, session, start, st.st_ino, time.time())
            self.followed[path] = f
        f.session, f.seen = session or f.session, time.time()
        return f

    def skip_to_end(self, path: str) -> None:
        """Barge-in: what the transcript holds so far is not to be spoken any more."""
        f = self.followed.get(path)
        if f is not None and f.ino != NOT_YET:
            f.offset, f.skipping = _stat(path).st_size, False

    def forget(self, f: Followed, why: str) -> None:
        log(f"daemon: stopped following {shorten(f.path)}: {why}")
        self._saved[f.path] = f.saved()
        self.followed.pop(f.path, None)

    def poll(self, f: Followed) -> list[tuple[int, bytes]]:
        """The speakable lines `f` gained since the last poll, each with its offset."""
        try:
            st = _stat(f.path)
        except FileNotFoundError:
            if f.ino != NOT_YET:
                self.forget(f, "it was removed")
            return []
        except HookError as e:
            self.forget(f, str(e))
            return []
        if f.ino == NOT_YET:
            f.ino = st.st_ino  # it appeared: everything in it is new
        if st.st_ino != f.ino or st.st_size < f.offset:
            # Replaced or truncated: what is there now was never followed; start at its end.
            f.ino, f.offset, f.skipping = st.st_ino, st.st_size, False
            return []
        if st.st_size == f.offset:
            if time.time() - f.seen > FORGET_AFTER_S:
                self.forget(f, "quiet for hours")
            return []
        try:
            fd = os.open(f.path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
        except OSError as e:
            self.forget(f, e.strerror or str(e))
            return []
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return []
            data = os.pread(fd, min(st.st_size - f.offset, READ_MAX), f.offset)
        finally:
            os.close(fd)
        end = data.rfind(b"\n")
        if end < 0:
            if len(data) == READ_MAX:
                f.offset += len(data)
                f.skipping = True
            return []  # a line being written: the next poll has its end
        out: list[tuple[int, bytes]] = []
        pos = f.offset
        for i, line in enumerate(data[:end].split(b"\n")):
            said = speakable(line) if i or not f.skipping else None
            if said is not None:
                out.append((pos, said))
            pos += len(line) + 1
        f.offset += end + 1
        f.skipping = False
        f.seen = time.time()
        return out
