"""XTTS-v2's GPT: our prefill and per-token loop over coqui-tts' weights.

Yields what coqui's `gpt.get_generator` stream yields, token by token: the audio token and the
latent (final_norm of the last hidden state) of the position that produced it, stop token
included. The step (embedding, 30 GPT-2 blocks, heads, repetition penalty, temperature, top-k,
top-p and the draw) writes the next token, the latent and the advanced positions into static
buffers, so on CUDA it is one graph per padded cache length (CACHE_BUCKETS), replayed with no
host work between tokens but reading the token id.

The GPT runs in bf16 on CUDA (fp16 if the GPU lacks bf16) and float32 elsewhere; the HiFi-GAN
decoder that turns latents into audio stays coqui's own.

On CUDA with Triton the step's 30 blocks run fused (fused_gpt.FusedGpt: five launches per
block, and one graph for every cache length, since the kernels read the position on the
device); the embedding sum is float32 there, the heads, sampling and latents are the same code
as the plain step's. `fused=False` keeps the plain step (SDPA, one graph per cache bucket).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from stream_tts.engines.decode import torch_ops
from stream_tts.engines.decode.fused_gpt import FusedGpt
from stream_tts.engines.decode.fused_step import triton_ops
from stream_tts.engines.decode.runner import StepGraphs, bucket, one_query_attention
from stream_tts.engines.decode.sampling import draw, processed_scores

# The last holds the longest prompt (32 latents + 404 text tokens + start) and 605 tokens.
CACHE_BUCKETS = (128, 256, 512, 1152)
PROMPT_BUCKETS = (64, 128, 256, 512)  # padded prompt lengths (one prefill graph each)


class XttsLoop:
    def __init__(
        self,
        gpt: Any,
        *,
        graphs: bool,
        dtype: Any = None,
        sampling: dict[str, Any],
        pad: bool | None = None,
        fused: bool | None = None,
        kernels: str | None = None,
    ) -> None:
        """`fused`: the fused step (default: on CUDA when Triton imports); `kernels`: "triton"
        or "torch" for it (default: Triton on CUDA; torch computes the same on any device)."""
        import torch
        import torch.nn.functional as F

        self.torch, self.F = torch, F
        self.gpt = gpt  # coqui's GPT (TTS.tts.layers.xtts.gpt.GPT)
        core = gpt.gpt  # transformers GPT2Model (wpe, wte unused)
        self.blocks = list(core.h)
        self.ln_f = core.ln_f
        dev = self.device = gpt.mel_head.weight.device
        if dtype is not None:
            # The parts the loop runs (not the conditioning encoders): bf16 halves the bytes.
            for mod in (core, gpt.mel_embedding, gpt.mel_pos_embedding, gpt.final_norm):
                mod.to(dtype)
            for mod in (gpt.mel_head, gpt.text_embedding, gpt.text_pos_embedding):
                mod.to(dtype)
        self.dtype = gpt.mel_head.weight.dtype
        self.d = gpt.mel_head.weight.shape[1]
        self.heads = core.config.n_head
        self.start = int(gpt.start_audio_token)
        self.stop = int(gpt.stop_audio_token)
        self.vocab = gpt.mel_head.weight.shape[0]
        self.max_tokens = int(gpt.max_gen_mel_tokens)
        self.sampling: dict[str, Any] = {
            "repetition_penalty": float(sampling.get("repetition_penalty", 1.0)),
            "temperature": float(sampling.get("temperature", 1.0)),
            "top_k": int(sampling.get("top_k", 0)),
            "top_p": float(sampling.get("top_p", 1.0)),
        }
        n_pos = CACHE_BUCKETS[-1]
        self.max_len = n_pos
        hd = self.d // self.heads
        self.cache = torch.zeros(
            (len(self.blocks), 2, 1, self.heads, n_pos, hd), dtype=self.dtype, device=dev
        )
        self.tok = torch.zeros(1, dtype=torch.long, device=dev)
        self.cpos = torch.zeros(1, dtype=torch.long, device=dev)  # cache index of `tok`
        self.gpos = torch.zeros(1, dtype=torch.long, device=dev)  # its mel position
        self.seen = torch.zeros(self.vocab, dtype=torch.bool, device=dev)
        self.latent = torch.zeros((1, self.d), dtype=self.dtype, device=dev)
        self.next_tok = torch.zeros(1, dtype=torch.long, device=dev)
        self.min_new = torch.zeros(1, dtype=torch.long, device=dev)  # no stop token before
        self.arange = torch.arange(n_pos, device=dev)
        self.prompt = torch.zeros((1, PROMPT_BUCKETS[-1], self.d), dtype=self.dtype, device=dev)
        self.last = torch.zeros(1, dtype=torch.long, device=dev)  # prompt's last position
        self.graphs = graphs
        # Decode-step attention: SDPA measured faster than one_query_attention on an H200
        # (benches/results/2026-11-30-h200-gpu-e2e.md), so it is the default.
        self.attention = "sdpa"
        self.pad_lengths = graphs if pad is None else pad
        self.fused = self._setup_fused(fused, kernels)
        self.reads_pos = self.fused is not None and self.fused.ops is not torch_ops
        state = [self.tok, self.cpos, self.gpos, self.seen, self.next_tok]
        self._graphs = StepGraphs(self._step, torch, state) if graphs else None
        self._prefill_graphs = StepGraphs(self._prefill_step, torch, state) if graphs else None

    def _setup_fused(self, fused: bool | None, kernels: str | None) -> FusedGpt | None:
        if kernels not in (None, "triton", "torch"):
            raise ValueError(f"unknown kernels {kernels!r}; use triton or torch")
        ops: Any = None
        if kernels == "triton":
            from stream_tts.engines.decode import kernels as ops
        elif kernels == "torch":
            ops = torch_ops
        else:
            ops = triton_ops(self.device)
        if fused is None:
            fused = kernels is not None or ops is not None
        if not fused:
            return None
        return FusedGpt(self.blocks, self.heads, ops or torch_ops)

    # -- the computation -----------------------------------------------------------------

    def set_attention(self, kind: str) -> None:
        """Decode-step attention, "math" or "sdpa"; graphs are captured again on next use."""
        self.attention = kind
        if self.graphs:
            state = [self.tok, self.cpos, self.gpos, self.seen, self.next_tok]
            self._graphs = StepGraphs(self._step, self.torch, state)

    def _ln(self, mod: Any, x: Any) -> Any:
        return self.F.layer_norm(x, (self.d,), mod.weight, mod.bias, mod.eps)

    def _block(self, blk: Any, i: int, x: Any, pos: Any, n_ctx: int, mask: Any) -> Any:
        """One GPT-2 block over x [1, n, d] at cache slots `pos` [n]; keys are cache[:n_ctx]."""
        F = self.F
        n = x.shape[1]
        h = self._ln(blk.ln_1, x)
        qkv = F.linear(h, blk.attn.c_attn.weight.t(), blk.attn.c_attn.bias)  # Conv1D: x @ W + b
        q, k, v = (t.view(1, n, self.heads, -1).transpose(1, 2) for t in qkv.split(self.d, -1))
        cache = self.cache[i]
        cache[0].index_copy_(2, pos, k)
        cache[1].index_copy_(2, pos, v)
        k_all, v_all = cache[0, :, :, :n_ctx], cache[1, :, :, :n_ctx]
        if n == 1 and self.attention == "math":
            a = one_query_attention(q, k_all, v_all, mask, self.torch)
        else:
            a = F.scaled_dot_product_attention(q, k_all, v_all, attn_mask=mask)
        a = a.transpose(1, 2).reshape(1, n, self.d)
        x = x + F.linear(a, blk.attn.c_proj.weight.t(), blk.attn.c_proj.bias)
        h = self._ln(blk.ln_2, x)
        h = F.linear(h, blk.mlp.c_fc.weight.t(), blk.mlp.c_fc.bias)
        h = F.gelu(h, approximate="tanh")  # GPT-2's gelu_new
        return x + F.linear(h, blk.mlp.c_proj.weight.t(), blk.mlp.c_proj.bias)

    def _head(self, x: Any) -> None:
        """Latent and next token from the last position's hidden state [1, d]."""
        latent = self._ln(self.gpt.final_norm, self._ln(self.ln_f, x))
        logits = self.F.linear(latent, self.gpt.mel_head.weight, self.gpt.mel_head.bias).float()
        # gpos counts the tokens made so far; min_new_tokens holds the stop token back till then.
        logits[:, self.stop] = self.torch.where(
            self.gpos < self.min_new, float("-inf"), logits[:, self.stop]
        )
        scores = processed_scores(logits, self.seen, **self.sampling)
        tok = draw(scores, sample=True)  # coqui's stream always draws, even unsampled
        self.latent.copy_(latent)
        self.next_tok.copy_(tok)
        self.seen.index_fill_(0, tok, True)
        self.tok.copy_(tok)

    def _step(self, n_ctx: int) -> None:
        if self.fused is not None:
            g = self.gpt
            x = self.fused.step(
                g.mel_embedding.weight, g.mel_pos_embedding.emb.weight, self.tok, self.gpos,
                self.cache, self.cpos, n_ctx,
            )  # fmt: skip
            self._head(x.to(self.dtype).view(1, self.d))
            self.cpos.add_(1)
            self.gpos.add_(1)
            return
        x = self.F.embedding(self.tok, self.gpt.mel_embedding.weight)
        x = x + self.gpt.mel_pos_embedding.emb.weight.index_select(0, self.gpos)
        x = x.view(1, 1, self.d)
        mask = (self.arange[:n_ctx] <= self.cpos).view(1, 1, 1, n_ctx)
        for i, blk in enumerate(self.blocks):
            x = self._block(blk, i, x, self.cpos, n_ctx, mask)
        self._head(x.view(1, self.d))
        self.cpos.add_(1)
        self.gpos.add_(1)

    def _prefill(self, cond: Any, text_ids: Any) -> int:
        """The prompt (conditioning latents, text, start token) into the cache; returns its
        length. Then `next_tok`/`latent` hold the first token and its latent."""
        torch, F, g = self.torch, self.F, self.gpt
        text = F.pad(text_ids, (1, 0), value=g.start_text_token)
        text = F.pad(text, (0, 1), value=g.stop_text_token)
        emb = g.text_embedding(text) + g.text_pos_embedding(text)
        start = g.mel_embedding.weight[self.start] + g.mel_pos_embedding.emb.weight[0]
        x = torch.cat([cond.to(self.dtype), emb.to(self.dtype), start.view(1, 1, -1)], dim=1)
        n = int(x.shape[1])
        if n > PROMPT_BUCKETS[-1] or n + self.max_tokens > self.max_len:
            raise ValueError(f"a prompt of {n} positions leaves too little room for speech")
        # Coqui's stream penalizes repeats of the prompt's ids too: its dummy ids (1) and start.
        self.seen.zero_()
        self.seen[1] = True
        self.seen[self.start] = True
        self.prompt[:, :n] = x
        self.last.fill_(n - 1)
        size = bucket(n, PROMPT_BUCKETS) if self.pad_lengths else n
        if self._prefill_graphs is not None:
            self._prefill_graphs.run(size)
        else:
            self._prefill_step(size)
        return n

    def _prefill_step(self, size: int) -> None:
        """The 30 blocks over prompt[:, :size] (padded past `last`: causal attention keeps the
        pads out of every real position), then the head at `last`."""
        x = self.prompt[:, :size]
        ar = self.arange[:size]
        mask = (ar.view(-1, 1) >= ar.view(1, -1)).view(1, 1, size, size)
        for i, blk in enumerate(self.blocks):
            x = self._block(blk, i, x, ar, size, mask)
        self.gpos.zero_()
        self._head(x.index_select(1, self.last).view(1, self.d))
        self.cpos.copy_(self.last + 1)
        self.gpos.fill_(1)

    # -- driving it ----------------------------------------------------------------------

    def stream(
        self, cond: Any, text_ids: Any, min_new_tokens: int = 0, max_new_tokens: int | None = None
    ) -> Iterator[tuple[int, Any]]:
        """(token, latent [1, d]) pairs as coqui's generator yields them, stop token last."""
        torch = self.torch
        limit = min(self.max_tokens, max_new_tokens or self.max_tokens)
        with torch.inference_mode():
            self.min_new.fill_(min_new_tokens)
            n = self._prefill(cond, text_ids)
            for i in range(limit):
                tok = int(self.next_tok.item())
                yield tok, self.latent.clone()
                if tok == self.stop or i == limit - 1:
                    return
                key = self._cache_len(n + i + 1)
                if self._graphs is not None:
                    self._graphs.run(key)
                else:
                    self._step(key)

    def _cache_len(self, n_ctx: int) -> int:
        """The step's key: the keys it attends over (all of the cache when the kernels read
        the position, so one graph serves every length)."""
        if self.reads_pos:
            return self.max_len
        return bucket(n_ctx, CACHE_BUCKETS) if self.pad_lengths else n_ctx

    def warmup(self) -> int:
        """Capture every step graph (a few hundred ms); returns how many."""
        if self._graphs is None:
            return 0
        torch = self.torch
        with torch.inference_mode():
            self.min_new.zero_()
            steps = (self.max_len,) if self.reads_pos else CACHE_BUCKETS
            for size in steps:
                self.cpos.zero_()
                self.gpos.zero_()
                self._graphs.capture(size)
            assert self._prefill_graphs is not None
            self.last.zero_()
            for size in PROMPT_BUCKETS:
                self._prefill_graphs.capture(size)
            torch.cuda.synchronize()
        return len(steps) + len(PROMPT_BUCKETS)
