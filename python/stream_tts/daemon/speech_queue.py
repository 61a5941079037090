"""The daemon's one speech queue: the lines it writes into its pipeline, and whose each is.

Every line written into the pipeline's input pipe gets the next number (the pipeline's
reader numbers its input lines the same way, so a sentence record's `line` says where it came
from) and an owner: the session that wrote it. From that:

  - durable offsets: sentences play in input order, so once a sentence of line n has started,
    every line before n has been said; a transcript's offset on disk moves past a block only
    once it has been said to its end (a daemon killed mid-block says it again after restart)
  - barge-in per session: the user typing in session A stops A's speech, queued and playing;
    what other sessions queued plays on (the sink's `discard` asks for each utterance)
  - the cue: when the speaking session changes, its folder's name is said first
  - `ctl status`: the latest latencies, from the records of what was said

Not thread-safe: the daemon calls it under its lock.
"""

from __future__ import annotations

import collections
import json
import os
import time
from typing import Any

from stream_tts.daemon.follow import Followed

QUIET_S = 3.0  # fed nothing this long and the device is idle: all that was fed was said
KEEP_RECORDS = 1000  # sentence records kept (the daemon runs for days; ctl status reads few)
LATENCIES = 10  # ctl status: the latest this many


class SpeechQueue:
    def __init__(self, fd: int, *, cue: bool, names: dict[str, str]) -> None:
        self.fd = fd  # the pipeline's input; -1 once closed
        self.cue = cue
        self.names = names  # owner -> its folder's name, for the cue (the daemon's)
        self.stats: Any = None  # the pipeline's Stats (None without a voice)
        self.sink: Any = None  # its PausableSink
        self.last_owner: str | None = None  # whose text was written last
        self.fed = 0  # lines written, as the pipeline's reader numbers them
        self._fed_at = 0.0
        # (line, transcript path, offset of its start), for lines not yet said to their end
        self._unsaid: collections.deque[tuple[int, str, int]] = collections.deque()
        self._owner: dict[int, str] = {}  # line -> owner, for lines not yet said
        self._dropped: frozenset[int] = frozenset()  # lines whose speech a barge-in dropped

    # -- writing -----------------------------------------------------------------------

    def _write(self, owner: str, data: bytes, lines: int) -> None:
        for _ in range(lines):
            self.fed += 1
            self._owner[self.fed] = owner
        self._fed_at = time.monotonic()
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]

    def _text_line(self, owner: str, text: str) -> None:
        line = json.dumps({"content": [{"type": "text", "text": text}]}).encode() + b"\n"
        self._write(owner, line, 1)

    def _cue_for(self, owner: str) -> None:
        """Another session speaks now: say whose it is (its folder's name) first."""
        if self.cue and self.last_owner is not None and owner != self.last_owner:
            self._text_line(owner, f"{self.names.get(owner) or f'session {owner[:8]}'}:")
        self.last_owner = owner

    def transcript(self, f: Followed, lines: list[tuple[int, bytes]]) -> None:
        """Speakable transcript lines (offset, stream-json line) of the followed `f`."""
        if self.fd < 0 or not lines:
            return
        owner = owner_of(f)
        self._cue_for(owner)
        for i, (start, _) in enumerate(lines):
            self._unsaid.append((self.fed + 1 + i, f.path, start))
        self._write(owner, b"".join(line for _, line in lines), len(lines))

    def say(self, owner: str, text: str) -> None:
        """A whole answer given in a hook's payload (Codex notify, Gemini AfterAgent)."""
        if self.fd >= 0:
            self._cue_for(owner)
            self._text_line(owner, text)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # end of input: the pipeline finishes
            self.fd = -1

    # -- what was said -----------------------------------------------------------------

    def latest_started_line(self) -> int:
        records = self.stats.records
        for i in range(len(records) - 1, max(-1, len(records) - 200), -1):
            if records[i].started_at is not None:
                return int(records[i].line)
        return 0

    def said_through(self, followed: dict[str, Followed]) -> bool:
        """Move each transcript's durable offset past the lines said to their end; True if
        one moved. When all is quiet (nothing queued at the device, nothing fed for a while:
        the last line fed may still be on its way to synthesis, not paused), all was said."""
        if self.stats is None:
            return False
        if len(self.stats.records) > 2 * KEEP_RECORDS:
            del self.stats.records[:KEEP_RECORDS]  # the oldest: long said
        quiet = time.monotonic() - self._fed_at > QUIET_S and not self.sink.paused
        if quiet and self.sink.drain(timeout=0):
            latest = self.fed + 1
        else:
            latest = self.latest_started_line()
        while self._unsaid and self._unsaid[0][0] < latest:
            self._unsaid.popleft()
        for n in [n for n in self._owner if n < latest]:
            del self._owner[n]
        if self._dropped and max(self._dropped) < latest:
            self._dropped = frozenset()
        durable: dict[str, int] = {}
        for _, path, start in self._unsaid:
            durable.setdefault(path, start)
        moved = False
        for f in followed.values():
            d = durable.get(f.path, -1)
            if d != f.durable:
                f.durable, moved = d, True
        return moved

    def forget_unsaid(self, followed: dict[str, Followed]) -> None:
        """Told to be quiet: what was cut off is not owed to the next daemon."""
        self._unsaid.clear()
        for f in followed.values():
            f.durable = -1

    # -- barge-in ----------------------------------------------------------------------

    def barge_in(self, owner: str, pipeline: Any) -> None:
        """Stop what `owner` is saying and has queued; other sessions' speech plays on."""
        if pipeline is None:
            return
        mine = frozenset(n for n, o in self._owner.items() if o == owner)
        if self.sink is None or len(mine) == len(self._owner):
            pipeline.cut()  # nobody else's speech is queued: drop it all (and translation)
        elif mine:
            self._dropped = self._dropped | mine
            self.sink.drop_discarded()
        self._unsaid = collections.deque(u for u in self._unsaid if u[0] not in mine)
        for n in mine:
            del self._owner[n]

    def discard(self, utterance: int) -> bool:
        """The sink asks before an utterance plays: True for speech a barge-in dropped (its
        record is marked so, as the pipeline marks what a cut drops)."""
        if not self._dropped or self.stats is None:
            return False
        rec = self._record(utterance)
        if rec is None or rec.line not in self._dropped:
            return False
        rec.dropped = True
        return True

    def _record(self, utterance: int) -> Any:
        records = self.stats.records
        for i in range(len(records) - 1, -1, -1):
            if records[i].utterance == utterance:
                return records[i]
            if records[i].utterance < utterance:
                break
        return None

    # -- ctl status --------------------------------------------------------------------

    def latencies(self) -> list[dict[str, Any]]:
        """The latest sentences said: from reading their line to their first sound, and
        the parts of that (queue, first chunk's synthesis); `read_at` is time.monotonic()."""
        if self.stats is None:
            return []
        out: list[dict[str, Any]] = []
        for rec in reversed(self.stats.records[-200:]):
            if rec.started_at is None or rec.dropped:
                continue
            j = rec.as_json()
            out.append(
                {k: j[k] for k in ("sentence", "read_at", "ttfa_ms", "queue_ms", "first_ready_ms")}
            )
            if len(out) == LATENCIES:
                break
        return out


def owner_of(f: Followed) -> str:
    """Whose a transcript's lines are: its session, or the transcript itself if unnamed."""
    return f.session or f.path
