"""The install is what uv.lock says, and the conformance data's absence is handled as promised."""

from __future__ import annotations

import importlib.metadata as md
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Built against each other's exact release: torchaudio 2.11.1 beside torch 2.11.0 does not load.
TORCH_TRIO = ("torch", "torchaudio", "torchcodec")


def _locked() -> dict[str, set[str]]:
    """Each package's locked versions (a universal lock may hold one per Python or platform)."""
    with (REPO / "uv.lock").open("rb") as f:
        lock = tomllib.load(f)
    out: dict[str, set[str]] = {}
    for p in lock["package"]:
        if "version" in p:
            out.setdefault(p["name"], set()).add(p["version"])
    return out


def _installed(name: str) -> str | None:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return None


def _public(version: str) -> str:
    return version.split("+", 1)[0]  # 2.11.0+cu130 is the 2.11.0 of the lock


def test_installed_packages_are_the_locked_versions() -> None:
    locked = _locked()
    wrong = []
    for dist in md.distributions():
        name = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
        if name in locked and name != "stream-tts" and _public(dist.version) not in locked[name]:
            wrong.append(f"{name} {dist.version} (uv.lock: {' or '.join(sorted(locked[name]))})")
    assert not wrong, (
        "installed versions differ from uv.lock: " + ", ".join(wrong) + "; reinstall with "
        "`bash scripts/setup.sh` (uv sync --frozen)"
    )


def test_torch_trio_matches_and_loads() -> None:
    versions = {n: _installed(n) for n in TORCH_TRIO}
    if versions["torch"] is None:
        pytest.skip("torch is not installed (setup without the GPU engines' extras)")
    locked = _locked()
    for name, version in versions.items():
        assert version is not None, f"{name} is missing beside torch {versions['torch']}"
        assert _public(version) in locked[name], (
            f"{name} {version} is installed, uv.lock has {locked[name]}: torch, torchaudio and "
            "torchcodec must be the locked trio (bash scripts/setup.sh)"
        )
    # Loads its native library: a mismatched torch fails here with an undefined symbol.
    out = subprocess.run(
        [sys.executable, "-c", "import torchaudio, torchaudio.functional"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]


def _pytest_on_data_test(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            str(REPO / "tests" / "test_text.py"),
            "-k",
            "test_session_sample",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=REPO,
        timeout=300,
    )


def test_missing_data_is_a_skip_with_a_reason_and_a_failure_when_required(
    tmp_path: Path,
) -> None:
    missing = str(tmp_path / "no-data-here")
    r = _pytest_on_data_test({"STREAM_TTS_DATA": missing, "STREAM_TTS_REQUIRE_DATA": ""})
    assert r.returncode == 0, r.stdout
    assert "skipped" in r.stdout and f"conformance data not found at {missing}" in r.stdout
    r = _pytest_on_data_test({"STREAM_TTS_DATA": missing, "STREAM_TTS_REQUIRE_DATA": "1"})
    assert r.returncode == 1, r.stdout
    assert "STREAM_TTS_REQUIRE_DATA is set" in r.stdout


def test_an_installed_library_that_fails_to_load_is_named_with_versions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stream_tts.engines.extras import BrokenExtraError, require

    # As torchaudio 2.11.1 did beside torch 2.11.0: installed, but its library will not load.
    (tmp_path / "stream_tts_broken_lib.py").write_text(
        "raise OSError('Could not load this library: libtorchaudio.so: undefined symbol')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(BrokenExtraError) as e:
        require("stream_tts_broken_lib", "xtts")
    msg = str(e.value)
    assert "fails to load" in msg and "undefined symbol" in msg and "uv.lock" in msg, msg
