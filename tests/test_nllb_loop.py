"""Our NLLB decode loop against transformers' generate() on small random-weight models (CPU).

Weights are drawn wider than the init does (std 0.5), so greedy decoding moves between tokens
instead of repeating one, and a wrong position, mask or cache slot changes the tokens.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import gpu_models as gm
import pytest
import torch

from stream_tts.engines.decode.nllb_loop import NllbLoop
from stream_tts.engines.decode.runner import GpuThread, bucket
from stream_tts.engines.nllb import NllbTranslator

SENTENCES = [
    "Hello world, this is a test.",
    "Short.",
    "A much longer sentence, with many words in it; it should take a while to translate.",
]
SHAPE = {
    **gm.NLLB_TINY,
    "d_model": 64,
    "encoder_layers": 2,
    "decoder_layers": 2,
    "encoder_attention_heads": 4,
    "decoder_attention_heads": 4,
    "encoder_ffn_dim": 128,
    "decoder_ffn_dim": 128,
}


@pytest.fixture(scope="module")
def tok() -> Any:
    t = gm.nllb_tokenizer()
    t.src_lang = "eng_Latn"
    return t


def wide_model(tok: Any, seed: int, **gen: Any) -> Any:
    torch.manual_seed(seed)
    m = gm.nllb_model(SHAPE, tok)
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0, 0.5)
    for k, v in gen.items():
        setattr(m.generation_config, k, v)
    return m


def reference(m: Any, tok: Any, text: str, max_new: int) -> tuple[list[int], list[Any]]:
    enc = tok(text, return_tensors="pt").to(m.device)
    out = m.generate(
        **enc,
        forced_bos_token_id=tok.convert_tokens_to_ids("deu_Latn"),
        num_beams=1,
        do_sample=False,
        max_new_tokens=max_new,
        output_logits=True,
        return_dict_in_generate=True,
    )
    return out.sequences[0].tolist(), list(out.logits)


@pytest.mark.parametrize("pad", [False, True], ids=["exact", "padded"])
@pytest.mark.parametrize(
    "gen",
    [{}, {"min_new_tokens": 5, "exponential_decay_length_penalty": (8, 3.0)}],
    ids=["plain", "length-processors"],
)
def test_same_tokens_and_logits_as_generate(tok: Any, pad: bool, gen: dict[str, Any]) -> None:
    distinct = 0
    for seed in (1, 2):
        m = wide_model(tok, seed, **gen)
        loop = NllbLoop(m, graphs=False, pad=pad, fused=False)
        for text in SENTENCES:
            ref, ref_logits = reference(m, tok, text, 30)
            loop.record = []
            ours = loop.generate(tok(text)["input_ids"], tok.convert_tokens_to_ids("deu_Latn"), 30)
            assert ours == ref
            assert len(loop.record) == len(ref_logits)
            for a, b in zip(loop.record, ref_logits, strict=True):
                torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
            distinct += len(set(ref[2:]))
    assert distinct >= 8  # the tokens vary: the comparison can tell loops apart


@pytest.mark.parametrize("layers", [2, 3])
@pytest.mark.parametrize("fuse", [False, True], ids=["launch-each", "ffn-attn-out-fused"])
def test_fused_step_on_torch_ops_is_generate(
    tok: Any, layers: int, fuse: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fused step's torch twin, its FFN and self-attention + out-proj as one operation
    each or not: generate()'s tokens and logits in float32. Odd and even layer counts: with
    the fused FFN the residual alternates between two vectors, layer by layer."""
    from stream_tts.engines.decode import fused_step

    monkeypatch.setattr(fused_step, "FUSE_FFN", fuse)
    monkeypatch.setattr(fused_step, "FUSE_ATTN_OUT", fuse)
    torch.manual_seed(40 + layers)
    m = gm.nllb_model({**SHAPE, "decoder_layers": layers}, tok)
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0, 0.5)
    loop = NllbLoop(m, graphs=False, fused=True, kernels="torch", cross_fold=False)
    assert loop.fused is not None and loop.fused.fuse_ffn == fuse
    bos = tok.convert_tokens_to_ids("deu_Latn")
    for text in SENTENCES[:2]:
        ref, ref_logits = reference(m, tok, text, 20)
        loop.record = []
        assert loop.generate(tok(text)["input_ids"], bos, 20) == ref
        for a, b in zip(loop.record, ref_logits, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_max_new_tokens_and_forced_eos(tok: Any) -> None:
    m = wide_model(tok, 3)
    m.generation_config.forced_eos_token_id = m.config.eos_token_id
    loop = NllbLoop(m, graphs=False, fused=False)
    for n in (1, 2, 7):
        ref, _ = reference(m, tok, SENTENCES[0], n)
        assert (
            loop.generate(tok(SENTENCES[0])["input_ids"], tok.convert_tokens_to_ids("deu_Latn"), n)
            == ref
        )


def test_stops_between_tokens_when_asked(tok: Any) -> None:
    loop = NllbLoop(wide_model(tok, 4), graphs=False, fused=False)
    stop = threading.Event()
    stop.set()
    assert loop.generate(tok("Hi.")["input_ids"], 5, 30, stop=stop) is None


def test_translator_uses_the_loop_and_matches_stock(tok: Any) -> None:
    m = wide_model(tok, 5)
    own = NllbTranslator(m, tok, tgt="de")
    stock = NllbTranslator(m, tok, tgt="de", loop="stock")
    assert own.loop_name == "own" and stock.loop_name == "stock"
    for text in SENTENCES:
        assert own.generate_ids(text) == stock.generate_ids(text)
        assert own.translate(text) == stock.translate(text)


def test_what_the_loop_does_not_cover_goes_to_generate(tok: Any) -> None:
    m = wide_model(tok, 6)
    assert NllbTranslator(m, tok, tgt="de", beams=2).loop_name == "stock"
    m.generation_config.repetition_penalty = 1.3
    assert NllbTranslator(m, tok, tgt="de").loop_name == "stock"
    with pytest.raises(ValueError, match="unknown decode loop"):
        NllbTranslator(m, tok, tgt="de", loop="fast")


def test_interrupt_from_another_thread(tok: Any) -> None:
    t = NllbTranslator(wide_model(tok, 7), tok, tgt="de")
    t.generate_kwargs = {"min_new_tokens": 400, "max_new_tokens": 400}
    result: list[list[int]] = []
    worker = threading.Thread(target=lambda: result.append(t.generate_ids("Hello there.")))
    worker.start()
    deadline = time.monotonic() + 60
    while int(t.loop.pos) < 3 and time.monotonic() < deadline:  # the loop is decoding
        time.sleep(0.001)
    t.interrupt()
    worker.join(60)
    assert result == [[]] and t.interrupted == 1
    t.generate_kwargs = {}
    assert t.generate_ids("Hello.")[1] == t.forced_bos_token_id  # the next sentence runs


def test_gpu_thread_runs_every_call_on_one_thread() -> None:
    gpu = GpuThread("test-gpu")
    seen: set[str] = set()

    def where() -> str:
        seen.add(threading.current_thread().name)
        return threading.current_thread().name

    callers = [threading.Thread(target=lambda: gpu.call(where)) for _ in range(4)]
    for c in callers:
        c.start()
    for c in callers:
        c.join()
    assert gpu.call(where) == "test-gpu" and seen == {"test-gpu"}
    with pytest.raises(ZeroDivisionError):
        gpu.call(lambda: 1 // 0)
    assert gpu.call(lambda: gpu.call(where)) == "test-gpu"  # nested: runs inline
    gpu.close()


def test_bucket() -> None:
    assert [bucket(n, (16, 32)) for n in (1, 16, 17, 32, 99)] == [16, 16, 32, 32, 32]


def test_one_query_attention_is_sdpa() -> None:
    from stream_tts.engines.decode.runner import one_query_attention

    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 4, n, 16, generator=g) for n in (1, 37, 37))
    mask = (torch.arange(37) < 23).view(1, 1, 1, 37)
    ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(one_query_attention(q, k, v, mask, torch), ref)
