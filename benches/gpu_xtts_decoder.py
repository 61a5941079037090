"""XTTS-v2's first chunk on one GPU: the HiFi-GAN decoder before and after preparation
(engines/xtts_decoder.py), and the chunk end to end through XttsEngine.

    python benches/gpu_xtts_decoder.py --out DIR

A full-size random-weight XTTS-v2 built in memory from coqui-tts' classes (no checkpoint, no
hub). The decoder alone, on the first chunk's shape (8 latents, 8704 samples), per path:
- wall ms per call (synchronised before and after: what the stream waits for, Python included)
  and GPU ms (CUDA events), medians of REPS;
- CUDA events of one eager call (the launches a graph replaces);
- the audio's difference from coqui's module and from exact float32 (TF32 off, folded):
  max |diff| and SNR in dB.
Paths: coqui's module as the engine ran it (weight norm recomputed per call), folded eager,
folded with TF32 off, the graph with cuDNN-timed and with heuristic algorithms, the graph in
bf16. The kernels of one folded eager call, by kind (GPU time summed). The engine's first chunk
(wall, synthesize() to its first chunk: tokenizer, prefill, 8 tokens, decoder, crossfade, copy to
the host), with coqui's decoder and with ours, interleaved; and its parts on the engine's thread:
the loop's 8 tokens, the decoder. Results: DIR/gpu_xtts_decoder.json and .md. Timings are
benchmarks, not tests.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent / "python"))
sys.path.insert(0, str(HERE))

from gpu_e2e import _ms, sentences  # noqa: E402
from gpu_kernels import _cuda_ms, cuda_events  # noqa: E402

REPS = 30
FIRST = 8  # XttsEngine's first_chunk_tokens
TOKENS = 40  # tokens forced per sentence: the first chunk never waits on an early stop


def build() -> Any:
    """coqui's Xtts at XTTS-v2's shapes, random weights, on the GPU, in eval mode."""
    import gpu_models as gm
    import torch

    vocab = gm.xtts_vocab(Path(tempfile.mkdtemp()) / "vocab.json")
    torch.manual_seed(0)
    try:
        with torch.device("cuda"):  # random init on the GPU: seconds, not a minute
            m = gm.xtts_model(None, vocab).model
    except Exception as e:  # a module that builds only on the CPU
        print(f"build on cuda failed ({e!r}); building on the CPU", flush=True)
        m = gm.xtts_model(None, vocab).model.cuda()
    m.gpt.init_gpt_for_inference(kv_cache=True)
    m.eval()  # coqui's Xtts.eval returns None
    return m


def wall_ms(fn: Any, reps: int = REPS) -> float:
    return float(_ms(fn, reps)[0])


def diff(a: Any, ref: Any) -> dict[str, float]:
    d = (a.float() - ref.float()).flatten()
    r = ref.float().flatten()
    snr = 10 * float(((r * r).sum() / (d * d).sum().clamp_min(1e-30)).log10())
    return {"max_abs": float(d.abs().max()), "snr_db": snr}


def kernel_kinds(fn: Any) -> dict[str, Any]:
    """GPU µs and count of one call's kernels, by kind: convolutions, elementwise, other."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    fn()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    kinds: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    names: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for e in prof.events():
        if e.device_type != torch.autograd.DeviceType.CUDA:
            continue
        n = e.name.lower()
        conv = any(k in n for k in ("conv", "gemm", "xmma", "sm90", "cudnn", "implicit"))
        elem = any(k in n for k in ("elementwise", "leaky", "vectorized", "unrolled", "add"))
        kind = "conv" if conv else "elementwise" if elem else "other"
        for d, key in ((kinds, kind), (names, e.name[:90])):
            d[key][0] += 1
            d[key][1] += e.time_range.elapsed_us()
    top = sorted(names.items(), key=lambda kv: -kv[1][1])[:12]
    return {
        "by_kind": {k: {"count": c, "us": t} for k, (c, t) in kinds.items()},
        "top": [{"name": k, "count": c, "us": t} for k, (c, t) in top],
    }


def on_fresh_thread(fn: Any) -> None:
    """Run `fn` on a new thread: torch caches cuDNN's plan per shape per thread, timed or
    not, so a capture on a thread that already ran the shape would reuse the earlier pick."""
    err: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as e:
            err.append(e)

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if err:
        raise err[0]


def decoder_paths(m: Any, res: dict[str, Any]) -> Any:
    import torch

    from stream_tts.engines import xtts_decoder as XD

    g = torch.Generator().manual_seed(1)
    zs = [torch.randn(1, 1024, generator=g).cuda() for _ in range(FIRST)]
    spk = torch.randn(1, 512, 1, generator=g).cuda()
    coqui = m.hifigan_decoder  # as loaded: weight norm on each conv
    cudnn = torch.backends.cudnn
    tf32 = cudnn.allow_tf32

    def folded(dtype: Any = torch.float32) -> Any:
        return XD.ChunkDecoder(copy.deepcopy(coqui).to(dtype), prepare=True, graph_latents=FIRST)

    paths: dict[str, Any] = {}
    outs: dict[str, Any] = {}
    with torch.inference_mode():
        ref = XD.ChunkDecoder(coqui, prepare=False)
        eager = folded()
        cudnn.allow_tf32 = False
        exact_dec = folded()
        outs["exact"] = exact_dec(zs, spk)
        paths["folded, eager, TF32 off"] = {"wall_ms": wall_ms(lambda: exact_dec(zs, spk))}
        cudnn.allow_tf32 = tf32
        outs["coqui"] = ref(zs, spk)
        for name, dec in (("coqui (weight norm per call)", ref), ("folded, eager", eager)):
            paths[name] = {
                "wall_ms": wall_ms(lambda dec=dec: dec(zs, spk)),
                "gpu_ms": _cuda_ms(lambda dec=dec: dec(zs, spk), REPS),
                "cuda_events": len(cuda_events(lambda dec=dec: dec(zs, spk), [])),
            }
            outs[name] = dec(zs, spk)
        res["folded_kernels"] = kernel_kinds(lambda: eager(zs, spk))
        graphs = [("graph (cuDNN timed)", torch.float32, True)]
        graphs += [("graph (cuDNN heuristics)", torch.float32, False)]
        graphs += [("graph bf16 (cuDNN timed)", torch.bfloat16, True)]
        default = XD.TIME_CUDNN
        for name, dtype, timed in graphs:
            XD.TIME_CUDNN = timed
            dec = folded(dtype)
            before = torch.cuda.memory_allocated()
            t = time.perf_counter()
            on_fresh_thread(lambda dec=dec: dec.capture(spk))
            row = {"capture_s": time.perf_counter() - t}
            row["graph_pool_mb"] = (torch.cuda.memory_allocated() - before) / 2**20
            row["wall_ms"] = wall_ms(lambda dec=dec: dec(zs, spk))
            row["gpu_ms"] = _cuda_ms(lambda dec=dec: dec(zs, spk), REPS)
            paths[name] = row
            outs[name] = dec(zs, spk)
            del dec
        XD.TIME_CUDNN = default
        cudnn.allow_tf32 = False
        dec = folded()
        on_fresh_thread(lambda: dec.capture(spk))
        paths["graph, TF32 off"] = {"wall_ms": wall_ms(lambda: dec(zs, spk))}
        outs["graph, TF32 off"] = dec(zs, spk)
        cudnn.allow_tf32 = tf32
    for name, row in paths.items():
        out = outs.get(name)
        if out is not None:
            row["vs_coqui"] = diff(out, outs["coqui"])
            row["vs_exact_fp32"] = diff(out, outs["exact"])
        print(name, row, flush=True)
    res["decoder"] = paths
    res["audio_rms"] = float(outs["exact"].float().pow(2).mean().sqrt())
    res["audio_peak"] = float(outs["exact"].abs().max())
    return coqui


def engine_first_chunk(m: Any, unprepared: Any, res: dict[str, Any]) -> None:
    import torch

    from stream_tts.engines.xtts import Voice, XttsEngine
    from stream_tts.engines.xtts_decoder import ChunkDecoder

    g = torch.Generator().manual_seed(2)
    voice = Voice(torch.randn(1, 32, 1024, generator=g), torch.randn(1, 512, 1, generator=g))
    e = XttsEngine(m, voice, language="en", first_chunk_tokens=FIRST)
    e.generate_kwargs = {"min_new_tokens": TOKENS, "max_new_tokens": TOKENS}
    t = time.perf_counter()
    e.warmup()
    res["engine_warmup_s"] = time.perf_counter() - t
    ours = e.decoder
    theirs = ChunkDecoder(unprepared, prepare=False)  # what _stream called before
    text = sentences()[2]

    def first_chunk() -> float:
        torch.cuda.synchronize()
        t = time.perf_counter()
        stream = e.synthesize(text)
        next(stream)
        ms = 1000 * (time.perf_counter() - t)
        stream.close()
        return ms

    times: dict[str, list[float]] = {"coqui decoder": [], "prepared decoder": []}
    for _ in range(REPS):
        for name, dec in (("coqui decoder", theirs), ("prepared decoder", ours)):
            e.decoder = dec
            times[name].append(first_chunk())
    e.decoder = ours
    row: dict[str, Any] = {k: statistics.median(v) for k, v in times.items()}
    row["all_ms"] = times
    loop = e.loop
    ids = torch.IntTensor(m.tokenizer.encode(text.lower(), lang="en")).unsqueeze(0).cuda()

    def tokens() -> list[Any]:
        with torch.inference_mode():
            gen = loop.stream(e._loop_cond, ids, TOKENS, TOKENS)
            zs = [z for _, (_, z) in zip(range(FIRST), gen, strict=False)]
            gen.close()
            return zs

    row["prefill_and_8_tokens_ms"] = wall_ms(lambda: e._on_gpu(tokens))
    zs = e._on_gpu(tokens)
    for name, dec in (("decoder_coqui_ms", theirs), ("decoder_prepared_ms", ours)):

        def decode(dec: Any = dec) -> Any:
            with torch.inference_mode():
                return dec(zs, e.speaker_embedding)

        row[name] = wall_ms(lambda decode=decode: e._on_gpu(decode))
    row["prompt_positions"] = 32 + ids.shape[1] + 3
    res["engine"] = row
    print("engine", {k: v for k, v in row.items() if k != "all_ms"}, flush=True)
    e.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    import torch

    if not torch.cuda.is_available():
        raise SystemExit("gpu_xtts_decoder.py needs a CUDA GPU")
    res: dict[str, Any] = {
        "device": torch.cuda.get_device_name(),
        "date": time.strftime("%Y-%m-%d"),
        "torch": torch.__version__,
        "cudnn": torch.backends.cudnn.version(),
        "command": "python " + " ".join(sys.argv),
    }
    t = time.perf_counter()
    m = build()
    res["build_s"] = time.perf_counter() - t
    unprepared = copy.deepcopy(m.hifigan_decoder)  # the engine folds the model's own
    decoder_paths(m, res)
    engine_first_chunk(m, unprepared, res)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_xtts_decoder.json").write_text(json.dumps(res, indent=1))
    (out / "gpu_xtts_decoder.md").write_text(markdown(res))
    print(markdown(res))


def markdown(res: dict[str, Any]) -> str:
    def f(row: dict[str, Any], key: str, fmt: str = ".2f") -> str:
        return format(row[key], fmt) if key in row else "-"

    lines = [
        f"# XTTS-v2 first chunk: HiFi-GAN decoder ({res['device']}, {res['date']})",
        "",
        f"Command: `{res['command']}`. torch {res['torch']}, cuDNN {res['cudnn']}. Random "
        f"weights at XTTS-v2's shapes; decoder on {FIRST} latents (8704 samples); medians of "
        f"{REPS}. Audio rms {res['audio_rms']:.3f}, peak {res['audio_peak']:.3f}.",
        "",
        "| decoder path | wall ms | GPU ms | CUDA events | vs coqui: max abs, SNR dB | vs "
        "exact fp32: max abs, SNR dB | capture s | pool MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in res["decoder"].items():
        vs = [
            f"{r[k]['max_abs']:.1e}, {r[k]['snr_db']:.0f}" if k in r else "-"
            for k in ("vs_coqui", "vs_exact_fp32")
        ]
        lines.append(
            f"| {name} | {f(r, 'wall_ms')} | {f(r, 'gpu_ms')} | {f(r, 'cuda_events', 'd')} | "
            f"{vs[0]} | {vs[1]} | {f(r, 'capture_s')} | {f(r, 'graph_pool_mb', '.1f')} |"
        )
    k = res["folded_kernels"]
    lines += ["", "Kernels of one folded eager call, by kind: " + ", ".join(
        f"{n} {v['count']} ({v['us']:.0f} µs)" for n, v in k["by_kind"].items()
    ) + "."]  # fmt: skip
    lines += ["", "| kernel | count | GPU µs |", "|---|---|---|"]
    lines += [f"| `{t['name']}` | {t['count']} | {t['us']:.0f} |" for t in k["top"]]
    e = res["engine"]
    lines += [
        "",
        f"XttsEngine (own loop, fused GPT, prompt {e['prompt_positions']} positions), warm-up "
        f"{res['engine_warmup_s']:.1f} s:",
        "",
        "| first chunk, wall ms (median) | coqui decoder | prepared decoder |",
        "|---|---|---|",
        f"| synthesize() to the first chunk | {e['coqui decoder']:.2f} | "
        f"{e['prepared decoder']:.2f} |",
        f"| the decoder alone (engine thread) | {e['decoder_coqui_ms']:.2f} | "
        f"{e['decoder_prepared_ms']:.2f} |",
        f"| prefill + {FIRST - 1} steps: {FIRST} tokens (engine thread) | "
        f"{e['prefill_and_8_tokens_ms']:.2f} | {e['prefill_and_8_tokens_ms']:.2f} |",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
