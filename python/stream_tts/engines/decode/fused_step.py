"""NLLB decoder step as four to eight fused launches per layer (kernels.py), or one
(PERSISTENT, layer_kernel.py; off), int8 or int4 weights optional.

Per layer: QKV with the self-attention LayerNorm in its prologue and K/V written straight into
the cache; self-attention and its out-proj added into the residual stream (one launch with
FUSE_ATTN_OUT, else two); cross-attention (two launches folded, cross_fold.py, or three: query
with its LayerNorm, attention, out-proj added); the FFN (one launch with FUSE_FFN: LayerNorm,
fc1, ReLU, fc2 and the residual add; else fc1 with LayerNorm and ReLU, then fc2 added). Then
the final LayerNorm (one small launch: the output layer's ~16k programs would each compute its
statistics again) and the output layer. The residual stream is float32 (transformers keeps it
in the model's dtype; float32 on CPU, where both compute the same thing).

The fused FFN reads the residual (its LayerNorm) in every program while adding into it, so it
adds into a second vector instead: the residual alternates between two vectors, layer by layer,
and each layer's QKV launch clears the one the layer's FFN will add into (the one the previous
FFN read, which no launch reads any more).

The output layer may keep only some rows of the vocabulary (`head_ids`, a script head): the
logits are then those rows' scores, in `head_ids` order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from stream_tts.engines.decode.cross_fold import CrossFold
from stream_tts.engines.decode.quant import quantize_int4, quantize_rows

# bf16: the model's own dtype (float32 on CPU); int8: a scale per row; int4: a scale per row
# and group of 128 inputs (quant.py), the cross-attention's W_q / W_o and the output layer too.
WEIGHTS = ("bf16", "int8", "int4")
# int4: the output layer in int4 too (else int8); benches switch it.
INT4_HEAD = True
# Fusions, read as a FusedDecoder is built. Off: on an H200 (NLLB-3.3B, benches/results/
# 2026-11-30-h200-nllb-fused-ffn.md) the one-launch FFN took 41-48 µs against 20-25 µs for
# fc1 + fc2 (int8 step 1.13 -> 1.83 ms), and attention + out-proj 7.8 µs against 2.5 + 4.1
# (int8 step +0.04 ms, bf16 -0.01 ms).
FUSE_FFN = False
FUSE_ATTN_OUT = False
# Each layer with the folded cross-attention as one persistent launch (layer_kernel.py)
# instead of seven, on the kernels; read as a FusedDecoder is built. Off: on an H200
# (NLLB-3.3B int8, benches/results/2026-11-30-h200-nllb-one-launch-layer.md) a layer took
# 38-65 µs over the configurations tried, and moved by 11 µs between machines, against
# 41.8-43.7 µs launched kernel by kernel: its six grid barriers alone cost 6-18 µs, about what
# the launches cost.
PERSISTENT = False


@dataclass
class Linear:
    w: Any  # [N, K], the model's dtype or int8; int4: uint8 [N, K/2], two inputs a byte
    scale: Any  # float32 [N] for int8, float16 [N, K/128] for int4, else None
    bias: Any  # [N] or None

    @staticmethod
    def of(w: Any, bias: Any, weights: str) -> Linear:
        if weights == "int8":
            q, s = quantize_rows(w)
            return Linear(q, s, bias)
        if weights == "int4":
            q, s = quantize_int4(w)
            return Linear(q, s, bias)
        return Linear(w.contiguous(), None, bias)

    @staticmethod
    def transposed(w: Any, bias: Any, weights: str) -> Linear:
        """w [N, K] stored as [K, N] (the fused FFN's fc2); int8 scales stay per row of w,
        i.e. per column of the stored matrix. No int4 (the fused FFN has no int4 path)."""
        if weights == "int4":
            raise ValueError("int4 weights: the fused FFN (FUSE_FFN) has no int4 path")
        if weights == "int8":
            q, s = quantize_rows(w)
            return Linear(q.t().contiguous(), s, bias)
        return Linear(w.t().contiguous(), None, bias)

    @property
    def int4(self) -> bool:
        return str(self.w.dtype) == "torch.uint8"

    @property
    def nbytes(self) -> int:
        return int(self.w.numel() * self.w.element_size())


@dataclass
class Layer:
    ln1: tuple[Any, Any, float]
    qkv: Linear
    out: Linear
    ln2: tuple[Any, Any, float]
    cq: Linear
    co: Linear
    ln3: tuple[Any, Any, float]
    fc1: Linear
    fc2: Linear  # stored transposed ([ffn, d]) when the FFN is one launch


def ln_args(mod: Any) -> tuple[Any, Any, float]:
    return (mod.weight, mod.bias, float(mod.eps))


def triton_ops(device: Any) -> Any:
    """kernels.py on CUDA when Triton imports, else None (torch_ops runs the step)."""
    if device.type != "cuda":
        return None
    try:
        from stream_tts.engines.decode import kernels
    except ImportError:
        return None
    return kernels


class FusedDecoder:
    """The decoder weights of an NllbLoop, packed for the fused step."""

    def __init__(
        self,
        dec: Any,
        self_qkv: Sequence[tuple[Any, Any]],
        lm_head: Any,
        *,
        weights: str = "bf16",
        head_ids: Any = None,
        ops: Any = None,
        cross_fold: bool | None = None,
        max_src: int = 512,
    ) -> None:
        """`cross_fold`: fold the cross-attention per sentence (cross_fold.py) for every source
        length (True), none (False), or those where it reads fewer bytes (None); `max_src`:
        the longest (padded) source."""
        import torch

        from stream_tts.engines.decode import torch_ops

        if weights not in WEIGHTS:
            raise ValueError(f"unknown NLLB weights {weights!r}; use one of {', '.join(WEIGHTS)}")
        self.ops = ops if ops is not None else torch_ops
        self.fuse_ffn, self.fuse_attn_out = FUSE_FFN, FUSE_ATTN_OUT
        if weights == "int4" and self.fuse_attn_out:
            raise ValueError("int4 weights: attention + out-proj in one launch has no int4 path")
        fc2 = Linear.transposed if self.fuse_ffn else Linear.of
        self.layers = [
            Layer(
                ln1=ln_args(lyr.self_attn_layer_norm),
                qkv=Linear.of(w, b, weights),
                out=Linear.of(lyr.self_attn.out_proj.weight, lyr.self_attn.out_proj.bias, weights),
                ln2=ln_args(lyr.encoder_attn_layer_norm),
                cq=Linear.of(lyr.encoder_attn.q_proj.weight, lyr.encoder_attn.q_proj.bias, weights),
                co=Linear.of(
                    lyr.encoder_attn.out_proj.weight, lyr.encoder_attn.out_proj.bias, weights
                ),
                ln3=ln_args(lyr.final_layer_norm),
                fc1=Linear.of(lyr.fc1.weight, lyr.fc1.bias, weights),
                fc2=fc2(lyr.fc2.weight, lyr.fc2.bias, weights),
            )
            for lyr, (w, b) in zip(dec.layers, self_qkv, strict=True)
        ]
        if self.fuse_ffn and weights == "bf16" and lm_head.device.type == "cuda":
            # The model's fc2 becomes a view of the transposed copy: one copy of its weights.
            for lyr, ly in zip(dec.layers, self.layers, strict=True):
                lyr.fc2.weight.data = ly.fc2.w.t()
        self.final_ln = ln_args(dec.layer_norm)
        rows = lm_head if head_ids is None else lm_head.index_select(0, head_ids)
        head = "int8" if weights == "int4" and not INT4_HEAD else weights
        self.head = Linear.of(rows, None, head)
        # torch_ops computes products of quantised weights in the model's dtype.
        self.extra = {"compute": lm_head.dtype} if self.ops is torch_ops else {}
        self.dtype = lm_head.dtype
        cross = dec.layers[0].encoder_attn
        self.heads = int(cross.num_heads)
        self.cross_scale = float(cross.scaling)  # M2M100's: head_dim ** -0.5
        d = lm_head.shape[1]
        dev = lm_head.device
        f32 = torch.float32
        self.x = torch.zeros(d, dtype=f32, device=dev)  # the residual stream (embed's)
        # With the fused FFN, layer i's residual is xs[i % 2] (see the module's docstring).
        self.xs = [self.x, torch.zeros(d, dtype=f32, device=dev) if self.fuse_ffn else self.x]
        self.xn = torch.zeros(d, dtype=f32, device=dev)  # its final LayerNorm
        self.q = torch.zeros(d, dtype=f32, device=dev)
        self.a = torch.zeros(d, dtype=f32, device=dev)
        self.h = torch.zeros(dec.layers[0].fc1.weight.shape[0], dtype=f32, device=dev)
        self.logits = torch.zeros(self.head.w.shape[0], dtype=f32, device=dev)
        self.fold = CrossFold.of(self, cross_fold, max_src)
        self.persistent: Any = None  # layer_kernel, when each layer is one launch
        fused_any = self.fuse_ffn or self.fuse_attn_out
        if PERSISTENT and self.ops is not torch_ops and self.fold is not None and not fused_any:
            from stream_tts.engines.decode import layer_kernel

            self.persistent = layer_kernel
            self.bar = layer_kernel.new_barrier(dev)
        # The fused FFN's partial sums per program group (kernels only).
        self.ffn_extra: dict[str, Any] = {}
        if self.fuse_ffn and hasattr(self.ops, "ffn_scratch"):
            scratch = self.ops.ffn_scratch(self.h.shape[0], d, dev)
            self.ffn_extra = {"scratch": scratch}

    def nbytes(self, n_src: int) -> int:
        """Weight bytes one step reads for a source of `n_src` (padded) tokens (LayerNorms and
        biases left out); the folded cross-attention's matrices count as weights."""
        per = [lin.nbytes for ly in self.layers for lin in (ly.qkv, ly.out, ly.fc1, ly.fc2)]
        if self.fold is not None and self.fold.folds(n_src):
            per.append(len(self.layers) * self.fold.nbytes(n_src))
        else:
            per += [lin.nbytes for ly in self.layers for lin in (ly.cq, ly.co)]
        return sum(per) + self.head.nbytes

    def _gemv(self, lin: Linear, x: Any, out: Any, **kw: Any) -> None:
        self.ops.gemv(lin.w, x, out, scale=lin.scale, bias=lin.bias, **kw, **self.extra)

    def layer(
        self, i: int, pos: Any, self_cache: Any, cross_cache: Any, src_keep: Any, n_self: int,
        n_src: int,
    ) -> None:  # fmt: skip
        """Decoder layer i on the residual stream self.x (arguments as in step)."""
        ops, ly = self.ops, self.layers[i]
        x, nxt = self.xs[i % 2], self.xs[(i + 1) % 2]
        q, a = self.q, self.a
        cache = self_cache[i, :, 0]
        fold = self.fold
        if self.persistent is not None and fold is not None and fold.folds(n_src):
            nxt_qkv = self.layers[i + 1].qkv.w if i + 1 < len(self.layers) else None
            self.persistent.decoder_layer(
                ly, fold.layer_args(i, n_src, ly), x, (q, a, fold.scores, self.h), cache, pos,
                self.bar, heads=self.heads, next_qkv=nxt_qkv,
            )  # fmt: skip
            return
        # Clearing `nxt` here is safe: the FFN before, which read it, has finished (PDL waits
        # on the whole previous launch), and nothing in this layer reads it.
        zero = {"zero": nxt} if self.fuse_ffn else {}
        self._gemv(ly.qkv, x, q, ln=ly.ln1, kv=(cache, pos, self_cache.shape[-1]), **zero)
        if self.fuse_attn_out:
            out = ly.out
            ops.attend_out(
                q, cache[0], cache[1], out.w, x, pos=pos, n=n_self, scale=out.scale,
                bias=out.bias, **self.extra,
            )  # fmt: skip
        else:
            ops.attend(q, cache[0], cache[1], a, pos=pos, n=n_self)
            self._gemv(ly.out, a, x, add=True)
        if self.fold is not None and self.fold.folds(n_src):
            self.fold.attend(i, n_src, ly, x)
        else:
            self._gemv(ly.cq, x, q, ln=ly.ln2)
            cross = cross_cache[i, :, 0]
            ops.attend(q, cross[0], cross[1], a, keep=src_keep, n=n_src)
            self._gemv(ly.co, a, x, add=True)
        if self.fuse_ffn:
            fc1, fc2 = ly.fc1, ly.fc2
            fc1_args = (fc1.w, fc1.scale, fc1.bias)
            fc2_args = (fc2.w, fc2.scale, fc2.bias)
            ops.ffn(x, nxt, ly.ln3, fc1_args, fc2_args, **self.ffn_extra, **self.extra)
        else:
            self._gemv(ly.fc1, x, self.h, ln=ly.ln3, relu=True)
            self._gemv(ly.fc2, self.h, x, add=True)

    @property
    def out_x(self) -> Any:
        """The residual stream after the last layer."""
        return self.xs[len(self.layers) % 2]

    def step(
        self,
        embed: tuple[Any, Any, float, int],
        tok: Any,
        pos: Any,
        self_cache: Any,
        cross_cache: Any,
        src_keep: Any,
        n_self: int,
        n_src: int,
        argmax: tuple[Any, int] | None = None,
    ) -> Any:
        """Logits of the token `tok` at decoder position `pos` (both 1-element device tensors);
        writes its K/V into self_cache[layer] at pos. self_cache/cross_cache: [layers, 2, 1,
        heads, len, hd]. `n_self` bounds the keys torch_ops looks at (the kernels read pos).
        `argmax`: kernels.gemv's (best, excl) for the output layer (kernels only)."""
        table, positions, scale, off = embed
        x = self.x
        self.ops.embed(table, positions, tok, pos, x, scale, off)
        for i in range(len(self.layers)):
            self.layer(i, pos, self_cache, cross_cache, src_keep, n_self, n_src)
        extra = {"argmax": argmax} if argmax is not None else {}
        self.ops.layer_norm(self.out_x, self.final_ln, self.xn)
        self._gemv(self.head, self.xn, self.logits, **extra)
        return self.logits
