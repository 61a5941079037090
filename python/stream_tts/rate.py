"""Playback rate (`--rate`, `ctl faster|slower`): speech made faster or slower after
synthesis, its pitch kept, by WSOLA (waveform-similarity overlap-add).

Frames of WINDOW_S are taken from the input every `rate * hop` samples and overlap-added every
`hop` samples; each frame's start may move by up to TOLERANCE_S so that it continues the
previous frame's waveform (the best cross-correlation), which keeps the pitch periods intact.
It works on a stream: chunks in, chunks out, state kept between them, per sentence.

`RateEngine` wraps any speech engine, so the pipeline is unchanged: its `rate` may change at
any time (the daemon's faster/slower) and applies from the next sentence on.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

WINDOW_S = 0.030
TOLERANCE_S = 0.010
MIN_RATE, MAX_RATE = 0.5, 3.0


class Stretcher:
    """WSOLA for one stream of float32 samples at `rate` (2.0 = twice as fast)."""

    def __init__(self, sample_rate: int, rate: float) -> None:
        self.rate = rate
        self.win = max(16, int(sample_rate * WINDOW_S) // 2 * 2)
        self.hop = self.win // 2
        self.tol = int(sample_rate * TOLERANCE_S)
        # Periodic Hann: at 50 % overlap its frames sum to exactly one.
        n = np.arange(self.win)
        self.window = (0.5 - 0.5 * np.cos(2 * np.pi * n / self.win)).astype(np.float32)
        self.buf = np.zeros(0, dtype=np.float32)
        self.pos = 0.0  # where the next frame would start without adjustment (in buf)
        self.prev: int | None = None  # start of the previous frame (in buf)
        self.tail = np.zeros(self.hop, dtype=np.float32)

    def feed(self, samples: np.ndarray) -> np.ndarray:
        self.buf = np.concatenate([self.buf, samples.astype(np.float32, copy=False)])
        out: list[np.ndarray] = []
        ha = self.hop * self.rate
        while True:
            nominal = round(self.pos)
            lo, hi = max(0, nominal - self.tol), nominal + self.tol
            if self.prev is None:
                start = nominal
                if start + self.win > len(self.buf):
                    break
            else:
                natural = self.prev + self.hop  # what would continue the last frame
                if hi + self.win > len(self.buf) or natural + self.win > len(self.buf):
                    break
                target = self.buf[natural : natural + self.win]
                region = self.buf[lo : hi + self.win]
                corr = np.correlate(region, target, mode="valid")
                start = lo + int(np.argmax(corr))
            frame = self.buf[start : start + self.win] * self.window
            out.append(self.tail + frame[: self.hop])
            self.tail = frame[self.hop :].copy()
            self.prev = start
            self.pos += ha
        self._trim()
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)

    def finish(self) -> np.ndarray:
        """The last frame's tail: the end of the sentence (its last few ms may be cut)."""
        tail, self.tail = self.tail, np.zeros(self.hop, dtype=np.float32)
        return tail

    def _trim(self) -> None:
        keep_from = int(min(self.pos - self.tol, (self.prev or 0) + self.hop)) - 1
        if keep_from > 4 * self.win:
            self.buf = self.buf[keep_from:]
            self.pos -= keep_from
            if self.prev is not None:
                self.prev -= keep_from


class RateEngine:
    """A speech engine whose output is played at `rate` (1.0 leaves it untouched)."""

    def __init__(self, engine: Any, rate: float = 1.0) -> None:
        self._engine = engine
        self.rate = rate
        self.sentence_rate = rate  # the rate of the sentence being made (read at its start)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)  # name, sample_rate, mode, warmup, close, ...

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        chunks = iter(self._engine.synthesize(text))
        rate = self.sentence_rate = self.rate
        if abs(rate - 1.0) < 1e-3:
            yield from chunks
            return
        s = Stretcher(self._engine.sample_rate, rate)
        try:
            for chunk in chunks:
                out = s.feed(np.asarray(chunk, dtype=np.float32))
                if len(out):
                    yield out
            yield s.finish()
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()


def clamp(rate: float) -> float:
    return min(MAX_RATE, max(MIN_RATE, rate))
