"""First chunk after idle: back to back, after a pause, and after a pause plus a re-warm.

On the 2-core development VM the first inference after a few idle seconds runs about twice as
slow; the pipeline therefore runs a throwaway first chunk of "Ready." when input arrives after
idle synthesis (pipeline.REWARM_AFTER_S). This measures the three cases in process, same engine:

    python benches/idle_warm.py --pause 3 --out benches/results
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import time
from pathlib import Path

from latency import SENTENCES

from stream_tts.engines.piper import PiperEngine, bundled_voice


def first_chunk_ms(e: PiperEngine, text: str) -> float:
    t = time.perf_counter()
    chunks = iter(e.synthesize(text))
    next(chunks)
    ms = (time.perf_counter() - t) * 1000
    chunks.close()  # type: ignore[attr-defined]
    return ms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pause", type=float, default=3.0, help="idle seconds before a sentence")
    ap.add_argument("--rounds", type=int, default=2, help="rounds over the sentences")
    ap.add_argument("--out", type=Path, help="directory for the result JSON")
    a = ap.parse_args()
    e = PiperEngine(bundled_voice())
    e.warmup()
    cases: dict[str, list[float]] = {"back_to_back": [], "after_pause": [], "after_rewarm": []}
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_majflt
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    load = os.getloadavg()
    for _ in range(a.rounds):
        for s in SENTENCES:
            cases["back_to_back"].append(first_chunk_ms(e, s))
        for s in SENTENCES:
            time.sleep(a.pause)
            cases["after_pause"].append(first_chunk_ms(e, s))
        for s in SENTENCES:
            time.sleep(a.pause)
            first_chunk_ms(e, "Ready.")  # what the pipeline does when input resumes
            time.sleep(0.1)  # the sentence arrives a little later
            cases["after_rewarm"].append(first_chunk_ms(e, s))
    result = {
        "date": started,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load_avg": load},
        "command": "python benches/idle_warm.py "
        + " ".join(f"--{k} {v}" for k, v in (("pause", a.pause), ("rounds", a.rounds))),
        "first_chunk_ms": {
            k: {
                "median": round(statistics.median(v), 1),
                "min": round(min(v), 1),
                "max": round(max(v), 1),
            }
            for k, v in cases.items()
        },
        "major_page_faults": resource.getrusage(resource.RUSAGE_SELF).ru_majflt - faults,
    }
    text = json.dumps(result, indent=1)
    if a.out:
        a.out.mkdir(parents=True, exist_ok=True)
        path = a.out / f"idle-warm-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}.json"
        path.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
