"""The fused decode step's operations in plain torch: what kernels.py computes, for CPU/MPS
(and CUDA without Triton). Same signatures as kernels.gemv / attend / embed.

Matrix products run in the weight's dtype (int8 weights are dequantised to `compute`), so with
float32 weights the step is the float32 computation transformers does.
"""

from __future__ import annotations

from typing import Any

from stream_tts.engines.decode.quant import dequantize


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
    softmax: int = 0,
    compute: Any = None,
    config: Any = None,
) -> None:
    import torch
    import torch.nn.functional as F

    dt = compute if compute is not None else (x.dtype if w.dtype == torch.int8 else w.dtype)
    weight = dequantize(w, scale, dt) if scale is not None else w
    h = x
    if softmax:  # x: scores, a softmax over each run of `softmax`
        h = torch.softmax(x.float().view(-1, softmax), dim=-1).view(-1)
    if ln is not None:
        h = F.layer_norm(h.to(ln[0].dtype), (h.shape[-1],), ln[0], ln[1], ln[2])
    y = F.linear(h.to(dt), weight, None if bias is None else bias.to(dt)).float()
    if relu:
        y = F.relu(y)
    if gelu:
        y = F.gelu(y, approximate="tanh")
    if add:
        out.add_(y)
    elif kv is not None:
        cache, pos, hd = kv
        d = out.shape[0]
        out.copy_(y[:d])
        heads = d // hd
        cache[0].index_copy_(1, pos, y[d : 2 * d].view(heads, 1, hd).to(cache.dtype))
        cache[1].index_copy_(1, pos, y[2 * d :].view(heads, 1, hd).to(cache.dtype))
    else:
        out.copy_(y)


def attend(
    q: Any,
    k: Any,
    v: Any,
    out: Any,
    *,
    pos: Any = None,
    keep: Any = None,
    n: int = 0,
    block_t: int = 0,
) -> None:
    """As kernels.attend (`block_t`, the kernel's tiling, unused); `n` keys are looked at
    (self-attention: n > pos, masked to 0..pos)."""
    import torch
    import torch.nn.functional as F

    heads, _, hd = k.shape
    if pos is not None:
        mask = torch.arange(n, device=k.device) <= pos
    else:
        mask = keep[:n]
    a = F.scaled_dot_product_attention(
        q.view(1, heads, 1, hd).to(k.dtype),
        k[:, :n].unsqueeze(0),
        v[:, :n].unsqueeze(0),
        attn_mask=mask.view(1, 1, 1, n),
    )
    out.copy_(a.reshape(-1))


def layer_norm(x: Any, ln: tuple[Any, Any, float], out: Any) -> None:
    import torch.nn.functional as F

    out.copy_(F.layer_norm(x.to(ln[0].dtype), (x.shape[-1],), ln[0], ln[1], ln[2]))


def embed(table: Any, positions: Any, tok: Any, pos: Any, out: Any, scale: float, off: int) -> None:
    e = table.index_select(0, tok).float() * scale
    out.copy_((e + positions.index_select(0, pos + off).float()).view(-1))
