"""How long a thread waits to run again after a blocking call, inside a real CLI run.

    python benches/gil_probe.py OUT.json -- --tts xtts ... (stream-tts's own arguments)

Runs stream-tts in this process with one more thread: it sleeps 1 ms at a time (a sleep
drops the GIL, as the synthesis thread's wait on the GPU does at every token) and notes how
much longer each sleep took: the time to get the GIL back from whichever thread holds it, plus
the OS's wake-up. A thread that keeps the GIL busy (polling, Python work between tokens) shows
as waits of up to sys.getswitchinterval() (5 ms). At exit OUT.json gets the percentiles and
every wait over 0.5 ms with its time (time.monotonic(), as --stats' read_at), so the long ones
can be matched to sentences. OUT_xtts.json gets each XTTS sentence's first chunk split into
its parts (milliseconds from the start of its synthesis: tokenized, first_token, token_8, chunk).
"""

from __future__ import annotations

import atexit
import json
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

SLEEP_S = 0.001
LONG_S = 0.0005  # waits kept one by one, with their time


def start(out: str) -> None:
    waits: list[tuple[float, float]] = []
    stop = threading.Event()

    def probe() -> None:
        while not stop.is_set():
            t = time.monotonic()
            time.sleep(SLEEP_S)
            waits.append((t, time.monotonic() - t - SLEEP_S))

    def report() -> None:
        stop.set()
        over = sorted(w for _, w in waits)
        if not over:
            return
        q = lambda p: round(1000 * over[min(len(over) - 1, int(p * len(over)))], 3)  # noqa: E731
        summary = {
            "samples": len(over),
            "switch_interval_ms": 1000 * sys.getswitchinterval(),
            "median_ms": round(1000 * statistics.median(over), 3),
            "p90_ms": q(0.90),
            "p99_ms": q(0.99),
            "p999_ms": q(0.999),
            "max_ms": round(1000 * over[-1], 3),
            "over_1ms": sum(w > 0.001 for w in over),
            "over_4ms": sum(w > 0.004 for w in over),
            "long": [(round(t, 6), round(1000 * w, 3)) for t, w in waits if w > LONG_S],
        }
        with open(out, "w") as f:
            json.dump(summary, f)
        print("gil probe:", {k: v for k, v in summary.items() if k != "long"}, file=sys.stderr)

    atexit.register(report)
    threading.Thread(target=probe, name="gil-probe", daemon=True).start()


def trace_xtts(out: str) -> None:
    """Times each XTTS sentence's first chunk part by part, on the thread that makes it:
    tokenizing, our loop's first token (prefill), the first chunk's tokens, the chunk out
    (HiFi-GAN and the copy to the host); written to `out` at exit."""
    from stream_tts.engines.decode.xtts_loop import XttsLoop
    from stream_tts.engines.xtts import XttsEngine

    rows: list[dict[str, float]] = []
    current: dict[str, float] = {}
    stream, loop_stream = XttsEngine._stream, XttsLoop.stream

    def timed_stream(self: Any, text: str, torch: Any) -> Iterator[Any]:
        current.clear()
        current["start"] = time.monotonic()
        encode = self.model.tokenizer.encode

        def timed_encode(*a: Any, **kw: Any) -> Any:
            ids = encode(*a, **kw)
            current["tokenized"] = time.monotonic()
            return ids

        self.model.tokenizer.encode = timed_encode
        try:
            inner = stream(self, text, torch)
            first = next(inner, None)
            if first is None:
                return
            current["chunk"] = time.monotonic()
            rows.append({k: round(1000 * (v - current["start"]), 3) for k, v in current.items()})
            rows[-1]["at"] = current["start"]
            yield first
            yield from inner
        finally:
            self.model.tokenizer.encode = encode

    def timed_loop(self: Any, *a: Any, **kw: Any) -> Iterator[Any]:
        for i, pair in enumerate(loop_stream(self, *a, **kw)):
            if i == 0:
                current["first_token"] = time.monotonic()
            elif i == 7:
                current["token_8"] = time.monotonic()
            yield pair

    XttsEngine._stream = timed_stream  # type: ignore[method-assign,assignment]
    XttsLoop.stream = timed_loop  # type: ignore[method-assign]

    def report() -> None:
        with open(out, "w") as f:
            json.dump(rows, f)

    atexit.register(report)


def main() -> None:
    args = sys.argv[1:]
    if len(args) < 2 or args[1] != "--":
        sys.exit(__doc__)
    start(args[0])
    trace_xtts(args[0].removesuffix(".json") + "_xtts.json")
    from stream_tts.cli import main as cli

    code = cli(args[2:])
    sys.exit(code)


if __name__ == "__main__":
    main()
