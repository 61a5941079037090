"""Our XTTS GPT loop against coqui-tts' stream on a small random-weight XTTS-v2 (CPU).

With top_k=1 coqui's stream (which always draws) is deterministic, so tokens and latents must
match exactly; the sampling processors are compared with transformers' on random scores.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gpu_models as gm
import numpy as np
import pytest
import torch
from transformers import (
    LogitsProcessorList,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from stream_tts.engines.decode.sampling import draw, processed_scores
from stream_tts.engines.decode.xtts_loop import XttsLoop
from stream_tts.engines.xtts import (
    EngineBusyError,
    XttsEngine,
    load_xtts_model,
    voice_from_speaker,
)

TEXTS = ["hello there, this is a test.", "short one.", "a third sentence that runs longer."]
GREEDY = {"temperature": 0.75, "top_k": 1, "top_p": 0.85, "repetition_penalty": 10.0}


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return gm.loaded_xtts_2layer(tmp_path_factory.mktemp("xtts"), "cpu")


def engine(model: Any, loop: str, max_new: int = 40, **kw: Any) -> XttsEngine:
    e = XttsEngine(model, voice_from_speaker(model, gm.TEST_SPEAKER), loop=loop, **kw)
    e.generate_kwargs = {"max_new_tokens": max_new}  # both loops honour it; keeps CPU time low
    return e


def ids(model: Any, text: str) -> Any:
    return torch.IntTensor(model.tokenizer.encode(text, lang="en")).unsqueeze(0)


@pytest.mark.parametrize("pad", [False, True], ids=["exact", "padded"])
def test_same_tokens_and_latents_as_coqui(model: Any, pad: bool) -> None:
    stock = engine(model, "stock", **GREEDY)
    loop = XttsLoop(model.gpt, graphs=False, sampling=stock.sampling, pad=pad)
    for text in TEXTS:
        with torch.inference_mode():
            ref = [(int(t), z.clone()) for t, z in stock._tokens(ids(model, text), torch)]
            got = loop.stream(stock.gpt_cond_latent, ids(model, text), max_new_tokens=40)
            ours = [(t, z.clone()) for t, z in got]
        assert [t for t, _ in ours] == [t for t, _ in ref]
        assert len(set(t for t, _ in ref)) > 10
        for (_, a), (_, b) in zip(ours, ref, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_engine_audio_matches_coqui(model: Any) -> None:
    stock = engine(model, "stock", 12, **GREEDY)
    own = engine(model, "own", 12, **GREEDY)
    assert own.loop_name == "own" and stock.loop_name == "stock"
    for text in TEXTS[:2]:
        a = list(own.synthesize(text))
        b = list(stock.synthesize(text))
        assert [len(c) for c in a] == [len(c) for c in b]
        np.testing.assert_allclose(np.concatenate(a), np.concatenate(b), atol=1e-4)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_processors_match_transformers(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(1, 1026, generator=g) * 4
    used = torch.randint(0, 1026, (1, 40), generator=g)
    seen = torch.zeros(1026, dtype=torch.bool)
    seen[used[0]] = True
    ref = LogitsProcessorList(
        [
            RepetitionPenaltyLogitsProcessor(10.0),
            TemperatureLogitsWarper(0.75),
            TopKLogitsWarper(50),
            TopPLogitsWarper(0.85),
        ]
    )(used, logits.clone())
    ours = processed_scores(
        logits, seen, repetition_penalty=10.0, temperature=0.75, top_k=50, top_p=0.85
    )
    assert torch.equal(torch.isinf(ours), torch.isinf(ref))
    kept = ~torch.isinf(ref)
    torch.testing.assert_close(ours[kept], ref[kept])


def test_draw_follows_the_distribution() -> None:
    torch.manual_seed(0)
    p = torch.tensor([[0.5, 0.3, 0.15, 0.05, 0.0]])
    scores = p.log().expand(20000, -1)
    counts = torch.bincount(draw(scores, sample=True), minlength=5).float() / 20000
    torch.testing.assert_close(counts, p[0], atol=0.015, rtol=0)
    assert counts[4] == 0
    assert draw(p.log(), sample=False).item() == 0


def test_a_second_stream_on_the_same_thread_fails_instead_of_hanging(model: Any) -> None:
    e = engine(model, "own", 6)
    first = e.synthesize("one sentence here.")
    next(first)
    with pytest.raises(EngineBusyError, match="close that stream first"):
        next(e.synthesize("another."))
    first.close()
    assert len(list(e.synthesize("another."))) >= 1  # the lock was released


def test_unknown_loop(model: Any) -> None:
    with pytest.raises(ValueError, match="unknown decode loop"):
        engine(model, "fast")


def test_bf16_loop_runs_and_stays_close(model: Any, tmp_path: Path) -> None:
    # The dtype path CUDA takes, here on CPU: the GPT's weights cast to bf16 in place, so on a
    # model of its own.
    src = gm.save_xtts(tmp_path / "m", {**gm.XTTS_TINY_GPT, "gpt_layers": 2})
    m16 = load_xtts_model(str(src), "cpu")
    m16.load_state_dict(model.state_dict())
    stock = engine(model, "stock", **GREEDY)
    loop = XttsLoop(m16.gpt, graphs=False, dtype=torch.bfloat16, sampling=stock.sampling)
    text = ids(model, TEXTS[0])
    with torch.inference_mode():
        ref = [z.clone() for _, z in stock._tokens(text, torch)][:4]
        got = loop.stream(stock.gpt_cond_latent, text, max_new_tokens=4)
        ours = [z.float() for _, z in got]
    first = (ours[0] - ref[0]).norm() / ref[0].norm()
    assert loop.cache.dtype == torch.bfloat16 and first < 0.05
