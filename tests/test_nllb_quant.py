"""The fused NLLB step on CPU (torch ops): bf16 mode against generate(), int8 weights, the
script head, and their options through NllbTranslator, make_translator and the CLI.

The Triton kernels themselves are tested in test_kernels.py; here the fused step computes the
same function in torch, which is what runs on CPU and MPS.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import gpu_models as gm
import pytest
import torch
from test_nllb_loop import SENTENCES, SHAPE, reference, wide_model

from stream_tts.config import load_file
from stream_tts.engines.decode.nllb_loop import NllbLoop
from stream_tts.engines.decode.script_head import UnknownScriptError, kept_ids, script_of
from stream_tts.engines.nllb import NllbTranslator
from stream_tts.registry import make_translator

CYRILLIC = "абвгдежзийклмнопрстуфхцчшщыьэюя"
CJK = "中文字是不了人我在有他这"
FULLWIDTH_DE = "\uff44\uff45"  # Latin letters of full width


@pytest.fixture(scope="module")
def tok() -> Any:
    t = gm.nllb_tokenizer()
    t.src_lang = "eng_Latn"
    return t


@pytest.fixture(scope="module")
def mixed_tok() -> Any:
    """Latin, Cyrillic and CJK letters and a few mixed tokens, digits and punctuation."""
    from transformers import NllbTokenizer

    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    pieces = ["▁", *string.ascii_lowercase, *CYRILLIC, *CJK, *string.digits, *".,!?-"]
    # ▁дa: Cyrillic then Latin
    pieces += ["▁да", "▁the", "▁中文", "▁abв", "▁12", "▁Ω", FULLWIDTH_DE, "▁дa"]
    for p in pieces:
        vocab.setdefault(p, len(vocab))
    t = NllbTokenizer(vocab=vocab, merges=[])
    t.src_lang = "eng_Latn"
    return t


def bos(tokenizer: Any, code: str = "deu_Latn") -> int:
    return int(tokenizer.convert_tokens_to_ids(code))


@pytest.mark.parametrize("pad", [False, True], ids=["exact", "padded"])
@pytest.mark.parametrize(
    "gen",
    [{}, {"min_new_tokens": 5, "exponential_decay_length_penalty": (8, 3.0)}],
    ids=["plain", "length-processors"],
)
def test_fused_step_is_generate_in_float32(tok: Any, pad: bool, gen: dict[str, Any]) -> None:
    m = wide_model(tok, 21, **gen)
    loop = NllbLoop(m, graphs=False, pad=pad, fused=True)
    assert loop.fused is not None and not loop.reads_pos  # torch ops on CPU
    for text in SENTENCES:
        ref, ref_logits = reference(m, tok, text, 30)
        loop.record = []
        assert loop.generate(tok(text)["input_ids"], bos(tok), 30) == ref
        for a, b in zip(loop.record, ref_logits, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_generate_iter_yields_the_fused_tokens(tok: Any) -> None:
    m = wide_model(tok, 22)
    loop = NllbLoop(m, graphs=False, weights="int8")
    ids = tok(SENTENCES[0])["input_ids"]
    full = loop.generate(ids, bos(tok), 20)
    assert full is not None and [loop.start_token, *loop.generate_iter(ids, bos(tok), 20)] == full


def teacher_forced(loop: NllbLoop, tok: Any, text: str, targets: list[int]) -> Any:
    return torch.stack(loop.forced_logits(tok(text)["input_ids"], bos(tok), targets))


def test_forced_logits_are_generate_logits(tok: Any) -> None:
    m = wide_model(tok, 23)
    ref, ref_logits = reference(m, tok, SENTENCES[2], 25)
    for fused in (False, True):
        got = teacher_forced(NllbLoop(m, graphs=False, fused=fused), tok, SENTENCES[2], ref[1:])
        torch.testing.assert_close(got, torch.stack(ref_logits)[:, 0], rtol=1e-4, atol=1e-4)


# Bounds on max |dlogit| / the logits' spread and on top-1 agreement: per-row int8 is within
# a few percent of the spread; int4 (7 levels a side, a scale per group) about ten times that.
QUANT_BOUNDS = {"int8": (0.1, 0.9), "int4": (0.6, 0.85)}


@pytest.mark.parametrize("weights", ["int8", "int4"])
def test_quantised_logits_stay_close_to_the_float_ones(tok: Any, weights: str) -> None:
    """Teacher-forced logits with int8 / int4 weights against the model's float32 weights, on
    a model at its own init scale (the wide test models amplify every error over the steps)."""
    torch.manual_seed(24)
    m = gm.nllb_model({**SHAPE, "d_model": 128, "decoder_ffn_dim": 256}, tok)
    ref = NllbLoop(m, graphs=False, fused=True)
    q8 = NllbLoop(m, graphs=False, weights=weights)
    agree = total = 0
    worst = 0.0
    for text in SENTENCES:
        targets = ref.generate(tok(text)["input_ids"], bos(tok), 20)
        assert targets is not None
        a = teacher_forced(ref, tok, text, targets[1:])
        b = teacher_forced(q8, tok, text, targets[1:])
        spread = (a - a.mean(dim=1, keepdim=True)).std(dim=1)
        worst = max(worst, float(((b - a).abs().amax(dim=1) / spread).max()))
        agree += int((a.argmax(1) == b.argmax(1)).sum())
        total += a.shape[0]
    print(f"{weights} vs float32: top-1 agreement {agree}/{total}, max |dlogit| / std {worst:.3f}")
    bound, share = QUANT_BOUNDS[weights]
    assert worst < bound
    assert agree >= share * total
    if weights == "int4":  # the test can tell int4 from int8
        assert worst > QUANT_BOUNDS["int8"][0]


def test_script_of_and_kept_ids(mixed_tok: Any) -> None:
    assert script_of("rus_Cyrl") == "Cyrl" and script_of("zho_Hans") == "Hans"
    with pytest.raises(UnknownScriptError):
        script_of("xxx_Zzzz")
    names = {i: mixed_tok.convert_ids_to_tokens(i) for i in range(len(mixed_tok))}
    ru = {names[i] for i in kept_ids(mixed_tok, "rus_Cyrl")}
    assert {"▁да", "д", "▁", "7", ",", "▁12", "</s>", "<pad>", "<s>", "<unk>"} <= ru
    assert not ru & {"a", "▁the", "中", "▁abв", "▁Ω", "▁дa", "rus_Cyrl", "deu_Latn", "<mask>"}
    de = {names[i] for i in kept_ids(mixed_tok, "deu_Latn")}
    assert {"a", "▁the", FULLWIDTH_DE, "7", "</s>"} <= de
    assert not de & {"д", "▁abв", "中", "deu_Latn"}
    zh = {names[i] for i in kept_ids(mixed_tok, "zho_Hans")}
    assert {"中", "▁中文", "7"} <= zh and not zh & {"a", "д"}
    assert kept_ids(mixed_tok, "rus_Cyrl", vocab_size=10) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("weights", ["bf16", "int8", "int4"])
def test_script_head_picks_the_best_kept_token(mixed_tok: Any, weights: str) -> None:
    """At every step the restricted head's token is the full head's best among the kept rows:
    the full head's own choice whenever that is kept, never a token of another script."""
    rus = bos(mixed_tok, "rus_Cyrl")
    keep = kept_ids(mixed_tok, "rus_Cyrl")
    outside = 0
    for seed in (31, 32):
        m = wide_model(mixed_tok, seed)
        full = NllbLoop(m, graphs=False, weights=weights)
        head = NllbLoop(m, graphs=False, weights=weights, head_ids=keep)
        for text in SENTENCES:
            ids = mixed_tok(text)["input_ids"]
            out = head.generate(ids, rus, 25)
            assert out is not None and set(out[2:]) <= set(keep)
            logits = torch.stack(full.forced_logits(ids, rus, out[1:]))
            restricted = torch.stack(head.forced_logits(ids, rus, out[1:]))
            torch.testing.assert_close(restricted[:, keep], logits[:, keep])
            assert torch.isinf(restricted).sum() == restricted.numel() - len(keep) * len(out[1:])
            for i, t in enumerate(out[2:], start=1):  # step 0 is the forced language
                assert t == keep[int(logits[i, keep].argmax())]  # no EOS processors here
                best = int(logits[i].argmax())
                if best in keep:
                    assert t == best
                else:
                    outside += 1
    assert outside > 0  # the full head would have chosen other scripts: the test can tell


def test_translator_options(tok: Any) -> None:
    m = wide_model(tok, 41)
    t = NllbTranslator(m, tok, tgt="ru", weights="int8", head="script")
    assert t.loop is not None and t.loop.fused is not None and t.loop.head_ids is not None
    assert t.loop.fused.head.w.dtype == torch.int8
    out = t.generate_ids(SENTENCES[0])
    assert out and set(out[2:]) <= set(t.loop.head_ids.tolist())
    assert NllbTranslator(m, tok, tgt="de").loop.fused is None  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="need our decode loop"):
        NllbTranslator(m, tok, tgt="de", loop="stock", weights="int8")
    with pytest.raises(ValueError, match="need our decode loop"):
        NllbTranslator(m, tok, tgt="de", beams=2, head="script")
    with pytest.raises(ValueError, match="unknown NLLB weights"):
        NllbTranslator(m, tok, tgt="de", weights="int2")
    t4 = NllbTranslator(m, tok, tgt="de", weights="int4")
    assert t4.loop is not None and t4.loop.fused is not None
    assert t4.loop.fused.head.w.dtype == torch.uint8 and t4.generate_ids(SENTENCES[0])
    with pytest.raises(ValueError, match="unknown NLLB head"):
        NllbTranslator(m, tok, tgt="de", head="latin")


def test_make_translator_passes_the_options(tmp_path: Path) -> None:
    gm.save_nllb(tmp_path / "m")
    t = make_translator(str(tmp_path / "m"), tgt="de", device="cpu", weights="int8")
    assert t.loop.fused is not None and t.loop.weights == "int8"  # type: ignore[attr-defined]
    assert t.translate("Hello.") is not None
    with pytest.raises(ValueError, match="options of our decode loop"):
        make_translator(str(tmp_path / "m"), "ct2", tgt="de", head="script")


def test_cli_flags_and_config_keys(tmp_path: Path) -> None:
    from stream_tts.cli import _cli_values, build_parser
    from stream_tts.config import merge

    def _write(text: str) -> Path:
        (tmp_path / "c.toml").write_text(text)
        return tmp_path / "c.toml"

    def _settings(argv: list[str], config: str = "") -> Any:
        values = load_file(_write(config)) if config else {}
        return merge(values, _cli_values(build_parser().parse_args(argv)))

    s = _settings(["--translate-to", "de", "--nllb-weights", "int8", "--nllb-head", "script"])
    assert s.engine_options["translate"] == {"weights": "int8", "head": "script"}
    s = _settings(["--translate-to", "de"], '[translate]\nweights = "int8"\n')
    assert s.engine_options["translate"] == {"weights": "int8"}
    s = _settings(["--translate-to", "de", "--nllb-weights", "int4"])
    assert s.engine_options["translate"] == {"weights": "int4"}
    with pytest.raises(SystemExit):
        _settings(["--nllb-weights", "int2"])
    assert load_file(_write('[translate]\nhead = "script"\n'))["engine_options"] == {
        "translate": {"head": "script"}
    }
