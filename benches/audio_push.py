"""Cost of push() from Python, against a sounddevice callback stream doing the same job.

    python benches/audio_push.py [--rate 22050] [--chunk 1000] [--calls 3000]

1. push(): time per call of 1,000 samples (float32 and int16), into an AudioSink on the
   PulseAudio rig (ring large enough that push never waits; median and p99 are the cost),
   and into a NullSink (its 2 s ring fills, so there the mean includes waiting).
2. sounddevice (PortAudio, same ALSA default -> rig): the usual Python design, a numpy ring
   under a lock, filled by the producer and emptied by the stream's Python callback; the
   producer's cost per 1,000 samples.
3. CPU per second of audio while playing 10 s through each (process CPU time: the callback
   threads count too).

sounddevice needs libportaudio2 (apt) and `pip install sounddevice`: benchmark only.
Writes benches/results/audio_push-<date>.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
from _rig import RESULTS, git_rev, machine, use_rig
from audio_rig import stop_rig

from stream_tts._core import AudioSink, NullSink


def per_call_ns(push: Callable[[np.ndarray], None], x: np.ndarray, calls: int) -> dict[str, float]:
    for _ in range(50):  # warm up
        push(x)
    times = np.empty(calls)
    for i in range(calls):
        t = time.perf_counter_ns()
        push(x)
        times[i] = time.perf_counter_ns() - t
    return {
        "median_ns": float(np.median(times)),
        "p99_ns": float(np.percentile(times, 99)),
        "mean_ns": float(times.mean()),
    }


class PyRing:
    """What a Python program does with sounddevice: a numpy ring under a lock."""

    def __init__(self, frames: int) -> None:
        self.buf = np.zeros(frames, np.float32)
        self.read = 0
        self.written = 0
        self.lock = threading.Lock()

    def push(self, x: np.ndarray) -> None:
        with self.lock:
            n = len(self.buf)
            if self.written - self.read + len(x) > n:
                raise RuntimeError("ring full (benchmark sized it to never fill)")
            i = self.written % n
            k = min(len(x), n - i)
            self.buf[i : i + k] = x[:k]
            self.buf[: len(x) - k] = x[k:]
            self.written += len(x)

    def callback(self, outdata: np.ndarray, frames: int, _time: object, _status: object) -> None:
        with self.lock:
            avail = min(frames, self.written - self.read)
            n = len(self.buf)
            i = self.read % n
            k = min(avail, n - i)
            outdata[:k, 0] = self.buf[i : i + k]
            outdata[k:avail, 0] = self.buf[: avail - k]
            outdata[avail:] = 0
            self.read += avail


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def play_cpu(push: Callable[[np.ndarray], None], rate: int, seconds: float, chunk: int) -> float:
    """CPU seconds per second of audio, pushing in real time for `seconds`."""
    x = np.zeros(chunk, np.float32)
    c0, t0 = cpu_seconds(), time.monotonic()
    sent = 0
    while time.monotonic() - t0 < seconds:
        push(x)
        sent += chunk
        ahead = sent / rate - (time.monotonic() - t0)
        if ahead > 0.2:
            time.sleep(ahead - 0.2)
    return (cpu_seconds() - c0) / (time.monotonic() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=int, default=22050)
    ap.add_argument("--chunk", type=int, default=1000)
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--buffer-ms", type=float, default=10.0)
    args = ap.parse_args()
    rate, chunk, calls = args.rate, args.chunk, args.calls
    rig = use_rig()
    f32 = (0.1 * np.random.default_rng(0).standard_normal(chunk)).astype(np.float32)
    i16 = (f32 * 32767).astype(np.int16)
    ring_ms = 1000.0 * (calls + 100) * chunk / rate * 1.1
    res: dict[str, object] = {}

    with NullSink(rate) as null:
        res["null_push_f32"] = per_call_ns(null.push, f32, calls)
        res["null_push_i16"] = per_call_ns(null.push, i16, calls)
    dev = AudioSink(rate, buffer_ms=args.buffer_ms, ring_ms=ring_ms)

    def empty() -> None:
        dev.flush()
        dev.drain(timeout=5)

    # Touch the whole ring once so page faults are not timed, then measure from empty.
    per_call_ns(dev.push, f32, calls)
    empty()
    res["device_push_f32"] = per_call_ns(dev.push, f32, calls)
    empty()
    res["device_push_i16"] = per_call_ns(dev.push, i16, calls)
    empty()
    res["device_buffer_frames"] = dev.buffer_frames
    dev.close()
    dev = AudioSink(rate, buffer_ms=args.buffer_ms)
    res["device_cpu_per_audio_s"] = play_cpu(dev.push, rate, 10.0, chunk)
    res["device_underruns"] = dev.stats()["underruns"]
    dev.close()

    import sounddevice as sd  # type: ignore[import-untyped]  # benchmark-only dependency

    ring = PyRing(int((calls + 100) * chunk * 1.1))
    blocksize = int(rate * args.buffer_ms / 1000)
    with sd.OutputStream(
        samplerate=rate,
        channels=1,
        dtype="float32",
        blocksize=blocksize,
        latency="low",
        callback=ring.callback,
    ):
        res["sounddevice_push_f32"] = per_call_ns(ring.push, f32, calls)
    ring = PyRing(rate * 2)

    def push_waiting(x: np.ndarray) -> None:
        while True:
            try:
                return ring.push(x)
            except RuntimeError:
                time.sleep(0.005)

    with sd.OutputStream(
        samplerate=rate,
        channels=1,
        dtype="float32",
        blocksize=blocksize,
        latency="low",
        callback=ring.callback,
    ) as stream:
        res["sounddevice_latency_s"] = stream.latency
        res["sounddevice_cpu_per_audio_s"] = play_cpu(push_waiting, rate, 10.0, chunk)
    stop_rig(rig)

    result = {
        "benchmark": "audio_push",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "commit": git_rev(),
        "command": "python " + " ".join(sys.argv),
        "build": "maturin develop --release",
        "rate": rate,
        "chunk_samples": chunk,
        "calls": calls,
        "buffer_ms": args.buffer_ms,
        "sounddevice": f"{sd.__version__}, {sd.get_portaudio_version()[1]}",
        "results": res,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"audio_push-{datetime.now(UTC).date().isoformat()}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
