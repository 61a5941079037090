"""NLLB-200 decode step on one GPU: the SDPA step graph against the fused Triton step (issue 13).

    python benches/gpu_kernels.py --out DIR [--which 3.3b,600m] [--sweep] [--sweep-fused]
        [--paths 'fused bf16,fused int8'] [--no-shapes] [--int4-shapes] [--sweep-layer]
        [--sweep-fold]

Full-size NLLB-200 3.3B and distilled-600M with random bf16 weights, built in memory from the
real shapes (tests/gpu_models.py; no checkpoint, no tokenizer: the source is 20 fixed ids). For
each of: current (SDPA step graph), fused bf16, fused int8, fused int8 + script head, it writes
- the decode step, graph replay, ms (median of REPS runs of 24 steps from position 1, so the
  self-attention lengths are those of a 25-token sentence);
- kernel launches in one eager step (torch.profiler, CUDA-side events);
- weight bytes per step and effective GB/s;
- a whole 25-token translation (encoder + 25 steps, graphs), ms, median, and the encoder's
  graph alone;
- one decoder layer's kernels, µs (all layers' distinct weights replayed in one graph / layers).
"before" variants are the step as it was before this round (the int8 fold converting W_q and
W_o every sentence; cross_fold.STACKED off); "+ ffn" and "+ attn-out" add the fused FFN (fc1 +
fc2 in one launch) and self-attention fused into its out-projection (kernels.ffn, attend_out;
fused_step.FUSE_FFN, FUSE_ATTN_OUT: off by default, slower). Fused variants also run without
PDL, without the fold, and int8 with the plain I2F conversion. `--sweep-fused` also times one
layer with other block sizes of the two fused kernels (on the "+ ffn + attn-out" paths) and of
the folded cross-attention's scores GEMV.
int4 rows: "fused int4" (decoder and output layer int4, quant.quantize_int4), "+ script head",
" (int8 head)" (fused_step.INT4_HEAD off) and " (plain nibble convert)" (FAST_I8 off).
Quantised paths also get teacher-forced
logits on the current path's greedy tokens, compared with its own (KL, max |Δ log-prob|,
top-1 agreement). `--int4-shapes` times the int4 GEMV shapes alone (int8 and int4 at their
default blocks, and int4 at INT4_SWEEP's block sizes).
Then each GEMV shape alone, cycling through >= 256 MB of distinct copies of its weight in one
graph (so it reads HBM as a step does, not the L2): torch (cuBLAS), our kernel in bf16 and
int8, with and without its epilogue, against bytes / the copy rate measured here. `--sweep`
also times 9 block configurations per shape (27 for split-K shapes; each compiles once, a few
minutes more). `--paths` keeps the paths of those names (the current path always runs:
tokens are compared with it); `--no-shapes` skips the per-shape part.

The script head keeps a random HEAD_FRACTION of the vocabulary (plus EOS): the random-weight
models have no real vocabulary to read scripts from, and only the row count matters for time.
" (one launch a layer)" paths run each decoder layer as one persistent launch with grid
barriers (fused_step.PERSISTENT, off by default: slower; layer_kernel.py); `--sweep-layer`
times one layer so with LAYER_SWEEP's block sizes and programs per SM, and its barriers alone.
" (LN in chunks)": a LayerNorm prologue reads its vector in the GEMV's chunks, twice
(kernels.LN_ONE_LOAD off).
Results: DIR/gpu_kernels.json and DIR/gpu_kernels.md. Timings are benchmarks, not tests.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent / "python"))

STEPS = 24  # replays per timed run: positions 1..24
REPS = 15
NEW_TOKENS = 25
HEAD_FRACTION = 0.5


def _layer_sweep() -> list[Any]:
    from stream_tts.engines.decode.layer_kernel import LayerConfig as C

    return [  # chunks or whole rows (tile bytes); L2 prefetch on / off; polling with loads
        C(8, 1024, 4, 3),
        C(8, 1024, 4, 3, prefetch=False),
        C(4, 1024, 4, 4),
        C(4, 1024, 4, 4, poll_loads=True),
        C(4, 512, 4, 4),
        C(8, 512, 4, 3),
        C(4, 1024, 4, 2),
        C(4, 2048, 8, 2),
        C(8, 512, 4, 2, 8192),
        C(8, 512, 4, 2, 8192, prefetch=False),
        C(8, 512, 8, 1, 16384),
    ]


SWEEP_FOLD = False  # --sweep-fold
LAYER_SWEEP: list[Any] = []  # filled by --sweep-layer (the module imports torch lazily)
COLD_BYTES = 256 << 20  # per-shape timings cycle through this much weight (H200 L2: 50 MB)
SRC = [256047, *range(1000, 1019), 2]  # language code, 19 word ids, EOS: 21 tokens


def _cuda_ms(fn: Any, reps: int) -> float:
    import torch

    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def build(which: str) -> Any:
    import gpu_models as gm
    import torch

    shape = dict(gm.NLLB_3_3B if which == "3.3b" else gm.NLLB_600M)
    torch.manual_seed(0)
    with torch.device("cuda"):
        return gm.nllb_model(shape, gm.nllb_tokenizer(), dtype=torch.bfloat16)


def weight_bytes(loop: Any, n_src: int) -> int:
    if loop.fused is not None:
        return int(loop.fused.nbytes(n_src))
    total = loop.lm_head.numel() * loop.lm_head.element_size()
    for lyr, (w, _) in zip(loop.dec.layers, loop.self_qkv, strict=True):
        mods = [lyr.self_attn.out_proj, lyr.encoder_attn.q_proj, lyr.encoder_attn.out_proj]
        for t in [w] + [m.weight for m in [*mods, lyr.fc1, lyr.fc2]]:
            total += t.numel() * t.element_size()
    return int(total)


def cuda_events(step: Any, state: list[Any]) -> list[Any]:
    """CUDA-side events (kernels, copies, sets) of one eager `step()`, after one warm-up call;
    the `state` tensors the step advances are restored after each call."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    saved = [t.clone() for t in state]

    def restore() -> None:
        for t, s in zip(state, saved, strict=True):
            t.copy_(s)

    step()  # compiles/warms anything lazy first
    torch.cuda.synchronize()
    restore()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        step()
        torch.cuda.synchronize()
    restore()  # outside the profile: its copies are not the step's
    return [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]


def launches(loop: Any, key: Any) -> dict[str, int]:
    """CUDA-side events of one eager step, and how many of them are our kernels."""
    import torch

    with torch.inference_mode():
        events = cuda_events(lambda: loop._step(key), [loop.tok, loop.pos, loop.next_tok])
    ours = (
        "_gemv_kernel", "_attend_kernel", "_attend_out_kernel", "_ffn_kernel", "_embed_kernel",
        "_choose_kernel", "_layer_norm",
    )  # fmt: skip
    return {
        "cuda_events": len(events),
        "ours": sum(1 for e in events if any(k in e.name for k in ours)),
    }


def time_variant(name: str, loop: Any, reads: int) -> dict[str, Any]:
    import torch

    n_src = 32
    key = (loop._self_len(NEW_TOKENS), n_src)
    t = time.perf_counter()
    ids = SRC
    loop.generate(ids, 256050, NEW_TOKENS, min_new_tokens=NEW_TOKENS)  # captures what it needs
    capture_s = time.perf_counter() - t
    row: dict[str, Any] = {"capture_s": capture_s, "weight_bytes": reads}
    row["launches"] = launches(loop, key)
    graphs = loop._step_graphs
    assert graphs is not None and key in graphs

    def steps() -> None:
        loop.pos.fill_(1)
        for _ in range(STEPS):
            graphs.run(key)

    with torch.inference_mode():
        row["step_ms"] = _cuda_ms(steps, REPS) / STEPS
    row["gb_s"] = reads / row["step_ms"] / 1e6

    def translate() -> None:
        loop.generate(ids, 256050, NEW_TOKENS, min_new_tokens=NEW_TOKENS)

    times = []
    for _ in range(10):
        torch.cuda.synchronize()
        t = time.perf_counter()
        translate()
        times.append(1000 * (time.perf_counter() - t))
    row["translate_ms"] = statistics.median(times)
    with torch.inference_mode():
        encoder = loop._enc_graphs
        row["encoder_ms"] = _cuda_ms(lambda: encoder.run(n_src), REPS)
    row["tokens"] = NEW_TOKENS
    print(name, {k: v for k, v in row.items()}, flush=True)
    return row


def layer_us(loop: Any) -> float:
    """One decoder layer's kernels, µs: all layers (distinct weights, as in a step) replayed
    in one graph, divided by their number."""
    import torch

    fused = loop.fused
    n_src = 32
    args = (loop.pos, loop.self_cache, loop.cross_cache, loop.src_keep, loop.max_len, n_src)

    def layers() -> None:
        for i in range(len(fused.layers)):
            fused.layer(i, *args)

    with torch.inference_mode():
        loop.pos.fill_(12)
        us = _graph_us(layers, reps=1, runs=REPS * 2)
    print("layer", us / len(fused.layers), "us", flush=True)
    return us / len(fused.layers)


def sweep_fusions(loop: Any) -> dict[str, float]:
    """One layer's µs with other block sizes and schedules of the fused FFN and attention +
    out-proj; "no adds" stores the FFN's shares instead of adding them (a wrong sum: only what
    the atomic adds cost)."""
    from stream_tts.engines.decode import kernels as K

    res = {}
    ffn0, rows0 = K.FFN_CONFIG, K.ATTN_OUT_ROWS
    # (call 2: groups and staggering were slower, and storing instead of adding no faster)
    configs = [
        K.FfnConfig(32, 512, 512, 8),
        K.FfnConfig(16, 512, 512, 4),
        K.FfnConfig(8, 512, 512, 4),
        K.FfnConfig(16, 256, 256, 4),
        K.FfnConfig(8, 256, 256, 2),
        K.FfnConfig(16, 512, 128, 4),
        K.FfnConfig(16, 128, 512, 4),
    ]
    for cfg in configs:
        K.FFN_CONFIG = cfg
        res[f"ffn {cfg}"] = layer_us(loop)
    K.FFN_CONFIG = ffn0
    res["ffn kernels (registers, spills, warps)"] = compiled(K._ffn_kernel)
    # The folded cross-attention's scores GEMV (A: heads * 32 rows, LayerNorm prologue).
    a_key = (16 * 32, 2048, "float", False)  # OVERRIDES' key (until 2026-12-01: never matched)
    for bn, bk in ((2, 512), (8, 256), (4, 256)):
        K.OVERRIDES[a_key] = K.GemvConfig(bn, bk, 1, 4)
        res[f"fold A block_n={bn} block_k={bk}"] = layer_us(loop)
    K.OVERRIDES.pop(a_key)
    for rows in (64, 256):
        K.ATTN_OUT_ROWS = rows
        res[f"attn-out rows={rows}"] = layer_us(loop)
    K.ATTN_OUT_ROWS = rows0
    K.ATTN_OUT_EARLY_W = False
    res["attn-out weight tile after the wait"] = layer_us(loop)
    K.ATTN_OUT_EARLY_W = True
    res["attn-out kernels (registers, spills, warps)"] = compiled(K._attend_out_kernel)
    print("sweep", res, flush=True)
    return res


def compiled(fn: Any) -> list[tuple[Any, Any, Any]]:
    """(registers, spills, warps) of each compiled specialization of a Triton kernel."""
    out = []
    for caches in fn.device_caches.values():
        for k in caches[0].values():
            warps = getattr(getattr(k, "metadata", None), "num_warps", None)
            out.append((getattr(k, "n_regs", None), getattr(k, "n_spills", None), warps))
    return out


def layer_kernels(loop: Any, key: Any) -> list[tuple[str, float]]:
    """The first layer's kernels in one eager step (after the embedding), name and µs."""
    import torch

    with torch.inference_mode():
        events = cuda_events(lambda: loop._step(key), [loop.tok, loop.pos, loop.next_tok])
    events.sort(key=lambda e: e.time_range.start)
    per = (len(events) - 4) // len(loop.fused.layers)  # embed, final LN, head, choose
    return [(e.name[:40], round(e.time_range.elapsed_us(), 2)) for e in events[1 : 1 + per]]


def sweep_fold_gemvs(loop: Any) -> dict[str, float]:
    """One layer's µs with other block sizes of the folded cross-attention's two GEMVs (A:
    heads * 32 rows of d, LayerNorm prologue; N: d rows of heads * 32, added)."""
    from stream_tts.engines.decode import kernels as K

    res = {"default": layer_us(loop)}
    a_key, n_key = (16 * 32, 2048, "float", False), (2048, 16 * 32, "float", True)
    for bn, bk in ((1, 512), (2, 1024), (1, 1024), (1, 2048), (2, 2048), (4, 2048)):
        K.OVERRIDES[a_key] = K.GemvConfig(bn, bk, 1, 4)
        res[f"A block_n={bn} block_k={bk}"] = layer_us(loop)
    K.OVERRIDES.pop(a_key)
    for bn, bk, split in ((2, 512, 1), (1, 512, 1), (8, 512, 1), (4, 256, 2)):
        K.OVERRIDES[n_key] = K.GemvConfig(bn, bk, split, 4)
        res[f"N block_n={bn} block_k={bk} split={split}"] = layer_us(loop)
    K.OVERRIDES.pop(n_key)
    print("fold sweep", res, flush=True)
    return res


def sweep_layer_configs(loop: Any) -> dict[str, float]:
    """One layer's µs as one persistent launch with LAYER_SWEEP's configurations."""
    import torch

    from stream_tts.engines.decode import layer_kernel as LK

    keep, res = LK.CONFIG, {}
    fused = loop.fused
    ly = fused.layers[0]
    args = (
        ly, fused.fold.layer_args(0, 32, ly), fused.xs[0],
        (fused.q, fused.a, fused.fold.scores, fused.h), loop.self_cache[0, :, 0], loop.pos,
        fused.bar,
    )  # fmt: skip
    for cfg in LAYER_SWEEP:
        LK.CONFIG = cfg
        try:
            res[str(cfg)] = layer_us(loop)
            with torch.inference_mode():
                res[f"{cfg} barriers alone"] = _graph_us(
                    lambda: LK.decoder_layer(
                        *args, heads=fused.heads, config=cfg, span=(LK.PHASES, -1)  # noqa: B023
                    ),
                    reps=24, runs=REPS,
                )  # fmt: skip
            print("barriers alone", res[f"{cfg} barriers alone"], "us", flush=True)
            LK.check(loop.fused.bar)
        except Exception as e:  # a config that does not compile or fit: say so, go on
            res[str(cfg)] = float("nan")
            print("layer config", cfg, "failed:", str(e)[:300], flush=True)
    LK.CONFIG = keep
    return res


def run_model(
    which: str,
    paths: list[str] | None = None,
    sweep_fused: bool = False,
    sweep_layer: bool = False,
) -> tuple[dict[str, Any], Any]:
    import torch

    from stream_tts.engines.decode.nllb_loop import NllbLoop

    t = time.perf_counter()
    model = build(which)
    out: dict[str, Any] = {"build_s": time.perf_counter() - t}
    vocab = model.get_output_embeddings().weight.shape[0]
    g = torch.Generator().manual_seed(1)
    keep = sorted(set(torch.randperm(vocab, generator=g)[: int(HEAD_FRACTION * vocab)].tolist()))
    keep = sorted({*keep, int(model.config.eos_token_id)})
    from stream_tts.engines.decode import cross_fold as CF
    from stream_tts.engines.decode import fused_step as FS
    from stream_tts.engines.decode import kernels as K

    # (name, loop options, switches) - the switches as the loop is built and its graphs are
    # captured; "overlap" is NllbLoop.overlap. `on`: the defaults.
    mods = {
        "PDL": K, "FAST_I8": K, "FUSE_FFN": FS, "FUSE_ATTN_OUT": FS, "STACKED": CF,
        "INT4_HEAD": FS, "PERSISTENT": FS, "LN_ONE_LOAD": K,
    }  # fmt: skip
    on = {k: getattr(m, k) for k, m in mods.items()}
    # "before": the step as on main before this round (the int8 fold converting W_q and W_o
    # every sentence); "+ ffn", "+ attn-out": the fusions, off by default (slower).
    old = {**on, "FUSE_FFN": False, "FUSE_ATTN_OUT": False, "STACKED": False, "PERSISTENT": False}
    one = {**on, "PERSISTENT": True}  # " (one launch a layer)": layer_kernel.py
    ffn, att = {"FUSE_FFN": True}, {"FUSE_ATTN_OUT": True}
    nofold = {"cross_fold": False}
    int8 = {"weights": "int8"}
    int4 = {"weights": "int4"}
    bf16 = {"fused": True}
    head = f"fused int8 + script head ({len(keep) / vocab:.0%} rows)"
    head4 = f"fused int4 + script head ({len(keep) / vocab:.0%} rows)"
    variants: list[tuple[str, dict[str, Any], dict[str, bool]]] = [
        ("current (SDPA step graph)", {"fused": False}, {**old, "overlap": False}),
        ("fused bf16 before", bf16, old),
        ("fused bf16 + ffn", bf16, {**on, **ffn}),
        ("fused bf16 + attn-out", bf16, {**on, **att}),
        ("fused bf16 + ffn + attn-out", bf16, {**on, **ffn, **att}),
        ("fused bf16", bf16, on),
        ("fused bf16, no PDL", bf16, {**on, "PDL": False}),
        ("fused bf16, no fold", {**bf16, **nofold}, on),
        ("fused int8 before", int8, old),
        ("fused int8 + ffn", int8, {**on, **ffn}),
        ("fused int8 + attn-out", int8, {**on, **att}),
        ("fused int8 + ffn + attn-out", int8, {**on, **ffn, **att}),
        ("fused int8", int8, on),
        ("fused int8, I2F convert", int8, {**on, "FAST_I8": False}),
        (f"{head} before", {**int8, "head_ids": keep}, old),
        (head, {**int8, "head_ids": keep}, on),
        ("fused int4", int4, on),
        ("fused int4 (int8 head)", int4, {**on, "INT4_HEAD": False}),
        ("fused int4 (plain nibble convert)", int4, {**on, "FAST_I8": False}),
        (head4, {**int4, "head_ids": keep}, on),
        ("fused bf16 (one launch a layer)", bf16, one),
        ("fused int8 (one launch a layer)", int8, one),
        ("fused int4 (one launch a layer)", int4, one),
        ("fused bf16 (LN in chunks)", bf16, {**on, "LN_ONE_LOAD": False}),
        ("fused int8 (LN in chunks)", int8, {**on, "LN_ONE_LOAD": False}),
    ]
    if paths:
        variants = variants[:1] + [v for v in variants[1:] if v[0] in paths]
    tokens = {}
    ref_logits: Any = None  # the current path's, teacher-forced on its own greedy tokens
    for name, kw, flags in variants:
        for k, m in mods.items():
            setattr(m, k, flags[k])
        loop = NllbLoop(model, graphs=True, **kw)
        loop.overlap = flags.get("overlap", True)
        out[name] = time_variant(name, loop, weight_bytes(loop, 32))
        tokens[name] = loop.generate(SRC, 256050, NEW_TOKENS)
        base_tokens = tokens[variants[0][0]]
        if base_tokens is not None and (ref_logits is None or "int" in name):
            forced = torch.stack(loop.forced_logits(SRC, 256050, base_tokens[1:])).cpu()
            if ref_logits is None:
                ref_logits = forced
            else:
                out[name]["vs_current_forced"] = divergence(ref_logits, forced)
                print(name, "forced", out[name]["vs_current_forced"], flush=True)
        if loop.fused is not None and loop.fused.head.w.shape[0] == vocab:
            out[name]["layer_us"] = layer_us(loop)
            out[name]["layer0_kernels_us"] = layer_kernels(loop, (loop._self_len(NEW_TOKENS), 32))
            print("layer 0 kernels", out[name]["layer0_kernels_us"], flush=True)
            if sweep_fused and name.endswith("+ ffn + attn-out"):
                out[name]["sweep"] = sweep_fusions(loop)
            if SWEEP_FOLD and name == "fused int8":
                out[name]["fold_sweep"] = sweep_fold_gemvs(loop)
            if sweep_layer and name == "fused int8 (one launch a layer)":
                out[name]["layer_sweep"] = sweep_layer_configs(loop)
        del loop
        gc.collect()  # the decoder and its fold refer to each other: free both now
        torch.cuda.empty_cache()
    for k, m in mods.items():
        setattr(m, k, on[k])
    base = tokens[variants[0][0]]
    for name, *_ in variants[1:]:
        same = sum(a == b for a, b in zip(base or [], tokens[name] or [], strict=False))
        out[name]["same_tokens_as_current"] = f"{same}/{len(base or [])}"
        before = tokens.get(name + " before", tokens.get(name.split(" +")[0] + " before"))
        if before is not None and not name.endswith(" before"):
            same = sum(a == b for a, b in zip(before, tokens[name] or [], strict=False))
            out[name]["same_tokens_as_before"] = f"{same}/{len(before)}"
    return out, model


def divergence(ref: Any, var: Any) -> dict[str, float]:
    """Teacher-forced logits [steps, vocab] of the reference and a variant: KL(ref || var)
    mean / max over steps, max |Δ log-prob| over the vocabulary, top-1 agreement. A script
    head's -inf rows are compared on the kept rows only (renormalised)."""
    import torch

    ref, var = ref.float(), var.float()
    kept = torch.isfinite(var[0])
    if not kept.all():
        ref, var = ref[:, kept], var[:, kept]
    lp_ref, lp_var = torch.log_softmax(ref, dim=-1), torch.log_softmax(var, dim=-1)
    kl = (lp_ref.exp() * (lp_ref - lp_var)).sum(dim=-1)
    return {
        "kl_mean": float(kl.mean()),
        "kl_max": float(kl.max()),
        "max_abs_dlogprob": float((lp_ref - lp_var).abs().max()),
        "top1_agree": float((ref.argmax(-1) == var.argmax(-1)).float().mean()),
    }


# (block_n, block_k bytes, split_k or None for the default) tried per int4 shape. Call 1 of
# 2026-11-30-h200-nllb-int4 tried block_n 4 / 8 / 16 x block_k 128 / 256 / 512 (the defaults
# came from it); these are its neighbours.
INT4_SWEEP = {
    "store": [(16, 256, None), (32, 256, None), (16, 128, None), (8, 512, None), (32, 128, None)],
    "add": [(4, 512, None), (4, 1024, None), (8, 512, None), (2, 512, None), (4, 512, 4)],
}


def int4_shapes(model: Any) -> list[dict[str, Any]]:
    """The int4 GEMVs alone with their step epilogues, cycling through >= COLD_BYTES of
    copies: int8 and int4 at their default blocks, then int4 at the INT4_SWEEP blocks (warps
    by gemv_config's rule)."""
    import torch

    from stream_tts.engines.decode import kernels as K
    from stream_tts.engines.decode.quant import quantize_int4, quantize_rows

    rows = []
    for name, n, k, epi in step_shapes(model, cross_q=False):
        copies = max(1, -(-COLD_BYTES // (n * k)))  # int8 bytes: int4 reads twice the copies
        ws = [torch.randn(n, k, device="cuda", dtype=torch.bfloat16) * 0.02 for _ in range(copies)]
        q8 = [quantize_rows(w) for w in ws]
        q4 = [quantize_int4(w) for w in ws]
        del ws
        x = torch.randn(k, device="cuda")
        bias = torch.randn(n, device="cuda", dtype=torch.bfloat16)
        ln = (torch.ones(k, device="cuda"), torch.zeros(k, device="cuda"), 1e-5)
        out = torch.zeros(n, device="cuda")
        best = K.new_best("cuda")
        kw: dict[str, Any] = {
            "bias": None if name == "head" else bias,
            "ln": ln if "ln" in epi else None,
            "relu": "relu" in epi,
            "add": epi == "add",
        }
        if name == "head":
            kw["argmax"] = (best, 2)

        def us(mats: Any, c: Any = None, x: Any = x, out: Any = out, kw: Any = kw) -> float:
            def run() -> None:
                for wt, sc in mats:
                    K.gemv(wt, x, out, scale=sc, config=c, **kw)

            return _graph_us(run, max(1, 20 // len(mats))) / len(mats)

        row: dict[str, Any] = {"shape": name, "N": n, "K": k, "epilogue": epi}
        row["int8_us"] = us(q8)
        row["int4_us"] = us(q4)
        dflt = K.gemv_config(n, k, int8=False, residual=kw["add"], int4=True)
        row["int4_default"] = str(dflt)
        sweep = {}
        for bn, bk, sp in INT4_SWEEP["add" if kw["add"] else "store"]:
            c = K.GemvConfig(bn, bk, sp or dflt.split_k, min(8, max(4, bn * bk * 2 // 2048)))
            try:
                sweep[f"block_n={bn} block_k={bk} split={c.split_k}"] = us(q4, c)
            except Exception as e:  # a config that does not compile: say so, go on
                sweep[f"block_n={bn} block_k={bk}"] = repr(e)[:80]
        row["int4_sweep_us"] = sweep
        row["int4_kernel"] = compiled(K._gemv_kernel)[-1:]
        print(row, flush=True)
        rows.append(row)
        del q8, q4
        torch.cuda.empty_cache()
    return rows


def copy_rate() -> float:
    """Bytes read plus written per second by a 1 GiB device-to-device copy."""
    import torch

    a = torch.empty(1 << 30, dtype=torch.uint8, device="cuda")
    b = torch.empty_like(a)
    ms = _cuda_ms(lambda: b.copy_(a), 10)
    return 2 * a.numel() / ms / 1e6


def _graph_us(fn: Any, reps: int = 20, runs: int = 10) -> float:
    """Microseconds per call of `fn`, called `reps` times back to back in one CUDA graph."""
    import torch

    fn()
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(reps):
            fn()
    return 1000 * _cuda_ms(graph.replay, runs) / reps


def _copies(n: int, k: int) -> int:
    """Distinct copies of an N x K bf16 weight that a timing cycles through: >= COLD_BYTES in
    all, so each call reads HBM, not the 50 MB L2 the previous call filled."""
    return max(1, -(-COLD_BYTES // (2 * n * k)))


def time_shape(name: str, n: int, k: int, epi: str, sweep: bool) -> dict[str, Any]:
    """One GEMV shape: cuBLAS, and our kernel in bf16 and int8, bare and with its epilogue."""
    import torch
    import torch.nn.functional as F

    from stream_tts.engines.decode import kernels as K
    from stream_tts.engines.decode.quant import quantize_rows

    copies = _copies(n, k)
    ws = [torch.randn(n, k, device="cuda", dtype=torch.bfloat16) * 0.02 for _ in range(copies)]
    qs = [quantize_rows(w) for w in ws]
    x = torch.randn(k, device="cuda")
    xb = x.to(torch.bfloat16).view(1, k)
    bias = torch.randn(n, device="cuda", dtype=torch.bfloat16)
    ln = (torch.ones(k, device="cuda"), torch.zeros(k, device="cuda"), 1e-5)
    out = torch.zeros(n, device="cuda")
    best = K.new_best("cuda")

    def ours(int8: bool, full: bool, cfg: Any = None) -> Any:
        kw: dict[str, Any] = {"config": cfg}
        if full:
            kw["bias"] = None if name == "head" else bias
            kw["ln"] = ln if "ln" in epi else None
            kw["relu"] = "relu" in epi
            kw["add"] = epi == "add"
            if name == "head":
                kw["argmax"] = (best, 2)
        mats = [(q, sc) for q, sc in qs] if int8 else [(w, None) for w in ws]

        def calls() -> None:
            for wt, sc in mats:
                K.gemv(wt, x, out, scale=sc, **kw)

        return calls

    reps = max(1, 20 // copies)  # graph calls of the whole cycle
    row: dict[str, Any] = {"shape": name, "N": n, "K": k, "epilogue": epi, "copies": copies}

    def us(fn: Any) -> float:
        return _graph_us(fn, reps) / copies

    def cublas() -> None:
        for w in ws:
            F.linear(xb, w)

    row["cublas_us"] = us(cublas)
    row["bf16_us"] = us(ours(False, False))
    row["bf16_epi_us"] = us(ours(False, True))
    row["int8_us"] = us(ours(True, False))
    row["int8_epi_us"] = us(ours(True, True))
    if sweep:
        best: dict[str, Any] = {}
        top: dict[str, Any] = {}
        for int8, tag in ((False, "bf16"), (True, "int8")):
            for bn in (4, 8, 16):
                for bk in (256, 512, 1024):
                    for sp in (1, 2, 4) if epi == "add" else (1,):
                        t = us(ours(int8, True, K.GemvConfig(bn, bk, sp, 4)))
                        if tag not in top or t < top[tag][0]:
                            top[tag] = (t, f"block_n={bn} block_k={bk} split_k={sp}")
        row["sweep_best"] = top
    print(row, flush=True)
    return row


def step_shapes(model: Any, cross_q: bool = True) -> list[tuple[str, int, int, str]]:
    """A decoder step's GEMVs as (name, N, K, epilogue): ln = LayerNorm prologue, add = into
    the residual stream; `cross_q`: with the unfolded cross-attention's query."""
    cfg = model.config
    d, ffn, vocab = cfg.d_model, cfg.decoder_ffn_dim, cfg.vocab_size
    return [
        ("qkv", 3 * d, d, "ln"),
        ("out-proj", d, d, "add"),
        *([("cross-q", d, d, "ln")] if cross_q else []),
        ("fc1", ffn, d, "ln+relu"),
        ("fc2", d, ffn, "add"),
        ("head", vocab, d, "ln"),
    ]


def gemv_shapes(model: Any, sweep: bool) -> list[dict[str, Any]]:
    return [time_shape(*sh, sweep) for sh in step_shapes(model)]


def markdown(res: dict[str, Any]) -> str:
    lines = [
        f"# NLLB decode step, fused Triton kernels ({res['device']}, {res['date']})",
        "",
        f"Command: `{res['command']}`. torch {res['torch']}, triton {res['triton']}. Random "
        "bf16 weights, full-size shapes (no checkpoint offline); step = graph replay, median "
        f"of {REPS} runs of {STEPS} steps; translation = encoder + {NEW_TOKENS} steps. "
        f"Copy rate here: {res['copy_rate_gb_s']:.0f} GB/s (read + write).",
        "",
    ]
    for which in res["models"]:
        m = res["models"][which]
        lines += [
            f"## NLLB-{which}",
            "",
            "| path | step ms | CUDA events / step (ours) | weight MB | GB/s | 25-token "
            "translation ms | encoder ms | same tokens as current / before | one layer µs |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for name, row in m.items():
            if not isinstance(row, dict):
                continue
            ln = row["launches"]
            layer = f"{row['layer_us']:.1f}" if "layer_us" in row else "-"
            same = " / ".join(row.get(f"same_tokens_as_{k}", "-") for k in ("current", "before"))
            lines.append(
                f"| {name} | {row['step_ms']:.3f} | {ln['cuda_events']} ({ln['ours']}) | "
                f"{row['weight_bytes'] / 1e6:.0f} | {row['gb_s']:.0f} | "
                f"{row['translate_ms']:.1f} | {row['encoder_ms']:.2f} | {same} | {layer} |"
            )
        forced = [
            (n, r["vs_current_forced"])
            for n, r in m.items()
            if isinstance(r, dict) and "vs_current_forced" in r
        ]
        if forced:
            lines += [
                "",
                "Teacher-forced on the current path's greedy tokens, against its logits:",
                "",
                "| path | KL mean | KL max | max abs Δ log-prob | top-1 agree |",
                "|---|---|---|---|---|",
            ]
            for n, v in forced:
                lines.append(
                    f"| {n} | {v['kl_mean']:.2e} | {v['kl_max']:.2e} | "
                    f"{v['max_abs_dlogprob']:.3f} | {v['top1_agree']:.3f} |"
                )
        for n, r in m.items():
            if isinstance(r, dict) and "fold_sweep" in r:
                lines += ["", f"One layer ({n}), µs, with other blocks of the fold's GEMVs:", ""]
                lines += [f"- {c}: {us:.1f}" for c, us in r["fold_sweep"].items()]
            if isinstance(r, dict) and "layer_sweep" in r:
                lines += ["", f"One layer as one persistent launch ({n}), µs per config:", ""]
                lines += [f"- {c}: {us:.1f}" for c, us in r["layer_sweep"].items()]
        for r in res.get("int4_gemv", {}).get(which, []):
            top = min(
                ((t, c) for c, t in r["int4_sweep_us"].items() if isinstance(t, float)),
                default=(float("nan"), "-"),
            )
            lines.append(
                f"- int4 {r['shape']} ({r['epilogue']}, {r['N']}x{r['K']}): int8 "
                f"{r['int8_us']:.1f} µs, int4 {r['int4_us']:.1f} µs ({r['int4_default']}); "
                f"best of sweep {top[0]:.1f} µs ({top[1]})"
            )
        lines += [
            "",
            "| GEMV | N x K | cuBLAS µs | bf16 µs | bf16 + epilogue µs | int8 µs | int8 + "
            "epilogue µs | copy-rate floor bf16 / int8 µs |",  # the last: bytes / copy rate
            "|---|---|---|---|---|---|---|---|",
        ]
        rate = res["copy_rate_gb_s"]  # bytes moved (read + written) per second by a copy
        for r in res["gemv"][which]:
            floor = r["N"] * r["K"] * 2 / rate / 1e3  # reading the bf16 matrix at that rate
            lines.append(
                f"| {r['shape']} ({r['epilogue']}) | {r['N']}x{r['K']} | {r['cublas_us']:.1f} | "
                f"{r['bf16_us']:.1f} | {r['bf16_epi_us']:.1f} | {r['int8_us']:.1f} | "
                f"{r['int8_epi_us']:.1f} | {floor:.1f} / {floor / 2:.1f} |"
            )
            if "sweep_best" in r:
                lines.append(f"|  best blocks: {r['sweep_best']} | | | | | | | |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--which", default="3.3b,600m")
    ap.add_argument("--sweep", action="store_true", help="also try block configurations")
    ap.add_argument("--paths", default="", help="comma-separated path names: only those")
    ap.add_argument("--no-shapes", action="store_true", help="skip the per-shape timings")
    ap.add_argument("--int4-shapes", action="store_true", help="int4 GEMVs alone, block sweep")
    ap.add_argument(
        "--sweep-fused", action="store_true", help="block sizes of the fused FFN / attn-out"
    )
    ap.add_argument(
        "--sweep-layer", action="store_true", help="configurations of the one-launch layer"
    )
    ap.add_argument(
        "--sweep-fold", action="store_true", help="block sizes of the folded cross-attention"
    )
    a = ap.parse_args()
    global SWEEP_FOLD
    SWEEP_FOLD = a.sweep_fold
    if a.sweep_layer:
        LAYER_SWEEP.extend(_layer_sweep())
    import torch
    import triton

    if not torch.cuda.is_available():
        raise SystemExit("gpu_kernels.py needs a CUDA GPU")
    res: dict[str, Any] = {
        "device": torch.cuda.get_device_name(),
        "date": time.strftime("%Y-%m-%d"),
        "torch": torch.__version__,
        "triton": triton.__version__,
        "command": "python " + " ".join(sys.argv),
        "copy_rate_gb_s": copy_rate(),
        "models": {},
        "gemv": {},
    }
    print("copy rate", res["copy_rate_gb_s"], "GB/s", flush=True)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for which in a.which.split(","):
        paths = [p for p in a.paths.split(",") if p]
        res["models"][which], model = run_model(which, paths, a.sweep_fused, a.sweep_layer)
        (out / "gpu_kernels.json").write_text(json.dumps(res, indent=1))  # in case of a kill
        res["gemv"][which] = [] if a.no_shapes else gemv_shapes(model, a.sweep)
        if a.int4_shapes:
            res.setdefault("int4_gemv", {})[which] = int4_shapes(model)
        del model
        torch.cuda.empty_cache()
        (out / "gpu_kernels.json").write_text(json.dumps(res, indent=1))
        (out / "gpu_kernels.md").write_text(markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
