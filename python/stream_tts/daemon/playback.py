"""Pause, resume and skip for the daemon, as a wrapper around the audio sink.

The pipeline synthesises ahead of playback, so most of what is queued already sits in the
sink's ring. The wrapper keeps a copy of each utterance (sentence) pushed, until it has
played. Pause flushes the ring and holds the sentence that was playing (from its start:
resume says it again whole) and everything after it; pushes while paused are held too;
resume pushes what was held. Skip flushes and pushes back everything after the sentence
that was playing. An utterance's end is its start at the device (`utterance_started`) plus
its length, so the wrapper needs nothing from the sink but what every sink has.

Barge-in in one session while another's speech is queued: `discard` (the daemon's) is asked
before each utterance plays; `drop_discarded` takes what it refuses out of the ring and plays
the rest on, the utterance that was playing from where it was.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from stream_tts.rate import Stretcher


@dataclass
class _Utterance:
    uid: int | None
    pieces: list[np.ndarray] = field(default_factory=list)
    samples: int = 0
    made: float = 1.0  # the playback rate the engine made it at
    rate: float = 1.0  # the rate its pieces play at now (re-timed)


class PausableSink:
    def __init__(self, sink: Any) -> None:
        self._sink = sink
        self._lock = threading.Lock()
        self._log: list[_Utterance] = []  # pushed and maybe not yet played, in order
        self._held: list[_Utterance] | None = None  # not None while paused
        self.sample_rate = sink.sample_rate
        self.discard: Callable[[int], bool] | None = None
        self._discarding = False  # the utterance being pushed was refused
        self._stretch: Stretcher | None = None  # re-times the rest of the one being pushed
        # The rate the engine makes the sentence now being synthesised at (RateEngine's
        # sentence_rate), and the rate asked for since (None: never re-timed).
        self.made_at: Callable[[], float] = lambda: 1.0
        self._target: float | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sink, name)  # drain, utterance_started, stats, close, ...

    @property
    def paused(self) -> bool:
        return self._held is not None

    def push(self, samples: np.ndarray, *, utterance: int | None = None) -> None:
        with self._lock:
            if utterance is not None:
                if self._stretch is not None:  # the end of the re-timed one before it
                    self._add(self._stretch.finish(), None)
                    self._stretch = None
                self._discarding = self.discard is not None and self.discard(utterance)
                if not self._discarding:
                    self._begin(utterance)
            if self._discarding:
                return
            if self._stretch is not None:
                samples = self._stretch.feed(samples)
            self._add(samples, utterance)

    def _begin(self, utterance: int) -> None:
        """A new utterance: made at the engine's rate; re-timed if the rate changed since its
        synthesis began (the change came between its start and its first piece)."""
        self._prune()
        u = _Utterance(utterance)
        u.made = u.rate = self.made_at()
        if self._target is not None and abs(self._target / u.made - 1.0) > 1e-3:
            self._stretch = Stretcher(self.sample_rate, self._target / u.made)
            u.rate = self._target
        self._log.append(u)

    def _add(self, samples: np.ndarray, utterance: int | None) -> None:
        if not self._log:
            self._log.append(_Utterance(utterance))
        u = self._log[-1]
        u.pieces.append(samples)
        u.samples += len(samples)
        if self._held is not None:
            if not self._held or self._held[-1] is not u:
                self._held.append(u)
            return
        # Under the lock: a pause between logging and pushing would let this play.
        self._sink.push(samples, utterance=utterance)

    def flush(self) -> None:
        with self._lock:
            self._log.clear()
            if self._held is not None:
                self._held = []
            self._sink.flush()

    def pause(self) -> bool:
        """Stop at once; False if already paused."""
        with self._lock:
            if self._held is not None:
                return False
            self._sink.flush()
            self._held = self._unplayed(include_current=True)
            return True

    def resume(self) -> bool:
        with self._lock:
            if self._held is None:
                return False
            held, self._held = self._held, None
            self._log = list(held)
            self._replay(held)
            return True

    def skip(self) -> None:
        """Drop the sentence being played; what was queued after it plays on."""
        with self._lock:
            if self._held is not None:
                self._held = self._held[1:]
                return
            rest = self._unplayed(include_current=False)
            self._sink.flush()
            self._log = list(rest)
            self._replay(rest)

    def drop_discarded(self) -> None:
        """Take the utterances `discard` now refuses out of what is queued and held."""
        if self.discard is None:
            return
        with self._lock:
            refused = [u for u in self._log if u.uid is not None and self.discard(u.uid)]
            if not refused:
                return
            if self._log and self._log[-1] in refused:
                self._discarding = True  # its later pieces are refused too
            if self._held is not None:
                self._held = [u for u in self._held if u not in refused]
                self._log = [u for u in self._log if u not in refused]
                return  # nothing is in the ring while paused
            self._requeue([u for u in self._unplayed(include_current=True) if u not in refused])

    def retime(self, rate: float) -> None:
        """The playback rate is now `rate`: what was made ahead and has not started plays at
        it (stretched again, pitch kept), and so do the later pieces of the utterance being
        pushed; the one playing ends as it began."""
        with self._lock:
            self._target = rate
            waiting = [u for u in self._log if self._started(u) is None]
            for u in waiting:
                pushing = u is self._log[-1]
                if pushing and self._stretch is not None:
                    u.pieces.append(self._stretch.finish())  # what it still held back
                    self._stretch = None
                if abs(rate / u.rate - 1.0) > 1e-3:
                    st = Stretcher(self.sample_rate, rate / u.rate)
                    audio = np.concatenate(u.pieces) if u.pieces else np.zeros(0, np.float32)
                    u.pieces = [st.feed(audio), st.finish()]
                    u.samples = sum(len(p) for p in u.pieces)
                    u.rate = rate
                if pushing and abs(rate / u.made - 1.0) > 1e-3:
                    # Its next pieces come at the rate it was made at.
                    self._stretch = Stretcher(self.sample_rate, rate / u.made)
            if waiting and self._held is None:
                self._requeue(self._unplayed(include_current=True))

    def _requeue(self, rest: list[_Utterance]) -> None:
        """Flush the ring and push `rest` again; the utterance playing goes on from where
        it was (a few ms of the device's buffer may repeat)."""
        now = time.monotonic()
        self._sink.flush()
        self._log = list(rest)
        if rest and (started := self._started(rest[0])) is not None and started < now:
            played = int((now - started) * self.sample_rate)
            self._sink.push(np.concatenate(rest[0].pieces)[played:])
            self._replay(rest[1:])
        else:
            self._replay(rest)

    def _started(self, u: _Utterance) -> float | None:
        return None if u.uid is None else self._sink.utterance_started(u.uid)

    def _replay(self, utterances: list[_Utterance]) -> None:
        for u in utterances:
            for i, piece in enumerate(u.pieces):
                self._sink.push(piece, utterance=u.uid if i == 0 else None)

    def _ends(self, u: _Utterance) -> float | None:
        started = None if u.uid is None else self._sink.utterance_started(u.uid)
        return None if started is None else started + u.samples / self.sample_rate

    def _unplayed(self, *, include_current: bool) -> list[_Utterance]:
        now = time.monotonic()
        out = []
        for u in self._log:
            end = self._ends(u)
            if end is None:
                out.append(u)  # not started yet
            elif end > now and include_current:
                out.append(u)  # playing: said again from its start
        return out

    def _prune(self) -> None:
        """Forget utterances that have played to their end."""
        now = time.monotonic()
        while self._log:
            end = self._ends(self._log[0])
            if end is None or end > now:
                break
            self._log.pop(0)
