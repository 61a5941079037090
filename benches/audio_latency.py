"""Output latency at the device: from push() of an utterance's first sample to its pickup by
the device callback, and to its arrival at the PulseAudio monitor.

    python benches/audio_latency.py [--runs 30] [--buffer-ms 5 10 20] [--rates 48000 22050]

For each setting: an AudioSink on the rig's null sink, idle; then, `runs` times, push a
50 ms burst as a new utterance, note monotonic() just before push(), read back the callback
pickup time (utterance_started) and find the burst's onset in a parec recording of the
monitor read live (2 ms parec latency) whose samples are timestamped as they are read, so
arrival times include up to ~2 ms of recording delay. Median and p95 per setting.
Writes benches/results/audio_latency-<date>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import numpy as np
from _rig import RESULTS, git_rev, machine, use_rig
from audio_rig import MONITOR_RATE, Rig, parec_command, stop_rig

from stream_tts._core import AudioSink

FRAME_BYTES = 8  # float32 stereo


class LiveRecorder:
    """parec on the monitor, read as it comes: (time read, frames so far) for every read."""

    def __init__(self, rig: Rig) -> None:
        self.proc = subprocess.Popen(
            parec_command(rig.monitor, channels=2, latency_ms=2),
            stdout=subprocess.PIPE,
            bufsize=0,
        )
        self.chunks: list[bytes] = []
        self.marks: list[tuple[float, int]] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        while not self.marks:
            time.sleep(0.01)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        total = 0
        pending = b""
        while True:
            data = os.read(fd, 4096)
            t = time.monotonic()
            if not data:
                return
            pending += data
            usable = len(pending) // FRAME_BYTES * FRAME_BYTES
            if usable:
                self.chunks.append(pending[:usable])
                pending = pending[usable:]
                total += usable // FRAME_BYTES
                self.marks.append((t, total))

    def stop(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.thread.join(timeout=5)
        left = np.frombuffer(b"".join(self.chunks), "<f4").reshape(-1, 2)[:, 0]
        times = np.array([m[0] for m in self.marks])
        totals = np.array([m[1] for m in self.marks])
        return left, times, totals

    @staticmethod
    def sample_time(k: int, times: np.ndarray, totals: np.ndarray) -> float:
        """When sample k had arrived: the read that delivered it, less what came after it."""
        j = int(np.searchsorted(totals, k + 1))
        return float(times[j] - (totals[j] - (k + 1)) / MONITOR_RATE)


def measure(rig: Rig, rate: int, buffer_ms: float, runs: int) -> dict[str, object]:
    burst = (0.3 * np.sin(2 * np.pi * 1000 * np.arange(int(rate * 0.05)) / rate)).astype(np.float32)
    rec = LiveRecorder(rig)
    sink = AudioSink(rate, buffer_ms=buffer_ms)
    time.sleep(0.5)  # past the stream's start-up
    pushes: list[float] = []
    pickups: list[float] = []
    for i in range(runs):
        t = time.monotonic()
        sink.push(burst, utterance=i)
        pushes.append(t)
        time.sleep(0.35)
        started = sink.utterance_started(i)
        pickups.append(np.nan if started is None else started - t)
    stats = sink.stats()
    sink.close()
    time.sleep(0.1)
    left, times, totals = rec.stop()
    arrivals: list[float] = []
    loud = np.abs(left) > 0.01
    for t in pushes:
        # Reads that ended before the push cannot hold its burst: search after them.
        j = int(np.searchsorted(times, t))
        k0 = int(totals[j - 1]) if j > 0 else 0
        hits = np.flatnonzero(loud[k0:])
        if len(hits) == 0:
            arrivals.append(np.nan)
            continue
        arrivals.append(LiveRecorder.sample_time(k0 + int(hits[0]), times, totals) - t)

    def summary(xs: list[float]) -> dict[str, float]:
        a = np.array(xs, dtype=float) * 1e3
        a = a[~np.isnan(a)]
        return {
            "n": len(a),
            "median_ms": float(np.median(a)),
            "p95_ms": float(np.percentile(a, 95)),
            "max_ms": float(a.max()),
        }

    return {
        "rate": rate,
        "buffer_ms_requested": buffer_ms,
        "buffer_frames": stats["buffer_frames"],
        "buffer_ms_obtained": 1e3 * stats["buffer_frames"] / stats["device_rate"],
        "reported_output_latency_ms": 1e3 * stats["output_latency"],
        "push_to_callback_pickup": summary(pickups),
        "push_to_monitor_arrival": summary(arrivals),
        "underruns": stats["underruns"],
        "xruns": stats["xruns"],
        "device_errors": stats["device_errors"],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--buffer-ms", type=float, nargs="+", default=[5.0, 10.0, 20.0])
    ap.add_argument("--rates", type=int, nargs="+", default=[48000, 22050])
    args = ap.parse_args()
    rig = use_rig()
    rows = []
    for rate in args.rates:
        for b in args.buffer_ms:
            row = measure(rig, rate, b, args.runs)
            print(json.dumps(row), flush=True)
            rows.append(row)
    stop_rig(rig)
    result = {
        "benchmark": "audio_latency",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "commit": git_rev(),
        "command": "python " + " ".join(sys.argv),
        "build": "maturin develop --release",
        "device": "ALSA default -> PulseAudio null sink (float32 stereo 48 kHz), parec monitor",
        "results": rows,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"audio_latency-{datetime.now(UTC).date().isoformat()}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
