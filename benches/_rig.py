"""Shared by the audio benchmarks: the rig and its helpers live with the tests."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import audio_rig  # noqa: E402

RESULTS = ROOT / "benches" / "results"


def use_rig() -> audio_rig.Rig:
    """Start a private rig sink and route this process's ALSA default to it."""
    rig = audio_rig.start_rig(f"stream_tts_bench_{os.getpid()}")
    os.environ.update(rig.env())
    return rig


def machine() -> str:
    cpu = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.node()}: {os.cpu_count()} cores, {cpu}, {platform.platform()}"


def git_rev() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    return out.stdout.strip()


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0
