"""XttsLoop's fused step (fused_gpt.py on kernels.py) against coqui-tts' stream and our plain
step, on a small random-weight XTTS-v2. Without a GPU the kernels run in Triton's interpreter;
with one they compile for it (`pytest -q tests/test_xtts_fused.py` on the GPU machine).
"""

from __future__ import annotations

from typing import Any

import gpu_models as gm
import pytest
import torch
import triton_interp
from triton_interp import DEVICE

from stream_tts.engines.decode import kernels as K
from stream_tts.engines.decode.xtts_loop import XttsLoop
from stream_tts.engines.xtts import XttsEngine, voice_from_speaker

TEXTS = ["hello there, this is a test.", "a second sentence that runs longer."]
GREEDY = {"temperature": 0.75, "top_k": 1, "top_p": 0.85, "repetition_penalty": 10.0}
SAMPLED = {"temperature": 0.75, "top_k": 50, "top_p": 0.85, "repetition_penalty": 10.0}
NEW = 16
# The GPU's float32 references (cuBLAS, SDPA) sum in other orders than the kernels.
TOL = 1e-4 if triton_interp.INTERPRET else 1e-3


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return gm.loaded_xtts_2layer(tmp_path_factory.mktemp("xtts"), DEVICE)


@pytest.fixture
def few_programs(monkeypatch: pytest.MonkeyPatch) -> None:
    if triton_interp.INTERPRET:  # the interpreter pays per program: few, large ones
        monkeypatch.setattr(K, "gemv_config", lambda n, k, **kw: K.GemvConfig(64, 64, 1, 4))


def stock(model: Any, sampling: dict[str, Any]) -> XttsEngine:
    return XttsEngine(model, voice_from_speaker(model, gm.TEST_SPEAKER), loop="stock", **sampling)


def ids(model: Any, text: str) -> Any:
    return torch.IntTensor(model.tokenizer.encode(text, lang="en")).unsqueeze(0).to(DEVICE)


def coqui(model: Any, text: str) -> list[tuple[int, Any]]:
    e = stock(model, GREEDY)
    e.generate_kwargs = {"max_new_tokens": NEW}
    with torch.inference_mode():
        return [(int(t), z.clone()) for t, z in e._tokens(ids(model, text), torch)]


def ours(loop: XttsLoop, model: Any, text: str, seed: int = 0) -> list[tuple[int, Any]]:
    cond = stock(model, GREEDY).gpt_cond_latent
    torch.manual_seed(seed)
    with torch.inference_mode():
        got = loop.stream(cond, ids(model, text), max_new_tokens=NEW)
        return [(t, z.clone()) for t, z in got]


def same(a: list[tuple[int, Any]], b: list[tuple[int, Any]]) -> None:
    assert [t for t, _ in a] == [t for t, _ in b]
    for (_, x), (_, y) in zip(a, b, strict=True):
        torch.testing.assert_close(x, y, rtol=TOL, atol=TOL)


@pytest.mark.usefixtures("few_programs")
def test_fused_step_gives_coquis_tokens_and_latents(model: Any) -> None:
    refs = [coqui(model, t) for t in TEXTS]  # before any packing re-lays the weights
    assert len({t for t, _ in refs[0]}) > 8  # the tokens vary, so a wrong step shows
    for kernels in ("triton", "torch"):
        loop = XttsLoop(model.gpt, graphs=False, sampling=stock(model, GREEDY).sampling,
                        fused=True, kernels=kernels)  # fmt: skip
        assert loop.fused is not None and loop.reads_pos == (kernels == "triton")
        for text, ref in zip(TEXTS, refs, strict=True):
            same(ours(loop, model, text), ref)
    # The packing re-laid coqui's Conv1D weights in place: its own stream is unchanged.
    same(coqui(model, TEXTS[0]), refs[0])


@pytest.mark.usefixtures("few_programs")
def test_fused_step_samples_what_the_plain_step_samples(model: Any) -> None:
    sampling = stock(model, SAMPLED).sampling
    plain = XttsLoop(model.gpt, graphs=False, sampling=sampling, fused=False)
    fused = XttsLoop(model.gpt, graphs=False, sampling=sampling, fused=True, kernels="triton")
    for seed in (1, 2):
        a, b = ours(plain, model, TEXTS[1], seed), ours(fused, model, TEXTS[1], seed)
        same(b, a)
        other = ours(plain, model, TEXTS[1], seed + 10)
        assert [t for t, _ in a] != [t for t, _ in other]  # the seed matters: it samples


def test_fused_is_the_default_where_the_kernels_run(model: Any) -> None:
    sampling = stock(model, GREEDY).sampling
    assert (XttsLoop(model.gpt, graphs=False, sampling=sampling).fused is not None) == (
        DEVICE == "cuda"
    )
    assert XttsLoop(model.gpt, graphs=False, sampling=sampling, fused=False).fused is None
    with pytest.raises(ValueError, match="unknown kernels"):
        XttsLoop(model.gpt, graphs=False, sampling=sampling, kernels="cuda")


@pytest.mark.skipif(DEVICE != "cuda", reason="CUDA graphs need a GPU")
def test_fused_graphs_replay_what_the_eager_step_computes(model: Any) -> None:
    sampling = stock(model, GREEDY).sampling
    eager = XttsLoop(model.gpt, graphs=False, sampling=sampling, fused=True)
    graphs = XttsLoop(model.gpt, graphs=True, sampling=sampling, fused=True)
    assert graphs.warmup() == 1 + 4  # one step graph for every cache length, 4 prefill
    for text in TEXTS:
        same(ours(graphs, model, text), ours(eager, model, text))
