"""--rate: playback speed after synthesis with the pitch kept (WSOLA, rate.py)."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
from cli_support import stream_tts

from stream_tts.rate import Stretcher

SR = 22050


def _stretch(x: np.ndarray, rate: float, chunk: int = 1000) -> np.ndarray:
    s = Stretcher(SR, rate)
    parts = [s.feed(x[i : i + chunk]) for i in range(0, len(x), chunk)]
    return np.concatenate([*parts, s.finish()])


def _pitch(y: np.ndarray) -> float:
    """Rising zero crossings per second, away from the edges."""
    m = y[3000:-3000]
    return float(np.sum((m[:-1] < 0) & (m[1:] >= 0)) / (len(m) / SR))


@pytest.mark.parametrize("rate", [0.5, 0.8, 1.5, 2.0, 3.0])
def test_duration_follows_the_rate_and_pitch_stays(rate: float) -> None:
    t = np.arange(2 * SR) / SR
    x = (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    y = _stretch(x, rate)
    assert len(x) / len(y) == pytest.approx(rate, rel=0.03)
    assert _pitch(y) == pytest.approx(220, rel=0.02)
    # Overlap-add without gaps or bumps: the level stays that of the input.
    env = np.convolve(np.abs(y[3000:-3000]), np.ones(200) / 200, mode="valid")
    assert env.min() > 0.9 * env.max()


def test_chunking_does_not_matter() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal(SR).astype(np.float32)
    a = _stretch(x, 1.7, chunk=37)
    b = _stretch(x, 1.7, chunk=5000)
    assert np.allclose(a, b, atol=1e-5)


def _frames(path: Path) -> int:
    with wave.open(str(path)) as w:
        return w.getnframes()


def test_rate_option_on_a_real_voice(tmp_path: Path) -> None:
    text = b"The quick brown fox jumps over the lazy dog, and then it runs away.\n"
    out = {}
    for rate in ("1", "2"):
        path = tmp_path / f"r{rate}.wav"
        r = stream_tts("--input", "text", "--rate", rate, "-o", str(path), stdin=text)
        assert r.returncode == 0, r.stderr.decode()
        out[rate] = _frames(path)
    assert 0.45 < out["2"] / out["1"] < 0.58, out


def test_rate_out_of_range_is_one_line() -> None:
    r = stream_tts("--rate", "5", "--text-only", stdin=b"Hi.\n")
    assert r.returncode == 2
    assert "rate must be in [0.5, 3]" in r.stderr.decode()
