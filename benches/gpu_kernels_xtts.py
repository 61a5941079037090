"""XTTS-v2 GPT decode step on one GPU: today's SDPA step graph against the fused step (issue 14).

    python benches/gpu_kernels_xtts.py --out DIR

coqui-tts' GPT at XTTS-v2's real shapes (30 GPT-2 blocks, d_model 1024, 16 heads, 1026 audio
tokens), random bf16 weights built in memory on the GPU (no checkpoint); a prompt of 32
conditioning latents + 62 text positions + start = 95 positions, as a short sentence has. For
each path it writes
- the step, graph replay, ms (median of REPS runs of STEPS steps after the prompt, so the cache
  lengths are those of a first chunk), and at a long context (cache slots 480..503);
- the step's parts: the 30 blocks alone and the heads + sampling alone, µs (graph replay);
- CUDA events in one eager step (torch.profiler) and effective GB/s of the blocks' weights;
- the first chunk's GPT share: prefill + 7 steps = the 8 tokens XttsEngine's first chunk
  waits for (cuda events around graph replays), and the same through stream() (wall clock,
  with its per-token host reads);
- tokens and latents against today's path with greedy sampling (top_k=1): free-running, and
  teacher-forced on today's tokens (each step fed today's previous token and repeat history:
  how often the same token wins, and the latents' largest relative difference).
Fused variants also run without PDL and with other attention tilings, for comparison.
Results: DIR/gpu_kernels_xtts.json and .md. Timings are benchmarks, not tests.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent / "python"))
sys.path.insert(0, str(HERE))

from gpu_kernels import _cuda_ms, _graph_us, cuda_events  # noqa: E402

STEPS = 24
REPS = 15
TEXT = 60  # text ids; with the start/stop text tokens, 32 latents and the start: 95 positions
LONG = 480  # the long-context step's first cache slot
FIRST_CHUNK = 8  # XttsEngine's first_chunk_tokens
COMPARE = 32  # greedy tokens compared with today's path
TEXT_TOKENS = 6681  # XTTS-v2's tokenizer size (text_embedding rows; not on the step's path)
GREEDY = {"temperature": 0.75, "top_k": 1, "top_p": 0.85, "repetition_penalty": 10.0}


def build() -> Any:
    import gpu_models as gm
    import torch
    from TTS.tts.layers.xtts.gpt import GPT

    a = gm.XTTS_V2_ARGS
    torch.manual_seed(0)
    with torch.device("cuda"):
        gpt = GPT(
            layers=a["gpt_layers"],
            model_dim=a["gpt_n_model_channels"],
            start_text_token=261,
            stop_text_token=0,
            heads=a["gpt_n_heads"],
            max_text_tokens=a["gpt_max_text_tokens"],
            max_mel_tokens=a["gpt_max_audio_tokens"],
            max_prompt_tokens=a["gpt_max_prompt_tokens"],
            number_text_tokens=TEXT_TOKENS,
            num_audio_tokens=a["gpt_num_audio_tokens"],
            start_audio_token=a["gpt_start_audio_token"],
            stop_audio_token=a["gpt_stop_audio_token"],
            use_perceiver_resampler=a["gpt_use_perceiver_resampler"],
            code_stride_len=a["gpt_code_stride_len"],
        )
    return gpt.eval()


def events(loop: Any, key: int) -> int:
    """CUDA-side events (kernels, copies, sets) of one eager step."""
    state = [loop.tok, loop.cpos, loop.gpos, loop.seen, loop.next_tok]
    return len(cuda_events(lambda: loop._step(key), state))


def forced(loop: Any, cond: Any, text: Any, ref: list[int]) -> tuple[list[int], Any]:
    """The loop's picks and latents when every step is fed `ref`'s previous token, with the
    repeat penalty's history set to `ref`'s tokens so far (graph replays)."""
    import torch

    n = loop._prefill(cond, text)
    seen = loop.seen.clone()  # the prompt's ids and the first token
    picks, latents = [int(loop.next_tok.item())], [loop.latent.float().clone()]
    for i in range(1, len(ref)):
        loop.tok.fill_(ref[i - 1])
        seen[ref[i - 1]] = True
        loop.seen.copy_(seen)
        loop._graphs.run(loop._cache_len(n + i))
        picks.append(int(loop.next_tok.item()))
        latents.append(loop.latent.float().clone())
    return picks, torch.cat(latents)


def run_variant(
    gpt: Any, cond: Any, text: Any, fused: bool, block_t: int | None, ref: list[int] | None
) -> Any:
    import torch

    from stream_tts.engines.decode.runner import bucket
    from stream_tts.engines.decode.xtts_loop import PROMPT_BUCKETS, XttsLoop

    loop = XttsLoop(gpt, graphs=True, dtype=torch.bfloat16, sampling=GREEDY, fused=fused)
    if loop.fused is not None and block_t is not None:
        loop.fused.block_t = block_t
    row: dict[str, Any] = {}
    with torch.inference_mode():
        t = time.perf_counter()
        got = list(loop.stream(cond, text, COMPARE, COMPARE))  # captures what it needs
        row["first_stream_s"] = time.perf_counter() - t
        row["tokens"] = [tok for tok, _ in got]
        latents = torch.cat([z.float() for _, z in got])
        if ref is not None:
            row["forced_picks"], latents = forced(loop, cond, text, ref)
        n = loop._prefill(cond, text)
        graphs = loop._graphs
        assert graphs is not None

        def timed(first: int) -> float:
            key = loop._cache_len(first + STEPS)
            graphs.run(key)  # captured before timing

            def steps() -> None:
                loop.cpos.fill_(first)
                loop.gpos.fill_(1)
                for _ in range(STEPS):
                    graphs.run(key)

            return _cuda_ms(steps, REPS) / STEPS

        row["prompt"] = n
        row["step_ms"] = timed(n)
        row["step_long_ms"] = timed(LONG)
        key = loop._cache_len(n + FIRST_CHUNK)
        row["cuda_events"] = events(loop, key)
        loop.cpos.fill_(n)
        loop.gpos.fill_(1)
        x = torch.zeros(1, loop.d, dtype=loop.dtype, device="cuda")
        row["heads_us"] = _graph_us(lambda: loop._head(x), reps=1, runs=REPS)
        if loop.fused is not None:
            f, g = loop.fused, gpt

            def blocks() -> None:
                f.step(g.mel_embedding.weight, g.mel_pos_embedding.emb.weight, loop.tok,
                       loop.gpos, loop.cache, loop.cpos, key)  # fmt: skip

            row["blocks_us"] = _graph_us(blocks, reps=1, runs=REPS)
            row["weight_bytes"] = f.nbytes
            row["gb_s"] = f.nbytes / row["blocks_us"] / 1e3
        assert loop._prefill_graphs is not None
        size = bucket(n, PROMPT_BUCKETS)

        def first_chunk() -> None:
            loop._prefill_graphs.run(size)
            for i in range(FIRST_CHUNK - 1):
                graphs.run(loop._cache_len(n + i + 1))

        row["first_chunk_ms"] = _cuda_ms(first_chunk, REPS)
        walls = []
        for _ in range(10):
            torch.cuda.synchronize()
            t = time.perf_counter()
            for i, _tok in enumerate(loop.stream(cond, text, FIRST_CHUNK, FIRST_CHUNK)):
                if i == FIRST_CHUNK - 1:
                    walls.append(1000 * (time.perf_counter() - t))
        row["first_chunk_stream_ms"] = statistics.median(walls)
    return row, latents


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    import torch
    import triton

    from stream_tts.engines.decode import kernels as K

    if not torch.cuda.is_available():
        raise SystemExit("gpu_kernels_xtts.py needs a CUDA GPU")
    res: dict[str, Any] = {
        "device": torch.cuda.get_device_name(),
        "date": time.strftime("%Y-%m-%d"),
        "torch": torch.__version__,
        "triton": triton.__version__,
        "command": "python " + " ".join(sys.argv),
        "paths": {},
    }
    t = time.perf_counter()
    gpt = build()
    res["build_s"] = time.perf_counter() - t
    g = torch.Generator().manual_seed(1)
    cond = (torch.randn(1, 32, 1024, generator=g) * 0.5).cuda()
    text = torch.randint(0, TEXT_TOKENS, (1, TEXT), generator=g).cuda()
    # (name, fused, attention block_t, kernels.PDL)
    variants = [
        ("current (SDPA step graph)", False, None, K.PDL),
        ("fused, no PDL", True, None, False),
        ("fused", True, None, K.PDL),
        ("fused, attention block 32", True, 32, K.PDL),
        ("fused, attention block 128", True, 128, K.PDL),
    ]
    saved = K.PDL
    base: Any = None
    for name, fused, block_t, pdl in variants:
        K.PDL = pdl
        row, latents = run_variant(gpt, cond, text, fused, block_t, base and base[0])
        if base is None:
            base = row["tokens"], latents
        same = sum(a == b for a, b in zip(base[0], row["tokens"], strict=True))
        row["same_tokens_as_current"] = f"{same}/{len(base[0])}"
        picks = row.pop("forced_picks", base[0])
        same = sum(a == b for a, b in zip(base[0][1:], picks[1:], strict=True))
        row["forced_same_tokens"] = f"{same}/{len(base[0]) - 1}"  # the steps' picks
        err = (latents - base[1]).norm(dim=1) / base[1].norm(dim=1)
        row["forced_latent_max_rel_err"] = float(err[1:].max())
        del row["tokens"]
        res["paths"][name] = row
        print(name, row, flush=True)
        torch.cuda.empty_cache()
    K.PDL = saved
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_kernels_xtts.json").write_text(json.dumps(res, indent=1))
    (out / "gpu_kernels_xtts.md").write_text(markdown(res))
    print(markdown(res))


def markdown(res: dict[str, Any]) -> str:
    lines = [
        f"# XTTS-v2 GPT decode step, fused Triton kernels ({res['device']}, {res['date']})",
        "",
        f"Command: `{res['command']}`. torch {res['torch']}, triton {res['triton']}. Random bf16 "
        "weights at XTTS-v2's shapes (no checkpoint offline); prompt 95 positions; step = graph "
        f"replay, median of {REPS} runs of {STEPS} steps; first chunk = prefill + "
        f"{FIRST_CHUNK - 1} steps (the {FIRST_CHUNK} tokens the first audio chunk waits for).",
        "",
        "| path | step ms | step ms at cache 480 | blocks µs | heads + sampling µs | CUDA "
        "events / step | GB/s (blocks) | first chunk ms (graphs) | first chunk ms (stream) | "
        "same greedy tokens | teacher-forced: same tokens, latents' max rel. err |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in res["paths"].items():
        blocks = f"{r['blocks_us']:.0f}" if "blocks_us" in r else "-"
        gbs = f"{r['gb_s']:.0f}" if "gb_s" in r else "-"
        lines.append(
            f"| {name} | {r['step_ms']:.3f} | {r['step_long_ms']:.3f} | {blocks} | "
            f"{r['heads_us']:.0f} | {r['cuda_events']} | {gbs} | {r['first_chunk_ms']:.2f} | "
            f"{r['first_chunk_stream_ms']:.2f} | {r['same_tokens_as_current']} | "
            f"{r['forced_same_tokens']}, {r['forced_latent_max_rel_err']:.1e} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
