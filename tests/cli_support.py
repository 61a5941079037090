"""Helpers shared by the CLI, pipeline and end-to-end tests: run the real `stream-tts`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
SAMPLES = SHARED / "claude_code_samples"


def shared_file(name: str) -> Path:
    """A file of ../shared/data; missing data is a failure with a clear message, not a skip."""
    path = SHARED / name
    assert path.is_file(), f"test data missing: {path} (see ../shared/data/README.md)"
    return path


def stream_tts(
    *args: str,
    stdin: bytes = b"",
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[bytes]:
    """Run the installed CLI (`python -m stream_tts.cli`, same code as the console script)."""
    full_env = dict(os.environ)
    full_env["STREAM_TTS_CONFIG"] = os.devnull  # the user's config must not leak in
    if env:
        full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "stream_tts.cli", *args],
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


def words(text: str) -> list[str]:
    """Lowercase words of letters and digits (apostrophes dropped: "I'll" is "ill")."""
    return re.findall(r"[a-z0-9]+", text.lower().replace("'", "").replace("\u2019", ""))
