"""Our XTTS-v2 loader (no random init, memory-mapped checkpoint) against coqui's own, on a
small random-weight model from coqui's real classes (CPU): same weights, same buffers, and the
same outputs from every part the engine runs (GPT, HiFi-GAN, speaker and conditioning
encoders, whose mel filter banks are computed at construction, not loaded)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gpu_models as gm
import numpy as np
import pytest
import soundfile as sf
import torch
from torch.nn.utils import parametrize

from stream_tts.engines.xtts import XttsEngine, load_xtts_model, voice_from_speaker, voice_from_wav

GREEDY = {"temperature": 0.75, "top_k": 1, "top_p": 0.85, "repetition_penalty": 10.0}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return gm.save_xtts(tmp_path_factory.mktemp("xtts"), {**gm.XTTS_TINY_GPT, "gpt_layers": 2})


@pytest.fixture(scope="module")
def models(folder: Path) -> tuple[Any, Any]:
    return load_xtts_model(str(folder), "cpu", fast=True), load_xtts_model(
        str(folder), "cpu", fast=False
    )


def test_same_weights_and_buffers(models: tuple[Any, Any]) -> None:
    fast, coqui = models
    ours, theirs = fast.state_dict(), coqui.state_dict()
    assert ours.keys() == theirs.keys()
    for k in theirs:
        assert torch.equal(ours[k], theirs[k]), k
    # Buffers outside the state dict (computed at construction) as well.
    mine = {n: b for n, b in fast.named_buffers(remove_duplicate=False)}
    for n, b in coqui.named_buffers(remove_duplicate=False):
        assert n in mine and torch.equal(mine[n], b), n
    assert not any(p.is_meta for p in fast.parameters())
    # Both with HiFi-GAN's weight norm folded (engines/xtts_decoder.py), as our engine runs it.
    assert not any(parametrize.is_parametrized(m) for m in [*fast.modules(), *coqui.modules()])
    assert not fast.training and not fast.gpt.training
    assert fast.speaker_manager.speakers.keys() == coqui.speaker_manager.speakers.keys()


def test_same_speech(models: tuple[Any, Any]) -> None:
    fast, coqui = models
    audio = []
    for m in (fast, coqui):
        e = XttsEngine(m, voice_from_speaker(m, gm.TEST_SPEAKER), **GREEDY)
        e.generate_kwargs = {"max_new_tokens": 12}
        torch.manual_seed(0)
        audio.append(np.concatenate(list(e.synthesize("hello there, this is a test."))))
    assert len(audio[0]) > 0
    np.testing.assert_array_equal(audio[0], audio[1])


def test_same_voice_latents_from_a_wav(
    models: tuple[Any, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STREAM_TTS_CACHE", str(tmp_path / "cache"))
    fast, coqui = models
    rng = np.random.default_rng(0)
    wav = tmp_path / "voice.wav"
    sf.write(wav, (0.1 * rng.standard_normal(22050 * 2)).astype(np.float32), 22050)
    a = voice_from_wav(fast, wav, "fast")  # distinct keys: computed, not read from the cache
    b = voice_from_wav(coqui, wav, "coqui")
    assert torch.equal(a.gpt_cond_latent, b.gpt_cond_latent)
    assert torch.equal(a.speaker_embedding, b.speaker_embedding)


def test_a_checkpoint_missing_a_weight_is_refused(folder: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in folder.iterdir():
        (broken / f.name).symlink_to(f)
    state = torch.load(folder / "model.pth", weights_only=True)
    del state["model"]["gpt.mel_head.weight"]
    (broken / "model.pth").unlink()
    torch.save(state, broken / "model.pth")
    with pytest.raises(RuntimeError, match=r"gpt\.mel_head\.weight"):
        load_xtts_model(str(broken), "cpu")


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
def test_half_precision_speech_through_our_loop(folder: Path, dtype: torch.dtype) -> None:
    # What CUDA runs (the GPT in bf16, or fp16 on GPUs without bf16; HiFi-GAN in float32),
    # here on the CPU, through the engine: no dtype clash between the parts.
    m = load_xtts_model(str(folder), "cpu")  # a model of its own: the GPT is cast in place
    e = XttsEngine(m, voice_from_speaker(m, gm.TEST_SPEAKER), dtype=dtype, **GREEDY)
    e.generate_kwargs = {"min_new_tokens": 12, "max_new_tokens": 12}
    audio = np.concatenate(list(e.synthesize("hello there, this is a test.")))
    assert e.loop.cache.dtype == dtype and m.gpt.mel_head.weight.dtype == dtype
    assert next(m.hifigan_decoder.parameters()).dtype == torch.float32
    assert audio.dtype == np.float32 and len(audio) > 0 and np.isfinite(audio).all()


def test_weight_norm_saved_the_old_way_loads_the_same(folder: Path, tmp_path: Path) -> None:
    # XTTS-v2 as coqui ships it names HiFi-GAN's weight-norm tensors weight_g / weight_v (torch
    # converts them to parametrizations while loading): both loaders must take them.
    old = tmp_path / "old"
    old.mkdir()
    for f in folder.iterdir():
        if f.name != "model.pth":
            (old / f.name).symlink_to(f)
    state = torch.load(folder / "model.pth", weights_only=True)["model"]
    renamed = {
        k.replace(".parametrizations.weight.original0", ".weight_g").replace(
            ".parametrizations.weight.original1", ".weight_v"
        ): v
        for k, v in state.items()
    }
    assert renamed.keys() != state.keys()
    torch.save({"model": renamed}, old / "model.pth")
    ours = load_xtts_model(str(old), "cpu").state_dict()
    theirs = load_xtts_model(str(old), "cpu", fast=False).state_dict()
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)


def test_a_checkpoint_with_its_config_pickled_loads(folder: Path, tmp_path: Path) -> None:
    # As XTTS-v2 is downloaded: the config saved as an XttsConfig object, which plain data
    # loading refuses; coqui's reader takes it once and rewrites the file as plain data.
    from TTS.tts.configs.xtts_config import XttsConfig
    from TTS.tts.models.xtts import _legacy_safe_globals

    first = tmp_path / "first"
    first.mkdir()
    for f in folder.iterdir():
        if f.name != "model.pth":
            (first / f.name).symlink_to(f)
    config = XttsConfig()
    config.load_json(str(folder / "config.json"))
    state = torch.load(folder / "model.pth", weights_only=True)["model"]
    with _legacy_safe_globals():  # its classes pickled under their old module, as shipped
        torch.save({"model": state, "config": config}, first / "model.pth")
    with pytest.raises(Exception, match="Unsupported global"):
        torch.load(first / "model.pth", weights_only=True)
    want = load_xtts_model(str(folder), "cpu").state_dict()  # the plain file (weight norm folded)
    for _ in range(2):  # the second load reads the rewritten file
        got = load_xtts_model(str(first), "cpu").state_dict()
        assert got.keys() == want.keys()
        assert all(torch.equal(got[k], v) for k, v in want.items())
