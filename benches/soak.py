"""Soak test of AudioSink on the PulseAudio rig: speech-length utterances with realistic gaps
for a long time; underruns must stay at zero and resident memory flat.

    python benches/soak.py --minutes 10 [--rate 22050] [--buffer-ms 10]

The producer behaves like a TTS engine running 4x faster than real time: each utterance
(1-6 s) is pushed in 20-200 ms chunks as it is "synthesized"; half the utterances follow
the previous one at once (queued), half come after it has finished playing plus a 0.2-1.5 s
pause (drain, then silence). Writes benches/results/soak-<date>.json.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import UTC, datetime

import numpy as np
from _rig import RESULTS, git_rev, machine, rss_kib, use_rig
from audio_rig import speech_like, stop_rig

from stream_tts._core import AudioSink


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rate", type=int, default=22050)
    ap.add_argument("--buffer-ms", type=float, default=10.0)
    ap.add_argument("--speed", type=float, default=4.0, help="synthesis speed, x real time")
    args = ap.parse_args()

    commit = git_rev()  # the build under test: taken before the run
    rig = use_rig()
    rnd = random.Random(1)
    rate = args.rate
    voices = [speech_like(rate, 6.0, seed=s) for s in range(4)]
    sink = AudioSink(rate, buffer_ms=args.buffer_ms)
    start = time.monotonic()
    end = start + args.minutes * 60
    samples: list[dict[str, float]] = []
    pickup: list[float] = []
    pushed = 0
    utterance = 0
    next_sample = start
    print(
        f"soak: {args.minutes} min on {sink.device_name} at {rate} Hz, "
        f"buffer {sink.buffer_frames} frames",
        flush=True,
    )
    while time.monotonic() < end:
        utterance += 1
        seconds = rnd.uniform(1.0, 6.0)
        x = voices[utterance % 4][: int(rate * seconds)]
        t_first = time.monotonic()
        i = 0
        while i < len(x):
            n = int(rate * rnd.uniform(0.02, 0.2))
            sink.push(x[i : i + n], utterance=utterance if i == 0 else None)
            if i == 0:
                t_first = time.monotonic()
            i += n
            time.sleep(n / rate / args.speed)  # the engine computing the next chunk
        pushed += len(x)
        if rnd.random() < 0.5:
            sink.drain()
            time.sleep(rnd.uniform(0.2, 1.5))
        started = sink.utterance_started(utterance)
        if started is not None:
            pickup.append(started - t_first)
        now = time.monotonic()
        if now >= next_sample:
            st = sink.stats()
            row = {
                "t": round(now - start, 1),
                "rss_kib": rss_kib(),
                "underruns": st["underruns"],
                "device_errors": st["device_errors"],
                "xruns": st["xruns"],
                "samples_played": st["samples_played"],
                "utterances": utterance,
            }
            samples.append(row)
            print(json.dumps(row), flush=True)
            next_sample = now + 30
    sink.drain()
    st = sink.stats()
    sink.close()
    stop_rig(rig)
    rss = [r["rss_kib"] for r in samples]
    later = rss[len(rss) // 4 :] or rss
    result = {
        "benchmark": "soak",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "commit": commit,
        "command": "python " + " ".join(sys.argv),
        "device": "ALSA default -> PulseAudio null sink (scripts/pulse-rig.sh)",
        "rate": rate,
        "buffer_ms": args.buffer_ms,
        "buffer_frames": st["buffer_frames"],
        "minutes": args.minutes,
        "utterances": utterance,
        "audio_seconds_pushed": pushed / rate,
        "samples_played": st["samples_played"],
        "underruns": st["underruns"],
        "device_errors": st["device_errors"],
        "xruns": st["xruns"],
        "marks_lost": st["marks_lost"],
        "rss_kib_first": rss[0] if rss else None,
        "rss_kib_last": rss[-1] if rss else None,
        "rss_kib_growth_after_warmup": (max(later) - min(later)) if later else None,
        "pickup_after_push_ms_median": float(np.median(pickup) * 1e3) if pickup else None,
        "samples": samples,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    day = datetime.now(UTC).date().isoformat()
    out = RESULTS / f"soak-{day}-buffer{args.buffer_ms:g}ms.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=2))
    ok = st["underruns"] == 0 and st["samples_played"] == pushed
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
