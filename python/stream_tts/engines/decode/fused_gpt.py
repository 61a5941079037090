"""XTTS-v2's GPT-2 blocks as five fused launches per layer (kernels.py), for XttsLoop's step.

Per block: QKV with ln_1 in its prologue and K/V written straight into the cache at the device
position; one-query attention over the cache up to that position; c_proj added into the
residual stream; ln_2 + c_fc + GELU (tanh form, GPT-2's gelu_new); mlp c_proj added. The
residual stream is float32 (today's loop keeps it in the model's dtype); the caller turns it
back into the model's dtype for ln_f, final_norm and the heads, which stay as they are.

GPT-2 keeps its Conv1D weights as [in, out]; the kernels read rows of [out, in]. They are
re-laid once, in place: each Conv1D weight becomes the transposed view of an [out, in] copy, so
coqui's modules (and our prefill) compute the same thing on the one copy in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stream_tts.engines.decode.fused_step import Linear, ln_args

ATTEND_BLOCK_T = 64  # keys per attention loop iteration (head_dim 64: 8 KB of K per block)


@dataclass
class Block:
    ln1: tuple[Any, Any, float]
    qkv: Linear
    proj: Linear
    ln2: tuple[Any, Any, float]
    fc: Linear
    out: Linear


def _rows(conv: Any) -> Linear:
    """A Conv1D's weight as [out, in] rows; the module keeps a transposed view of them."""
    w = conv.weight.detach()
    rows = w.t().contiguous()  # a no-op when an earlier packing already re-laid it
    if rows.data_ptr() != w.data_ptr():
        conv.weight.data = rows.t()
    return Linear(rows, None, conv.bias.detach())


class FusedGpt:
    """GPT-2 blocks packed for the fused step; `ops` is kernels (Triton) or torch_ops."""

    def __init__(self, blocks: list[Any], heads: int, ops: Any) -> None:
        import torch

        self.ops = ops
        self.heads = heads
        self.blocks = [
            Block(
                ln1=ln_args(b.ln_1),
                qkv=_rows(b.attn.c_attn),
                proj=_rows(b.attn.c_proj),
                ln2=ln_args(b.ln_2),
                fc=_rows(b.mlp.c_fc),
                out=_rows(b.mlp.c_proj),
            )
            for b in blocks
        ]
        first = self.blocks[0]
        d = first.proj.w.shape[0]
        dev = first.proj.w.device
        f32 = torch.float32
        self.block_t = ATTEND_BLOCK_T
        self.x = torch.zeros(d, dtype=f32, device=dev)  # the residual stream
        self.q = torch.zeros(d, dtype=f32, device=dev)
        self.a = torch.zeros(d, dtype=f32, device=dev)
        self.h = torch.zeros(first.fc.w.shape[0], dtype=f32, device=dev)

    @property
    def nbytes(self) -> int:
        """Weight bytes one step reads (LayerNorms and biases left out)."""
        return sum(lin.nbytes for b in self.blocks for lin in (b.qkv, b.proj, b.fc, b.out))

    def _gemv(self, lin: Linear, x: Any, out: Any, **kw: Any) -> None:
        self.ops.gemv(lin.w, x, out, scale=lin.scale, bias=lin.bias, **kw)

    def block(self, i: int, cache: Any, pos: Any, n_ctx: int) -> None:
        """Block i on the residual stream self.x; the token's K/V go to cache[i] at `pos`."""
        b, x, q, a = self.blocks[i], self.x, self.q, self.a
        kv = cache[i, :, 0]  # [2, heads, len, hd]
        self._gemv(b.qkv, x, q, ln=b.ln1, kv=(kv, pos, kv.shape[-1]))
        self.ops.attend(q, kv[0], kv[1], a, pos=pos, n=n_ctx, block_t=self.block_t)
        self._gemv(b.proj, a, x, add=True)
        self._gemv(b.fc, x, self.h, ln=b.ln2, gelu=True)
        self._gemv(b.out, self.h, x, add=True)

    def step(
        self, emb: Any, pos_emb: Any, tok: Any, gpos: Any, cache: Any, cpos: Any, n_ctx: int
    ) -> Any:
        """The last hidden state (float32 [d], before ln_f) of token `tok` at mel position
        `gpos` and cache slot `cpos` (1-element device tensors); cache [layers, 2, 1, heads,
        len, hd]. `n_ctx` bounds the keys torch_ops looks at (the kernels read cpos)."""
        self.ops.embed(emb, pos_emb, tok, gpos, self.x, 1.0, 0)
        for i in range(len(self.blocks)):
            self.block(i, cache, cpos, n_ctx)
        return self.x
