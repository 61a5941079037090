"""Cross-attention folded per sentence: two GEMVs per decoder layer instead of q-proj,
attention and out-proj.

The encoder's keys and values are fixed for a sentence, so with x the LayerNormed residual and
s = hd^-0.5, head h's scores over source token t are

    s * (W_q,h x + b_q,h) . K_h,t  =  A[h, t] . x + c[h, t],
    A[h, t] = s * W_q,h^T K_h,t  (a row of d),   c[h, t] = s * b_q,h . K_h,t,

and the attention output added to the residual stream is

    W_o (concat_h sum_t p[h, t] V_h,t) + b_o  =  N p + b_o,   N[:, (h, t)] = W_o,h V_h,t,

with p[h, :] the softmax of head h's scores. A [heads * P, d] and N [d, heads * P] are computed
once per sentence (in the encoder's graph; A without s, which the scores GEMV applies as its
row scale), P the source length rounded up to a power of two; the scores of pads and of the
rounding get c = -inf. A step then runs kernels.gemv twice: A with the LayerNorm prologue and c
as bias, and N with the per-head softmax prologue, the bias and the residual add. For short
sources they are fewer bytes than W_q and W_o (3.3B, 16 heads, d 2048: 4 MB against 16.8 MB at
32 tokens), and one launch fewer. c and K's int8 scaling are computed for all layers at once
(the encoder's graph paid 0.8 ms more when each layer had ten small launches).

The fold uses the weights the step would use: for int8, the rows of W_q scaled into K before
the product (exact int8 -> bf16), and W_o's row scales kept as N's. For int8 the fold keeps
bf16 copies of every layer's W_q and W_o (their integer values, exact; 2 * layers * d * d * 2
bytes, 400 MB on the 3.3B), stacked so that A and N are one batched product each for all
layers: converting the int8 matrices every sentence cost ~1 ms of the encoder's graph.
int4's scales (per row and group of inputs) fold into neither K nor N's rows, so for int4 the
copies hold the dequantised weights (what the step's int4 GEMVs compute with, rounded to bf16)
and N has no row scales.
"""

from __future__ import annotations

from typing import Any

from stream_tts.engines.decode.quant import dequantize

# int8: fold from stacked bf16 copies of W_q and W_o (benches switch it off for comparison:
# then each sentence converts the int8 matrices, layer by layer).
STACKED = True


def fold_len(n_src: int) -> int:
    """P: the folded length of a source of `n_src` (padded) tokens, a power of two."""
    return 1 << max(0, n_src - 1).bit_length()


def fold_limit(heads: int, d: int, itemsize: int, unfolded: int) -> int:
    """The longest P whose A and N (heads * P * d each, `itemsize` bytes an entry) are no more
    bytes than W_q and W_o (`unfolded`); 0 if none is."""
    p = 1
    while 2 * heads * (2 * p) * d * itemsize <= unfolded:
        p *= 2
    return p if 2 * heads * p * d * itemsize <= unfolded else 0


class CrossFold:
    """The folded cross-attention of a FusedDecoder: A, c, N for every layer, and the step."""

    def __init__(self, dec: Any, max_len: int) -> None:
        import torch

        self.dec = dec  # the FusedDecoder
        lin = dec.layers[0].cq
        self.d = int(lin.w.shape[0])  # W_q is [d, d] (int4: [d, d / 2], packed)
        self.heads = dec.heads
        self.max_len = max_len
        self.dtype = dec.dtype
        n, dev, f32 = len(dec.layers), lin.w.device, torch.float32
        size = self.heads * max_len
        self.a = torch.zeros(n, size * self.d, dtype=self.dtype, device=dev)
        self.c = torch.zeros(n, size, dtype=f32, device=dev)
        self.n = torch.zeros(n, self.d * size, dtype=self.dtype, device=dev)
        self.scores = torch.zeros(size, dtype=f32, device=dev)
        # A is stored without s: the scores GEMV scales its rows (s everywhere).
        self.s = torch.full((size,), dec.cross_scale, dtype=f32, device=dev)
        # Every layer's b_q (and int8 row scales of W_q) at once: c and K's scaling are one
        # batched product for all layers, not a few launches per layer.
        hd = self.d // self.heads
        shape = (n, self.heads, hd)
        self.q_bias = torch.stack([ly.cq.bias.float() for ly in dec.layers]).view(*shape, 1)
        self.q_scale = None
        self.wq: Any = None  # int8 / int4: [layers, heads, hd, d] and [layers, heads, d, hd]
        self.wo: Any = None
        self.int4 = lin.int4
        if lin.scale is not None and not self.int4:
            self.q_scale = torch.stack([ly.cq.scale for ly in dec.layers]).view(*shape)
        if lin.scale is not None and (STACKED or self.int4):
            self.wq = torch.empty(n, self.heads, hd, self.d, dtype=self.dtype, device=dev)
            self.wo = torch.empty(n, self.heads, self.d, hd, dtype=self.dtype, device=dev)
            for i, ly in enumerate(dec.layers):  # a layer at a time: no float32 copy of all
                self.wq[i].copy_(self._dense(ly.cq).view(self.heads, hd, self.d))
                self.wo[i].copy_(self._dense(ly.co).view(self.d, self.heads, hd).transpose(0, 1))

    def _dense(self, lin: Any) -> Any:
        """lin's matrix for the fold's products: int8's integer values (its row scales are
        applied elsewhere), int4's dequantised weights."""
        if self.int4:
            return dequantize(lin.w, lin.scale, self.dtype)
        return lin.w

    @staticmethod
    def of(dec: Any, mode: bool | None, max_src: int) -> CrossFold | None:
        """The fold for every source length (mode True), none (False), or up to the longest
        whose A and N are no more bytes than W_q and W_o (None)."""
        if mode is False:
            return None
        longest = fold_len(max_src)
        if mode is None:
            ly = dec.layers[0]
            size = dec.dtype.itemsize
            longest = fold_limit(dec.heads, ly.cq.w.shape[0], size, ly.cq.nbytes + ly.co.nbytes)
            longest = min(longest, fold_len(max_src))
        return CrossFold(dec, longest) if longest else None

    def folds(self, n_src: int) -> bool:
        return fold_len(n_src) <= self.max_len

    def nbytes(self, n_src: int) -> int:
        """A and N's bytes for one layer."""
        return int(2 * self.heads * fold_len(n_src) * self.d * self.a.element_size())

    def _views(self, i: int, p: int) -> tuple[Any, Any, Any]:
        size = self.heads * p
        a = self.a[i, : size * self.d].view(size, self.d)
        return a, self.c[i, :size], self.n[i, : self.d * size].view(self.d, size)

    def compute(self, cross_cache: Any, keep: Any, n_src: int) -> None:
        """A, c, N of every layer for the source in cross_cache[:, :, 0, :, :n_src] (pads where
        `keep` is False)."""
        import torch

        if not self.folds(n_src):
            return
        p = fold_len(n_src)
        layers, h, d = len(self.dec.layers), self.heads, self.d
        hd = d // h
        k = cross_cache[:, 0, 0, :, :p]  # [layers, h, p, hd]
        on = keep[:p] & (torch.arange(p, device=keep.device) < n_src)
        c = torch.matmul(k.float(), self.q_bias).view(layers, h, p) * self.dec.cross_scale
        self.c[:, : h * p].view(layers, h, p).copy_(torch.where(on, c, float("-inf")))
        if self.q_scale is not None:
            k = (k.float() * self.q_scale[:, :, None, :]).to(self.dtype)
        if self.wq is not None:  # all layers at once, from the bf16 copies
            size = h * p
            a = self.a[:, : size * d].view(layers, h, p, d)
            a.copy_(torch.matmul(k, self.wq))
            v = cross_cache[:, 1, 0, :, :p].transpose(2, 3)  # [layers, h, hd, p]
            n = self.n[:, : d * size].view(layers, d, h, p)
            n.copy_(torch.matmul(self.wo, v).transpose(1, 2))
            return
        for i, ly in enumerate(self.dec.layers):
            a, _, n = self._views(i, p)
            torch.bmm(k[i], ly.cq.w.view(h, hd, d).to(self.dtype), out=a.view(h, p, d))
            wo = ly.co.w.view(d, h, hd).transpose(0, 1).to(self.dtype)  # [h, d, hd]
            v = cross_cache[i, 1, 0, :, :p].transpose(1, 2)
            n.view(d, h, p).copy_(torch.bmm(wo, v).transpose(0, 1))

    def layer_args(self, i: int, n_src: int, ly: Any) -> tuple[Any, Any, Any, Any, Any, int]:
        """Layer i's (A, s, c, N, N's row scales or None, P): what `attend` multiplies, for
        the one-launch layer (layer_kernel.py)."""
        p = fold_len(n_src)
        a, c, n = self._views(i, p)
        n_scale = None if self.int4 else ly.co.scale  # int4: in N already
        return a, self.s[: self.heads * p], c, n, n_scale, p

    def attend(self, i: int, n_src: int, ly: Any, x: Any) -> None:
        """Layer i's cross-attention added into the residual stream x."""
        dec = self.dec
        p = fold_len(n_src)
        a, c, n = self._views(i, p)
        scores = self.scores[: self.heads * p]
        dec.ops.gemv(a, x, scores, scale=self.s[: len(scores)], bias=c, ln=ly.ln2, **dec.extra)
        n_scale = None if self.int4 else ly.co.scale  # int4: in N already
        dec.ops.gemv(n, scores, x, scale=n_scale, bias=ly.co.bias, add=True, softmax=p, **dec.extra)
