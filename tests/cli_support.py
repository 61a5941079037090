"""Helpers shared by the CLI, pipeline and end-to-end tests: run the real `stream-tts`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from audio_rig import Rig, parec_command, start_rig

REPO = Path(__file__).resolve().parent.parent


def stream_tts(
    *args: str,
    stdin: bytes = b"",
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[bytes]:
    """Run the installed CLI (`python -m stream_tts`, as the console script does)."""
    full_env = dict(os.environ)
    full_env["STREAM_TTS_CONFIG"] = os.devnull  # the user's config must not leak in
    if env:
        full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "stream_tts", *args],
        input=stdin,
        capture_output=True,
        env=full_env,
        timeout=timeout,
    )


def stats_lines(text: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The per-sentence records and the summary of `--stats` output."""
    records = []
    summary: dict[str, Any] = {}
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        d = json.loads(line)
        if d.get("summary"):
            summary = d
        else:
            records.append(d)
    return records, summary


_NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
} | {
    w: str(10 * i)
    for i, w in enumerate("thirty forty fifty sixty seventy eighty ninety".split(), 3)
}


def words(text: str) -> list[str]:
    """Lowercase words of letters and digits (apostrophes dropped: "I'll" is "ill"), small
    numbers as digits: a recognizer writes "one" or "1" as it likes."""
    found = re.findall(r"[a-z0-9]+", text.lower().replace("'", "").replace("\u2019", ""))
    return [_NUMBER_WORDS.get(w, w) for w in found]


class Recorder:
    """Records a PulseAudio source (a null sink's monitor) with parec, stamping each block."""

    RATE = 48000

    def __init__(self, source: str) -> None:
        import threading

        self.proc = subprocess.Popen(
            parec_command(source, channels=1, latency_ms=2, rate=self.RATE),
            stdout=subprocess.PIPE,
        )
        self.blocks: list[tuple[float, bytes]] = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import time

        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while data := os.read(fd, 4096):
            self.blocks.append((time.monotonic(), data))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self._thread.join(10)

    def loud_times(self, threshold: float = 0.02) -> list[float]:
        """monotonic() time of every sample above `threshold` (the block's end minus its age)."""
        import numpy as np

        out: list[float] = []
        pending = b""
        for t, data in self.blocks:
            pending += data
            n = len(pending) // 4
            block = np.frombuffer(pending[: n * 4], dtype=np.float32)
            pending = pending[n * 4 :]
            idx = np.flatnonzero(np.abs(block) > threshold)
            out.extend((t - (n - idx) / self.RATE).tolist())
        return out


def pulse_rig(name: str) -> tuple[Rig, dict[str, str]]:
    """A private null sink from scripts/pulse-rig.sh and the env that routes ALSA's default
    to it (PULSE_SINK too: the ALSA pulse plugin's `device` alone did not route there)."""
    rig = start_rig(name)
    return rig, rig.env()
