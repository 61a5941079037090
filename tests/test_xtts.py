"""XTTS-v2 streaming on a tiny random-weight model built from coqui-tts's real classes.

The GPT is shrunk (1 layer, width 64); the HiFi-GAN decoder and speaker encoder are XTTS-v2's
own. The model is saved as XTTS-v2 ships (config.json, model.pth, vocab.json from coqui's shipped
tokenizer, speakers_xtts.pth), in the hub's cache layout, and loaded by repo id.
"""

from __future__ import annotations

import inspect
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gpu_models as gm
import huggingface_hub.constants
import numpy as np
import pytest
import soundfile as sf
import torch
from speech_support import deltas

from stream_tts.engines.base import SpeechEngine
from stream_tts.engines.hub import ModelNotFoundError
from stream_tts.engines.langs import UnknownLanguageError
from stream_tts.engines.xtts import (
    Voice,
    VoiceError,
    XttsEngine,
    make_xtts,
    patch_coqui_for_transformers,
    voice_from_speaker,
    voice_from_wav,
)

REPO = "test-org/xtts-tiny"
TOKENS = 14  # forced audio-token count per sentence


@pytest.fixture(scope="module")
def hub_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hub")
    gm.put_in_hub_cache(gm.save_xtts(root / "src", gm.XTTS_TINY_GPT), root / "cache", REPO)
    return root / "cache"


@pytest.fixture(autouse=True)
def offline_hub(hub_cache: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub_cache))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("STREAM_TTS_CACHE", str(tmp_path / "stream-tts-cache"))


@pytest.fixture(scope="module")
def engine(hub_cache: Path) -> Iterator[XttsEngine]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub_cache))
        mp.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
        e = make_xtts(
            REPO,
            speaker=gm.TEST_SPEAKER,
            language="deu_Latn",
            device="cpu",
            chunk_tokens=6,
            first_chunk_tokens=2,
        )
    e.generate_kwargs = {"min_new_tokens": TOKENS, "max_new_tokens": TOKENS}
    yield e


def decoded_len(e: XttsEngine, tokens: int) -> int:
    width = e.model.args.gpt_n_model_channels
    with torch.inference_mode():
        wav = e.model.hifigan_decoder(torch.zeros(1, tokens, width), g=e.speaker_embedding)
    return int(wav.shape[-1])


def test_is_a_speech_engine(engine: XttsEngine) -> None:
    assert isinstance(engine, SpeechEngine)
    assert engine.sample_rate == 24000
    assert engine.language == "de"


def test_streams_growing_chunks_that_join_exactly(engine: XttsEngine) -> None:
    chunks = list(engine.synthesize("Hallo, wie geht es dir?"))
    # 14 tokens: 2, then 4, then 6, then the last 2.
    assert len(chunks) == 4
    assert all(c.dtype == np.float32 and c.ndim == 1 for c in chunks)
    assert all(np.isfinite(c).all() for c in chunks)
    assert len(chunks[0]) < len(chunks[1]) < len(chunks[2])
    # Crossfaded joins neither drop nor repeat samples: the stream is as long as one decode.
    assert sum(len(c) for c in chunks) == decoded_len(engine, TOKENS)


def test_crossfade_blends_the_overlap(engine: XttsEngine) -> None:
    # At each join the samples move from one decode to the next; no step at the boundary is
    # larger than the largest step inside the chunks.
    chunks = list(engine.synthesize("Guten Morgen."))
    audio = np.concatenate(chunks)
    steps = np.abs(np.diff(audio))
    joins = np.cumsum([len(c) for c in chunks[:-1]])
    inner = np.delete(steps, joins - 1)
    assert steps[joins - 1].max() <= inner.max()


def test_interrupt_stops_after_the_current_token(engine: XttsEngine) -> None:
    stream = engine.synthesize("Ein langer Satz, der unterbrochen wird.")
    first = next(stream)
    assert len(first) > 0
    engine.interrupt()
    assert list(stream) == []
    assert engine.interrupted == 1
    assert len(list(engine.synthesize("Weiter."))) == 4  # the next sentence runs


def test_closing_the_stream_early_frees_the_engine(engine: XttsEngine) -> None:
    stream = engine.synthesize("Eins zwei drei.")
    next(stream)
    stream.close()
    assert len(list(engine.synthesize("Vier."))) == 4


def test_runs_on_a_worker_thread(engine: XttsEngine) -> None:
    with ThreadPoolExecutor(1) as pool:
        n = pool.submit(lambda: sum(len(c) for c in engine.synthesize("Hallo."))).result(120)
    assert n == decoded_len(engine, TOKENS)
    assert threading.active_count() >= 1


def test_speaker_wav_latents_are_cached_by_file_hash(engine: XttsEngine, tmp_path: Path) -> None:
    sr = 16000
    t = np.arange(int(1.5 * sr)) / sr
    wav = tmp_path / "me.wav"
    rng = np.random.default_rng(0)
    sf.write(wav, 0.3 * np.sin(2 * np.pi * 180 * t) + 0.01 * rng.standard_normal(t.size), sr)
    v1 = voice_from_wav(engine.model, wav, "key")
    assert v1.gpt_cond_latent.shape == (1, 32, engine.model.args.gpt_n_model_channels)
    assert v1.speaker_embedding.shape == (1, 512, 1)
    from stream_tts.engines.xtts import latents_cache_dir

    cached = list(latents_cache_dir().glob("*.pt"))
    assert len(cached) == 1
    v2 = voice_from_wav(engine.model, wav, "key")
    assert torch.equal(v1.gpt_cond_latent, v2.gpt_cond_latent)
    assert len(list(latents_cache_dir().glob("*.pt"))) == 1
    sf.write(wav, 0.3 * np.sin(2 * np.pi * 250 * t), sr)
    voice_from_wav(engine.model, wav, "key")
    assert len(list(latents_cache_dir().glob("*.pt"))) == 2  # new content, new entry
    cloned = XttsEngine(engine.model, v1, language="en", first_chunk_tokens=2, chunk_tokens=6)
    cloned.generate_kwargs = engine.generate_kwargs
    assert sum(len(c) for c in cloned.synthesize("hello")) == decoded_len(engine, TOKENS)


def test_bad_voices(engine: XttsEngine, tmp_path: Path) -> None:
    with pytest.raises(VoiceError, match="no such file"):
        voice_from_wav(engine.model, tmp_path / "missing.wav", "key")
    (tmp_path / "junk.wav").write_bytes(b"not audio")
    with pytest.raises(VoiceError, match="cannot read"):
        voice_from_wav(engine.model, tmp_path / "junk.wav", "key")
    with pytest.raises(VoiceError, match="Test Speaker"):
        voice_from_speaker(engine.model, "Nobody")


def test_language_checked_before_loading() -> None:
    with pytest.raises(UnknownLanguageError, match="zh-cn"):
        make_xtts("/definitely/not/loaded", language="fi")


def test_bad_model_paths(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        make_xtts(str(tmp_path / "nope"), device="cpu")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelNotFoundError, match=r"lacks model\.pth"):
        make_xtts(str(tmp_path), device="cpu")


def test_transformers_cache_patch() -> None:
    from transformers.modeling_outputs import CausalLMOutputWithCrossAttentions
    from TTS.tts.layers.xtts.gpt_inference import GPT2InferenceModel

    # transformers >= 5.18 passes the KV cache as `cache=`; coqui-tts 0.28 reads only
    # `past_key_values`. Loading applied the patch exactly where it is needed (the streaming
    # tests above fail without it), and applying it again changes nothing.
    renamed = "cache" in CausalLMOutputWithCrossAttentions.__dataclass_fields__
    forward = GPT2InferenceModel.forward
    reads_cache = "cache" in inspect.signature(forward).parameters and not getattr(
        forward, "stream_tts_patch", False
    )
    patched = getattr(GPT2InferenceModel.forward, "stream_tts_patch", False)
    assert patched == (renamed and not reads_cache)
    assert patch_coqui_for_transformers() is False


def test_without_the_patch_streaming_breaks_on_renamed_transformers(
    engine: XttsEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from TTS.tts.layers.xtts.gpt_inference import GPT2InferenceModel

    # coqui's own stream (our loop does not go through its forward).
    voice = Voice(engine.gpt_cond_latent, engine.speaker_embedding)
    stock = XttsEngine(
        engine.model, voice, language="de", chunk_tokens=6, first_chunk_tokens=2, loop="stock"
    )
    stock.generate_kwargs = dict(engine.generate_kwargs)
    forward = GPT2InferenceModel.forward
    if getattr(forward, "stream_tts_patch", False):
        monkeypatch.setattr(GPT2InferenceModel, "forward", forward.original)
        with pytest.raises(AttributeError, match="get_seq_length"):
            list(stock.synthesize("Hallo."))
    else:  # a transformers before the rename: coqui's own forward streams
        assert len(list(stock.synthesize("Hallo."))) == 4


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("jpn_Jpan", "こんにちは、元気ですか。"),
        ("zh", "你好，今天天气很好。"),  # noqa: RUF001 (a Chinese comma, on purpose)
        ("ko", "안녕하세요."),
    ],
)
def test_non_latin_languages_have_their_text_front_ends(
    engine: XttsEngine, language: str, text: str
) -> None:
    voice = voice_from_speaker(engine.model, gm.TEST_SPEAKER)
    e = XttsEngine(engine.model, voice, language=language, first_chunk_tokens=2, chunk_tokens=6)
    e.generate_kwargs = engine.generate_kwargs
    assert sum(len(c) for c in e.synthesize(text)) == decoded_len(engine, TOKENS)


def test_pipeline_speaks_on_after_a_held_guess_and_a_pause(engine: XttsEngine) -> None:
    # The hang of issue 13: a sentence's guess is held (its stream open, so XTTS's lock taken),
    # input pauses past the re-warm threshold, then resumes: the re-warm must not wait on
    # the lock the held guess owns.
    from stream_tts._core import NullSink
    from stream_tts.config import Settings
    from stream_tts.pipeline import REWARM_AFTER_S, Pipeline
    from stream_tts.stats import Stats

    parts = [
        (0.0, "Here is the plan for the"),
        (0.05, " build."),
        (REWARM_AFTER_S + 0.5, " Next"),
        (0.05, " up."),
    ]
    r, w = os.pipe()
    sink = NullSink(engine.sample_rate, realtime=False)
    stats = Stats(None)
    pipeline = Pipeline(Settings(), engine=engine, sink=sink, stats=stats)
    runner = threading.Thread(target=pipeline.run, args=(r,), daemon=True)
    runner.start()
    for delay, line in deltas("msg_H", parts):
        time.sleep(delay)
        os.write(w, line)
    os.close(w)
    runner.join(120)
    assert not runner.is_alive(), "the pipeline hung after the pause"
    os.close(r)
    assert [rec.text for rec in stats.records] == ["Here is the plan for the build.", "Next up."]
    assert stats.records[0].speculated
    assert all(rec.audio_s > 0 for rec in stats.records)
