"""GPU benchmark: NLLB-200 translation and XTTS-v2 streaming, stock stacks vs our engines.

Full-size random-weight models are built from the real architectures (random weights time the
same as real ones for the same shapes and token counts); token counts are forced so runs compare.
Everything is measured in one run, stock and ours side by side, medians of `--reps` runs after
warm-up. Results go to OUT/gpu_bench.json and OUT/gpu_bench.md.

    python benches/gpu_bench.py --out benches/results          # on the GPU machine
    python benches/gpu_bench.py --tiny --device cpu --out /tmp  # a quick check of the script
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
import traceback
import types
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def _import_engines() -> None:
    """Import stream_tts.engines without the Rust core (not built on the GPU machine)."""
    try:
        import stream_tts  # noqa: F401
    except ImportError:
        pkg = types.ModuleType("stream_tts")
        pkg.__path__ = [str(ROOT / "python" / "stream_tts")]
        sys.modules["stream_tts"] = pkg


_import_engines()

import gpu_models as gm  # noqa: E402
import torch  # noqa: E402

from stream_tts.engines.nllb import NllbTranslator  # noqa: E402
from stream_tts.engines.xtts import (  # noqa: E402
    Voice,
    XttsEngine,
    patch_coqui_for_transformers,
)

SENTENCE = "The build finished and all tests passed, so the change is ready for review now."


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn: Callable[[], Any], device: str) -> float:
    sync(device)
    t = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t


def median_ms(xs: list[float]) -> float:
    return round(1000 * statistics.median(xs), 1)


# ---------------------------------------------------------------- NLLB


class StopAfter:
    """Stop generation after `n` new decoder tokens (the decoder starts with one token)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        done = input_ids.shape[1] >= self.n + 1
        return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)


def nllb_input(tok: Any, n_tokens: int) -> str:
    """A prefix of SENTENCE that tokenizes to exactly `n_tokens` (language tag and </s> too)."""
    text = SENTENCE * 4
    for end in range(1, len(text)):
        if len(tok(text[:end])["input_ids"]) >= n_tokens:
            return text[:end]
    return text


def bench_nllb(
    label: str,
    shape: dict[str, int],
    device: str,
    dtype: Any,
    new: int,
    reps: int,
    static_cache: bool = True,
) -> dict[str, Any]:
    tok = gm.nllb_tokenizer()
    with torch.device(device):
        model = gm.nllb_model(shape, tok, dtype=dtype)
    tgt = "deu_Latn"
    text = nllb_input(tok, 25)
    enc = tok(text, return_tensors="pt").to(device)
    forced = tok.convert_tokens_to_ids(tgt)
    res: dict[str, Any] = {
        "model": label,
        "params_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 1),
        "dtype": str(dtype),
        "attn": model.config._attn_implementation,
        "input_tokens": int(enc["input_ids"].shape[1]),
        "new_tokens": new,
    }

    def stock() -> Any:
        with torch.inference_mode():
            return model.generate(
                **enc,
                forced_bos_token_id=forced,
                num_beams=1,
                do_sample=False,
                min_new_tokens=new,
                max_new_tokens=new,
            )

    out = stock()
    res["generated_tokens"] = int(out.shape[1] - 1)
    for _ in range(2):
        stock()

    eng = NllbTranslator(
        model,
        tok,
        src="en",
        tgt=tgt,
        generate_kwargs={"min_new_tokens": new, "max_new_tokens": new},
    )
    eng.warmup()
    engines = [eng]
    # Interleaved, so drifting clocks and host load fall on both sides alike.
    stock_t: list[float] = []
    eng_t: list[float] = []
    for _ in range(reps):
        stock_t.append(timed(stock, device))
        eng_t.append(timed(lambda: eng.translate(text), device))
    res["stock_ms"] = median_ms(stock_t)
    res["engine_ms"] = median_ms(eng_t)
    res["stock_p95_ms"] = round(1000 * sorted(stock_t)[int(0.95 * (len(stock_t) - 1))], 1)
    res["engine_p95_ms"] = round(1000 * sorted(eng_t)[int(0.95 * (len(eng_t) - 1))], 1)

    if device.startswith("cuda") and static_cache:
        # Static KV cache: transformers then compiles the decode step (CUDA graphs). The cache
        # keeps the engine's real length (200 new tokens); a criterion stops at `new` tokens.
        try:
            static = NllbTranslator(
                model,
                tok,
                src="en",
                tgt=tgt,
                loop="stock",  # transformers' own static cache, compiled (the old path)
                generate_kwargs={
                    "min_new_tokens": new,
                    "stopping_criteria": [StopAfter(new)],
                    "cache_implementation": "static",
                    "max_new_tokens": 200,
                },
            )
            t = time.perf_counter()
            static.warmup()
            res["engine_static_warmup_s"] = round(time.perf_counter() - t, 1)
            res["engine_static_first_call_ms"] = round(
                1000 * timed(lambda: static.translate(text), device), 1
            )
            res["engine_static_ms"] = median_ms(
                [timed(lambda: static.translate(text), device) for _ in range(reps)]
            )
            # Other lengths (12..40 input tokens), to show they hit compiled shapes too.
            others = [nllb_input(tok, n) for n in (12, 20, 33, 40)]
            times = [timed(lambda s=s: static.translate(s), device) for s in others * 2]
            res["engine_static_other_lengths_max_ms"] = round(1000 * max(times), 1)
            engines.append(static)
        except Exception as e:
            res["engine_static_error"] = f"{type(e).__name__}: {str(e)[:300]}"
    res["_engines"] = engines
    res["_text"] = text
    return res


# ---------------------------------------------------------------- XTTS


def bench_xtts(
    gpt: dict[str, Any] | None, device: str, tokens: int, reps: int, tmp: Path
) -> dict[str, Any]:
    patched = patch_coqui_for_transformers()
    torch.manual_seed(0)
    vocab = gm.xtts_vocab(tmp / "vocab.json")
    parts = gm.xtts_model(gpt, vocab)
    model = parts.model
    model.eval()  # builds the GPT's inference wrapper, as load_checkpoint(eval=True) does
    model.to(device)
    width = model.args.gpt_n_model_channels
    voice = Voice(torch.randn(1, 32, width), torch.randn(1, 512, 1))
    sr = model.args.output_sample_rate
    force = {"min_new_tokens": tokens, "max_new_tokens": tokens}
    text = SENTENCE
    res: dict[str, Any] = {
        "gpt_layers": model.args.gpt_layers,
        "gpt_width": width,
        "params_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 1),
        "dtype": "float32",
        "audio_tokens": tokens,
        "coqui_patch_applied": patched,
    }

    def run_stream(make: Callable[[], Any]) -> tuple[float, float, float, float]:
        """First-chunk time, total time, audio seconds, and the playback stall: how long a
        player that starts at the first chunk waits for later ones."""
        sync(device)
        t = time.perf_counter()
        first = None
        samples = 0
        play_end = stall = 0.0
        for chunk in make():
            sync(device)
            now = time.perf_counter() - t
            if first is None:
                first = play_end = now
            stall += max(0.0, now - play_end)
            play_end = max(play_end, now) + chunk.shape[-1] / sr
            samples += int(chunk.shape[-1])
        sync(device)
        total = time.perf_counter() - t
        return first or total, total, samples / sr, stall

    def measure(name: str, make: Callable[[], Any]) -> None:
        for _ in range(2):
            run_stream(make)
        runs = [run_stream(make) for _ in range(reps)]
        res[f"{name}_first_chunk_ms"] = median_ms([r[0] for r in runs])
        res[f"{name}_total_ms"] = median_ms([r[1] for r in runs])
        res[f"{name}_audio_s"] = round(statistics.median(r[2] for r in runs), 2)
        res[f"{name}_rtf"] = round(statistics.median(r[1] / r[2] for r in runs), 3)
        res[f"{name}_stall_ms"] = median_ms([r[3] for r in runs])

    lat, emb = voice.gpt_cond_latent.to(device), voice.speaker_embedding.to(device)
    measure(
        "stock_chunk20",
        lambda: model.inference_stream(text, "en", lat, emb, stream_chunk_size=20, **force),
    )
    for first in (20, 8, 4):
        eng = XttsEngine(
            model, voice, language="en", chunk_tokens=20, first_chunk_tokens=first,
            generate_kwargs=force,
        )  # fmt: skip
        measure(f"engine_first{first}", lambda e=eng: e.synthesize(text))
    res["_engine"] = eng
    return res


# ---------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "benches" / "results")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--tiny", action="store_true", help="tiny shapes: check the script on a CPU")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--xtts-tokens", type=int, default=100)
    ap.add_argument("--only-nllb", action="store_true", help="NLLB stock vs engine only")
    ap.add_argument("--no-static", action="store_true", help="skip the static-cache engine")
    a = ap.parse_args()
    dev = a.device
    dtype = torch.bfloat16 if dev.startswith("cuda") else torch.float32
    a.out.mkdir(parents=True, exist_ok=True)
    import transformers

    env: dict[str, Any] = {
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "device": torch.cuda.get_device_name() if dev.startswith("cuda") else platform.processor(),
        "command": " ".join(sys.argv),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }
    try:
        import importlib.metadata as md

        env["coqui_tts"] = md.version("coqui-tts")
    except Exception:
        env["coqui_tts"] = "?"
    print(json.dumps(env), flush=True)
    results: dict[str, Any] = {"env": env}

    shapes = (
        [("tiny", gm.NLLB_TINY)]
        if a.tiny
        else [("nllb-200-distilled-600M", gm.NLLB_600M), ("nllb-200-3.3B", gm.NLLB_3_3B)]
    )
    nllb = []
    for label, shape in shapes:
        try:
            r = bench_nllb(label, shape, dev, dtype, 25, a.reps, static_cache=not a.no_static)
        except Exception:
            r = {"model": label, "error": traceback.format_exc()[-1500:]}
        nllb.append(r)
        print(json.dumps({k: v for k, v in r.items() if not k.startswith("_")}), flush=True)
    results["nllb"] = [{k: v for k, v in r.items() if not k.startswith("_")} for r in nllb]

    if a.only_nllb:
        return write_results(a.out, results)

    tmp = a.out / "_tmp"
    tmp.mkdir(exist_ok=True)
    try:
        x = bench_xtts(gm.XTTS_TINY_GPT if a.tiny else None, dev, a.xtts_tokens, a.reps, tmp)
    except Exception:
        x = {"error": traceback.format_exc()[-2500:]}
    print(json.dumps({k: v for k, v in x.items() if not k.startswith("_")}), flush=True)
    results["xtts"] = {k: v for k, v in x.items() if not k.startswith("_")}

    # End to end: translate one 25-token sentence, then XTTS's first chunk of the translation.
    e2e = []
    if "_engine" in x:
        speech = x["_engine"]
        for r in nllb:
            for tr in r.get("_engines", []):
                for first in (8, 4):
                    speech.first_chunk_tokens = first

                    def first_audio(tr: Any = tr, text: str = r["_text"]) -> None:
                        said = tr.translate(text) or text  # random weights: maybe only tags
                        stream = speech.synthesize(said)
                        next(stream)
                        stream.close()

                    for _ in range(2):
                        first_audio()
                    ms = median_ms([timed(first_audio, dev) for _ in range(a.reps)])
                    e2e.append(
                        {
                            "translator": r["model"],
                            "loop": tr.loop_name,
                            "xtts_first_chunk_tokens": first,
                            "ms": ms,
                        }
                    )
    results["end_to_end_first_audio"] = e2e
    print(json.dumps(e2e), flush=True)

    write_results(a.out, results)


def write_results(out: Path, results: dict[str, Any]) -> None:
    (out / "gpu_bench.json").write_text(json.dumps(results, indent=2))
    (out / "gpu_bench.md").write_text(markdown(results))
    print(markdown(results))


def markdown(r: dict[str, Any]) -> str:
    env = r["env"]
    lines = [
        f"# GPU bench, {env['date_utc']} UTC, {env['device']}",
        "",
        f"`{env['command']}` (torch {env['torch']}, transformers {env['transformers']}, "
        f"coqui-tts {env['coqui_tts']}); random weights, real shapes; medians.",
        "",
        "## NLLB-200, one sentence, greedy, 25 new tokens",
        "",
        "| model | dtype | in tokens | stock generate ms | engine ms | engine + static cache ms "
        "| static: warm-up s | static: first call ms | static: other lengths, max ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for n in r["nllb"]:
        static = n.get("engine_static_ms", n.get("engine_static_error", "-"))
        lines.append(
            f"| {n['model']} | {n.get('dtype', '-')} | {n.get('input_tokens', '-')} | "
            f"{n.get('stock_ms', n.get('error', '-'))} | {n.get('engine_ms', '-')} | {static} | "
            f"{n.get('engine_static_warmup_s', '-')} | {n.get('engine_static_first_call_ms', '-')}"
            f" | {n.get('engine_static_other_lengths_max_ms', '-')} |"
        )
    if any("stock_p95_ms" in n for n in r["nllb"]):
        lines += ["", "p95, stock / engine (timed interleaved): "]
        lines += [
            f"- {n['model']}: {n['stock_p95_ms']} / {n['engine_p95_ms']} ms" for n in r["nllb"]
        ]
    if "xtts" not in r:
        return "\n".join(lines) + "\n"
    x = r["xtts"]
    lines += [
        "",
        f"## XTTS-v2, {x.get('audio_tokens', '?')} audio tokens, float32",
        "",
        "| run | first chunk ms | total ms | audio s | RTF | playback stall ms |",
        "|---|---|---|---|---|---|",
    ]
    for name in ("stock_chunk20", *(f"engine_first{n}" for n in (20, 8, 4))):
        if f"{name}_first_chunk_ms" in x:
            lines.append(
                f"| {name} | {x[f'{name}_first_chunk_ms']} | {x[f'{name}_total_ms']} | "
                f"{x[f'{name}_audio_s']} | {x[f'{name}_rtf']} | {x[f'{name}_stall_ms']} |"
            )
    if "error" in x:
        lines += ["", "```", x["error"], "```"]
    lines += [
        "",
        "## End to end: translate (25 new tokens), then the first XTTS chunk",
        "",
        "| translator | NLLB decode loop | XTTS first chunk tokens | ms |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {e['translator']} | {e['loop']} | {e['xtts_first_chunk_tokens']} | {e['ms']} |"
        for e in r["end_to_end_first_audio"]
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
