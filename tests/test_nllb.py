"""NLLB-200 translation (transformers and CTranslate2) on a tiny random-weight model.

The model is built from the real M2M100 architecture with an NLLB tokenizer made here, saved
in the hub's cache layout, and loaded by repo id through the same code as a download.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import gpu_models as gm
import huggingface_hub.constants
import pytest
import torch

from stream_tts.engines.hub import ModelNotFoundError, ensure_model
from stream_tts.engines.langs import UnknownLanguageError
from stream_tts.engines.nllb import NllbTranslator, load_nllb
from stream_tts.registry import make_translator

REPO = "test-org/nllb-tiny"


@pytest.fixture(scope="module")
def hub_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hub")
    gm.put_in_hub_cache(gm.save_nllb(root / "src"), root / "cache", REPO)
    return root / "cache"


@pytest.fixture(autouse=True)
def offline_hub(hub_cache: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub_cache))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("STREAM_TTS_CACHE", str(tmp_path / "stream-tts-cache"))


@pytest.fixture(scope="module")
def translator(hub_cache: Path) -> NllbTranslator:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub_cache))
        mp.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
        return load_nllb(REPO, src="en", tgt="ja", device="cpu")


def lang_ids(tok: Any) -> list[int]:
    from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES

    return [tok.convert_tokens_to_ids(c) for c in FAIRSEQ_LANGUAGE_CODES]


def wordy(t: NllbTranslator, n: int = 6) -> dict[str, Any]:
    """Random weights mostly emit language tags; keep them out so text comes back (the forced
    target tag stays allowed at its step, and no token may repeat after it)."""
    others = [i for i in lang_ids(t.tokenizer) if i != t.forced_bos_token_id]
    return {
        "suppress_tokens": others,
        "no_repeat_ngram_size": 1,
        "min_new_tokens": n,
        "max_new_tokens": n,
    }


def test_loads_by_repo_id_from_the_hub_cache(translator: NllbTranslator) -> None:
    assert translator.src == "eng_Latn"
    assert translator.tgt == "jpn_Jpan"
    assert translator.device.type == "cpu"
    assert next(translator.model.parameters()).dtype == torch.float32
    assert translator.model.config._attn_implementation == "sdpa"


def test_forced_target_language_token(translator: NllbTranslator) -> None:
    tok = translator.tokenizer
    ids = translator.generate_ids("Hello there.")
    assert ids[0] == translator.model.config.decoder_start_token_id
    assert ids[1] == tok.convert_tokens_to_ids("jpn_Jpan")
    german = NllbTranslator(translator.model, tok, src="en", tgt="de")
    assert german.generate_ids("Hello there.")[1] == tok.convert_tokens_to_ids("deu_Latn")


def test_source_language_tags_the_input(translator: NllbTranslator) -> None:
    enc = translator.tokenizer("Hi.")["input_ids"]
    assert enc[0] == translator.tokenizer.convert_tokens_to_ids("eng_Latn")


def test_translate_returns_text(translator: NllbTranslator) -> None:
    t = NllbTranslator(translator.model, translator.tokenizer, tgt="ja")
    t.generate_kwargs = wordy(t)
    out = t.translate("Hello there, how are you?")
    assert isinstance(out, str) and out
    assert t.translate("   ") == ""


def test_beams_and_greedy_both_run(translator: NllbTranslator) -> None:
    for beams in (1, 3):
        t = NllbTranslator(translator.model, translator.tokenizer, tgt="de", beams=beams)
        assert t.generate_ids("Good morning.")[1] == t.forced_bos_token_id


def test_unknown_languages(translator: NllbTranslator) -> None:
    with pytest.raises(UnknownLanguageError):
        NllbTranslator(translator.model, translator.tokenizer, tgt="xx")
    with pytest.raises(UnknownLanguageError, match="no language token 'abc_Latn'"):
        NllbTranslator(translator.model, translator.tokenizer, tgt="abc_Latn")


def test_interrupt_from_another_thread(translator: NllbTranslator) -> None:
    t = NllbTranslator(translator.model, translator.tokenizer, tgt="de")
    started = threading.Event()

    class Signal:
        def __call__(self, input_ids: Any, scores: Any, **kw: Any) -> Any:
            if input_ids.shape[1] >= 3:
                started.set()
            return torch.zeros(input_ids.shape[0], dtype=torch.bool)

    t.generate_kwargs = {
        "min_new_tokens": 400,
        "max_new_tokens": 400,
        "stopping_criteria": [Signal()],
    }
    result: list[str] = []
    worker = threading.Thread(target=lambda: result.append(t.translate("Hello there.")))
    worker.start()
    assert started.wait(30)
    t.interrupt()
    worker.join(30)
    assert result == [""]
    assert t.interrupted == 1
    t.generate_kwargs = {}
    assert t.generate_ids("Hello.")[1] == t.forced_bos_token_id  # next sentence runs


def test_bad_model_paths(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        load_nllb(str(tmp_path / "nope"), tgt="de", device="cpu")
    with pytest.raises(ModelNotFoundError, match=r"lacks config\.json"):
        load_nllb(str(tmp_path), tgt="de", device="cpu")


def test_offline_error_names_the_model_and_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError) as e:
        ensure_model("test-org/not-downloaded")
    msg = str(e.value)
    assert "test-org/not-downloaded" in msg
    assert "HF_HUB_OFFLINE" in msg  # the CLI adds which option takes a folder instead


def test_local_folder_loads(hub_cache: Path) -> None:
    folder = ensure_model(REPO)
    t = load_nllb(str(folder), tgt="de", device="cpu")
    assert t.generate_ids("Hi.")[1] == t.forced_bos_token_id


def test_ct2_converts_once_and_translates(tmp_path: Path) -> None:
    from stream_tts.engines.ct2 import Ct2Translator, ct2_cache_dir

    t = make_translator(REPO, backend="ct2", src="en", tgt="ja", device="cpu", beams=2)
    assert isinstance(t, Ct2Translator)
    converted = list(ct2_cache_dir().glob("*/model.bin"))
    assert len(converted) == 1
    stamp = converted[0].stat().st_mtime_ns
    assert isinstance(t.translate("Hello there."), str)
    assert t.translate("") == ""
    again = make_translator(REPO, backend="ct2", tgt="de", device="cpu")
    assert converted[0].stat().st_mtime_ns == stamp  # cached, not converted again
    assert again.tgt == "deu_Latn"


def test_unknown_backend() -> None:
    with pytest.raises(ValueError, match="ct2"):
        make_translator(REPO, backend="onnx", tgt="de")
