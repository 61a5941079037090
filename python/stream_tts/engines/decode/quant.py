"""Weight-only int8: one symmetric scale per output row, w ≈ q * scale[row], |q| <= 127; and
int4 with a scale per row and group of inputs (below).

A decode step at batch 1 reads every weight once and does two flops per weight, so its time is
the bytes it reads: int8 halves them. Activations stay in float; kernels.gemv multiplies the
int8 row by x in float32 and scales the row's sum once.
"""

from __future__ import annotations

from typing import Any

CHUNK_ROWS = 16384  # rows quantised at a time: the float32 copy of a 1 GB head stays small


def quantize_rows(w: Any) -> tuple[Any, Any]:
    """(int8 [N, K], float32 [N]) for a weight w [N, K]; an all-zero row gets scale 1."""
    import torch

    q = torch.empty(w.shape, dtype=torch.int8, device=w.device)
    scale = torch.empty(w.shape[0], dtype=torch.float32, device=w.device)
    for lo in range(0, w.shape[0], CHUNK_ROWS):
        part = w[lo : lo + CHUNK_ROWS].float()
        amax = part.abs().amax(dim=1)
        s = torch.where(amax > 0, amax / 127.0, torch.ones_like(amax))
        q[lo : lo + CHUNK_ROWS] = torch.round(part / s[:, None]).clamp_(-127, 127).to(torch.int8)
        scale[lo : lo + CHUNK_ROWS] = s
    return q, scale


# Weight-only int4: groups of GROUP consecutive inputs of a row share one symmetric scale,
# w ≈ q * scale[row, k // GROUP], |q| <= 7. Per-row scales (int8's) leave too few levels for
# a row's outliers; 128 is the usual group size of int4 GEMV kernels (AWQ, GPTQ): 0.125 bit a
# weight for its float16 scale, and a group spans whole 128-byte lines of a row's packed bytes.
GROUP = 128


def int4_group(k: int) -> int:
    """The group size for K inputs: GROUP, or for small models the largest power of two that
    divides K / 2 (each half of a packed row must hold whole groups)."""
    g = GROUP
    while g > 1 and (k // 2) % g:
        g //= 2
    if k % 2 or (k // 2) % g:
        raise ValueError(f"int4: K={k} must be even")
    return g


def quantize_int4(w: Any, group: int | None = None) -> tuple[Any, Any]:
    """(uint8 [N, K/2], float16 [N, K/group]) for a weight w [N, K].

    Packing: byte j of a row holds column j in its low nibble and column j + K/2 in its high
    nibble, each as q + 8 (1..15). A kernel's contiguous load of bytes [j0, j1) then yields two
    runs of columns, each aligned with a contiguous run of x, whatever its block size, and
    split-K programs own whole byte ranges. An all-zero group gets scale 1.
    """
    import torch

    n, k = w.shape
    g = group or int4_group(k)
    if k % (2 * g):
        raise ValueError(f"int4: K={k} is not a multiple of twice the group {g}")
    half = k // 2
    q = torch.empty(n, half, dtype=torch.uint8, device=w.device)
    scale = torch.empty(n, k // g, dtype=torch.float16, device=w.device)
    for lo in range(0, n, CHUNK_ROWS):
        part = w[lo : lo + CHUNK_ROWS].float().view(-1, k // g, g)
        amax = part.abs().amax(dim=2)
        # float16 scales, rounded before quantising (the kernel multiplies by these);
        # 2^-14 (float16's smallest normal) keeps tiny groups off subnormals.
        s = torch.where(amax > 0, amax / 7.0, torch.ones_like(amax)).clamp_(min=2.0**-14)
        s = s.to(torch.float16)
        qi = torch.round(part / s.float()[:, :, None]).clamp_(-7, 7).to(torch.int16) + 8
        qi = qi.view(-1, k)
        q[lo : lo + CHUNK_ROWS] = (qi[:, :half] | (qi[:, half:] << 4)).to(torch.uint8)
        scale[lo : lo + CHUNK_ROWS] = s
    return q, scale


def unpack_int4(q: Any) -> Any:
    """The int8 values [N, K] (-8..7) of packed int4 bytes [N, K/2]."""
    import torch

    lo = (q & 0x0F).to(torch.int8) - 8
    hi = (q >> 4).to(torch.int8) - 8
    return torch.cat([lo, hi], dim=1)


def dequantize(q: Any, scale: Any, dtype: Any) -> Any:
    """The float weight a quantised weight stands for, in `dtype`: int8 with a scale per row,
    or packed int4 (uint8) with a scale per row and group."""
    import torch

    if q.dtype == torch.uint8:
        v = unpack_int4(q).float()
        n, k = v.shape
        groups = scale.shape[1]
        w = v.view(n, groups, k // groups) * scale.float()[:, :, None]
        return w.view(n, k).to(dtype)
    return (q.float() * scale[:, None]).to(dtype)
