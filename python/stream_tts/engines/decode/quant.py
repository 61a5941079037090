"""Weight-only int8: one symmetric scale per output row, w ≈ q * scale[row], |q| <= 127.

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


def dequantize(q: Any, scale: Any, dtype: Any) -> Any:
    """The float weight an int8 weight stands for, in `dtype`."""
    return (q.float() * scale[:, None]).to(dtype)
