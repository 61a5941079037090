"""The conformance data (CommonMark spec, golden rules, Claude Code samples), kept outside the
repository: `$STREAM_TTS_DATA`, default `../shared/data` beside the checkout.

A clone without it skips the tests that need it, with one line saying why; CI sets
`STREAM_TTS_REQUIRE_DATA=1`, which makes its absence a failure, so CI always runs them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    return Path(os.environ.get("STREAM_TTS_DATA") or REPO.parent / "shared" / "data")


def data_required() -> bool:
    return os.environ.get("STREAM_TTS_REQUIRE_DATA", "") not in ("", "0")


def data_file(rel: str) -> Path:
    """A file of the data folder; skips the calling test (or fails, in CI) when it is absent."""
    folder = data_dir()
    if not folder.is_dir():
        why = f"conformance data not found at {folder} (set STREAM_TTS_DATA; docs/testing.md)"
        if data_required():
            pytest.fail(f"{why}, and STREAM_TTS_REQUIRE_DATA is set", pytrace=False)
        pytest.skip(why)
    path = folder / rel
    assert path.is_file(), f"test data {path} is missing: the data folder is incomplete"
    return path
