# Triton kernels take untyped tensor arguments; their launchers below are typed.
# mypy: disable-error-code="no-untyped-def,untyped-decorator"
"""One NLLB decoder layer as one persistent launch (fused_step.PERSISTENT, off by default:
slower on an H200 than the launch per kernel, benches/results/
2026-11-30-h200-nllb-one-launch-layer.md; kept as a measured variant with its tests).

The launch-per-kernel layer is seven dependent launches (QKV, attention, out-proj, the folded
cross-attention's two GEMVs, fc1, fc2), and each pays a few µs of fixed cost that PDL does not
hide: about as much as the layer's weight reads at the memory's rate. Here one grid, sized so
that all its programs are resident at once, runs the seven phases in order and waits between
them on a grid-wide barrier (a counter in device memory) instead of a launch. The phases are
the same jit functions the separate kernels use (kernels.py: LayerNorm statistics, the row
sums of float, int8 or int4 tiles, the epilogue, one head's attention); each program takes
every nprog-th block of rows, so no output row is shared and nothing adds atomically.

The grid is the SMs times the programs per SM that the compiled kernel's registers, shared
memory and warps allow (at most LayerConfig.per_sm). The barrier counter only grows: a launch
adds 6 * nprog arrivals, so each program finds its launch's base by rounding the count it sees
on entry down to a multiple of that (at most nprog - 1 arrivals of its own launch can be in
before it reads). A barrier that still waits after SPIN_LIMIT polls (programs not resident)
gives up and sets the error word, which NllbLoop.warmup checks (`check`): a wrong grid shows as
an error, not as a hung GPU.

Triton's interpreter runs programs one after another, so a grid barrier would wait forever
there: without a GPU, `decoder_layer` launches each phase on its own (the same code, no
barrier), which is what the CPU tests run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import triton  # type: ignore[import-untyped]
import triton.language as tl  # type: ignore[import-untyped]

from stream_tts.engines.decode import kernels as K
from stream_tts.engines.decode.kernels import (
    _dense_sum,
    _epilogue,
    _i8_to_f32,
    _int4_sum,
    _ln_stats,
    _mean_var,
    _one_head,
    _run_softmax,
)

PHASES = 7  # QKV, attention, out-proj, cross scores, cross output, fc1, fc2
SPIN_LIMIT = 1 << 20  # polls of one barrier before it gives up (about a second, not a hang)
_SPIN_LIMIT: tl.constexpr = tl.constexpr(SPIN_LIMIT)


@dataclass(frozen=True)
class LayerConfig:
    block_n: int  # rows per block
    block_k: int  # inputs (int4: bytes) per loop iteration
    warps: int
    per_sm: int  # programs per SM (fewer where fewer fit: all must be resident at once)
    # > 0: float and int8 rows read whole, blocks of about this many bytes, two in flight per
    # program (block_n, block_k then only for int4); 0: rows in block_k chunks.
    tile_bytes: int = 0
    poll_loads: bool = False  # barriers poll with loads (else atomics): _grid_sync
    prefetch: bool = True  # the next phase's weights into L2 (_layer_kernel)


# Benches may replace it.
CONFIG = LayerConfig(block_n=8, block_k=1024, warps=4, per_sm=3)


@triton.jit
def _grid_sync(bar_ptr, target, POLL_LOADS: tl.constexpr):
    # Every program's stores so far are visible to every program after this: the CTA's
    # threads meet, one arrival (release), polls until all `target` arrivals are in, one
    # acquire, then the threads meet again. POLL_LOADS: poll with plain (volatile) loads, which
    # the L2 serves side by side, not atomics, which queue at the counter's L2 slice behind the
    # arrivals. bar_ptr[1] records a barrier that gave up.
    tl.debug_barrier()
    tl.atomic_add(bar_ptr, 1, sem="release", scope="gpu")
    n = 0
    if POLL_LOADS:
        seen = tl.load(bar_ptr, volatile=True)
        while (seen < target) & (n < _SPIN_LIMIT):
            seen = tl.load(bar_ptr, volatile=True)
            n += 1
        seen = tl.atomic_add(bar_ptr, 0, sem="acquire", scope="gpu")
    else:
        seen = tl.atomic_add(bar_ptr, 0, sem="acquire", scope="gpu")
        while (seen < target) & (n < _SPIN_LIMIT):
            seen = tl.atomic_add(bar_ptr, 0, sem="acquire", scope="gpu")
            n += 1
    if seen < target:
        tl.atomic_max(bar_ptr + 1, 1)
    tl.debug_barrier()


@triton.jit
def _l2_prefetch(ptr, nbytes):
    # Hopper's bulk prefetch into L2: one instruction for nbytes (a multiple of 16) from ptr
    # (16-byte aligned), issued by the block's first thread, no registers, nothing waits on it.
    tl.inline_asm_elementwise(
        asm="""{
        .reg .pred p;
        .reg .b32 t;
        mov.u32 t, %tid.x;
        setp.eq.u32 p, t, 0;
        @p cp.async.bulk.prefetch.L2.global [$1], $2;
        mov.u32 $0, 0;
        }""",
        constraints="=r,l,r",
        args=[ptr, nbytes],
        dtype=tl.int32,
        is_pure=False,
        pack=1,
    )


@triton.jit
def _prefetch_rows(pid, nprog, w_ptr, N, KW, ROW_BYTES, BLOCK_N: tl.constexpr):
    # The blocks of rows this program will read in a phase (every nprog-th), into L2.
    for t in range(pid, tl.cdiv(N, BLOCK_N), nprog):
        r0 = t * BLOCK_N
        n = tl.minimum(N - r0, BLOCK_N)
        _l2_prefetch(w_ptr + r0.to(tl.int64) * KW, n * ROW_BYTES)


@triton.jit
def _rows(
    pid, nprog, w_ptr, scale_ptr, x_ptr, ln_w_ptr, ln_b_ptr, eps, bias_ptr, out_ptr, cache_ptr,
    pos_ptr, N, K, KW, NGR, kv_half_stride, kv_head_stride,
    INT4: tl.constexpr, GROUP: tl.constexpr, GS: tl.constexpr, HAS_SCALE: tl.constexpr,
    HAS_LN: tl.constexpr, HAS_BIAS: tl.constexpr, ACT: tl.constexpr, MODE: tl.constexpr,
    HD: tl.constexpr, SEG: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
    FAST: tl.constexpr, LN_BLOCK: tl.constexpr,
):  # fmt: skip
    # One GEMV phase: this program's blocks of rows (every nprog-th), whole rows each; the
    # LayerNorm's vector in one load of LN_BLOCK >= K.
    mean = 0.0
    rstd = 1.0
    if HAS_LN:
        mean, rstd = _ln_stats(x_ptr, K, eps, LN_BLOCK, True)
    for t in range(pid, tl.cdiv(N, BLOCK_N), nprog):
        rows = t * BLOCK_N + tl.arange(0, BLOCK_N)
        row_ok = rows < N
        if INT4:
            y = _int4_sum(
                w_ptr, scale_ptr, x_ptr, ln_w_ptr, ln_b_ptr, rows, row_ok, 0, KW, KW, NGR, mean,
                rstd, HAS_LN, GROUP, GS, BLOCK_N, BLOCK_K, FAST,
            )  # fmt: skip
        else:
            w_rows = w_ptr + rows.to(tl.int64)[:, None] * KW
            y = _dense_sum(
                w_rows, x_ptr, ln_w_ptr, ln_b_ptr, row_ok, 0, KW, mean, rstd, HAS_LN, SEG,
                BLOCK_N, BLOCK_K, FAST,
            )  # fmt: skip
        _epilogue(
            y, rows, row_ok, True, scale_ptr, bias_ptr, out_ptr, cache_ptr, pos_ptr, out_ptr,
            -1, N // 3, kv_half_stride, kv_head_stride, HAS_SCALE, HAS_BIAS, ACT, MODE, HD,
            False, False,
        )  # fmt: skip


@triton.jit
def _rows_whole(
    pid, nprog, w_ptr, scale_ptr, x_ptr, ln_w_ptr, ln_b_ptr, eps, bias_ptr, out_ptr, cache_ptr,
    pos_ptr, N, K, kv_half_stride, kv_head_stride,
    HAS_SCALE: tl.constexpr, HAS_LN: tl.constexpr, HAS_BIAS: tl.constexpr, ACT: tl.constexpr,
    MODE: tl.constexpr, HD: tl.constexpr, SEG: tl.constexpr, BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr, FAST: tl.constexpr,
):  # fmt: skip
    # One GEMV phase of float or int8 rows read whole (BLOCK_K >= K): the input vector (its
    # LayerNorm or per-run softmax) is computed once, and the next block's weights are loaded
    # before this block's are used, so each program keeps two blocks of reads in flight.
    c = tl.arange(0, BLOCK_K)
    c_ok = c < K
    if SEG > 0:  # x holds scores
        xv = _run_softmax(x_ptr, c, c_ok, SEG, BLOCK_K)
    else:
        xv = tl.load(x_ptr + c, mask=c_ok, other=0.0).to(tl.float32)
    if HAS_LN:
        mean, var = _mean_var(xv, c_ok, K)
        g = tl.load(ln_w_ptr + c, mask=c_ok, other=0.0).to(tl.float32)
        b = tl.load(ln_b_ptr + c, mask=c_ok, other=0.0).to(tl.float32)
        xv = tl.where(c_ok, (xv - mean) / tl.sqrt(var + eps) * g + b, 0.0)
    r0 = tl.arange(0, BLOCK_N)
    rows = pid * BLOCK_N + r0
    w = tl.load(
        w_ptr + rows.to(tl.int64)[:, None] * K + c[None, :],
        mask=(rows < N)[:, None] & c_ok[None, :], other=0, eviction_policy="evict_first",
    )  # fmt: skip
    for t in range(pid, tl.cdiv(N, BLOCK_N), nprog):
        rows = t * BLOCK_N + r0
        nxt = rows + nprog * BLOCK_N
        w_next = tl.load(
            w_ptr + nxt.to(tl.int64)[:, None] * K + c[None, :],
            mask=(nxt < N)[:, None] & c_ok[None, :], other=0, eviction_policy="evict_first",
        )  # fmt: skip
        if FAST:
            y = tl.sum(_i8_to_f32(w) * xv[None, :], axis=1)
        else:
            y = tl.sum(w.to(tl.float32) * xv[None, :], axis=1)
        _epilogue(
            y, rows, rows < N, True, scale_ptr, bias_ptr, out_ptr, cache_ptr, pos_ptr, out_ptr,
            -1, N // 3, kv_half_stride, kv_head_stride, HAS_SCALE, HAS_BIAS, ACT, MODE, HD,
            False, False,
        )  # fmt: skip
        w = w_next


@triton.jit
def _phase(
    pid, nprog, w_ptr, scale_ptr, x_ptr, ln_w_ptr, ln_b_ptr, eps, bias_ptr, out_ptr, cache_ptr,
    pos_ptr, N, K, KW, NGR, kv_half_stride, kv_head_stride,
    INT4: tl.constexpr, GROUP: tl.constexpr, GS: tl.constexpr, HAS_SCALE: tl.constexpr,
    HAS_LN: tl.constexpr, HAS_BIAS: tl.constexpr, ACT: tl.constexpr, MODE: tl.constexpr,
    HD: tl.constexpr, SEG: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
    FAST: tl.constexpr, WHOLE: tl.constexpr, LN_BLOCK: tl.constexpr,
):  # fmt: skip
    # WHOLE: float or int8 rows read whole (_rows_whole), else in BLOCK_K chunks (_rows).
    if WHOLE:
        _rows_whole(
            pid, nprog, w_ptr, scale_ptr, x_ptr, ln_w_ptr, ln_b_ptr, eps, bias_ptr, out_ptr,
            cache_ptr, pos_ptr, N, K, kv_half_stride, kv_head_stride, HAS_SCALE, HAS_LN,
            HAS_BIAS, ACT, MODE, HD, SEG, BLOCK_N, BLOCK_K, FAST,
        )  # fmt: skip
    else:
        _rows(
            pid, nprog, w_ptr, scale_ptr, x_ptr, ln_w_ptr, ln_b_ptr, eps, bias_ptr, out_ptr,
            cache_ptr, pos_ptr, N, K, KW, NGR, kv_half_stride, kv_head_stride, INT4, GROUP, GS,
            HAS_SCALE, HAS_LN, HAS_BIAS, ACT, MODE, HD, SEG, BLOCK_N, BLOCK_K, FAST, LN_BLOCK,
        )  # fmt: skip


@triton.jit
def _layer_kernel(
    x_ptr, q_ptr, a_ptr, sc_ptr, h_ptr, pos_ptr, bar_ptr, cache_ptr, kv_half_stride,
    kv_head_stride, sm_scale,
    wqkv, sqkv, bqkv, ln1w, ln1b, eps1,
    wo, so, bo,
    wa, sa, ca, ln2w, ln2b, eps2, NA,
    wn, sn, bn,
    w1, s1, b1, ln3w, ln3b, eps3, F,
    w2, s2, b2,
    D, DW, FW, NGR_D, NGR_F, RB_D, RB_F, RB_A, RB_N, wqkv_next,
    HEADS: tl.constexpr, HD: tl.constexpr, BLOCK_T: tl.constexpr, D_P: tl.constexpr,
    INT4: tl.constexpr, GROUP: tl.constexpr, GS: tl.constexpr, GROUP_F: tl.constexpr,
    GS_F: tl.constexpr, ROW_SCALE: tl.constexpr, N_SCALE: tl.constexpr, SEG: tl.constexpr,
    BN_D: tl.constexpr, BK_D: tl.constexpr, BN_F: tl.constexpr, BK_F: tl.constexpr,
    BN_A: tl.constexpr, BK_A: tl.constexpr, BN_N: tl.constexpr, BK_N: tl.constexpr,
    WHOLE: tl.constexpr, WHOLE_FOLD: tl.constexpr, FAST: tl.constexpr,
    FIRST: tl.constexpr, LAST: tl.constexpr, SYNC: tl.constexpr, POLL_LOADS: tl.constexpr,
    PREFETCH: tl.constexpr, NEXT: tl.constexpr, USE_PDL: tl.constexpr,
):  # fmt: skip
    # Phases FIRST..LAST of a layer on the residual stream x (float32): q/K/V (K, V into the
    # cache at pos), self-attention -> a, x += W_o a, scores = A LN2(x) + c, x += N
    # softmax(scores), h = relu(fc1 LN3(x)), x += fc2 h. SYNC: a grid barrier between phases.
    # BN_/BK_: rows per block and inputs (int4: bytes) per load of the phases reading d inputs
    # (D), fc2 (F), and the fold's A and N; WHOLE / WHOLE_FOLD: whole rows (_rows_whole).
    # PREFETCH: each phase starts the next GEMV phase's weights on their way into L2 (RB_:
    # bytes a row), the QKV phase those of the next layer (NEXT: wqkv_next), so the memory
    # streams through the barriers and the small phases; weights never change in a step, so
    # the first prefetch goes before the wait on the previous kernel.
    pid = tl.program_id(0)
    nprog = tl.num_programs(0)
    if PREFETCH:
        _prefetch_rows(pid, nprog, wqkv, 3 * D, DW, RB_D, BN_D)
    if USE_PDL:
        tl.extra.cuda.gdc_wait()
    base = 0
    if SYNC:  # this launch's first arrival count: see the module's docstring
        seen = tl.atomic_add(bar_ptr, 0, sem="relaxed", scope="gpu")
        base = seen - seen % (6 * nprog)
    if FIRST <= 0:
        if LAST >= 0:
            if PREFETCH:
                _prefetch_rows(pid, nprog, wo, D, DW, RB_D, BN_D)
            _phase(
                pid, nprog, wqkv, sqkv, x_ptr, ln1w, ln1b, eps1, bqkv, q_ptr, cache_ptr,
                pos_ptr, 3 * D, D, DW, NGR_D, kv_half_stride, kv_head_stride,
                INT4, GROUP, GS, ROW_SCALE, True, True, 0, 2, HD, 0, BN_D, BK_D, FAST, WHOLE, D_P,
            )  # fmt: skip
    if SYNC:
        _grid_sync(bar_ptr, base + nprog, POLL_LOADS)
    if FIRST <= 1:
        if LAST >= 1:
            if PREFETCH:
                _prefetch_rows(pid, nprog, wa, NA, D, RB_A, BN_A)
            for hh in range(pid, HEADS, nprog):
                o = _one_head(
                    q_ptr, cache_ptr, cache_ptr + kv_half_stride, q_ptr, pos_ptr, hh, 0,
                    kv_head_stride, sm_scale, True, HD, BLOCK_T,
                )  # fmt: skip
                tl.store(a_ptr + hh * HD + tl.arange(0, HD), o)
    if SYNC:
        _grid_sync(bar_ptr, base + 2 * nprog, POLL_LOADS)
    if FIRST <= 2:
        if LAST >= 2:
            if PREFETCH:
                _prefetch_rows(pid, nprog, wn, D, NA, RB_N, BN_N)
            _phase(
                pid, nprog, wo, so, a_ptr, a_ptr, a_ptr, 0.0, bo, x_ptr, x_ptr, pos_ptr, D, D,
                DW, NGR_D, 0, 0,
                INT4, GROUP, GS, ROW_SCALE, False, True, 0, 1, HD, 0, BN_D, BK_D, FAST, WHOLE, D_P,
            )  # fmt: skip
    if SYNC:
        _grid_sync(bar_ptr, base + 3 * nprog, POLL_LOADS)
    if FIRST <= 3:
        if LAST >= 3:
            if PREFETCH:
                _prefetch_rows(pid, nprog, w1, F, DW, RB_D, BN_D)
            _phase(
                pid, nprog, wa, sa, x_ptr, ln2w, ln2b, eps2, ca, sc_ptr, x_ptr, pos_ptr, NA, D,
                D, 1, 0, 0,
                False, 1, 1, True, True, True, 0, 0, HD, 0, BN_A, BK_A, False, WHOLE_FOLD, D_P,
            )  # fmt: skip
    if SYNC:
        _grid_sync(bar_ptr, base + 4 * nprog, POLL_LOADS)
    if FIRST <= 4:
        if LAST >= 4:
            if PREFETCH:
                _prefetch_rows(pid, nprog, w2, D, FW, RB_F, BN_F)
            _phase(
                pid, nprog, wn, sn, sc_ptr, sc_ptr, sc_ptr, 0.0, bn, x_ptr, x_ptr, pos_ptr, D,
                NA, NA, 1, 0, 0,
                False, 1, 1, N_SCALE, False, True, 0, 1, HD, SEG, BN_N, BK_N, False, WHOLE_FOLD,
                D_P,
            )  # fmt: skip
    if SYNC:
        _grid_sync(bar_ptr, base + 5 * nprog, POLL_LOADS)
    if FIRST <= 5:
        if LAST >= 5:
            if PREFETCH and NEXT:
                _prefetch_rows(pid, nprog, wqkv_next, 3 * D, DW, RB_D, BN_D)
            _phase(
                pid, nprog, w1, s1, x_ptr, ln3w, ln3b, eps3, b1, h_ptr, x_ptr, pos_ptr, F, D,
                DW, NGR_D, 0, 0,
                INT4, GROUP, GS, ROW_SCALE, True, True, 1, 0, HD, 0, BN_D, BK_D, FAST, WHOLE, D_P,
            )  # fmt: skip
    if SYNC:
        _grid_sync(bar_ptr, base + 6 * nprog, POLL_LOADS)
    if USE_PDL:
        tl.extra.cuda.gdc_launch_dependents()
    if FIRST <= 6:
        if LAST >= 6:
            _phase(
                pid, nprog, w2, s2, h_ptr, h_ptr, h_ptr, 0.0, b2, x_ptr, x_ptr, pos_ptr, D, F,
                FW, NGR_F, 0, 0,
                INT4, GROUP_F, GS_F, ROW_SCALE, False, True, 0, 1, HD, 0, BN_F, BK_F, FAST,
                WHOLE, D_P,
            )  # fmt: skip


def _blocks(cfg: LayerConfig, kw: int, item: int, whole: bool) -> tuple[int, int]:
    """(rows per block, inputs per load) for rows of `kw` elements of `item` bytes: whole rows,
    as many as make about cfg.tile_bytes, or cfg's blocks."""
    if whole:
        k = triton.next_power_of_2(kw)
        n = 1
        while 2 * n * k * item <= cfg.tile_bytes:
            n *= 2
        return n, k
    return cfg.block_n, min(cfg.block_k, triton.next_power_of_2(kw))


def new_barrier(device: Any) -> Any:
    """The layer kernels' barrier: [arrivals so far, gave-up flag], int64."""
    return torch.zeros(2, dtype=torch.int64, device=device)


def check(bar: Any) -> None:
    """Raise if a barrier gave up since `bar` was made (the grid did not fit on the GPU)."""
    if int(bar[1]) != 0:
        raise RuntimeError(
            "the persistent decoder layer's programs were not all resident at once "
            f"(grid of {programs(bar.device)}); fused_step.PERSISTENT = False avoids it"
        )


def programs(device: Any, config: LayerConfig | None = None) -> int:
    """The grid: SMs x programs per SM (a few in the interpreter, which runs them in turn)."""
    cfg = config or CONFIG
    if K._INTERPRET or device.type != "cuda":
        return 3
    return int(torch.cuda.get_device_properties(device).multi_processor_count) * cfg.per_sm


def decoder_layer(
    ly: Any,
    fold: tuple[Any, Any, Any, Any, Any, int],
    x: Any,
    scratch: tuple[Any, Any, Any, Any],
    cache: Any,
    pos: Any,
    bar: Any,
    *,
    heads: int,
    config: LayerConfig | None = None,
    phased: bool | None = None,
    span: tuple[int, int] = (0, PHASES - 1),
    next_qkv: Any = None,
) -> None:
    """One decoder layer (fused_step.Layer `ly`) on the residual stream x, in one launch.

    `fold`: the layer's folded cross-attention (A, s, c, N, N's row scales or None, P);
    `scratch`: float32 q [d], a [d], scores [heads * P], h [ffn]; `cache`: this layer's self
    cache [2, heads, len, hd]; `pos`: the device position; `bar`: new_barrier's. `phased`:
    each phase a launch of its own, no barrier (default: only in the interpreter). `span`:
    the phases to run (benches: (PHASES, -1) runs the barriers alone). `next_qkv`: the next
    layer's QKV weights, prefetched into L2 near the end of this one."""
    cfg = config or CONFIG
    a_w, a_s, a_c, n_w, n_s, p = fold
    q, a, scores, h = scratch
    d = x.shape[0]
    f = h.shape[0]
    hd = d // heads
    int4 = ly.qkv.int4
    dw, fw = (d // 2, f // 2) if int4 else (d, f)
    group = group_f = 1  # int4: inputs per scale (quant.int4_group: may differ for d and f)
    ngr_d = ngr_f = 1
    if int4:
        ngr_d, ngr_f = ly.qkv.scale.shape[1], ly.fc2.scale.shape[1]
        group, group_f = d // ngr_d, f // ngr_f
    int8 = ly.qkv.w.dtype == torch.int8
    na = heads * p
    whole = cfg.tile_bytes > 0 and not int4
    item = ly.qkv.w.element_size()
    bn_d, bk_d = _blocks(cfg, dw, item, whole)
    bn_f, bk_f = _blocks(cfg, fw, item, whole)
    bn_a, bk_a = _blocks(cfg, d, a_w.element_size(), cfg.tile_bytes > 0)
    bn_n, bk_n = _blocks(cfg, na, n_w.element_size(), cfg.tile_bytes > 0)
    bk_n = max(bk_n, p)  # each load holds whole runs of the softmax
    dummy = x

    def opt(t: Any) -> Any:
        return t if t is not None else dummy

    grid = (programs(x.device, cfg),)
    if phased is None:
        phased = K._INTERPRET or x.device.type != "cuda"
    # RB_D, RB_F, RB_A, RB_N: bytes a row of the prefetched weights
    row_bytes = (dw * item, fw * item, d * a_w.element_size(), na * n_w.element_size())
    args = (
        x, q, a, scores, h, pos, bar, cache, cache.stride(0), cache.stride(1),
        1.0 / math.sqrt(hd),
        ly.qkv.w, opt(ly.qkv.scale), opt(ly.qkv.bias), ly.ln1[0], ly.ln1[1], ly.ln1[2],
        ly.out.w, opt(ly.out.scale), opt(ly.out.bias),
        a_w, a_s, a_c, ly.ln2[0], ly.ln2[1], ly.ln2[2], na,
        n_w, opt(n_s), opt(ly.co.bias),
        ly.fc1.w, opt(ly.fc1.scale), opt(ly.fc1.bias), ly.ln3[0], ly.ln3[1], ly.ln3[2], f,
        ly.fc2.w, opt(ly.fc2.scale), opt(ly.fc2.bias),
        d, dw, fw, ngr_d, ngr_f, *row_bytes, next_qkv if next_qkv is not None else ly.qkv.w,
    )  # fmt: skip
    consts = dict(
        HEADS=heads, HD=hd, BLOCK_T=32, D_P=triton.next_power_of_2(d),
        INT4=int4, GROUP=group, GS=min(group, bk_d), GROUP_F=group_f,
        GS_F=min(group_f, bk_f), ROW_SCALE=int8, N_SCALE=n_s is not None, SEG=p,
        BN_D=bn_d, BK_D=bk_d, BN_F=bn_f, BK_F=bk_f, BN_A=bn_a, BK_A=bk_a, BN_N=bn_n,
        BK_N=bk_n, WHOLE=whole, WHOLE_FOLD=cfg.tile_bytes > 0,
        FAST=K.FAST_I8 and (int8 or int4), POLL_LOADS=cfg.poll_loads,
        PREFETCH=cfg.prefetch and not phased and _aligned(row_bytes, args),
        NEXT=next_qkv is not None, USE_PDL=K.PDL,
        num_warps=cfg.warps, launch_pdl=K.PDL,
    )  # fmt: skip
    if phased:
        for i in range(PHASES):
            _layer_kernel[grid](*args, FIRST=i, LAST=i, SYNC=False, **consts)
        return
    consts.update(FIRST=span[0], LAST=span[1], SYNC=True)
    key = (cfg, *sorted(consts.items()), *(str(t.dtype) for t in args if hasattr(t, "dtype")))
    if key not in _FITS:
        _FITS[key] = _resident(_layer_kernel.warmup(*args, grid=grid, **consts), cfg, x.device)
    if _FITS[key] < 1:
        raise RuntimeError(
            f"the one-launch decoder layer does not fit one program on an SM of "
            f"{torch.cuda.get_device_name(x.device)} ({cfg}); fused_step.PERSISTENT = False "
            "runs the layer a launch per kernel"
        )
    # Fewer programs per SM than asked when no more fit (the grid barrier needs all resident).
    grid = (grid[0] // cfg.per_sm * min(cfg.per_sm, _FITS[key]),)
    _layer_kernel[grid](*args, **consts)


def _aligned(row_bytes: tuple[int, ...], args: tuple[Any, ...]) -> bool:
    """The bulk L2 prefetch's terms: rows of whole 16 bytes, every tensor 16-byte aligned."""
    tensors = [t for t in args if hasattr(t, "data_ptr")]
    return all(r % 16 == 0 for r in row_bytes) and all(t.data_ptr() % 16 == 0 for t in tensors)


_FITS: dict[Any, int] = {}  # compiled variants: how many of their programs fit on one SM


def _resident(kernel: Any, cfg: LayerConfig, device: Any) -> int:
    """How many programs of a compiled `kernel` are resident on one SM at once (registers,
    shared memory, warps), the most the grid barrier may ask for."""
    kernel._init_handles()  # loads it: n_regs is known from then on
    props = torch.cuda.get_device_properties(device)
    warps = cfg.warps
    regs = -(-kernel.n_regs * 32 // 256) * 256 * warps  # allocated per warp in units of 256
    by_regs = props.regs_per_multiprocessor // max(regs, 1)  # type: ignore[attr-defined]
    smem = int(kernel.metadata.shared) + 1024  # the driver reserves 1 KB per block
    by_smem = props.shared_memory_per_multiprocessor // smem
    by_warps = props.max_threads_per_multi_processor // (32 * warps)
    return int(min(by_regs, by_smem, by_warps))
