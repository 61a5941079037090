"""Greedy NLLB-200 (M2M100) translation with our own encoder pass and decode loop.

Computes what transformers' `generate(num_beams=1, do_sample=False, forced_bos_token_id=...)`
computes, with the processors an NLLB generation config can ask for (min_new_tokens, the
exponential EOS length penalty), from the same weights:

- the q/k/v projections of each attention are one matrix (the modules' weights become views of
  it, so the stock path still works and no memory is doubled): one launch instead of three;
- the self-attention KV cache is allocated once for `max_len` tokens, the cross-attention K/V
  once per sentence for its (padded) source length;
- on CUDA the encoder (per padded source length) and each decode step (per pair of padded cache
  and source lengths) are CUDA graphs; the step also picks the next token and advances the
  position on the device, so the host only reads one token id per step.

Padded lengths come from SRC_BUCKETS and SELF_BUCKETS; pads are masked out of attention.

The fused step (the default on CUDA with Triton; always with int8 or int4 weights or a script
head) runs the decoder as fused_step.FusedDecoder: Triton kernels on CUDA (kernels.py, seven
launches per layer with the folded cross-attention, one graph per source length since the
kernels read the position on the device), the same function in torch elsewhere (torch_ops.py).
A sentence's inputs reach the device as one header, unpacked inside the encoder's graph.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

from stream_tts.engines.decode.fused_step import WEIGHTS, FusedDecoder, triton_ops
from stream_tts.engines.decode.runner import StepGraphs, bucket, one_query_attention

SRC_BUCKETS = (16, 32, 64, 128, 256, 512)
SELF_BUCKETS = (32, 128, 512)
NEG_INF = float("-inf")


def _fuse_linears(mods: list[Any], torch: Any) -> tuple[Any, Any]:
    """One weight and bias for several nn.Linear of one input; the modules then view into it."""
    weight = torch.cat([m.weight.data for m in mods], dim=0).contiguous()
    bias = torch.cat([m.bias.data for m in mods], dim=0).contiguous()
    start = 0
    for m in mods:
        n = m.weight.shape[0]
        m.weight.data = weight[start : start + n]
        m.bias.data = bias[start : start + n]
        start += n
    return weight, bias


class NllbLoop:
    """Translate token ids with an M2M100ForConditionalGeneration's weights."""

    def __init__(
        self,
        model: Any,
        *,
        graphs: bool,
        pad: bool | None = None,
        max_len: int = SELF_BUCKETS[-1],
        weights: str = "bf16",
        head_ids: Sequence[int] | None = None,
        fused: bool | None = None,
        kernels: str | None = None,
        cross_fold: bool | None = None,
    ) -> None:
        """`weights`: bf16 (the model's own dtype) or int8 (decoder and output layer, per-row
        scales); `head_ids`: the vocabulary rows the output layer keeps (script_head.kept_ids),
        None for all; `fused`: the fused step (default: when int8 or head_ids ask for it);
        `kernels`: "triton" or "torch" for the fused step (default: Triton on CUDA);
        `cross_fold`: the fused step's cross-attention folded per sentence (cross_fold.py) for
        every source length, none, or (None) where that reads fewer bytes."""
        import torch
        import torch.nn.functional as F

        self.torch, self.F = torch, F
        cfg = model.config
        if cfg.activation_function not in ("relu", "gelu"):
            raise ValueError(f"unsupported NLLB activation {cfg.activation_function!r}")
        self.act = F.relu if cfg.activation_function == "relu" else F.gelu
        core = model.model
        self.enc, self.dec = core.encoder, core.decoder
        self.d = cfg.d_model
        self.heads = cfg.decoder_attention_heads
        self.enc_heads = cfg.encoder_attention_heads
        self.pad = cfg.pad_token_id
        self.embed = core.shared.weight  # tied to the output layer in NLLB-200
        self.lm_head = model.get_output_embeddings().weight
        self.embed_scale = math.sqrt(self.d) if cfg.scale_embedding else 1.0
        self.positions = self.dec.embed_positions.weights  # sinusoidal table, row pad+1+i
        self.dtype = self.embed.dtype
        dev = self.device = self.embed.device
        self.enc_qkv = [
            _fuse_linears([lyr.self_attn.q_proj, lyr.self_attn.k_proj, lyr.self_attn.v_proj], torch)
            for lyr in self.enc.layers
        ]
        self.self_qkv = [
            _fuse_linears([lyr.self_attn.q_proj, lyr.self_attn.k_proj, lyr.self_attn.v_proj], torch)
            for lyr in self.dec.layers
        ]
        self.cross_kv = [
            _fuse_linears([lyr.encoder_attn.k_proj, lyr.encoder_attn.v_proj], torch)
            for lyr in self.dec.layers
        ]
        n_layers = len(self.dec.layers)
        hd = self.d // self.heads
        self.max_len = max_len
        self.max_src = SRC_BUCKETS[-1]
        kv = (n_layers, 2, 1, self.heads, max_len, hd)
        self.self_cache = torch.zeros(kv, dtype=self.dtype, device=dev)
        self.cross_cache = torch.zeros(
            (n_layers, 2, 1, self.heads, self.max_src, hd), dtype=self.dtype, device=dev
        )
        # Static inputs and state of the graphs.
        self.src_keep = torch.zeros(self.max_src, dtype=torch.bool, device=dev)
        self.tok = torch.zeros(1, dtype=torch.long, device=dev)
        self.pos = torch.zeros(1, dtype=torch.long, device=dev)  # decoder index of `tok`
        self.next_tok = torch.zeros(1, dtype=torch.long, device=dev)
        self.arange = torch.arange(max(max_len, self.max_src), device=dev)
        # Token choice, as generate's processors do it; set per sentence by prepare().
        self.forced_bos = torch.zeros(1, dtype=torch.long, device=dev)
        self.eos = int(model.generation_config.eos_token_id or cfg.eos_token_id)
        gc = model.generation_config
        # A tensor, not a constant baked into the graphs: a call may ask for another minimum.
        self.min_new_default = int(gc.min_new_tokens or 0)
        self.min_new = torch.zeros(1, dtype=torch.long, device=dev)
        # A sentence's inputs travel as one header: source ids (padded), forced BOS, minimum
        # length; one copy, unpacked inside the encoder's graph. Set up op by op from Python,
        # they kept the GPU idle ~0.5 ms before each encoder (2026-11-30-h200-nllb-engine-night.md).
        self.hdr = torch.zeros(self.max_src + 2, dtype=torch.long, device=dev)
        self._hdr_host = torch.zeros(
            self.max_src + 2, dtype=torch.long, pin_memory=dev.type == "cuda"
        )
        # When the last header's copy is done: the host buffer is not rewritten before.
        self._hdr_sent = torch.cuda.Event() if dev.type == "cuda" else None  # type: ignore[no-untyped-call]
        decay = gc.exponential_decay_length_penalty
        self.decay = (int(decay[0]), float(decay[1])) if decay else None
        self.start_token = int(gc.decoder_start_token_id or cfg.decoder_start_token_id)
        # generate() forces EOS as the last token allowed, when the config names one.
        self.forced_eos = gc.forced_eos_token_id is not None
        self.graphs = graphs
        # Decode-step attention: SDPA measured faster than one_query_attention on an H200
        # (benches/results/2026-11-30-h200-gpu-e2e.md), so it is the default.
        self.attention = "sdpa"
        self.record: list[Any] | None = None  # tests: each step's logits (eager only)
        self.pad_lengths = graphs if pad is None else pad  # padded lengths (graphs need them)
        # With graphs, step i + 1 is queued before step i's token is read, so the GPU does not
        # wait on the host between steps (the token ids land in pinned memory, one per step).
        # After EOS one queued step runs for nothing. Benches may switch it off.
        self.overlap = graphs
        if graphs:
            self._host_tok = torch.zeros(max_len, dtype=torch.long, pin_memory=True)
            self._done = [torch.cuda.Event() for _ in range(2)]  # type: ignore[no-untyped-call]
        self._setup_fused(weights, head_ids, fused, kernels, cross_fold)
        state = [self.tok, self.pos, self.next_tok]
        self._step_graphs = StepGraphs(self._step, torch, state) if graphs else None
        self._enc_graphs = StepGraphs(self._encode, torch, []) if graphs else None

    def _setup_fused(
        self,
        weights: str,
        head_ids: Sequence[int] | None,
        fused: bool | None,
        kernels: str | None,
        cross_fold: bool | None,
    ) -> None:
        torch = self.torch
        if weights not in WEIGHTS:
            raise ValueError(f"unknown NLLB weights {weights!r}; use one of {', '.join(WEIGHTS)}")
        need = weights != "bf16" or head_ids is not None
        if fused is False and need:
            raise ValueError("int8 weights and a script head need the fused step")
        if fused is None and not need:
            # Default on CUDA when the kernels can run it (H200: 3.3B step 1.79 ms vs 2.75).
            relu = self.act is self.F.relu
            fused = kernels is not None or (relu and triton_ops(self.device) is not None)
        self.weights = weights
        self.fused: FusedDecoder | None = None
        self.head_ids: Any = None
        self.eos_col = self.eos  # the EOS score's column in the logits
        self.reads_pos = False  # the step's attention length comes from the device position
        self.best: Any = None  # the kernels' running argmax of the output layer
        if not (fused or need):
            return
        if self.act is not self.F.relu:
            raise ValueError("the fused NLLB step supports ReLU models only")
        if kernels not in (None, "triton", "torch"):
            raise ValueError(f"unknown kernels {kernels!r}; use triton or torch")
        ops: Any = None
        if kernels == "triton":
            from stream_tts.engines.decode import kernels as ops
        elif kernels is None:
            ops = triton_ops(self.device)
        if head_ids is not None:
            if self.eos not in head_ids:
                raise ValueError("the output layer's rows must include EOS")
            self.head_ids = torch.tensor(list(head_ids), dtype=torch.long, device=self.device)
            self.eos_col = list(head_ids).index(self.eos)
        self.fused = FusedDecoder(
            self.dec, self.self_qkv, self.lm_head, weights=weights, head_ids=self.head_ids,
            ops=ops, cross_fold=cross_fold, max_src=self.max_src,
        )  # fmt: skip
        self.reads_pos = ops is not None
        self.best = ops.new_best(self.device) if ops is not None else None

    @staticmethod
    def unsupported(model: Any, beams: int) -> str | None:
        """Why this loop cannot stand in for generate() with this model, or None."""
        gc = model.generation_config
        if beams > 1:
            return "beam search"
        for name, neutral in (
            ("repetition_penalty", 1.0),
            ("no_repeat_ngram_size", 0),
            ("encoder_no_repeat_ngram_size", 0),
            ("min_length", 0),
            ("bad_words_ids", None),
            ("suppress_tokens", None),
            ("begin_suppress_tokens", None),
        ):
            value = getattr(gc, name, neutral)
            if value not in (neutral, None):
                return f"generation_config.{name}={value!r}"
        if gc.do_sample:
            return "sampling"
        return None

    # -- the computation -----------------------------------------------------------------

    def _ln(self, mod: Any, x: Any) -> Any:
        return self.F.layer_norm(x, (self.d,), mod.weight, mod.bias, mod.eps)

    def _split(self, x: Any, heads: int) -> Any:
        # [1, n, heads*hd] -> [1, heads, n, hd]
        return x.view(1, x.shape[1], heads, -1).transpose(1, 2)

    def _merge(self, x: Any) -> Any:
        return x.transpose(1, 2).reshape(1, x.shape[2], self.d)

    def set_attention(self, kind: str) -> None:
        """Decode-step attention, "math" or "sdpa"; graphs are captured again on next use."""
        self.attention = kind
        if self.graphs:
            state = [self.tok, self.pos, self.next_tok]
            self._step_graphs = StepGraphs(self._step, self.torch, state)

    def _attend(self, q: Any, k: Any, v: Any, mask: Any) -> Any:
        if self.attention == "sdpa":
            return self.F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return one_query_attention(q, k, v, mask, self.torch)

    def _unpack(self) -> None:
        """The sentence's state from its header (see _start)."""
        m = self.max_src
        self.src_keep.copy_(self.hdr[:m] != self.pad)
        self.forced_bos.copy_(self.hdr[m : m + 1])
        self.min_new.copy_(self.hdr[m + 1 : m + 2])
        self.tok.fill_(self.start_token)
        self.pos.zero_()

    def _encode(self, n_src: int) -> None:
        """The header unpacked, the encoder over the source ids (the header's first n_src),
        then every layer's cross-attention K/V."""
        F, torch = self.F, self.torch
        self._unpack()
        ids = self.hdr[:n_src].view(1, n_src)
        keep = self.src_keep[:n_src]
        # Positions as transformers numbers them: pad+1+i for tokens, `pad` (a zero row) for pads.
        pos = torch.where(keep, self.arange[:n_src] + self.pad + 1, self.pad)
        x = F.embedding(ids, self.enc.embed_tokens.weight) * self.embed_scale
        x = x + self.enc.embed_positions.weights[pos].to(x.dtype)
        mask = keep.view(1, 1, 1, n_src)
        for lyr, (w, b) in zip(self.enc.layers, self.enc_qkv, strict=True):
            h = self._ln(lyr.self_attn_layer_norm, x)
            q, k, v = F.linear(h, w, b).split(self.d, dim=-1)
            a = F.scaled_dot_product_attention(
                self._split(q, self.enc_heads),
                self._split(k, self.enc_heads),
                self._split(v, self.enc_heads),
                attn_mask=mask,
            )
            x = x + lyr.self_attn.out_proj(self._merge(a))
            h = self._ln(lyr.final_layer_norm, x)
            x = x + lyr.fc2(self.act(lyr.fc1(h)))
        x = self._ln(self.enc.layer_norm, x)
        for i, (w, b) in enumerate(self.cross_kv):
            k, v = F.linear(x, w, b).split(self.d, dim=-1)
            self.cross_cache[i, 0, :, :, :n_src] = self._split(k, self.heads)
            self.cross_cache[i, 1, :, :, :n_src] = self._split(v, self.heads)
        if self.fused is not None and self.fused.fold is not None:
            self.fused.fold.compute(self.cross_cache, self.src_keep, n_src)

    def _step(self, key: tuple[int, int]) -> None:
        """One decoder token: attends to cache[:n_self] and the source's first n_src K/V."""
        n_self, n_src = key
        if self.fused is not None:
            embed = (self.embed, self.positions, self.embed_scale, self.pad + 1)
            # On the kernels the token choice is the head's epilogue plus one kernel; teacher
            # forcing (record) keeps the torch choice, which sees the raw logits first.
            one = self.best is not None and self.record is None
            logits = self.fused.step(
                embed, self.tok, self.pos, self.self_cache, self.cross_cache, self.src_keep,
                n_self, n_src, argmax=(self.best, self.eos_col) if one else None,
            )  # fmt: skip
            if one:
                self.fused.ops.choose(
                    self.best, logits, self.eos_col, self.pos, self.min_new, self.forced_bos,
                    self.next_tok, self.tok, decay=self.decay, head_ids=self.head_ids,
                )  # fmt: skip
            else:
                self._choose(logits.view(1, -1))
            return
        F = self.F
        pos = self.pos
        x = F.embedding(self.tok, self.embed).view(1, 1, self.d) * self.embed_scale
        x = x + self.positions.index_select(0, pos + self.pad + 1).to(x.dtype).view(1, 1, self.d)
        self_mask = (self.arange[:n_self] <= pos).view(1, 1, 1, n_self)
        src_mask = self.src_keep[:n_src].view(1, 1, 1, n_src)
        for i, (lyr, (w, b)) in enumerate(zip(self.dec.layers, self.self_qkv, strict=True)):
            h = self._ln(lyr.self_attn_layer_norm, x)
            q, k, v = F.linear(h, w, b).split(self.d, dim=-1)
            cache = self.self_cache[i]
            cache[0].index_copy_(2, pos, self._split(k, self.heads))
            cache[1].index_copy_(2, pos, self._split(v, self.heads))
            a = self._attend(
                self._split(q, self.heads),
                cache[0, :, :, :n_self],
                cache[1, :, :, :n_self],
                self_mask,
            )
            x = x + lyr.self_attn.out_proj(self._merge(a))
            h = self._ln(lyr.encoder_attn_layer_norm, x)
            q = self._split(lyr.encoder_attn.q_proj(h), self.heads)
            cross = self.cross_cache[i]
            a = self._attend(q, cross[0, :, :, :n_src], cross[1, :, :, :n_src], src_mask)
            x = x + lyr.encoder_attn.out_proj(self._merge(a))
            h = self._ln(lyr.final_layer_norm, x)
            x = x + lyr.fc2(self.act(lyr.fc1(h)))
        x = self._ln(self.dec.layer_norm, x)
        scores = F.linear(x.view(1, self.d), self.lm_head).float()
        self._choose(scores)

    def _choose(self, scores: Any) -> None:
        """generate()'s greedy choice: processors on the EOS score, then argmax, on device."""
        torch = self.torch
        if self.record is not None:
            self.record.append(scores.clone())  # the raw logits, as generate's output_logits
        pos = self.pos  # new tokens so far = pos (the start token is not one)
        eos = scores[:, self.eos_col]
        eos = torch.where(pos < self.min_new, NEG_INF, eos)
        if self.decay is not None:
            start, factor = self.decay
            # transformers: penalty index = cur_len - (start + 1), cur_len = pos + 1.
            k = (pos - start).to(scores.dtype)
            eos = torch.where(k > 0, eos + eos.abs() * (torch.pow(factor, k) - 1), eos)
        scores[:, self.eos_col] = eos
        best = scores.argmax(dim=-1)
        if self.head_ids is not None:
            best = self.head_ids.index_select(0, best)
        best = torch.where(pos == 0, self.forced_bos, best)
        self.next_tok.copy_(best)
        self.tok.copy_(best)
        self.pos.add_(1)

    # -- driving it ----------------------------------------------------------------------

    def _src_len(self, n: int) -> int:
        return bucket(n, SRC_BUCKETS) if self.pad_lengths else n

    def _self_len(self, n: int) -> int:
        if self.reads_pos:  # one graph for every length: the kernels read the position
            return self.max_len
        return bucket(n, SELF_BUCKETS) if self.pad_lengths else n

    def _start(self, ids: list[int], forced_bos: int, min_new_tokens: int | None) -> int:
        """Set up a sentence and run the encoder; returns the source length the steps use."""
        torch = self.torch
        n = len(ids)
        if n > self.max_src:
            raise ValueError(f"{n} source tokens; this decoder takes at most {self.max_src}")
        n_src = self._src_len(n)
        with torch.inference_mode():
            self._header(ids, forced_bos, min_new_tokens)
            if self._enc_graphs is not None:
                self._enc_graphs.run(n_src)
            else:
                self._encode(n_src)
        return n_src

    def _header(self, ids: list[int], forced_bos: int, min_new_tokens: int | None) -> None:
        """Write the sentence's header on the host and copy it to the device in one go."""
        if self._hdr_sent is not None:
            self._hdr_sent.synchronize()  # done long ago, unless a sentence was dropped at once
        h = self._hdr_host.numpy()
        m = self.max_src
        h[: len(ids)] = ids
        h[len(ids) : m] = self.pad
        h[m] = forced_bos
        h[m + 1] = self.min_new_default if min_new_tokens is None else min_new_tokens
        # Pinned memory: the copy is queued, not waited for.
        self.hdr.copy_(self._hdr_host, non_blocking=self._hdr_sent is not None)
        if self._hdr_sent is not None:
            self._hdr_sent.record()

    def forced_logits(self, ids: list[int], forced_bos: int, targets: list[int]) -> list[Any]:
        """Teacher forcing: step i's raw logits (float32, full vocabulary; rows a script head
        leaves out are -inf) when the decoder has been fed the start token and targets[:i].
        Runs eagerly (no graphs)."""
        torch = self.torch
        if len(targets) >= self.max_len:
            raise ValueError(f"{len(targets)} targets; this decoder takes at most {self.max_len}")
        n_src = self._start(ids, forced_bos, 0)
        self.record = []
        try:
            with torch.inference_mode():
                for i, t in enumerate(targets):
                    self._step((self._self_len(i + 1), n_src))
                    self.tok.fill_(t)
            rows = self.record
        finally:
            self.record = None
        if self.head_ids is None:
            return [r.float().view(-1) for r in rows]
        full = []
        for r in rows:
            f = torch.full((self.lm_head.shape[0],), NEG_INF, device=r.device)
            full.append(f.index_copy_(0, self.head_ids, r.float().view(-1)))
        return full

    def generate(
        self,
        ids: list[int],
        forced_bos: int,
        max_new_tokens: int,
        stop: Any = None,
        min_new_tokens: int | None = None,
    ) -> list[int] | None:
        """[decoder start, forced_bos, ..., eos] as generate() returns them; None if `stop`
        (a threading.Event) was set between two tokens."""
        out = [self.start_token]
        for tok in self.generate_iter(ids, forced_bos, max_new_tokens, min_new_tokens):
            if stop is not None and stop.is_set():
                return None
            out.append(tok)
        if stop is not None and stop.is_set() and out[-1] != self.eos:
            return None
        return out

    def generate_iter(
        self,
        ids: list[int],
        forced_bos: int,
        max_new_tokens: int,
        min_new_tokens: int | None = None,
    ) -> Iterator[int]:
        """The new tokens of generate() (forced_bos first, eos last if reached), one at a time
        as each step finishes; closing the iterator stops between two steps."""
        torch = self.torch
        max_new = min(max_new_tokens, self.max_len - 1)
        n_src = self._start(ids, forced_bos, min_new_tokens)
        steps = max_new - 1 if self.forced_eos else max_new  # the last is then EOS, no step
        ahead = self.overlap and self._step_graphs is not None
        for i in range(max_new):
            if i == steps:
                yield self.eos
                return
            with torch.inference_mode():
                if ahead:
                    if i == 0:
                        self._queue(0, n_src)
                    if i + 1 < steps:
                        self._queue(i + 1, n_src)
                    self._done[i % 2].synchronize()
                    tok = int(self._host_tok[i])
                else:
                    key = (self._self_len(i + 1), n_src)
                    if self._step_graphs is not None:
                        self._step_graphs.run(key)
                    else:
                        self._step(key)
                    tok = int(self.next_tok.item())
            yield tok
            if tok == self.eos:
                return

    def _queue(self, i: int, n_src: int) -> None:
        """Launch step i's graph and the copy of its token into pinned memory, unwaited."""
        assert self._step_graphs is not None
        self._step_graphs.run((self._self_len(i + 1), n_src))
        self._host_tok[i].copy_(self.next_tok[0], non_blocking=True)
        self._done[i % 2].record()

    def warmup(self, max_src: int = 64, max_self: int = 128) -> int:
        """Capture the graphs for sources up to `max_src` tokens and outputs up to `max_self`;
        returns how many were captured."""
        if not self.graphs:
            return 0
        torch = self.torch
        n = 0
        with torch.inference_mode():
            self._header([self.eos], 0, 0)
            for s in SRC_BUCKETS:
                if s > max_src:
                    break
                assert self._enc_graphs is not None and self._step_graphs is not None
                self._enc_graphs.capture(s)
                n += 1
                for t in (self.max_len,) if self.reads_pos else SELF_BUCKETS:
                    if t > max_self and not self.reads_pos:
                        break
                    self.pos.zero_()
                    self._step_graphs.capture((t, s))
                    n += 1
            torch.cuda.synchronize()
        if self.fused is not None and self.fused.persistent is not None:
            self.fused.persistent.check(self.fused.bar)  # the captures ran each step once
        return n
