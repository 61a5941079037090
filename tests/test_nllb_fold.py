"""The cross-attention folded per sentence (engines/decode/cross_fold.py) on the torch twin:
generate()'s tokens and logits in float32, int8 unchanged, and which source lengths fold.
The kernels' side (softmax prologue, the folded loop on Triton) is in test_kernels.py."""

from __future__ import annotations

from typing import Any

import gpu_models as gm
import pytest
import torch
from test_nllb_loop import SENTENCES, reference, wide_model

from stream_tts.engines.decode.cross_fold import fold_len, fold_limit
from stream_tts.engines.decode.nllb_loop import NllbLoop


@pytest.fixture(scope="module")
def tok() -> Any:
    t = gm.nllb_tokenizer()
    t.src_lang = "eng_Latn"
    return t


@pytest.mark.parametrize("pad", [False, True], ids=["exact", "padded"])
@pytest.mark.parametrize(
    "gen",
    [{}, {"min_new_tokens": 5, "exponential_decay_length_penalty": (8, 3.0)}],
    ids=["plain", "length-processors"],
)
def test_folded_step_is_generate_in_float32(tok: Any, pad: bool, gen: dict[str, Any]) -> None:
    m = wide_model(tok, 31, **gen)
    loop = NllbLoop(m, graphs=False, pad=pad, fused=True, cross_fold=True)
    bos = tok.convert_tokens_to_ids("deu_Latn")
    assert loop.fused is not None and loop.fused.fold is not None
    for text in SENTENCES:
        ids = tok(text)["input_ids"]
        assert loop.fused.fold.folds(loop._src_len(len(ids)))
        ref, ref_logits = reference(m, tok, text, 30)
        loop.record = []
        assert loop.generate(ids, bos, 30) == ref
        for a, b in zip(loop.record, ref_logits, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_int8_folded_is_int8_unfolded(tok: Any) -> None:
    """The fold uses the step's own int8 weights (scales into K, W_o's kept): same tokens."""
    m = wide_model(tok, 32)
    folded = NllbLoop(m, graphs=False, weights="int8", cross_fold=True)
    plain = NllbLoop(m, graphs=False, weights="int8", cross_fold=False)
    assert plain.fused is not None and plain.fused.fold is None
    bos = tok.convert_tokens_to_ids("deu_Latn")
    for text in SENTENCES:
        ids = tok(text)["input_ids"]
        folded.record, plain.record = [], []
        assert folded.generate(ids, bos, 25) == plain.generate(ids, bos, 25)
        for a, b in zip(folded.record, plain.record, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_fold_lengths_and_where_it_pays() -> None:
    assert [fold_len(n) for n in (1, 2, 3, 16, 17, 512)] == [1, 2, 4, 16, 32, 512]
    d, heads = 2048, 16  # NLLB-200 3.3B: A and N against W_q and W_o
    assert fold_limit(heads, d, 2, 2 * d * d * 2) == 128  # bf16: up to 128 source tokens
    assert fold_limit(heads, d, 2, 2 * d * d * 1) == 64  # int8 weights: half as far
    assert fold_limit(16, 1024, 2, 2 * 1024 * 1024 * 2) == 64  # 600M
    assert fold_limit(64, 64, 4, 100) == 0


def test_fold_by_default_only_where_it_reads_no_more_bytes(tok: Any) -> None:
    m = wide_model(tok, 33)  # d 64, 4 heads, float32: up to 16 source tokens
    fused = NllbLoop(m, graphs=False, fused=True).fused
    assert fused is not None and fused.fold is not None
    assert fused.fold.max_len == 16 and fused.fold.folds(16) and not fused.fold.folds(17)
    assert fused.nbytes(8) < fused.nbytes(16) == fused.nbytes(17)  # A and N vs W_q and W_o
    unfolded = NllbLoop(m, graphs=False, fused=True, cross_fold=False).fused
    assert unfolded is not None and unfolded.fold is None
