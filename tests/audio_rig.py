"""The PulseAudio test rig from Python: start it, record its monitor, align recordings.

Tests get a private null sink per session (so parallel sessions never hear each other) and an
ALSA configuration whose default device plays into it; see scripts/pulse-rig.sh.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
RIG_SCRIPT = ROOT / "scripts" / "pulse-rig.sh"
MONITOR_RATE = 48000  # the rig's null sink: float32, stereo, 48 kHz


@dataclass(frozen=True)
class Rig:
    sink: str
    directory: Path
    alsa_config: Path
    started_server: bool = False  # no server answered before start_rig: stop_rig stops it

    @property
    def monitor(self) -> str:
        return f"{self.sink}.monitor"

    @property
    def capture_file(self) -> Path:
        """Where the `stream_tts_capture` ALSA device (file plugin) writes raw samples."""
        return self.directory / "capture.raw"

    def env(self) -> dict[str, str]:
        """What routes ALSA's default device to this rig's sink (see pulse-rig.sh)."""
        return {
            "ALSA_CONFIG_PATH": str(self.alsa_config),
            "STREAM_TTS_RIG_SINK": self.sink,
            "PULSE_SINK": self.sink,
        }


def parec_command(
    source: str, *, channels: int, latency_ms: int, rate: int = MONITOR_RATE
) -> list[str]:
    """parec recording `source` as raw float32 at `rate`, with a small capture latency."""
    return [
        "parec",
        f"--device={source}",
        "--raw",
        "--format=float32le",
        f"--rate={rate}",
        f"--channels={channels}",
        f"--latency-msec={latency_ms}",
    ]


def start_rig(sink: str | None = None) -> Rig:
    """Start (or reuse) PulseAudio and a private null sink; raise RuntimeError if impossible."""
    sink = sink or f"stream_tts_test_{os.getpid()}"
    directory = Path(tempfile.mkdtemp(prefix=f"{sink}-"))
    env = {**os.environ, "STREAM_TTS_RIG_SINK": sink, "STREAM_TTS_RIG_DIR": str(directory)}
    # A server that was not running before is ours to stop again (stop_rig).
    try:
        info = subprocess.run(["pactl", "info"], capture_output=True, timeout=10)
        was_running = info.returncode == 0
    except OSError:  # no pactl: the rig script says what to install
        was_running = False
    proc = subprocess.run(
        ["bash", str(RIG_SCRIPT)], env=env, capture_output=True, text=True, timeout=60
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"the PulseAudio rig did not start (exit {proc.returncode}):\n"
            f"{proc.stdout}\n{proc.stderr}"
        )
    return Rig(
        sink=sink,
        directory=directory,
        alsa_config=directory / "asound.conf",
        started_server=not was_running,
    )


def stop_rig(rig: Rig) -> None:
    env = {**os.environ, "STREAM_TTS_RIG_SINK": rig.sink, "STREAM_TTS_RIG_DIR": str(rig.directory)}
    subprocess.run(["bash", str(RIG_SCRIPT), "remove"], env=env, capture_output=True, timeout=30)
    if rig.started_server:
        subprocess.run(["bash", str(RIG_SCRIPT), "stop"], env=env, capture_output=True, timeout=30)


class Recorder:
    """`parec` on the rig's monitor: float32 stereo at 48 kHz, low latency."""

    def __init__(self, rig: Rig, path: Path) -> None:
        self.path = path
        self._file = open(path, "wb")
        self._proc = subprocess.Popen(
            parec_command(rig.monitor, channels=2, latency_ms=5),
            stdout=self._file,
            stderr=subprocess.PIPE,
        )
        # Wait until parec streams (the file grows) so nothing played is missed.
        deadline = time.monotonic() + 5
        while path.stat().st_size == 0:
            if self._proc.poll() is not None or time.monotonic() > deadline:
                err = self._proc.stderr.read().decode() if self._proc.stderr else ""
                raise RuntimeError(f"parec did not start recording {rig.monitor}: {err}")
            time.sleep(0.01)
        self.started_bytes = path.stat().st_size

    def stop(self) -> npt.NDArray[np.float32]:
        self._proc.terminate()
        self._proc.wait(timeout=10)
        self._file.close()
        data = np.fromfile(self.path, dtype="<f4")
        return data[: len(data) // 2 * 2].reshape(-1, 2)

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc.poll() is None:
            self.stop()


def align(recorded: npt.NDArray[np.float32], sent: npt.NDArray[np.float32]) -> int:
    """Offset of `sent` inside `recorded`, by FFT cross-correlation."""
    n = len(recorded) + len(sent)
    size = 1 << (n - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(recorded, size) * np.conj(np.fft.rfft(sent, size)), size)
    return int(np.argmax(corr[: len(recorded)]))


def onset(signal: npt.NDArray[np.floating[Any]], threshold: float = 1e-3) -> int | None:
    """Index of the first sample above `threshold` in magnitude."""
    hits = np.flatnonzero(np.abs(signal) > threshold)
    return int(hits[0]) if len(hits) else None


def speech_like(rate: int, seconds: float, seed: int = 0) -> npt.NDArray[np.float32]:
    """Band-limited noise with a syllable-rate envelope: speech-like level and spectrum."""
    rng = np.random.default_rng(seed)
    n = int(rate * seconds)
    noise = rng.standard_normal(n)
    # 4th-order-ish low-pass by repeated moving averages keeps it under ~4 kHz.
    for width in (3, 5):
        noise = np.convolve(noise, np.ones(width) / width, mode="same")
    t = np.arange(n) / rate
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 4.0 * t)
    out = noise * envelope
    out *= 0.3 / np.max(np.abs(out))
    return out.astype(np.float32)
