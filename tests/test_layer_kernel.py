"""The one-launch NLLB decoder layer (engines/decode/layer_kernel.py) against the same layer as
separate launches (kernels.gemv / attend, each tested against torch in test_kernels.py), on
fresh random weights and state. Without a GPU its phases run one launch each in Triton's
interpreter; on a GPU the grid barrier between them runs too, and must give exactly what the
phases give launched apart, every time."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import triton_interp
from triton_interp import DEVICE

from stream_tts.engines.decode import kernels as K
from stream_tts.engines.decode import layer_kernel as LK
from stream_tts.engines.decode.fused_step import Layer, Linear

GPU = torch.cuda.is_available()
# Interpreter: small shapes (it pays per program and per element); GPU: NLLB-600M's widths.
D, HEADS, FFN, P, LEN = (64, 4, 128, 8, 16) if not GPU else (1024, 16, 4096, 32, 64)


def _layer(weights: str, g: torch.Generator) -> tuple[Layer, tuple[Any, ...]]:
    def lin(n: int, k: int, bias: bool = True) -> Linear:
        w = (torch.randn(n, k, generator=g) * k**-0.5).to(DEVICE)
        b = (torch.randn(n, generator=g) * 0.1).to(DEVICE) if bias else None
        return Linear.of(w, b, weights)

    def ln() -> tuple[Any, Any, float]:
        w = (1 + 0.1 * torch.randn(D, generator=g)).to(DEVICE)
        return w, (0.1 * torch.randn(D, generator=g)).to(DEVICE), 1e-5

    ly = Layer(
        ln1=ln(), qkv=lin(3 * D, D), out=lin(D, D), ln2=ln(), cq=lin(D, D), co=lin(D, D),
        ln3=ln(), fc1=lin(FFN, D), fc2=lin(D, FFN),
    )  # fmt: skip
    dtype = torch.float32 if not GPU else torch.bfloat16
    a = (torch.randn(HEADS * P, D, generator=g) * D**-0.5).to(DEVICE, dtype)
    s = torch.full((HEADS * P,), 0.7, device=DEVICE)
    c = torch.randn(HEADS * P, generator=g).to(DEVICE)
    c.view(HEADS, P)[:, P - 2 :] = float("-inf")  # pads and rounding: weight 0
    n = (torch.randn(D, HEADS * P, generator=g) * 0.3).to(DEVICE, dtype)
    n_scale = ly.co.scale if ly.co.scale is not None and not ly.co.int4 else None
    return ly, (a, s, c, n, n_scale, P)


def _state(g: torch.Generator, pos: int) -> dict[str, Any]:
    dtype = torch.float32 if not GPU else torch.bfloat16
    return {
        "x": torch.randn(D, generator=g).to(DEVICE),
        "cache": torch.randn(2, HEADS, LEN, D // HEADS, generator=g).to(DEVICE, dtype),
        "pos": torch.tensor([pos], device=DEVICE),
        # NaN: a phase that reads a scratch vector before all of it is written shows
        "scratch": tuple(
            torch.full((n,), float("nan"), device=DEVICE) for n in (D, D, HEADS * P, FFN)
        ),
    }


def _launch_each(ly: Layer, fold: tuple[Any, ...], st: dict[str, Any]) -> None:
    """The layer as FusedDecoder.layer runs it with the fold, a launch per kernel."""
    a_w, a_s, a_c, n_w, n_s, p = fold
    q, a, scores, h = st["scratch"]
    x, cache, pos = st["x"], st["cache"], st["pos"]

    def gemv(lin: Linear, inp: Any, out: Any, **kw: Any) -> None:
        K.gemv(lin.w, inp, out, scale=lin.scale, bias=lin.bias, **kw)

    gemv(ly.qkv, x, q, ln=ly.ln1, kv=(cache, pos, D // HEADS))
    K.attend(q, cache[0], cache[1], a, pos=pos, n=LEN)
    gemv(ly.out, a, x, add=True)
    K.gemv(a_w, x, scores, scale=a_s, bias=a_c, ln=ly.ln2)
    K.gemv(n_w, scores, x, scale=n_s, bias=ly.co.bias, add=True, softmax=p)
    gemv(ly.fc1, x, h, ln=ly.ln3, relu=True)
    gemv(ly.fc2, h, x, add=True)


def _one_launch(ly: Layer, fold: tuple[Any, ...], st: dict[str, Any], bar: Any, **kw: Any) -> None:
    LK.decoder_layer(
        ly, fold, st["x"], st["scratch"], st["cache"], st["pos"], bar, heads=HEADS, **kw
    )


def _copy(st: dict[str, Any]) -> dict[str, Any]:
    return {
        k: tuple(t.clone() for t in v) if isinstance(v, tuple) else v.clone() for k, v in st.items()
    }


# The default; whole rows, several blocks a program; rows in chunks of 32 inputs.
CONFIGS = [
    LK.CONFIG,
    LK.LayerConfig(block_n=8, block_k=512, warps=4, per_sm=2, tile_bytes=8192),
    LK.LayerConfig(block_n=4, block_k=32, warps=4, per_sm=1, tile_bytes=0),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=["default", "whole-rows", "chunks"])
@pytest.mark.parametrize("weights", ["bf16", "int8", "int4"])
def test_one_launch_layer_is_the_layer_launched_kernel_by_kernel(
    weights: str, cfg: LK.LayerConfig
) -> None:
    g = torch.Generator().manual_seed(5)
    ly, fold = _layer(weights, g)
    bar = LK.new_barrier(DEVICE)
    for pos in (0, 5, LEN - 1):
        st = _state(g, pos)
        want = _copy(st)
        _launch_each(ly, fold, want)
        _one_launch(ly, fold, st, bar, config=cfg)
        # The GPU's launch-each path splits K (other sums); its cache is bf16 (an ulp: 8e-3).
        tol, ctol = (2e-4, 2e-4) if triton_interp.INTERPRET else (2e-3, 8e-3)
        torch.testing.assert_close(st["x"], want["x"], rtol=tol, atol=tol)
        c = st["cache"].float(), want["cache"].float()
        torch.testing.assert_close(*c, rtol=ctol, atol=tol)
    LK.check(bar)


@pytest.mark.skipif(
    not GPU, reason="the grid barrier needs a GPU (the interpreter runs programs in turn)"
)
def test_grid_barrier_gives_what_the_phases_launched_apart_give() -> None:
    """The same to float rounding, 100 launches in a row per case (a missed wait shows as a
    stale read somewhere; scratch starts as NaN), and the counter holds exactly 6 arrivals per
    program and launch (one per program, not per thread), the gave-up flag clear."""
    for weights in ("bf16", "int8", "int4"):
        for per_sm, tile, loads in ((1, 0, True), (4, 0, True), (2, 8192, True), (2, 0, False)):
            cfg = LK.LayerConfig(4, 512, 4, per_sm, tile_bytes=tile, poll_loads=loads)
            g = torch.Generator().manual_seed(6 + per_sm)
            ly, fold = _layer(weights, g)
            bar = LK.new_barrier(DEVICE)
            runs = 100
            for i in range(runs):
                st = _state(g, i % LEN)
                want = _copy(st)
                _one_launch(ly, fold, want, bar, config=cfg, phased=True)
                _one_launch(ly, fold, st, bar, config=cfg)
                # The same code compiled as one kernel or seven may round differently (~1e-7,
                # a bf16 ulp in the cache now and then); a read that missed its wait is off by
                # the whole update (~0.1 and more).
                x, c = (st["x"], want["x"]), (st["cache"].float(), want["cache"].float())
                msg = f"{weights}, {per_sm} per SM, launch {i}"
                torch.testing.assert_close(*x, rtol=1e-3, atol=1e-3, msg=msg)
                torch.testing.assert_close(*c, rtol=8e-3, atol=1e-3, msg=msg)
            torch.cuda.synchronize()
            assert int(bar[1]) == 0
            assert int(bar[0]) == 6 * LK.programs(torch.device(DEVICE), cfg) * runs
