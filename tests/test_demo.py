"""The README's first command, `bash scripts/demo.sh`, on a machine without a sound device."""

from __future__ import annotations

import os
import subprocess
import wave
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_demo_writes_a_wav_without_a_sound_device() -> None:
    demo_wav = REPO / "demo.wav"
    demo_wav.unlink(missing_ok=True)
    # No card and no sound server: ALSA's own default configuration, a server that is not there.
    env = {k: v for k, v in os.environ.items() if k not in ("ALSA_CONFIG_PATH", "PULSE_SINK")}
    env.update(PULSE_SERVER="unix:/nonexistent/stream-tts-test", STREAM_TTS_CONFIG=os.devnull)
    r = subprocess.run(
        ["bash", "scripts/demo.sh"], cwd=REPO, env=env, capture_output=True, text=True, timeout=900
    )
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-4000:]
    assert "writing the speech to demo.wav" in out, out[-4000:]
    assert "ALSA lib" not in out and "Traceback" not in out, out[-4000:]
    with wave.open(str(demo_wav)) as w:
        seconds = w.getnframes() / w.getframerate()
    assert seconds > 10, seconds  # the bundled answer is several sentences long
    demo_wav.unlink()
