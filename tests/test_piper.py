"""The Piper engine and voice resolution, on the real bundled voice (no network needed)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from stream_tts._core import CLAUSE_MAX_BYTES, split_clauses
from stream_tts.engines.base import SpeechEngine
from stream_tts.engines.piper import (
    BUNDLED_VOICE,
    MAX_IDS,
    PiperEngine,
    VoiceError,
    bounded_ids,
    bundled_voice,
    resolve_voice,
    trim_leading_silence,
)


@pytest.fixture(scope="module")
def engine() -> PiperEngine:
    e = PiperEngine(bundled_voice())
    e.warmup()
    return e


def _audio(e: PiperEngine, text: str) -> np.ndarray:
    chunks = list(e.synthesize(text))
    assert chunks, "no audio"
    for c in chunks:
        assert c.dtype == np.float32 and c.ndim == 1 and c.flags.c_contiguous
    return np.concatenate(chunks)


def test_bundled_voice_is_found_offline() -> None:
    v = resolve_voice(None)
    assert v.source == "bundled" and v.name == BUNDLED_VOICE
    assert v.model.is_file() and v.model.suffix == ".onnx"
    assert v.config.is_file()
    assert resolve_voice(BUNDLED_VOICE) == v


def test_engine_implements_the_interface(engine: PiperEngine) -> None:
    assert isinstance(engine, SpeechEngine)
    assert engine.sample_rate == 22050


def test_synthesizes_speech(engine: PiperEngine) -> None:
    a = _audio(engine, "The release profile uses fat link time optimization.")
    seconds = len(a) / engine.sample_rate
    assert 1.5 < seconds < 8, seconds
    assert np.abs(a).max() > 0.5  # Piper normalizes each sentence to full scale
    assert np.sqrt(np.mean(a**2)) > 0.03  # speech, not near-silence


def test_whole_graph_gives_one_chunk_per_sentence() -> None:
    whole = PiperEngine(bundled_voice(), streaming=False)
    assert len(list(whole.synthesize("First one. Second one! Third one?"))) == 3


def test_speed_and_volume() -> None:
    text = "Keep fat link time optimization for releases only."
    normal = _audio(PiperEngine(bundled_voice()), text)
    fast = _audio(PiperEngine(bundled_voice(), speed=2.0), text)
    quiet = _audio(PiperEngine(bundled_voice(), volume=0.5), text)
    assert 0.35 < len(fast) / len(normal) < 0.7
    assert 0.45 < np.abs(quiet).max() <= 0.5 + 1e-6


def test_voice_from_a_path(tmp_path: Path) -> None:
    b = bundled_voice()
    model = tmp_path / "my-voice.onnx"
    shutil.copy(b.model, model)
    shutil.copy(b.config, tmp_path / "my-voice.onnx.json")
    v = resolve_voice(str(model))
    assert v.source == "file" and v.name == "my-voice" and v.model == model
    assert len(_audio(PiperEngine(v), "Hello there.")) > 0


def test_bad_voice_paths_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(VoiceError, match="not found"):
        resolve_voice(str(tmp_path / "missing.onnx"))
    lonely = tmp_path / "lonely.onnx"
    lonely.write_bytes(b"x")
    with pytest.raises(VoiceError, match=r"lonely\.onnx\.json"):
        resolve_voice(str(lonely))
    with pytest.raises(VoiceError, match="Piper voice name"):
        resolve_voice("not a voice")


def _hub_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("HF_HUB_OFFLINE", None)
    env.update(HF_HOME=str(tmp_path / "hf"), HF_HUB_CACHE=str(tmp_path / "hf" / "hub"), **extra)
    return env


def _run_py(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )


def test_hub_voice_offline_gives_a_clear_error(tmp_path: Path) -> None:
    code = (
        "from stream_tts.engines.piper import resolve_voice, VoiceError\n"
        "try:\n    resolve_voice('en_US-lessac-medium')\n"
        "except VoiceError as e:\n    print(e)\nelse:\n    print('NO ERROR')\n"
    )
    r = _run_py(code, _hub_env(tmp_path, HF_HUB_OFFLINE="1"))
    assert r.returncode == 0, r.stderr
    assert "en_US-lessac-medium" in r.stdout and "--voice /path/to/" in r.stdout, r.stdout


def _fake_hub_cache(root: Path, name: str) -> Path:
    """Lay the bundled voice out as huggingface_hub caches rhasspy/piper-voices files."""
    commit = "0" * 40
    repo = root / "hub" / "models--rhasspy--piper-voices"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    lang, rest = name.split("_", 1)
    region, voice, quality = rest.split("-")
    d = repo / "snapshots" / commit / lang / f"{lang}_{region}" / voice / quality
    d.mkdir(parents=True)
    b = bundled_voice()
    shutil.copy(b.model, d / f"{name}.onnx")
    shutil.copy(b.config, d / f"{name}.onnx.json")
    return d / f"{name}.onnx"


def test_hub_voice_comes_from_the_cache_without_network(tmp_path: Path) -> None:
    expected = _fake_hub_cache(tmp_path / "hf", "en_US-cached-medium")
    code = (
        "from stream_tts.engines.piper import resolve_voice\n"
        "v = resolve_voice('en_US-cached-medium')\nprint(v.source, v.model)\n"
    )
    r = _run_py(code, _hub_env(tmp_path, HF_HUB_OFFLINE="1"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["hub", str(expected)]


def test_list_voices_shows_bundled_and_cached(tmp_path: Path) -> None:
    _fake_hub_cache(tmp_path / "hf", "en_US-cached-medium")
    r = subprocess.run(
        [sys.executable, "-m", "stream_tts.cli", "--list-voices"],
        env=_hub_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    names = [line.split("\t")[0] for line in r.stdout.splitlines()]
    assert names == [BUNDLED_VOICE, "en_US-cached-medium"]


def test_clauses_are_cut_only_where_long_enough() -> None:
    # Piper cuts by the shared rule (rust/src/clause.rs; its own tests cover the details).
    s = "The release profile uses fat LTO with codegen units, so the linker optimizes it all."
    assert split_clauses(s, min_words=5) == [
        "The release profile uses fat LTO with codegen units,",
        "so the linker optimizes it all.",
    ]
    assert split_clauses(s, min_words=0) == [s]
    assert split_clauses("Yes, it works.", min_words=5) == ["Yes, it works."]
    short_tail = "One two three four five six, and done."
    assert split_clauses(short_tail, min_words=5) == [short_tail]
    run_on = "the cache keeps every old result around " * 40
    pieces = split_clauses(run_on)
    assert all(len(p.encode()) <= CLAUSE_MAX_BYTES for p in pieces)
    assert " ".join(pieces).split() == run_on.split()
    with pytest.raises(ValueError, match="max_bytes must be >= 1, got 0"):
        split_clauses(s, max_bytes=0)


def test_model_input_is_capped_between_words(engine: PiperEngine) -> None:
    # A long number spelled out: many phonemes from few bytes.
    text = " ".join(["123456789012"] * 20)
    (phonemes,) = engine._voice.phonemize(text)
    to_ids = engine._voice.phonemes_to_ids
    assert len(to_ids(phonemes)) > MAX_IDS
    runs = list(bounded_ids(phonemes, to_ids))
    assert len(runs) > 1 and all(len(r) <= MAX_IDS for r in runs)
    pieces = list(bounded_ids(phonemes, lambda ph: list(map(ord, ph)), max_ids=50))
    rejoined = " ".join("".join(map(chr, p)) for p in pieces)
    assert rejoined.split() == "".join(phonemes).split()  # cut only between words
    assert all(0 < len(p) <= 50 for p in pieces)
    assert list(bounded_ids([], to_ids)) == [to_ids([])]


def test_long_sentence_starts_sooner_and_says_the_same(engine: PiperEngine) -> None:
    s = (
        "When the worker thread wakes up later than the fixed sleep allows, "
        "the assertion runs before the state has changed."
    )
    # The graph run whole per clause (as the Piper CLI would), so a chunk is a clause.
    split = PiperEngine(bundled_voice(), streaming=False)
    whole = PiperEngine(bundled_voice(), streaming=False, min_clause_words=0)
    split_chunks = list(split.synthesize(s))
    whole_chunks = list(whole.synthesize(s))
    assert len(split_chunks) == 2 and len(whole_chunks) == 1
    # The first clause is about half the audio, so it is ready in about half the time.
    assert len(split_chunks[0]) < 0.7 * len(whole_chunks[0])
    total = sum(len(c) for c in split_chunks)
    assert 0.8 < total / len(whole_chunks[0]) < 1.25


def test_leading_silence_is_trimmed(engine: PiperEngine) -> None:
    a = np.concatenate(list(engine.synthesize("Here is what I found in the logs.")))
    # Speech (above 1% of full scale) starts within the 2 ms kept; VITS alone leaves 30-75 ms.
    loud = np.flatnonzero(np.abs(a) > 0.01)
    assert loud[0] <= int(0.002 * engine.sample_rate)
    assert abs(a[0]) < 1e-3  # faded in from zero: no click at the cut
    quiet = np.full(2205, 0.005, dtype=np.float32)
    speech = np.full(100, 0.5, dtype=np.float32)
    trimmed = trim_leading_silence(np.concatenate([quiet, speech]), 22050)
    assert len(trimmed) == 100 + 44
    assert trimmed[0] == 0.0 and np.all(np.diff(trimmed[:44]) > 0)
    assert np.array_equal(trimmed[44:], speech)


def test_lead_in_fades_across_a_silent_first_window(engine: PiperEngine) -> None:
    # A first window of silence, then one whose first sample is already loud: the kept
    # lead-in comes from the end of the silent window and ramps up from zero.
    rate = engine.sample_rate
    windows = [np.full(rate // 10, 0.004, dtype=np.float32), np.full(500, 0.5, dtype=np.float32)]
    real, peak = engine._raw, engine._peak
    engine._raw = lambda ids: iter(windows)  # type: ignore[method-assign]
    try:
        out = np.concatenate(list(engine.synthesize("Hi.")))
    finally:
        engine._raw, engine._peak = real, peak  # type: ignore[method-assign]
    keep = int(0.002 * rate)
    assert len(out) == 500 + keep
    assert out[0] == 0.0 and np.all(np.diff(out[:keep]) >= 0)
    assert np.all(out[keep:] == out[keep])
