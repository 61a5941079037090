"""The interface every engine implements, so the pipeline does not care which model runs.

A speech engine turns one sentence into mono audio chunks at a fixed sample rate; a
translator turns one sentence into another language. Both are loaded and warmed before the
first input line is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

AudioChunk = npt.NDArray[np.float32] | npt.NDArray[np.int16]


@runtime_checkable
class SpeechEngine(Protocol):
    name: str
    sample_rate: int

    def warmup(self) -> None:
        """Run one short synthesis so the first real sentence pays no start-up cost."""

    def synthesize(self, text: str) -> Iterator[AudioChunk]:
        """Yield mono audio chunks for `text` as soon as each exists."""

    def close(self) -> None: ...


@runtime_checkable
class Translator(Protocol):
    name: str

    def warmup(self) -> None: ...

    def translate(self, text: str) -> str: ...

    def close(self) -> None: ...
