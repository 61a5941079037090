# Triton kernels take untyped tensor arguments; their launchers below are typed.
# mypy: disable-error-code="no-untyped-def,untyped-decorator"
"""Triton kernels of the fused decode steps (batch 1: NLLB's decoder, XTTS's GPT), and their
launchers.

- `gemv`: y = epilogue(W · prologue(x)) for one token. W is bf16/fp16/fp32, int8 with one
  symmetric scale per output row, or int4 (two a byte) with a scale per row and group of
  inputs (quant.py). Prologue: an optional LayerNorm of x, its statistics computed
  by every program over the whole x (x is one d_model vector: cheaper than another launch), or
  a softmax over each run of S entries of x (the per-head weights of a folded attention).
  Epilogue: scale, bias, optional ReLU or GELU (tanh form), then one of: store; add into `out`
  (the residual stream, float32; split-K programs add with atomics); or write rows [d, 3d) as K
  and V into a KV cache at the position held on the device (the fused QKV of self-attention).
- `attend`: one query over a cache, per head, online softmax in float32; the self-attention
  length comes from the device position (pos + 1), so one graph serves every length.
- `attend_out`: self-attention and its out-projection in one launch (one program per head and
  block of output rows, each adding its head's share of W_o's product into the residual).
- `ffn`: LayerNorm, fc1, ReLU, fc2 and the residual add in one launch (one program per block
  of hidden units, each adding its share of fc2 into a second residual vector).
- `layer_norm`: one vector's LayerNorm in one program, for a GEMV with very many programs (the
  output layer), where each program computing the statistics itself costs more than a launch.
- `embed`: the decoder input, token embedding times scale plus its sinusoidal position.

Everything accumulates in float32; the residual stream and the small vectors between kernels
are float32, only weights and the KV caches keep their own dtype. With TRITON_INTERPRET=1 set
before this module is imported, the kernels run on CPU tensors (tests/test_kernels.py).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import torch
import triton  # type: ignore[import-untyped]
import triton.language as tl  # type: ignore[import-untyped]


@dataclass(frozen=True)
class GemvConfig:
    block_n: int  # output rows per program
    block_k: int  # input elements per loop iteration
    split_k: int  # programs sharing one row (residual outputs only: they add atomically)
    warps: int


def gemv_config(n: int, k: int, *, int8: bool, residual: bool, int4: bool = False) -> GemvConfig:
    """Block sizes for an H200-class GPU (132 SMs): enough programs to keep every SM's memory
    pipe busy (~4 or more per SM), each streaming contiguous rows in 16-byte pieces. For int4,
    block_k counts bytes of the packed row (two inputs each) and k is the inputs."""
    kw = k // 2 if int4 else k  # weight elements (bytes for int4) of a row
    # int8 at 1024 ran at half the speed of 512 on an H200 (head: 396 vs 204 µs).
    block_k = min(512, triton.next_power_of_2(kw))
    block_n = 16 if n >= 65536 else (8 if n >= 4096 else 4)
    if int4:
        # H200 sweep (benches/results/2026-11-30-h200-nllb-int4.md, 3.3B): plain outputs
        # 16 rows x 256 bytes (QKV 8.4 -> 7.7 µs, fc1 12.7 -> 8.6 against 8 x 256), added
        # ones 4 x 512 with split-K (fc2 10.2 -> 7.9, out-proj 4.0 -> 3.5).
        block_k = min(512 if residual else 256, triton.next_power_of_2(kw))
        block_n = 4 if residual or n < 4096 else 16
    split = 1
    if residual:  # only added outputs may be split over K
        while (n // block_n) * split < 1024 and kw // (2 * split) >= block_k and split < 8:
            split *= 2
    # The float32 tile (int4: two, the low and high nibbles): at most 64 registers a thread.
    per = block_n * block_k * (2 if int4 else 1)
    warps = min(8, max(4, per // 2048))
    return GemvConfig(block_n, block_k, split, warps)


# Benches may replace entries: (n, k, kind, residual) -> config; kind "float", "int8" or
# "int4", k the inputs.
OVERRIDES: dict[tuple[int, int, str, bool], GemvConfig] = {}

_INTERPRET = os.environ.get("TRITON_INTERPRET", "0") == "1"
# Programmatic dependent launch (Hopper+): each kernel is launched while the one before it
# finishes and waits on the device (gdc_wait) before reading its inputs, which hides most of
# the launch gap between the ~200 dependent kernels of a step. Benches may switch it off.
PDL = not _INTERPRET and torch.cuda.is_available() and torch.cuda.get_device_capability()[0] >= 9
# A LayerNorm prologue reads its whole vector in one load (up to LN_WHOLE_MAX inputs: 8192
# float32 are 64 registers a thread at 4 warps), not in the GEMV's chunks twice over.
# Benches may switch it off.
LN_ONE_LOAD = True
LN_WHOLE_MAX = 8192
# int8 -> float32 by byte permutes (PRMT + FADD, full rate) instead of I2F, which runs at a
# quarter rate and bounds an int8 GEMV below the memory rate. Benches may switch it off.
FAST_I8 = not _INTERPRET


@triton.jit
def _i8_to_f32(w):
    # Four int8 per 32-bit register: flip the sign bits (q + 128 as a byte), put each byte
    # under the exponent of 2^23, subtract 2^23 + 128: exact, and no conversion instruction.
    return tl.inline_asm_elementwise(
        asm="""{
        .reg .b32 t, m;
        xor.b32 t, $4, 0x80808080;
        mov.b32 m, 0x4B000000;
        prmt.b32 $0, t, m, 0x7440;
        prmt.b32 $1, t, m, 0x7441;
        prmt.b32 $2, t, m, 0x7442;
        prmt.b32 $3, t, m, 0x7443;
        sub.f32 $0, $0, 0f4B000080;
        sub.f32 $1, $1, 0f4B000080;
        sub.f32 $2, $2, 0f4B000080;
        sub.f32 $3, $3, 0f4B000080;
        }""",
        constraints="=r,=r,=r,=r,r",
        args=[w],
        dtype=tl.float32,
        is_pure=True,
        pack=4,
    )


@triton.jit
def _u4lo_to_f32(w):
    # Packed int4 (q + 8 a nibble): the low nibbles of four bytes under the exponent of 2^23,
    # minus 2^23 + 8, as _i8_to_f32 does for bytes: exact, no conversion instruction.
    return tl.inline_asm_elementwise(
        asm="""{
        .reg .b32 t, m;
        and.b32 t, $4, 0x0F0F0F0F;
        mov.b32 m, 0x4B000000;
        prmt.b32 $0, t, m, 0x7440;
        prmt.b32 $1, t, m, 0x7441;
        prmt.b32 $2, t, m, 0x7442;
        prmt.b32 $3, t, m, 0x7443;
        sub.f32 $0, $0, 0f4B000008;
        sub.f32 $1, $1, 0f4B000008;
        sub.f32 $2, $2, 0f4B000008;
        sub.f32 $3, $3, 0f4B000008;
        }""",
        constraints="=r,=r,=r,=r,r",
        args=[w],
        dtype=tl.float32,
        is_pure=True,
        pack=4,
    )


@triton.jit
def _u4hi_to_f32(w):
    # The high nibbles, the same way.
    return tl.inline_asm_elementwise(
        asm="""{
        .reg .b32 t, m;
        shr.b32 t, $4, 4;
        and.b32 t, t, 0x0F0F0F0F;
        mov.b32 m, 0x4B000000;
        prmt.b32 $0, t, m, 0x7440;
        prmt.b32 $1, t, m, 0x7441;
        prmt.b32 $2, t, m, 0x7442;
        prmt.b32 $3, t, m, 0x7443;
        sub.f32 $0, $0, 0f4B000008;
        sub.f32 $1, $1, 0f4B000008;
        sub.f32 $2, $2, 0f4B000008;
        sub.f32 $3, $3, 0f4B000008;
        }""",
        constraints="=r,=r,=r,=r,r",
        args=[w],
        dtype=tl.float32,
        is_pure=True,
        pack=4,
    )


KEY_MIN = -(2**63) + 1  # below every packed (score, row) key
_KEY_MIN: tl.constexpr = tl.constexpr(KEY_MIN)


@triton.jit
def _argmax_key(score, row):
    # (score, -row) as one int64 that orders like the pair: float bits made monotonic in the
    # high half, so one integer max picks the highest score and, on ties, the lowest row.
    bits = score.to(tl.int32, bitcast=True)
    bits = tl.where(bits >= 0, bits, bits ^ 0x7FFFFFFF)
    return (bits.to(tl.int64) << 32) | (0x7FFFFFFF - row).to(tl.int64)


@triton.jit
def _gemv_kernel(
    w_ptr, scale_ptr, x_ptr, ln_w_ptr, ln_b_ptr, bias_ptr, out_ptr, cache_ptr, pos_ptr,
    best_ptr, excl, zero_ptr,
    N, K, KW, NGR, eps, kv_start, kv_half_stride, kv_head_stride,
    INT4: tl.constexpr, GROUP: tl.constexpr, GS: tl.constexpr, HAS_SCALE: tl.constexpr,
    HAS_LN: tl.constexpr, HAS_BIAS: tl.constexpr,
    ACT: tl.constexpr, MODE: tl.constexpr, HD: tl.constexpr, ARGMAX: tl.constexpr,
    SEG: tl.constexpr, SPLIT_K: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
    ZERO: tl.constexpr, USE_PDL: tl.constexpr, FAST: tl.constexpr, LN_BLOCK: tl.constexpr,
    LN_WHOLE: tl.constexpr,
):  # fmt: skip
    pid_n = tl.program_id(0)
    pid_k = tl.program_id(1)
    rows = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    row_ok = rows < N
    cols0 = tl.arange(0, BLOCK_K)
    # This program's share of a row's KW elements (int4: bytes, KW = K / 2): whole BLOCK_K
    # chunks, so splits never overlap.
    per_split = tl.cdiv(tl.cdiv(KW, BLOCK_K), SPLIT_K) * BLOCK_K
    k_lo = pid_k * per_split
    k_hi = tl.minimum(k_lo + per_split, KW)
    w_rows = w_ptr + rows.to(tl.int64)[:, None] * KW
    if USE_PDL:
        tl.extra.cuda.gdc_wait()
    if ZERO:  # a K-long float32 vector cleared by one program (see `gemv`'s `zero`)
        if (pid_n == 0) & (pid_k == 0):
            for k0 in range(0, K, BLOCK_K):
                c = k0 + cols0
                tl.store(zero_ptr + c, tl.zeros([BLOCK_K], dtype=tl.float32), mask=c < K)
    mean = 0.0
    rstd = 1.0
    if HAS_LN:
        mean, rstd = _ln_stats(x_ptr, K, eps, LN_BLOCK, LN_WHOLE)
    if INT4:
        y = _int4_sum(
            w_ptr, scale_ptr, x_ptr, ln_w_ptr, ln_b_ptr, rows, row_ok, k_lo, k_hi, KW, NGR,
            mean, rstd, HAS_LN, GROUP, GS, BLOCK_N, BLOCK_K, FAST,
        )  # fmt: skip
    else:
        y = _dense_sum(
            w_rows, x_ptr, ln_w_ptr, ln_b_ptr, row_ok, k_lo, k_hi, mean, rstd, HAS_LN, SEG,
            BLOCK_N, BLOCK_K, FAST,
        )  # fmt: skip
    if USE_PDL:
        tl.extra.cuda.gdc_launch_dependents()
    _epilogue(
        y, rows, row_ok, pid_k == 0, scale_ptr, bias_ptr, out_ptr, cache_ptr, pos_ptr, best_ptr,
        excl, kv_start, kv_half_stride, kv_head_stride, HAS_SCALE, HAS_BIAS, ACT, MODE, HD,
        ARGMAX, SPLIT_K > 1,
    )  # fmt: skip


@triton.jit
def _ln_stats(x_ptr, K, eps, BLOCK_K: tl.constexpr, WHOLE: tl.constexpr):
    # Mean and 1/std of a K-long vector, every program for itself (one vector: cheaper than a
    # launch of its own). WHOLE (BLOCK_K >= K): one load, both passes over registers; a
    # kernel's weight stream starts only after this, and the looped form is 2 K / BLOCK_K
    # dependent L2 round trips.
    cols0 = tl.arange(0, BLOCK_K)
    if WHOLE:
        ok = cols0 < K
        mean, var = _mean_var(tl.load(x_ptr + cols0, mask=ok, other=0.0).to(tl.float32), ok, K)
    else:
        acc1 = tl.zeros([BLOCK_K], dtype=tl.float32)
        for k0 in range(0, K, BLOCK_K):
            c = k0 + cols0
            acc1 += tl.load(x_ptr + c, mask=c < K, other=0.0).to(tl.float32)
        mean = tl.sum(acc1, axis=0) / K
        acc2 = tl.zeros([BLOCK_K], dtype=tl.float32)
        for k0 in range(0, K, BLOCK_K):
            c = k0 + cols0
            xv = tl.load(x_ptr + c, mask=c < K, other=0.0).to(tl.float32)
            xv = tl.where(c < K, xv - mean, 0.0)
            acc2 += xv * xv
        var = tl.sum(acc2, axis=0) / K
    return mean, 1.0 / tl.sqrt(var + eps)


@triton.jit
def _mean_var(xv, ok, K):
    # Mean and variance of the K entries of xv where `ok` (both passes over registers).
    mean = tl.sum(tl.where(ok, xv, 0.0), axis=0) / K
    xc = tl.where(ok, xv - mean, 0.0)
    return mean, tl.sum(xc * xc, axis=0) / K


def ln_block(k: int, block_k: int) -> tuple[int, bool]:
    """_ln_stats' (BLOCK_K, WHOLE) for a K-long vector: all of it in one load up to LN_WHOLE_MAX
    inputs (LN_ONE_LOAD), else the GEMV's own chunks."""
    if LN_ONE_LOAD and k <= LN_WHOLE_MAX:
        return triton.next_power_of_2(k), True
    return block_k, False


@triton.jit
def _epilogue(
    y, rows, row_ok, first_k, scale_ptr, bias_ptr, out_ptr, cache_ptr, pos_ptr, best_ptr, excl,
    kv_start, kv_half_stride, kv_head_stride, HAS_SCALE: tl.constexpr, HAS_BIAS: tl.constexpr,
    ACT: tl.constexpr, MODE: tl.constexpr, HD: tl.constexpr, ARGMAX: tl.constexpr,
    ATOMIC: tl.constexpr,
):  # fmt: skip
    # Row sums y of rows `rows` -> scale, bias (added by the first K split only), activation,
    # then MODE 0 store (+ ARGMAX), 1 add into out (ATOMIC: other programs add to the same
    # rows), 2 rows < kv_start stored, the rest as K then V into the cache at `pos`.
    if HAS_SCALE:
        y = y * tl.load(scale_ptr + rows, mask=row_ok, other=0.0)
    if HAS_BIAS:
        if first_k:
            y = y + tl.load(bias_ptr + rows, mask=row_ok, other=0.0).to(tl.float32)
    if ACT == 1:
        y = tl.maximum(y, 0.0)
    elif ACT == 2:  # GPT-2's gelu_new: 0.5 y (1 + tanh(z)) = y * sigmoid(2 z)
        z = 0.7978845608028654 * (y + 0.044715 * y * y * y)
        y = y * tl.sigmoid(2.0 * z)
    if MODE == 0:  # store
        tl.store(out_ptr + rows, y, mask=row_ok)
        if ARGMAX:  # this block's best row (but `excl`) into the step's running maximum
            key = tl.where(row_ok & (rows != excl), _argmax_key(y, rows), _KEY_MIN)
            tl.atomic_max(best_ptr, tl.max(key, axis=0))
    elif MODE == 1:  # add into the residual stream
        if not ATOMIC:
            prev = tl.load(out_ptr + rows, mask=row_ok, other=0.0)
            tl.store(out_ptr + rows, prev + y, mask=row_ok)
        else:
            tl.atomic_add(out_ptr + rows, y, mask=row_ok)
    else:  # rows < kv_start to out, the rest as K then V into the cache at `pos`
        tl.store(out_ptr + rows, y, mask=row_ok & (rows < kv_start))
        j = tl.maximum(rows - kv_start, 0)
        pos = tl.load(pos_ptr)
        half = j // kv_start
        within = j % kv_start
        dst = half * kv_half_stride + (within // HD) * kv_head_stride + pos * HD + within % HD
        tl.store(cache_ptr + dst, y, mask=row_ok & (rows >= kv_start))


@triton.jit
def _run_softmax(x_ptr, c, c_ok, SEG: tl.constexpr, BLOCK_K: tl.constexpr):
    # x[c] as scores: a softmax over each run of SEG of them (-inf scores, and masked ones,
    # get weight 0; a run of nothing but -inf gives zeros).
    sv = tl.load(x_ptr + c, mask=c_ok, other=float("-inf"))
    sv = tl.reshape(sv, (BLOCK_K // SEG, SEG))
    m = tl.max(sv, axis=1)
    e = tl.exp(sv - tl.where(m == float("-inf"), 0.0, m)[:, None])
    z = tl.sum(e, axis=1)
    return tl.reshape(e / tl.where(z > 0, z, 1.0)[:, None], (BLOCK_K,))


@triton.jit
def _dense_sum(
    w_rows, x_ptr, ln_w_ptr, ln_b_ptr, row_ok, k_lo, k_hi, mean, rstd, HAS_LN: tl.constexpr,
    SEG: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, FAST: tl.constexpr,
):  # fmt: skip
    # The row sums of a float or int8 tile (unscaled) over inputs [k_lo, k_hi).
    cols0 = tl.arange(0, BLOCK_K)
    acc = tl.zeros([BLOCK_N, BLOCK_K], dtype=tl.float32)
    for k0 in range(k_lo, k_hi, BLOCK_K):
        c = k0 + cols0
        c_ok = c < k_hi
        if SEG > 0:  # x holds scores (whole runs in a chunk)
            xv = _run_softmax(x_ptr, c, c_ok, SEG, BLOCK_K)
        else:
            xv = tl.load(x_ptr + c, mask=c_ok, other=0.0).to(tl.float32)
        if HAS_LN:
            g = tl.load(ln_w_ptr + c, mask=c_ok, other=0.0).to(tl.float32)
            b = tl.load(ln_b_ptr + c, mask=c_ok, other=0.0).to(tl.float32)
            xv = tl.where(c_ok, (xv - mean) * rstd * g + b, 0.0)
        w_ok = row_ok[:, None] & c_ok[None, :]
        wv = tl.load(w_rows + c[None, :], mask=w_ok, other=0, eviction_policy="evict_first")
        if FAST:
            acc += _i8_to_f32(wv) * xv[None, :]
        else:
            acc += wv.to(tl.float32) * xv[None, :]
    return tl.sum(acc, axis=1)


@triton.jit
def _int4_sum(
    w_ptr, scale_ptr, x_ptr, ln_w_ptr, ln_b_ptr, rows, row_ok, k_lo, k_hi, KW, NGR, mean, rstd,
    HAS_LN: tl.constexpr, GROUP: tl.constexpr, GS: tl.constexpr, BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr, FAST: tl.constexpr,
):  # fmt: skip
    # Packed int4 rows (quant.quantize_int4): bytes [k0, k0 + BLOCK_K) hold inputs k0.. in their
    # low nibbles and KW + k0.. in their high ones. The tile is [BLOCK_N, NG, GS], GS inputs of
    # one scale group (GS = min(GROUP, BLOCK_K)): products are summed per group, and each
    # group's sum is scaled once, not each weight.
    NG: tl.constexpr = BLOCK_K // GS
    j = tl.arange(0, NG)
    c2 = j[:, None] * GS + tl.arange(0, GS)[None, :]  # [NG, GS] byte offsets in a chunk
    w_rows = w_ptr + rows.to(tl.int64)[:, None, None] * KW
    s_rows = scale_ptr + rows.to(tl.int64)[:, None] * NGR
    acc = tl.zeros([BLOCK_N, NG], dtype=tl.float32)
    for k0 in range(k_lo, k_hi, BLOCK_K):
        c = k0 + c2
        c_ok = c < k_hi
        xl = tl.load(x_ptr + c, mask=c_ok, other=0.0).to(tl.float32)
        xh = tl.load(x_ptr + KW + c, mask=c_ok, other=0.0).to(tl.float32)
        if HAS_LN:
            gl = tl.load(ln_w_ptr + c, mask=c_ok, other=0.0).to(tl.float32)
            bl = tl.load(ln_b_ptr + c, mask=c_ok, other=0.0).to(tl.float32)
            gh = tl.load(ln_w_ptr + KW + c, mask=c_ok, other=0.0).to(tl.float32)
            bh = tl.load(ln_b_ptr + KW + c, mask=c_ok, other=0.0).to(tl.float32)
            xl = tl.where(c_ok, (xl - mean) * rstd * gl + bl, 0.0)
            xh = tl.where(c_ok, (xh - mean) * rstd * gh + bh, 0.0)
        w_ok = row_ok[:, None, None] & c_ok[None, :, :]
        wv = tl.load(w_rows + c[None, :, :], mask=w_ok, other=0, eviction_policy="evict_first")
        if FAST:
            lo = _u4lo_to_f32(wv)
            hi = _u4hi_to_f32(wv)
        else:
            lo = (wv & 0x0F).to(tl.float32) - 8.0
            hi = (wv >> 4).to(tl.float32) - 8.0
        # (masked bytes read as 0, i.e. -8, against x = 0: they add nothing)
        g = (k0 + j * GS) // GROUP  # the low inputs' group; the high ones' is KW / GROUP on
        s_ok = row_ok[:, None] & (k0 + j * GS < k_hi)[None, :]
        sl = tl.load(s_rows + g[None, :], mask=s_ok, other=0.0).to(tl.float32)
        sh = tl.load(s_rows + (KW // GROUP + g)[None, :], mask=s_ok, other=0.0).to(tl.float32)
        acc += tl.sum(lo * xl[None, :, :], axis=2) * sl + tl.sum(hi * xh[None, :, :], axis=2) * sh
    return tl.sum(acc, axis=1)


def gemv(
    w: Any,
    x: Any,
    out: Any,
    *,
    scale: Any = None,
    bias: Any = None,
    ln: tuple[Any, Any, float] | None = None,
    relu: bool = False,
    gelu: bool = False,
    add: bool = False,
    kv: tuple[Any, Any, int] | None = None,
    argmax: tuple[Any, int] | None = None,
    softmax: int = 0,
    zero: Any = None,
    config: GemvConfig | None = None,
) -> None:
    """out = epilogue(w @ prologue(x)) for a 1-D x of length K; w [N, K] row-major.

    `scale`: float32 per-row scales of an int8 `w`, or for packed int4 (`w` uint8 [N, K/2],
    quant.quantize_int4) its scales [N, K / group]; `ln`: (weight, bias, eps) of a LayerNorm
    applied to x first; `relu` / `gelu` (tanh approximation, GPT-2's gelu_new); `add`: out +=
    result (out float32); `kv`: (cache, pos, head_dim) with cache [2, heads, max_len,
    head_dim] contiguous: rows [0, d) go to out, rows [d, 3d) are K and V of position pos (a
    1-element device tensor), d = heads * head_dim. `argmax`:
    (best, excl): the packed key (score, row) of the best row other than `excl` is max-ed into
    best (int64 [1], reset by `choose`); plain outputs only. `softmax`: a power of two S that
    divides K: x is scores, and each run of S of them goes through a softmax first (the
    folded cross-attention's per-head weights; -inf scores get weight 0). `zero`: a float32
    vector of K entries that one program clears after the PDL wait (the fused FFN's next
    target, see `ffn`); it must not be x, out, or anything else this launch reads.
    """
    n, kw = w.shape
    int8 = w.dtype == torch.int8
    int4 = w.dtype == torch.uint8
    k = 2 * kw if int4 else kw
    kind = "int4" if int4 else ("int8" if int8 else "float")
    cfg = (
        config
        or OVERRIDES.get((n, k, kind, add))
        or gemv_config(n, k, int8=int8, residual=add, int4=int4)
    )
    split = cfg.split_k if add else 1
    if (relu or gelu) and split > 1:
        raise ValueError("an activation needs the whole sum: split_k must be 1")
    if relu and gelu:
        raise ValueError("one activation at a time: relu or gelu")
    dummy = x
    mode, hd, half_stride, head_stride, kv_start = 0, 1, 0, 0, n
    cache, pos = dummy, dummy
    if add:
        mode = 1
    elif kv is not None:
        cache, pos, hd = kv
        mode = 2
        kv_start = n // 3
        half_stride, head_stride = cache.stride(0), cache.stride(1)
    if argmax is not None and mode != 0:
        raise ValueError("argmax needs a plain output")
    best, excl = argmax if argmax is not None else (dummy, -1)
    block_k = cfg.block_k
    if softmax:
        if ln is not None or softmax & (softmax - 1) or k % softmax:
            raise ValueError("softmax runs: a power of two dividing K, and no LayerNorm")
        block_k = max(block_k, softmax)  # each chunk holds whole runs
    group, n_groups = 1, 1
    if int4:
        if scale is None or softmax:
            raise ValueError("int4 needs its group scales, and takes no softmax prologue")
        n_groups = scale.shape[1]
        group = k // n_groups
        if group & (group - 1) or block_k & (block_k - 1) or kw % group:
            raise ValueError("int4: group and block_k powers of two, K / 2 whole groups")
    grid = (triton.cdiv(n, cfg.block_n), split)
    ln_bk, ln_whole = ln_block(k, block_k)
    _gemv_kernel[grid](
        w, scale if scale is not None else dummy, x,
        ln[0] if ln else dummy, ln[1] if ln else dummy,
        bias if bias is not None else dummy, out, cache, pos, best, excl,
        zero if zero is not None else dummy, n, k, kw, n_groups, float(ln[2]) if ln else 0.0,
        kv_start, half_stride, head_stride,
        INT4=int4, GROUP=group, GS=min(group, block_k),
        HAS_SCALE=scale is not None and not int4, HAS_LN=ln is not None, HAS_BIAS=bias is not None,
        ACT=1 if relu else (2 if gelu else 0), MODE=mode, HD=hd, ARGMAX=argmax is not None,
        SEG=softmax, SPLIT_K=split, BLOCK_N=cfg.block_n, BLOCK_K=block_k,
        ZERO=zero is not None, USE_PDL=PDL, FAST=FAST_I8 and (int8 or int4),
        LN_BLOCK=ln_bk, LN_WHOLE=ln_whole, num_warps=cfg.warps, launch_pdl=PDL,
    )  # fmt: skip


@triton.jit
def _one_head(
    q_ptr, k_ptr, v_ptr, keep_ptr, pos_ptr, h, T, head_stride, sm_scale,
    CAUSAL: tl.constexpr, HD: tl.constexpr, BLOCK_T: tl.constexpr,
):  # fmt: skip
    # Head h's attention output [HD], float32: online softmax over blocks of BLOCK_T keys.
    d = tl.arange(0, HD)
    q = tl.load(q_ptr + h * HD + d).to(tl.float32) * sm_scale
    if CAUSAL:
        n = tl.load(pos_ptr).to(tl.int32) + 1  # cache slots 0..pos hold this sentence
    else:
        n = T
    m = -1.0e30  # finite: a block with no key left never yields inf - inf
    den = 0.0
    acc = tl.zeros([HD], dtype=tl.float32)
    base = h * head_stride
    for t0 in range(0, n, BLOCK_T):
        t = t0 + tl.arange(0, BLOCK_T)
        ok = t < n
        if not CAUSAL:
            ok = ok & (tl.load(keep_ptr + t, mask=ok, other=0) != 0)
        offs = base + t[:, None] * HD + d[None, :]
        kk = tl.load(k_ptr + offs, mask=ok[:, None], other=0.0).to(tl.float32)
        s = tl.where(ok, tl.sum(kk * q[None, :], axis=1), float("-inf"))
        m_new = tl.maximum(m, tl.max(s, axis=0))
        p = tl.exp(s - m_new)
        alpha = tl.exp(m - m_new)
        vv = tl.load(v_ptr + offs, mask=ok[:, None], other=0.0).to(tl.float32)
        den = den * alpha + tl.sum(p, axis=0)
        acc = acc * alpha + tl.sum(p[:, None] * vv, axis=0)
        m = m_new
    return acc / den


@triton.jit
def _attend_kernel(
    q_ptr, k_ptr, v_ptr, keep_ptr, out_ptr, pos_ptr, T, head_stride, sm_scale,
    CAUSAL: tl.constexpr, HD: tl.constexpr, BLOCK_T: tl.constexpr, USE_PDL: tl.constexpr,
):  # fmt: skip
    if USE_PDL:
        tl.extra.cuda.gdc_wait()
        tl.extra.cuda.gdc_launch_dependents()
    h = tl.program_id(0)
    a = _one_head(
        q_ptr, k_ptr, v_ptr, keep_ptr, pos_ptr, h, T, head_stride, sm_scale, CAUSAL, HD, BLOCK_T
    )  # fmt: skip
    tl.store(out_ptr + h * HD + tl.arange(0, HD), a)


def attend(
    q: Any,
    k: Any,
    v: Any,
    out: Any,
    *,
    pos: Any = None,
    keep: Any = None,
    n: int = 0,
    block_t: int = 32,
) -> None:
    """Softmax attention of one query per head: q, out [heads * hd]; k, v [heads, T, hd]
    (strided by head). Self-attention: `pos` (device tensor), keys 0..pos. Cross-attention:
    `keep` (bool [>= n]) masks the first `n` keys. `block_t`: keys per loop iteration."""
    heads, _, hd = k.shape
    causal = pos is not None
    if not causal and keep is None:
        raise ValueError("attend needs pos (self-attention) or keep (cross-attention)")
    dummy = q
    _attend_kernel[(heads,)](
        q, k, v, keep if keep is not None else dummy, out, pos if causal else dummy,
        n, k.stride(0), 1.0 / math.sqrt(hd),
        CAUSAL=causal, HD=hd, BLOCK_T=block_t, USE_PDL=PDL, num_warps=4, launch_pdl=PDL,
    )  # fmt: skip


# Rows of W_o per program of `attend_out` (with one head's columns: heads * d / ROWS programs).
ATTN_OUT_ROWS = 128
ATTN_OUT_EARLY_W = True  # its weight tile loads before the PDL wait (benches may switch it)


@triton.jit
def _attend_out_kernel(
    q_ptr, k_ptr, v_ptr, pos_ptr, w_ptr, scale_ptr, bias_ptr, out_ptr, N, K, head_stride,
    sm_scale,
    HAS_SCALE: tl.constexpr, HAS_BIAS: tl.constexpr, HD: tl.constexpr, BLOCK_T: tl.constexpr,
    BLOCK_R: tl.constexpr, EARLY_W: tl.constexpr, USE_PDL: tl.constexpr, FAST: tl.constexpr,
):  # fmt: skip
    h = tl.program_id(0)
    rows = tl.program_id(1) * BLOCK_R + tl.arange(0, BLOCK_R)
    row_ok = rows < N
    cols = h * HD + tl.arange(0, HD)
    w_offs = rows.to(tl.int64)[:, None] * K + cols[None, :]
    if EARLY_W:  # a step never writes weights: the tile may load before the wait
        wv = tl.load(w_ptr + w_offs, mask=row_ok[:, None], other=0, eviction_policy="evict_first")
    if USE_PDL:
        tl.extra.cuda.gdc_wait()
    if not EARLY_W:
        wv = tl.load(w_ptr + w_offs, mask=row_ok[:, None], other=0, eviction_policy="evict_first")
    # Every program of head h computes its attention (a few keys of one head: cheaper than
    # another launch); only `out` is written, and no program reads it.
    a = _one_head(
        q_ptr, k_ptr, v_ptr, q_ptr, pos_ptr, h, 0, head_stride, sm_scale, True, HD, BLOCK_T
    )  # fmt: skip
    if USE_PDL:
        tl.extra.cuda.gdc_launch_dependents()
    if FAST:
        y = tl.sum(_i8_to_f32(wv) * a[None, :], axis=1)
    else:
        y = tl.sum(wv.to(tl.float32) * a[None, :], axis=1)
    if HAS_SCALE:  # per row of W_o: it scales this head's part of the row as it does the sum
        y = y * tl.load(scale_ptr + rows, mask=row_ok, other=0.0)
    if HAS_BIAS:
        if h == 0:
            y = y + tl.load(bias_ptr + rows, mask=row_ok, other=0.0).to(tl.float32)
    tl.atomic_add(out_ptr + rows, y, mask=row_ok, sem="relaxed")


def attend_out(
    q: Any,
    k: Any,
    v: Any,
    w: Any,
    out: Any,
    *,
    pos: Any,
    n: int = 0,
    scale: Any = None,
    bias: Any = None,
    block_t: int = 32,
) -> None:
    """Self-attention and its out-projection in one launch: out += w @ attend(q, k, v, pos)
    (+ bias), with attend's q, k, v, pos (`n` unused: the length is pos + 1 on the device) and
    w [N, heads * hd] (int8 with `scale` per row). One program per head and ATTN_OUT_ROWS
    rows: the out-projection split over K by head, the heads' parts added into out atomically."""
    heads, _, hd = k.shape
    d = w.shape[0]
    if w.shape[1] != heads * hd:
        raise ValueError("attend_out: w's columns are the heads' outputs")
    block_r = min(ATTN_OUT_ROWS, triton.next_power_of_2(d))
    int8 = w.dtype == torch.int8
    _attend_out_kernel[(heads, triton.cdiv(d, block_r))](
        q, k, v, pos, w, scale if scale is not None else q, bias if bias is not None else q, out,
        d, w.shape[1], k.stride(0), 1.0 / math.sqrt(hd),
        HAS_SCALE=scale is not None, HAS_BIAS=bias is not None, HD=hd, BLOCK_T=block_t,
        BLOCK_R=block_r, EARLY_W=ATTN_OUT_EARLY_W, USE_PDL=PDL, FAST=FAST_I8 and int8,
        num_warps=8 if block_r * hd >= 8192 else 4, launch_pdl=PDL,
    )  # fmt: skip


@dataclass(frozen=True)
class FfnConfig:
    block_h: int  # hidden units per program
    block_k: int  # fc1: input elements per loop iteration
    block_o: int  # fc2: output elements per loop iteration
    warps: int
    group: int = 1  # programs whose fc2 shares are summed before the atomic adds (see ffn)
    stagger: bool = False  # each program starts fc2's output blocks at its own


FFN_CONFIG = FfnConfig(block_h=32, block_k=512, block_o=512, warps=8)  # benches may replace it
FFN_ATOMIC = True  # benches only: False stores instead of adding (a wrong sum), to time the adds


@triton.jit
def _ffn_kernel(
    x_ptr, out_ptr, ln_w_ptr, ln_b_ptr, w1_ptr, s1_ptr, b1_ptr, w2_ptr, s2_ptr, b2_ptr,
    part_ptr, count_ptr, D, H, eps,
    HAS_SCALE: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_K: tl.constexpr,
    BLOCK_O: tl.constexpr, GROUP: tl.constexpr, STAGGER: tl.constexpr, ATOMIC: tl.constexpr,
    USE_PDL: tl.constexpr, FAST: tl.constexpr,
):  # fmt: skip
    pid = tl.program_id(0)
    hid = pid * BLOCK_H + tl.arange(0, BLOCK_H)
    h_ok = hid < H
    cols0 = tl.arange(0, BLOCK_K)
    if USE_PDL:
        tl.extra.cuda.gdc_wait()
    mean, rstd = _ln_stats(x_ptr, D, eps, BLOCK_K, False)
    # fc1: this program's hidden units, h = relu(s1 * (W1[hid] . LN(x)) + b1)
    w1_rows = w1_ptr + hid.to(tl.int64)[:, None] * D
    acc = tl.zeros([BLOCK_H, BLOCK_K], dtype=tl.float32)
    for k0 in range(0, D, BLOCK_K):
        c = k0 + cols0
        c_ok = c < D
        xv = tl.load(x_ptr + c, mask=c_ok, other=0.0)
        g = tl.load(ln_w_ptr + c, mask=c_ok, other=0.0).to(tl.float32)
        b = tl.load(ln_b_ptr + c, mask=c_ok, other=0.0).to(tl.float32)
        xv = tl.where(c_ok, (xv - mean) * rstd * g + b, 0.0)
        w_ok = h_ok[:, None] & c_ok[None, :]
        wv = tl.load(w1_rows + c[None, :], mask=w_ok, other=0, eviction_policy="evict_first")
        if FAST:
            acc += _i8_to_f32(wv) * xv[None, :]
        else:
            acc += wv.to(tl.float32) * xv[None, :]
    if USE_PDL:
        tl.extra.cuda.gdc_launch_dependents()
    h = tl.sum(acc, axis=1)
    if HAS_SCALE:
        h = h * tl.load(s1_ptr + hid, mask=h_ok, other=0.0)
    h = h + tl.load(b1_ptr + hid, mask=h_ok, other=0.0).to(tl.float32)
    h = tl.where(h_ok, tl.maximum(h, 0.0), 0.0)
    # fc2 over this program's share of K: W2 is stored transposed ([H, D]), so its rows for
    # these hidden units are contiguous; each output gets this share's partial sum.
    w2_rows = w2_ptr + hid.to(tl.int64)[:, None] * D
    outs0 = tl.arange(0, BLOCK_O)
    n_blocks = tl.cdiv(D, BLOCK_O)
    for i in range(0, n_blocks):
        if STAGGER:  # programs start at different outputs: fewer adds to one address at once
            o = ((i + pid) % n_blocks) * BLOCK_O + outs0
        else:
            o = i * BLOCK_O + outs0
        o_ok = o < D
        w_ok = h_ok[:, None] & o_ok[None, :]
        wv = tl.load(w2_rows + o[None, :], mask=w_ok, other=0, eviction_policy="evict_first")
        if FAST:
            y = tl.sum(_i8_to_f32(wv) * h[:, None], axis=0)
        else:
            y = tl.sum(wv.to(tl.float32) * h[:, None], axis=0)
        if HAS_SCALE:  # W2's scale is per output (its original row): it scales each partial
            y = y * tl.load(s2_ptr + o, mask=o_ok, other=0.0)
        if pid == 0:  # the residual and fc2's bias, once
            y += tl.load(x_ptr + o, mask=o_ok, other=0.0)
            y += tl.load(b2_ptr + o, mask=o_ok, other=0.0).to(tl.float32)
        if GROUP > 1:
            tl.store(part_ptr + pid * D + o, y, mask=o_ok)
        elif ATOMIC:
            tl.atomic_add(out_ptr + o, y, mask=o_ok, sem="relaxed")
        else:
            tl.store(out_ptr + o, y, mask=o_ok)
    if GROUP > 1:
        # The last program of each group to finish sums the group's shares and adds them:
        # GROUP times fewer atomic adds into out. Its ticket (acq_rel, after a barrier that
        # orders the whole program's stores) sees every share; the counter is reset for the
        # next launch. L1 is not coherent: the shares are read from L2 (.cg).
        tl.debug_barrier()
        grp = pid // GROUP
        first = grp * GROUP
        last = tl.minimum(first + GROUP, tl.num_programs(0))  # the last group may be short
        ticket = tl.atomic_add(count_ptr + grp, 1, sem="acq_rel")
        if ticket == last - first - 1:
            for o0 in range(0, D, BLOCK_O):
                o = o0 + outs0
                o_ok = o < D
                tot = tl.zeros([BLOCK_O], dtype=tl.float32)
                for j in range(first, last):
                    tot += tl.load(part_ptr + j * D + o, mask=o_ok, other=0.0, cache_modifier=".cg")
                tl.atomic_add(out_ptr + o, tot, mask=o_ok, sem="relaxed")
            tl.store(count_ptr + grp, 0)


FFN_MIN_BLOCK_H = 8  # ffn_scratch is large enough for any config with block_h >= this


def ffn_scratch(hidden: int, d: int, device: Any) -> tuple[Any, Any]:
    """The partial sums and group counters (zeros) `ffn` needs when config.group > 1."""
    programs = triton.cdiv(hidden, FFN_MIN_BLOCK_H)
    part = torch.zeros(programs * d, dtype=torch.float32, device=device)
    return part, torch.zeros(programs, dtype=torch.int32, device=device)


def ffn(
    x: Any,
    out: Any,
    ln: tuple[Any, Any, float],
    fc1: tuple[Any, Any, Any],
    fc2t: tuple[Any, Any, Any],
    *,
    scratch: tuple[Any, Any] | None = None,
    config: FfnConfig | None = None,
) -> None:
    """out += x + fc2(relu(fc1(LayerNorm(x)))) in one launch; fc1 = (w1 [H, D], scale or
    None, bias), fc2t = (w2 transposed, [H, D], scale per output [D] or None, bias [D]); both
    int8 with scales, or neither. x, out: float32 [D], two different vectors. `scratch`: from
    ffn_scratch (made here if None: not while a graph is captured).

    Each program owns BLOCK_H hidden units: their fc1 rows, then their share of fc2 added into
    every output atomically (directly, or summed per group of programs first). Every program
    reads all of x (the LayerNorm) while others add, so the sum cannot go into x itself: `out`
    must be another vector, and zero for the residual update out = x + FFN(x) (program 0 adds
    x and fc2's bias). FusedDecoder keeps two residual vectors and has the next layer's first
    launch clear the one this FFN read (gemv `zero`).
    """
    cfg = config or FFN_CONFIG
    hidden, d = fc1[0].shape
    if fc2t[0].shape != (hidden, d) or x.data_ptr() == out.data_ptr():
        raise ValueError("ffn: w2 transposed to [hidden, d], and out another vector than x")
    if cfg.block_h < FFN_MIN_BLOCK_H:
        raise ValueError(f"ffn: block_h of at least {FFN_MIN_BLOCK_H}")
    part, count = scratch if scratch is not None else ffn_scratch(hidden, d, x.device)
    int8 = fc1[0].dtype == torch.int8
    _ffn_kernel[(triton.cdiv(hidden, cfg.block_h),)](
        x, out, ln[0], ln[1], fc1[0], fc1[1] if int8 else x, fc1[2], fc2t[0],
        fc2t[1] if int8 else x, fc2t[2], part, count, d, hidden, float(ln[2]),
        HAS_SCALE=int8, BLOCK_H=cfg.block_h, BLOCK_K=min(cfg.block_k, triton.next_power_of_2(d)),
        BLOCK_O=min(cfg.block_o, triton.next_power_of_2(d)), GROUP=cfg.group,
        STAGGER=cfg.stagger, ATOMIC=FFN_ATOMIC, USE_PDL=PDL, FAST=FAST_I8 and int8,
        num_warps=cfg.warps, launch_pdl=PDL,
    )  # fmt: skip


@triton.jit
def _layer_norm_kernel(
    x_ptr, w_ptr, b_ptr, out_ptr, D, eps, BLOCK: tl.constexpr, USE_PDL: tl.constexpr
):  # fmt: skip
    if USE_PDL:
        tl.extra.cuda.gdc_wait()
        tl.extra.cuda.gdc_launch_dependents()
    c = tl.arange(0, BLOCK)
    ok = c < D
    x = tl.load(x_ptr + c, mask=ok, other=0.0).to(tl.float32)
    mean, var = _mean_var(x, ok, D)
    xc = tl.where(ok, x - mean, 0.0)
    rstd = 1.0 / tl.sqrt(var + eps)
    w = tl.load(w_ptr + c, mask=ok, other=0.0).to(tl.float32)
    b = tl.load(b_ptr + c, mask=ok, other=0.0).to(tl.float32)
    tl.store(out_ptr + c, xc * rstd * w + b, mask=ok)


def layer_norm(x: Any, ln: tuple[Any, Any, float], out: Any) -> None:
    """out = LayerNorm(x) with ln = (weight, bias, eps); x, out 1-D, out float32."""
    d = x.shape[0]
    _layer_norm_kernel[(1,)](
        x, ln[0], ln[1], out, d, float(ln[2]),
        BLOCK=triton.next_power_of_2(d), USE_PDL=PDL, num_warps=8 if d > 1024 else 4,
        launch_pdl=PDL,
    )  # fmt: skip


@triton.jit
def _embed_kernel(
    emb_ptr, posw_ptr, tok_ptr, pos_ptr, out_ptr, D, scale, pos_offset,
    BLOCK: tl.constexpr, USE_PDL: tl.constexpr,
):  # fmt: skip
    if USE_PDL:
        tl.extra.cuda.gdc_wait()
        tl.extra.cuda.gdc_launch_dependents()
    tok = tl.load(tok_ptr).to(tl.int64)
    p = tl.load(pos_ptr).to(tl.int64) + pos_offset
    for c0 in range(0, D, BLOCK):
        c = c0 + tl.arange(0, BLOCK)
        ok = c < D
        e = tl.load(emb_ptr + tok * D + c, mask=ok, other=0.0).to(tl.float32)
        pe = tl.load(posw_ptr + p * D + c, mask=ok, other=0.0).to(tl.float32)
        tl.store(out_ptr + c, e * scale + pe, mask=ok)


def embed(table: Any, positions: Any, tok: Any, pos: Any, out: Any, scale: float, off: int) -> None:
    """out = table[tok] * scale + positions[pos + off] in float32 (transformers rounds both
    terms and the sum to the model's dtype); tok and pos are 1-element device tensors."""
    d = table.shape[1]
    _embed_kernel[(1,)](
        table, positions, tok, pos, out, d, scale, off,
        BLOCK=1024, USE_PDL=PDL, launch_pdl=PDL,
    )  # fmt: skip


@triton.jit
def _choose_kernel(
    best_ptr, logits_ptr, pos_ptr, min_new_ptr, bos_ptr, ids_ptr, next_ptr, tok_ptr,
    eos_col, decay_start, decay_factor,
    DECAY: tl.constexpr, HAS_IDS: tl.constexpr, USE_PDL: tl.constexpr,
):  # fmt: skip
    if USE_PDL:
        tl.extra.cuda.gdc_wait()
    pos = tl.load(pos_ptr)
    eos = tl.load(logits_ptr + eos_col)
    eos = tl.where(pos < tl.load(min_new_ptr), float("-inf"), eos)
    if DECAY:
        k = pos - decay_start
        if k > 0:  # factor ** k by squaring: k is a whole number
            p = 1.0
            b = decay_factor
            while k > 0:
                if k % 2 == 1:
                    p = p * b
                b = b * b
                k = k // 2
            eos = eos + tl.abs(eos) * (p - 1.0)
    key = tl.maximum(tl.load(best_ptr), _argmax_key(eos, eos_col))
    tl.store(best_ptr, _KEY_MIN)  # ready for the next step
    col = 0x7FFFFFFF - (key & 0x7FFFFFFF)
    tok = col
    if HAS_IDS:
        tok = tl.load(ids_ptr + col)
    tok = tl.where(pos == 0, tl.load(bos_ptr), tok)
    tl.store(next_ptr, tok)
    tl.store(tok_ptr, tok)
    tl.store(pos_ptr, pos + 1)


def new_best(device: Any) -> Any:
    """The running maximum `gemv(argmax=...)` fills and `choose` reads and resets."""
    return torch.full((1,), KEY_MIN, dtype=torch.int64, device=device)


def choose(
    best: Any,
    logits: Any,
    eos_col: int,
    pos: Any,
    min_new: Any,
    forced_bos: Any,
    next_tok: Any,
    tok: Any,
    *,
    decay: tuple[int, float] | None = None,
    head_ids: Any = None,
) -> None:
    """generate()'s greedy choice after a head gemv with argmax=(best, eos_col): the EOS score
    with min_new_tokens and the exponential length penalty against the best other row, the row
    mapped to its vocabulary id (`head_ids`), the forced first token at pos 0; writes next_tok
    and tok, advances pos, resets best. One program."""
    start, factor = decay if decay is not None else (0, 1.0)
    _choose_kernel[(1,)](
        best, logits, pos, min_new, forced_bos, head_ids if head_ids is not None else pos,
        next_tok, tok, eos_col, start, factor,
        DECAY=decay is not None, HAS_IDS=head_ids is not None, USE_PDL=PDL, launch_pdl=PDL,
    )  # fmt: skip
