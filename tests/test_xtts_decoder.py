"""The prepared HiFi-GAN decoder (engines/xtts_decoder.py) against coqui-tts' own module.

XTTS-v2's real decoder (random weights, a 64-wide latent so it builds in seconds): weight norm
folded must give coqui's audio, and on a GPU the first chunk's CUDA graph must too, whatever the
latents and speaker of each replay.
"""

from __future__ import annotations

import copy
from typing import Any

import gpu_models as gm
import pytest
import torch
from torch.nn.utils import parametrize

from stream_tts.engines.xtts import XttsEngine, voice_from_speaker
from stream_tts.engines.xtts_decoder import ChunkDecoder, fold_weight_norm

FIRST = 8
# Folding computes each weight once with the same kernel coqui runs per call: the same numbers.
CPU_TOL = 1e-6
# The graph's convolutions may take other cuDNN algorithms than the eager reference (timed with
# TIME_CUDNN, or another thread's cached pick): float32 sums in another order. TF32 is off for
# this comparison; its own rounding (on in both paths by default: SNR 74 dB against float32 on
# an H200) is measured in benches/gpu_xtts_decoder.py.
GPU_TOL = 1e-4


@pytest.fixture(scope="module")
def hifigan() -> Any:
    """coqui's decoder with each weight-norm magnitude redrawn, so a folded weight differs
    from its direction and a wrong fold shows."""
    torch.manual_seed(0)
    dec = gm.xtts_model(gm.XTTS_TINY_GPT).model.hifigan_decoder.eval()
    with torch.no_grad():
        for m in dec.waveform_decoder.modules():
            if parametrize.is_parametrized(m, "weight"):
                g = m.parametrizations.weight.original0
                g.copy_(g * torch.empty_like(g).uniform_(0.5, 2.0))
    return dec


def latents(n: int, seed: int, device: str = "cpu") -> list[Any]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(1, 64, generator=g).to(device) for _ in range(n)]


def speaker(seed: int, device: str = "cpu") -> Any:
    return torch.randn(1, 512, 1, generator=torch.Generator().manual_seed(seed)).to(device)


def reference(ref: Any, zs: list[Any], g: Any) -> Any:
    with torch.inference_mode():
        return ref(torch.cat(zs)[None].float(), g=g)


def test_folded_decoder_gives_coquis_audio(hifigan: Any) -> None:
    ref = hifigan
    dec = ChunkDecoder(copy.deepcopy(hifigan), prepare=True, graph_latents=FIRST)
    assert dec.folded == 76  # every conv but conv_pre, conv_post and the speaker 1x1s
    assert not any(parametrize.is_parametrized(m) for m in dec.hifigan.modules())
    assert fold_weight_norm(dec.hifigan.waveform_decoder) == 0
    assert not dec.capture(speaker(0))  # no graph off CUDA: every length runs eagerly
    g = speaker(1)
    for n in (3, FIRST, 3 * FIRST):  # shorter than the first chunk, the first, a later one
        zs = [z.bfloat16() for z in latents(n, n)]  # as our loop hands them over
        with torch.inference_mode():
            got = dec(zs, g)
        want = reference(ref, zs, g)
        assert got.shape == want.shape
        assert want.abs().max() > 0.05  # audible, not a silent pass
        torch.testing.assert_close(got, want, rtol=0, atol=CPU_TOL)


def test_unprepared_decoder_is_coquis_module(hifigan: Any) -> None:
    dec = ChunkDecoder(hifigan, prepare=False)
    assert dec.folded == 0
    assert any(parametrize.is_parametrized(m) for m in hifigan.modules())  # left as it was


needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="CUDA graphs need a CUDA GPU (run on the GPU machine)"
)


@pytest.fixture
def fp32_convs() -> Any:
    saved = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32 = saved


@needs_cuda
@pytest.mark.usefixtures("fp32_convs")
def test_first_chunk_graph_gives_coquis_audio(hifigan: Any) -> None:
    ref = copy.deepcopy(hifigan).cuda()
    dec = ChunkDecoder(copy.deepcopy(hifigan).cuda(), prepare=True, graph_latents=FIRST)
    assert dec.capture(speaker(0, "cuda"))
    assert dec.graphed
    outs = []
    for seed in (1, 2):  # each replay reads its own latents and speaker
        zs, g = latents(FIRST, seed, "cuda"), speaker(seed, "cuda")
        with torch.inference_mode():
            got = dec(zs, g)
        torch.testing.assert_close(got, reference(ref, zs, g), rtol=0, atol=GPU_TOL)
        outs.append(got)
    assert (outs[0] - outs[1]).abs().max() > 0.01  # the first result was not overwritten
    zs = latents(FIRST + 5, 3, "cuda")  # another length: eager
    with torch.inference_mode():
        got = dec(zs, speaker(3, "cuda"))
    torch.testing.assert_close(got, reference(ref, zs, speaker(3, "cuda")), rtol=0, atol=GPU_TOL)


@needs_cuda
@pytest.mark.usefixtures("fp32_convs")
def test_engine_replays_the_graph_on_its_gpu_thread(tmp_path: Any) -> None:
    model = gm.loaded_xtts_2layer(tmp_path, "cuda")  # weight norm folded while loading
    ref = copy.deepcopy(model.hifigan_decoder)
    e = XttsEngine(model, voice_from_speaker(model, gm.TEST_SPEAKER), first_chunk_tokens=FIRST)
    e.warmup()
    assert e.decoder.graphed
    assert not any(parametrize.is_parametrized(m) for m in model.hifigan_decoder.modules())
    zs = latents(FIRST, 4, "cuda")

    def decode() -> Any:
        with torch.inference_mode():
            return e.decoder(zs, e.speaker_embedding)

    got = e._on_gpu(decode)  # the high-priority stream the warm-up switched to
    want = reference(ref, zs, e.speaker_embedding)
    torch.testing.assert_close(got, want, rtol=0, atol=GPU_TOL)
    assert sum(len(c) for c in e.synthesize("hello there.")) > 0
    e.close()
