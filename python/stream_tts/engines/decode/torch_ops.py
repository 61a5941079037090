"""The fused decode step's operations in plain torch: what kernels.py computes, for CPU/MPS
(and CUDA without Triton). Same signatures as kernels.gemv / attend / embed.

Matrix products run in the weight's dtype (int8 and int4 weights are dequantised to
`compute`), so with float32 weights the step is the float32 computation transformers does.
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
    zero: Any = None,
    compute: Any = None,
    config: Any = None,
) -> None:
    import torch
    import torch.nn.functional as F

    quantised = w.dtype in (torch.int8, torch.uint8)  # uint8: packed int4
    dt = compute if compute is not None else (x.dtype if quantised else w.dtype)
    weight = dequantize(w, scale, dt) if scale is not None else w
    h = x
    if softmax:  # x: scores, a softmax over each run of `softmax`
        h = torch.softmax(x.float().view(-1, softmax), dim=-1).view(-1)
    if ln is not None:
        h = F.layer_norm(h.to(ln[0].dtype), (h.shape[-1],), ln[0], ln[1], ln[2])
    y = F.linear(h.to(dt), weight, None if bias is None else bias.to(dt)).float()
    if zero is not None:
        zero.zero_()
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
    block_t: int = 0,
    compute: Any = None,
) -> None:
    """As kernels.attend_out: attend, then the out-projection added into out."""
    import torch

    a = torch.empty(q.shape, dtype=torch.float32, device=q.device)
    attend(q, k, v, a, pos=pos, n=n)
    gemv(w, a, out, scale=scale, bias=bias, add=True, compute=compute)


def ffn(
    x: Any,
    out: Any,
    ln: tuple[Any, Any, float],
    fc1: tuple[Any, Any, Any],
    fc2t: tuple[Any, Any, Any],
    *,
    scratch: Any = None,
    compute: Any = None,
    config: Any = None,
) -> None:
    """As kernels.ffn: out += x + fc2(relu(fc1(LayerNorm(x)))), fc2's weight transposed
    (`scratch`, the kernel's partial sums, unused)."""
    import torch

    w1, s1, b1 = fc1
    w2t, s2, b2 = fc2t
    h = torch.empty(w1.shape[0], dtype=torch.float32, device=x.device)
    gemv(w1, x, h, scale=s1, bias=b1, ln=ln, relu=True, compute=compute)
    dt = compute if compute is not None else (x.dtype if w2t.dtype == torch.int8 else w2t.dtype)
    # W2's scales are per output: per column of the transposed weight.
    w2 = (w2t.float() * s2[None, :]).to(dt) if s2 is not None else w2t
    y = torch.nn.functional.linear(h.to(dt), w2.t(), None if b2 is None else b2.to(dt))
    out.add_(x + y.float())


def layer_norm(x: Any, ln: tuple[Any, Any, float], out: Any) -> None:
    import torch.nn.functional as F

    out.copy_(F.layer_norm(x.to(ln[0].dtype), (x.shape[-1],), ln[0], ln[1], ln[2]))


def embed(table: Any, positions: Any, tok: Any, pos: Any, out: Any, scale: float, off: int) -> None:
    e = table.index_select(0, tok).float() * scale
    out.copy_((e + positions.index_select(0, pos + off).float()).view(-1))
