"""Where one NLLB translation's time goes through the engine, against the decode loop alone.

`NllbTranslator.generate_ids` (what the CLI calls) tokenizes, hands the ids to the engine's GPU
thread and runs our loop there. This times each piece on its own, on full-size random weights
laid out by `gpu_e2e.py models`, for each of `--variants` (weights, script head or not):

  engine        generate_ids(text), the whole call
  source_ids    the tokenizer, as the engine calls it (a list of ids, no tensors)
  handoff       an empty call on the GPU thread and back
  engine_return generate_ids(text) until it returns (engine_ms also waits for GPU work queued
                past the end: the step queued ahead of EOS)
  loop          loop.generate(...) on the GPU thread, the engine's own arguments
  start         the loop's sentence set-up and encoder graph: host time to queue, time to done
  first/step    inside that: the first token (encoder, cross-attention fold, first step), then
                the median time between tokens

    python benches/gpu_nllb_engine.py --out DIR [--reps 10]

Timings are benchmarks, not tests: results go to benches/results/ with date, device, command.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from gpu_e2e import NLLB_REPOS, _ms, sentences


def _median_ms(f: Any, reps: int, *, until_return: bool = False) -> float:
    return round(_ms(f, reps, until_return=until_return)[0], 3)


def _encoder_launch(loop: Any, ids: list[int], bos: int, reps: int) -> dict[str, float]:
    """The sentence set-up and encoder graph as the loop starts a sentence: the host's time to
    queue them, and until the GPU has run them."""

    def start() -> None:
        loop._start(ids, bos, None)

    return {
        "start_host_ms": _median_ms(start, reps, until_return=True),
        "start_gpu_done_ms": _median_ms(start, reps),
    }


def profile(tr: Any, text: str, reps: int) -> dict[str, Any]:
    loop = tr.loop
    row: dict[str, Any] = {}
    tr.generate_ids(text)  # anything lazy for this length, first
    row["engine_ms"] = _median_ms(lambda: tr.generate_ids(text), reps)
    row["engine_return_ms"] = _median_ms(lambda: tr.generate_ids(text), reps, until_return=True)
    row["source_ids_ms"] = _median_ms(lambda: tr._source_ids(text), reps)
    row["handoff_ms"] = _median_ms(lambda: tr._gpu.call(lambda: None), reps)
    ids = tr._source_ids(text)
    max_new = tr._max_new(len(ids))
    min_new = tr.generate_kwargs.get("min_new_tokens")

    def run() -> list[float]:
        stamps = [time.perf_counter()]
        for _ in loop.generate_iter(ids, tr.forced_bos_token_id, max_new, min_new):
            stamps.append(time.perf_counter())
        return stamps

    row["loop_ms"] = _median_ms(lambda: tr._gpu.call(run), reps)
    row |= tr._gpu.call(lambda: _encoder_launch(loop, ids, tr.forced_bos_token_id, reps))
    firsts, steps, counts = [], [], []
    for _ in range(reps):
        s = tr._gpu.call(run)
        firsts.append(1000 * (s[1] - s[0]))
        steps.extend(1000 * (b - a) for a, b in itertools.pairwise(s[1:]))
        counts.append(len(s) - 1)
    row["first_token_ms"] = round(statistics.median(firsts), 3)
    row["between_tokens_ms"] = round(statistics.median(steps), 3)
    row["tokens"] = statistics.median(counts)
    row["source_tokens"] = len(ids)
    return row


def gpu_gaps(tr: Any, text: str) -> list[dict[str, Any]]:
    """One translation under torch.profiler: where the GPU sits idle (> 20 µs) between its
    kernels and copies, with what ran before and after, in µs from the first GPU activity."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    tr.generate_ids(text)
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        tr.generate_ids(text)
        torch.cuda.synchronize()
    gpu = sorted(
        (e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA),
        key=lambda e: e.time_range.start,
    )
    if not gpu:
        return []
    t0 = gpu[0].time_range.start
    gaps = [{"kernels": len(gpu), "span_us": round(gpu[-1].time_range.end - t0, 1)}]
    for prev, nxt in itertools.pairwise(gpu):
        idle = nxt.time_range.start - prev.time_range.end
        if idle > 20:
            gaps.append(
                {
                    "at_us": round(prev.time_range.end - t0, 1),
                    "idle_us": round(idle, 1),
                    "after": prev.name[:60],
                    "before": nxt.name[:60],
                }
            )
    return gaps


def every_sentence(tr: Any, reps: int) -> list[dict[str, Any]]:
    """Each bench sentence's translation: its lengths and the median time until it returns."""
    rows = []
    for text in sentences():
        ids = tr.generate_ids(text)
        ms = _median_ms(lambda text=text: tr.generate_ids(text), reps, until_return=True)
        rows.append(
            {
                "source_tokens": len(tr._source_ids(text)),
                "tokens": len(ids),
                "return_ms": ms,
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--which", default="3.3b")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument(
        "--all",
        action="store_true",
        help="also time generate_ids on every bench sentence (median of --reps), with its length",
    )
    ap.add_argument(
        "--trace",
        action="store_true",
        help="also profile one translation: the GPU's idle gaps over 20 µs, in order",
    )
    ap.add_argument(
        "--variants",
        default="bf16,int8-script",
        help="comma-separated WEIGHTS[-script]: the NLLB weights, with the script head or not",
    )
    a = ap.parse_args()
    import torch

    from stream_tts.engines.nllb import load_nllb

    if not torch.cuda.is_available():
        raise SystemExit("gpu_nllb_engine.py needs a CUDA GPU")
    res: dict[str, Any] = {
        "device": torch.cuda.get_device_name(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "torch": torch.__version__,
        "command": "python " + " ".join(sys.argv),
    }
    text = sentences()[2]
    res["text"] = text
    for name in a.variants.split(","):
        weights, _, head = name.partition("-")
        kw = {"weights": weights} | ({"head": head} if head else {})
        tr = load_nllb(NLLB_REPOS[a.which], tgt="de", loop="own", **kw)
        tr.warmup()
        res[name] = profile(tr, text, a.reps)
        if a.all:
            res[name]["sentences"] = every_sentence(tr, a.reps)
        if a.trace:
            res[name]["gaps"] = gpu_gaps(tr, text)
        print(name, res[name], flush=True)
        tr.close()
        del tr
        torch.cuda.empty_cache()
    Path(a.out).mkdir(parents=True, exist_ok=True)
    (Path(a.out) / "nllb_engine.json").write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
