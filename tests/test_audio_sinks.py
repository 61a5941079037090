"""Sinks without a device: NullSink and WavSink, and the push/flush/drain/marks contract."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from stream_tts._core import AudioError, NullSink, WavSink, monotonic


def test_monotonic_is_pythons_clock() -> None:
    a = time.monotonic()
    b = monotonic()
    c = time.monotonic()
    assert a - 1e-3 <= b <= c + 1e-3


def test_null_sink_plays_everything_and_reports_starts() -> None:
    with NullSink(16000) as sink:
        t0 = monotonic()
        sink.push(np.zeros(1600, np.float32), utterance=1)
        sink.push(np.ones(800, np.int16), utterance=2)
        sink.push(np.ones(800, np.int16))
        assert sink.drain(timeout=5)
        s1, s2 = sink.utterance_started(1), sink.utterance_started(2)
        assert s1 is not None and s2 is not None
        assert t0 <= s1 <= s2 <= monotonic()
        assert sink.utterance_started(3) is None
        stats = sink.stats()
        assert stats["samples_played"] == 3200
        assert stats["underruns"] == 0
        assert stats["queued_frames"] == 0
        assert sink.sample_rate == 16000


def test_realtime_null_sink_keeps_time() -> None:
    with NullSink(16000, realtime=True) as sink:
        t0 = monotonic()
        sink.push(np.zeros(8000, np.float32), utterance=7)
        assert sink.drain(timeout=5)
        elapsed = monotonic() - t0
        # Paced like a device: half a second of audio is not played faster than that (the
        # upper bound only catches a hang; timings belong to benches/).
        assert 0.45 < elapsed < 3.0, elapsed
        assert sink.stats()["buffer_frames"] == 160


def wait_for(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def run_dry(sink: NullSink, played: int) -> None:
    """Wait until `played` samples were taken and the next period found the ring empty."""
    wait_for(lambda: sink.stats()["samples_played"] >= played)
    calls = sink.stats()["callbacks"]
    wait_for(lambda: sink.stats()["callbacks"] >= calls + 2)


def test_realtime_gap_inside_an_utterance_is_an_underrun_idle_is_not() -> None:
    chunk = np.full(800, 0.1, np.float32)
    with NullSink(16000, realtime=True) as sink:
        sink.push(chunk, utterance=1)
        run_dry(sink, 800)  # the ring runs dry in the middle of utterance 1 ...
        sink.push(chunk)  # ... which then goes on: an underrun
        run_dry(sink, 1600)
        sink.push(chunk, utterance=2)  # idle gap, then a new utterance: none
        assert sink.drain(timeout=5)
        run_dry(sink, 2400)
        sink.push(chunk)  # after drain(): a new stream, none
        assert sink.drain(timeout=5)
        assert sink.stats()["underruns"] == 1


def test_flush_drops_queued_audio_and_releases_a_blocked_push() -> None:
    sink = NullSink(16000, realtime=True)  # 2 s ring
    done: list[float] = []

    def producer() -> None:
        sink.push(np.full(16000 * 10, 0.2, np.float32), utterance=1)  # blocks when full
        done.append(monotonic())

    worker = threading.Thread(target=producer)
    worker.start()
    wait_for(lambda: sink.stats()["queued_frames"] > 16000)  # the ring is full: push waits
    before = sink.stats()["samples_played"]
    t_flush = monotonic()
    sink.flush()
    worker.join(timeout=5)
    assert not worker.is_alive()
    assert done[0] - t_flush < 2.0  # released, not left to play the 8 s still to come
    wait_for(lambda: sink.stats()["queued_frames"] == 0)
    time.sleep(0.05)
    # After the flush the consumer finished at most the period it was in.
    assert sink.stats()["samples_played"] - before <= 2 * 160
    sink.close()


def test_ctrl_c_interrupts_a_blocked_push() -> None:
    sink = NullSink(16000, realtime=True)
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    t0 = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        sink.push(np.zeros(16000 * 20, np.float32))
    assert time.monotonic() - t0 < 5.0  # interrupted, not the 18 s the ring would take
    sink.close()


def test_rejects_bad_samples() -> None:
    with NullSink(16000) as sink:
        with pytest.raises(TypeError):
            sink.push(np.zeros(10, np.float64))  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="contiguous"):
            sink.push(np.zeros(20, np.float32)[::2])
        sink.push(np.zeros(0, np.float32))  # nothing to do is fine
    with pytest.raises(ValueError):
        NullSink(0)


def test_closed_sink_refuses_push() -> None:
    sink = NullSink(16000)
    sink.close()
    sink.close()
    with pytest.raises(AudioError, match="closed"):
        sink.push(np.zeros(10, np.float32))


def test_push_from_a_worker_thread_while_main_reads_starts() -> None:
    sink = NullSink(16000, realtime=True)
    chunk = np.full(1600, 0.1, np.float32)

    def producer() -> None:
        for i in range(10):
            sink.push(chunk, utterance=i)

    worker = threading.Thread(target=producer)
    worker.start()
    seen: set[int] = set()
    deadline = time.monotonic() + 5
    while len(seen) < 10 and time.monotonic() < deadline:
        seen |= {i for i in range(10) if sink.utterance_started(i) is not None}
        time.sleep(0.01)
    worker.join()
    assert seen == set(range(10))
    starts = [sink.utterance_started(i) for i in range(10)]
    assert starts == sorted(starts)  # type: ignore[type-var]
    sink.close()


def read_wav(path: Path) -> tuple[int, int, np.ndarray]:
    with wave.open(str(path)) as w:
        return w.getframerate(), w.getnchannels(), np.frombuffer(w.readframes(-1), "<i2")


def test_wav_sink_writes_what_was_pushed(tmp_path: Path) -> None:
    path = tmp_path / "out.wav"
    x = np.linspace(-1.0, 1.0, 22050, dtype=np.float32)
    y = (np.arange(1000) - 500).astype(np.int16)
    with WavSink(str(path), 22050) as sink:
        sink.push(x, utterance=1)
        sink.push(y, utterance=2)
        assert sink.drain(timeout=5)
        assert sink.utterance_started(2) is not None
    rate, channels, data = read_wav(path)
    assert (rate, channels, len(data)) == (22050, 1, 23050)
    want = np.clip(np.round(x.astype(np.float64) * 32768), -32768, 32767)
    assert np.max(np.abs(data[:22050] - want)) <= 1
    assert np.array_equal(data[22050:], y)


def test_wav_sink_close_writes_everything_without_drain(tmp_path: Path) -> None:
    path = tmp_path / "out.wav"
    sink = WavSink(str(path), 16000)
    for _ in range(20):
        sink.push(np.full(4000, 0.5, np.float32))
    sink.close()
    _, _, data = read_wav(path)
    assert len(data) == 80000
    assert np.all(data == 16384)


def test_wav_sink_bad_path_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        WavSink(str(tmp_path / "missing" / "out.wav"), 16000)


def test_wav_sink_left_open_is_completed_at_exit(tmp_path: Path) -> None:
    path = tmp_path / "exit.wav"
    code = (
        "import numpy as np\n"
        "from stream_tts._core import WavSink\n"
        f"sink = WavSink({str(path)!r}, 16000)\n"
        "sink.push(np.full(48000, 0.25, np.float32))\n"
        "globals()['keep'] = sink  # alive at exit: never dropped\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    _, _, data = read_wav(path)
    assert len(data) == 48000
    assert np.all(data == 8192)


def test_wav_sink_is_a_valid_file_while_open_and_after_a_kill(tmp_path: Path) -> None:
    # The header follows every block written, so even SIGKILL (no atexit, no close) leaves a
    # WAV of everything written so far.
    path = tmp_path / "killed.wav"
    code = (
        "import os, signal, numpy as np\n"
        "from stream_tts._core import WavSink\n"
        f"sink = WavSink({str(path)!r}, 16000)\n"
        "sink.push(np.full(40000, 0.25, np.float32))\n"
        "assert sink.drain(timeout=10)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == -signal.SIGKILL, out.stderr
    rate, _, data = read_wav(path)
    assert (rate, len(data)) == (16000, 40000)
    assert np.all(data == 8192)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_wav_sink_write_failure_stops_the_next_push() -> None:
    # /dev/full fails every write with ENOSPC, as a full disk does.
    sink = WavSink("/dev/full", 16000)
    with pytest.raises(OSError, match="No space left"):
        for _ in range(200):  # the writer thread fails on its first block; a push then says so
            sink.push(np.full(1600, 0.1, np.float32))
            time.sleep(0.01)
    with pytest.raises(OSError, match="No space left"):
        sink.close()
