"""Inputs and wrappers shared by the pipeline, engine and clause tests (and the clause bench)."""

from __future__ import annotations

import json
import os
import random
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

# Prose without punctuation, for the clause-length cap.
_WORDS = (
    "the build runs every test on each change we make to the worker loop while the cache "
    "keeps old results around for later use by anyone who asks"
).split()


def run_fed(pipeline: Any, write: Callable[[int], object]) -> None:
    """Run `pipeline` on a pipe that `write(fd)` fills from a thread of its own, as stdin would
    be; the write end is closed after it (end of input)."""
    r, w = os.pipe()

    def feed() -> None:
        try:
            write(w)
        finally:
            os.close(w)

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        pipeline.run(r)
    finally:
        writer.join()
        os.close(r)


def run_on(n: int, seed: int = 1) -> str:
    """`n` bytes of prose with no punctuation at all: one sentence that never ends."""
    rng = random.Random(seed)
    out: list[str] = []
    size = -1
    while size < n:
        w = rng.choice(_WORDS)
        out.append(w)
        size += len(w) + 1
    return " ".join(out)[:n].rstrip()


def deltas(message_id: str, parts: list[tuple[float, str]]) -> list[tuple[float, bytes]]:
    """A message as --include-partial-messages streams it: (delay, stream-json line) pairs."""

    def ev(e: dict[str, object]) -> bytes:
        line = {"type": "stream_event", "event": e, "parent_tool_use_id": None}
        return json.dumps(line).encode() + b"\n"

    msg = {"id": message_id, "type": "message", "role": "assistant", "content": []}
    out = [
        (0.0, ev({"type": "message_start", "message": msg})),
        (0.0, ev({"type": "content_block_start", "index": 0, "content_block": {"type": "text"}})),
    ]
    for delay, text in parts:
        delta = {"type": "text_delta", "text": text}
        out.append((delay, ev({"type": "content_block_delta", "index": 0, "delta": delta})))
    out += [
        (0.0, ev({"type": "content_block_stop", "index": 0})),
        (0.0, ev({"type": "message_stop"})),
    ]
    return out


class Recording:
    """A real engine, noting each text it is asked to say."""

    def __init__(self, engine: Any) -> None:
        self.engine, self.name, self.sample_rate = engine, engine.name, engine.sample_rate
        self.asked: list[str] = []

    def warmup(self) -> None:
        self.engine.warmup()

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        self.asked.append(text)
        return iter(self.engine.synthesize(text))

    def close(self) -> None:
        self.engine.close()
