"""Translated neural speech through the real CLI on a GPU: time to first audio per sentence.

    python benches/gpu_e2e.py models --hub /tmp/hf/hub          # full-size random weights
    python benches/gpu_e2e.py parts --out DIR                   # engine-level timings
    python benches/gpu_e2e.py cli --out DIR [--configs a,b]     # stream-tts fed stream-json
    python benches/gpu_e2e.py startup --out DIR                 # start to ready, split up
    python benches/gpu_e2e.py idle --out DIR [--busy]           # XTTS first chunk after idle

`models` lays out NLLB-200 3.3B and distilled-600M and XTTS-v2 in the Hugging Face hub cache,
full size, random weights, built from the real architectures (tests/gpu_models.py), changed so
lengths are realistic: a 256k-entry tokenizer whose ids decode to pseudo-words (English words of
ANSWER get tokens of their own, so inputs tokenize about as densely as with the real model);
pseudo-words end with a comma (one in COMMA_EVERY; all by default), so translations have
clauses for speech to start on (the first after 6 words);
language/special embedding rows zeroed so greedy decoding does not repeat a tag; a generation
config (min_new_tokens and the exponential EOS penalty, both of which our loop honours as
generate() does) ending each translation after about NLLB_NEW tokens; XTTS mel-position rows
tilted toward the stop token so each sentence stops after about XTTS_TOKENS audio tokens.

`cli` runs `stream-tts --tts xtts [--translate-to de ...] -o x.wav --stats FILE` with the answer
below written to its stdin as Claude Code's stream-json partial messages (6-character deltas
every 20 ms, GAP seconds after each sentence), once per configuration, and writes the --stats
records, the median and p95 time to first audio (first sentence included) and startup-to-ready.
A configuration named `NAME+probe` runs NAME under benches/gil_probe.py (a thread measuring how
long a thread waits for the GIL after a blocking call, the way the synthesis thread does after
every GPU wait). `startup` times what the CLI does before "reading stdin", part by part: the
imports, NLLB and XTTS loading side by side (each one's own time and the two together), and
the warm-ups (graph capture). `idle --busy` repeats `idle` with other Python threads busy (a
20 ms poller and a pure-Python loop), as the CLI's reader, stats and main threads can be.
Timings are benchmarks, not tests: results go to benches/results/ with date, device, command.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import string
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

NLLB_NEW = int(os.environ.get("NLLB_NEW", "25"))
# Random weights make greedy decoding repeat one token per sentence, so a comma on some
# pseudo-words would give a sentence either no clause or one every word. 1: every word ends
# with a comma and the clause rule (6 words) cuts each translation after its 7th token, the
# best case of clause streaming (a real first clause ends later, or never).
COMMA_EVERY = int(os.environ.get("COMMA_EVERY", "1"))
XTTS_TOKENS = int(os.environ.get("XTTS_TOKENS", "80"))
NLLB_REPOS = {"3.3b": "facebook/nllb-200-3.3B", "600m": "facebook/nllb-200-distilled-600M"}

ANSWER = (
    "I found the cause of the slow build. "
    "The release profile sets fat LTO and a single codegen unit, so the final link takes four "
    "minutes. "
    "Switching to thin LTO keeps most of the speed and cuts the link to about forty seconds. "
    "I also turned on the compiler cache in the CI workflow. "
    "Next, I looked at the failing test in the parser module. "
    "It expects a trailing newline that the new writer no longer emits. "
    "The writer is right, so I changed the test instead. "
    "Then I ran the whole suite again, and every test passed. "
    "The benchmark for the tokenizer shows a small regression. "
    "Most of it comes from a vector that is cloned on every call. "
    "Borrowing the slice removes the clone and brings the time back to where it was. "
    "I checked the memory profile too, and the peak is down by about ten percent. "
    "There is one warning left from the linter about an unused import. "
    "I removed the import, since nothing in the module needs it anymore. "
    "The documentation build now succeeds without warnings. "
    "I updated the changelog with a short note for each change. "
    "The configuration loader had a subtle bug with empty tables. "
    "An empty table was treated as missing, so the defaults replaced the user's settings. "
    "Now an empty table keeps the defaults but no longer hides other keys. "
    "I added a test that covers exactly that case. "
    "The pull request is ready for review, and the description lists every change. "
    "Let me know if you want the thin LTO change in a separate commit. "
    "Otherwise I will merge it once the checks are green."
)
WARM_TEXT = (
    "Hello, this is a warm-up sentence. The build finished, all the tests passed, and the "
    "change is now ready for a review."
)


def sentences() -> list[str]:
    return re.split(r"(?<=\.) (?=[A-Z])", ANSWER)


# ------------------------------------------------------------------------------ models


def big_nllb_tokenizer(n_vocab: int = 256000) -> Any:
    """An NLLB tokenizer with NLLB-200's vocabulary size: English words of the answer as
    whole tokens (merges), the rest pseudo-words, so every id decodes to something."""
    from transformers import NllbTokenizer

    chars = "▁" + string.ascii_letters + string.digits + ".,!?'-:;()äöüßéèàçñ"
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for ch in chars:
        vocab.setdefault(ch, len(vocab))
    merges = []
    for word in sorted(set(re.findall(r"[A-Za-z]+", ANSWER + " " + WARM_TEXT))):
        w = "▁" + word
        for k in range(2, len(w) + 1):
            if w[:k] not in vocab:
                vocab[w[:k]] = len(vocab)
                merges.append((w[: k - 1], w[k - 1]))
    syllables = [c + v for c in "bdfghklmnprstvwz" for v in "aeiou"]
    i = 0
    while len(vocab) < n_vocab:
        a, b, c = i % 80, (i // 80) % 80, i // 6400
        tail = "" if c == 0 else syllables[(c - 1) % 80] + str((c - 1) // 80)
        comma = "," if i % COMMA_EVERY == COMMA_EVERY - 1 else ""
        vocab.setdefault("▁" + syllables[a] + syllables[b] + tail + comma, len(vocab))
        i += 1
    return NllbTokenizer(vocab=vocab, merges=merges)


def make_nllb(hub: Path, which: str, tok: Any, tiny: bool = False) -> None:
    import gpu_models as gm
    import torch

    repo = NLLB_REPOS[which]
    if (hub / ("models--" + repo.replace("/", "--"))).exists():
        return
    t = time.time()
    torch.manual_seed(0)
    shape = dict(gm.NLLB_3_3B if which == "3.3b" else gm.NLLB_600M)
    if tiny:  # a CPU smoke run of this script
        shape = {**gm.NLLB_TINY, "vocab_size": shape["vocab_size"]}
    shape["vocab_size"] = max(shape["vocab_size"], len(tok))
    cuda = torch.cuda.is_available()
    with torch.device("cuda" if cuda else "cpu"):
        model = gm.nllb_model(shape, tok, dtype=torch.bfloat16 if cuda else torch.float32)
    emb = model.get_input_embeddings().weight
    with torch.no_grad():
        emb[[0, 1, 3, *range(256000, emb.shape[0])]] = 0
    gc = model.generation_config
    gc.min_new_tokens = NLLB_NEW - 1
    gc.exponential_decay_length_penalty = (NLLB_NEW - 1, 1e4)
    dst = hub.parent / "build" / which
    model.save_pretrained(dst)
    tok.save_pretrained(dst)
    del model
    torch.cuda.empty_cache()
    gm.put_in_hub_cache(dst, hub, repo, move=True)
    print(f"{repo}: laid out in {time.time() - t:.1f} s", flush=True)


def make_xtts(hub: Path, tiny: bool = False) -> None:
    import gpu_models as gm
    import torch

    repo = "coqui/XTTS-v2"
    if (hub / ("models--" + repo.replace("/", "--"))).exists():
        return
    t = time.time()
    torch.manual_seed(0)
    dst = hub.parent / "build" / "xtts"
    dst.mkdir(parents=True, exist_ok=True)
    parts = gm.xtts_model(gm.XTTS_TINY_GPT if tiny else None, gm.xtts_vocab(dst / "vocab.json"))
    gpt = parts.model.gpt
    stop = parts.model.args.gpt_stop_audio_token
    with torch.no_grad():
        # Rows past XTTS_TOKENS lean toward the stop token's head row: sentences end there.
        w = gpt.mel_pos_embedding.emb.weight
        d = torch.randn(w.shape[1])
        d = (d - d.mean()) / (d - d.mean()).norm()
        w[XTTS_TOKENS + 1 :] += 1000.0 * d
        gpt.mel_head.weight[stop] = 0.25 * d
        gpt.mel_head.bias[stop] = 0.0
    parts.config.save_json(str(dst / "config.json"))
    torch.save({"model": parts.model.state_dict()}, dst / "model.pth")
    width = parts.config.model_args.gpt_n_model_channels
    speaker = {
        "gpt_cond_latent": torch.randn(1, 32, width),
        "speaker_embedding": torch.randn(1, 512, 1),
    }
    torch.save({gm.TEST_SPEAKER: speaker}, dst / "speakers_xtts.pth")
    gm.put_in_hub_cache(dst, hub, repo, move=True)
    print(f"{repo}: laid out in {time.time() - t:.1f} s", flush=True)


def cmd_models(a: argparse.Namespace) -> None:
    hub = Path(a.hub)
    hub.mkdir(parents=True, exist_ok=True)
    which = a.which.split(",")
    tok = big_nllb_tokenizer() if any(w in NLLB_REPOS for w in which) else None
    for w in which:
        if w in NLLB_REPOS:
            make_nllb(hub, w, tok, a.tiny)
        elif w == "xtts":
            make_xtts(hub, a.tiny)


# ------------------------------------------------------------------------------ engine parts


def _ms(f: Any, reps: int, *, until_return: bool = False) -> tuple[float, list[float]]:
    """Median ms of f from an idle GPU, until the GPU is idle again; `until_return`: until f
    returns (what a caller waits for, not the GPU work it left queued)."""
    import torch

    times = []
    for _ in range(reps):
        torch.cuda.synchronize()
        t = time.perf_counter()
        f()
        returned = time.perf_counter()
        torch.cuda.synchronize()
        times.append(1000 * ((returned if until_return else time.perf_counter()) - t))
    return statistics.median(times), times


def _step_ms(gpu: Any, loop: Any, graphs: Any, key: Any, n: int = 50) -> float:
    """One decode step's graph replayed n times back to back, on the engine's thread, from a
    position that leaves room for all of them."""

    def run() -> None:
        pos = getattr(loop, "pos", None)
        for t in [pos] if pos is not None else [loop.cpos, loop.gpos]:
            t.fill_(1)
        g = graphs()
        for _ in range(n):
            g.run(key)

    med, _ = _ms(lambda: gpu.call(run), 6)
    return med / n


def cmd_parts(a: argparse.Namespace) -> None:
    """Per-part timings in one process: translation and XTTS first chunk, own vs stock."""
    import torch

    from stream_tts.engines.nllb import load_nllb
    from stream_tts.engines.xtts import make_xtts as make_engine

    out: dict[str, Any] = {"device": torch.cuda.get_device_name(), "torch": torch.__version__}
    text = sentences()[2]
    variants = {"own": {}, "own-int8-script": {"weights": "int8", "head": "script"}}
    for which in filter(None, a.nllb.split(",")):
        for name in (*variants, "stock"):
            loop = "stock" if name == "stock" else "own"
            t = time.perf_counter()
            tr = load_nllb(NLLB_REPOS[which], tgt="de", loop=loop, **variants.get(name, {}))
            load_s = time.perf_counter() - t
            t = time.perf_counter()
            tr.warmup()
            warm_s = time.perf_counter() - t
            n = len(tr.generate_ids(text)) - 1
            med, times = _ms(lambda tr=tr: tr.generate_ids(text), a.reps)
            row = {"load_s": load_s, "warmup_s": warm_s, "tokens": n, "ms": med, "all_ms": times}
            if loop == "own" and tr.loop.graphs:
                lp = tr.loop
                row["step_ms"] = _step_ms(tr._gpu, lp, lambda lp=lp: lp._step_graphs, (128, 32))
                tr._gpu.call(lambda lp=lp: lp.set_attention("math"))
                row["step_ms_math"] = _step_ms(
                    tr._gpu, lp, lambda lp=lp: lp._step_graphs, (128, 32)
                )
                row["ms_math"], _ = _ms(lambda tr=tr: tr.generate_ids(text), a.reps)
            out[f"nllb-{which}-{name}"] = row
            print(which, name, {k: v for k, v in row.items() if k != "all_ms"}, flush=True)
            tr.close()
            del tr
            torch.cuda.empty_cache()
    for loop in ("own", "stock"):
        t = time.perf_counter()
        e = make_engine(language="de", loop=loop)
        load_s = time.perf_counter() - t
        t = time.perf_counter()
        e.warmup()
        warm_s = time.perf_counter() - t
        firsts, totals, audio = [], [], []
        for _ in range(a.reps):
            torch.cuda.synchronize()
            t = time.perf_counter()
            first = None
            n = 0
            for c in e.synthesize(text):
                if first is None:
                    first = time.perf_counter() - t
                n += len(c)
            totals.append(time.perf_counter() - t)
            firsts.append(1000 * (first or 0))
            audio.append(n / e.sample_rate)
        row = {
            "load_s": load_s,
            "warmup_s": warm_s,
            "first_chunk_ms": statistics.median(firsts),
            "all_first_ms": firsts,
            "rtf": statistics.median(t / s for t, s in zip(totals, audio, strict=True)),
            "audio_s": statistics.median(audio),
        }
        if loop == "own" and e.loop.graphs:
            lp = e.loop
            row["step_ms"] = _step_ms(e._gpu, lp, lambda lp=lp: lp._graphs, 256)
            e._gpu.call(lambda lp=lp: lp.set_attention("math"))
            row["step_ms_math"] = _step_ms(e._gpu, lp, lambda lp=lp: lp._graphs, 256)
        out[f"xtts-{loop}"] = row
        print("xtts", loop, {k: v for k, v in row.items() if not k.startswith("all")}, flush=True)
        e.close()
        del e
        torch.cuda.empty_cache()
    Path(a.out).mkdir(parents=True, exist_ok=True)
    (Path(a.out) / "parts.json").write_text(json.dumps(out, indent=1))


def cmd_idle(a: argparse.Namespace) -> None:
    """XTTS first chunk (own loop) after the GPU sat idle for a while, against back to back."""
    import torch

    from stream_tts.engines.xtts import make_xtts as make_engine

    e = make_engine(language="en")
    e.warmup()
    text = sentences()[4]
    out: dict[str, Any] = {
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    }
    variants = [("quiet", 0.005)]
    if a.busy:
        # switch interval 5 ms (Python's default) and 0.5 ms, with busy threads beside.
        variants += [("busy", 0.005), ("busy", 0.0005)]
    for kind, switch in variants:
        stop = threading.Event()
        if kind == "busy":
            for target in (_poller, _spinner):
                threading.Thread(target=target, args=(stop,), daemon=True).start()
        sys.setswitchinterval(switch)
        for idle in (0.0, 0.3, 1.2, 0.0):
            firsts = []
            for _ in range(a.reps):
                time.sleep(idle)
                t = time.perf_counter()
                stream = e.synthesize(text)
                next(stream)
                firsts.append(1000 * (time.perf_counter() - t))
                stream.close()
            key = f"idle_{idle}s" if kind == "quiet" else f"{kind}_switch{switch}_idle_{idle}s"
            out[key] = {"first_chunk_ms": statistics.median(firsts), "all": firsts}
            print(f"{key}: first chunk median {statistics.median(firsts):.1f} ms", flush=True)
        stop.set()
        sys.setswitchinterval(0.005)
    Path(a.out).mkdir(parents=True, exist_ok=True)
    (Path(a.out) / "idle.json").write_text(json.dumps(out, indent=1))


def _poller(stop: threading.Event) -> None:
    """Wakes every 20 ms for a little Python work, as the CLI's stats thread does."""
    while not stop.wait(0.02):
        sum(range(200))


def _spinner(stop: threading.Event) -> None:
    """Pure Python that never blocks: holds the GIL until the switch interval takes it."""
    while not stop.is_set():
        sum(range(1000))


def _cpu_s() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def cmd_startup(a: argparse.Namespace) -> None:
    """What the CLI does before it reads stdin, part by part, through its own code:
    registry.PendingTranslator (imports and the CUDA context first, then NLLB on a thread)
    beside create_speech_engine (XTTS), then the warm-ups (graph capture and the warm-up texts).
    cpu_s beside a part: the process's CPU seconds (all threads) in it, against its wall time.
    The bytecode of what it imports matters: see benches/results/2026-11-30-h200-startup.md."""
    t0 = time.perf_counter()
    c0 = _cpu_s()
    import torch

    from stream_tts.config import Settings
    from stream_tts.engines import device as devices
    from stream_tts.registry import PendingTranslator, create_speech_engine

    row: dict[str, Any] = {
        "import_torch_s": time.perf_counter() - t0,
        "import_torch_cpu_s": _cpu_s() - c0,
    }
    settings = Settings(tts="xtts")
    if a.nllb:
        settings.translate_to = "de"
        settings.engine_options["translate"] = {"model": NLLB_REPOS[a.nllb]}
        if a.weights != "bf16":
            settings.engine_options["translate"] |= {"weights": a.weights, "head": "script"}
    if a.device:
        settings.compute_device = a.device
    t, c = time.perf_counter(), _cpu_s()
    times: dict[str, float] = {}
    from stream_tts.engines import nllb, xtts

    load_nllb, load_xtts = nllb.load_nllb, xtts.load_xtts_model

    def timed(name: str, fn: Any) -> Any:
        def run(*args: Any, **kw: Any) -> Any:
            s = time.perf_counter()
            try:
                return fn(*args, **kw)
            finally:
                times[name] = time.perf_counter() - s

        return run

    nllb.load_nllb = timed("nllb_load_s", load_nllb)  # type: ignore[assignment]
    xtts.load_xtts_model = timed("xtts_load_s", load_xtts)  # type: ignore[assignment]
    try:
        pending = PendingTranslator(settings)
        row["imports_s"] = time.perf_counter() - t  # the preloads, before the threads start
        row["imports_cpu_s"] = _cpu_s() - c
        t, c = time.perf_counter(), _cpu_s()
        engine = create_speech_engine(settings)
        translator = pending.result()
    finally:
        nllb.load_nllb, xtts.load_xtts_model = load_nllb, load_xtts
    row["loads_together_s"] = time.perf_counter() - t
    row["loads_cpu_s"] = _cpu_s() - c
    row |= times
    row["cuda_start_s"] = dict(devices.cuda_start_s)  # on its thread, during the imports
    if not a.no_warmup:
        t, c = time.perf_counter(), _cpu_s()
        if translator is not None:
            translator.warmup()
        row["nllb_warmup_s"] = time.perf_counter() - t
        engine.warmup()
        row["xtts_warmup_s"] = time.perf_counter() - t - row["nllb_warmup_s"]
        row["warmups_cpu_s"] = _cpu_s() - c
    row["start_to_ready_s"] = time.perf_counter() - t0
    row["device"] = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    print(
        "startup",
        json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}),
        flush=True,
    )
    Path(a.out).mkdir(parents=True, exist_ok=True)
    (Path(a.out) / "startup.json").write_text(json.dumps(row, indent=1))


# ------------------------------------------------------------------------------ the CLI

BEST = ["--translate-to", "de", "--quality", "best"]
CONFIGS: dict[str, list[str]] = {
    # Speech starts on the first translated clause (the default) / waits for the sentence.
    "own-3.3b": ["--translate-to", "de", "--quality", "best"],
    "own-3.3b-whole": ["--translate-to", "de", "--quality", "best", "--no-translate-clauses"],
    "own-3.3b-first4": [
        "--translate-to",
        "de",
        "--quality",
        "best",
        "--xtts-first-chunk-tokens",
        "4",
    ],
    # int8 decoder and output layer, the head cut to the target's script (Latin).
    "own-3.3b-int8": [*BEST, "--nllb-weights", "int8", "--nllb-head", "script"],
    "own-3.3b-int4": [*BEST, "--nllb-weights", "int4", "--nllb-head", "script"],
    "own-600m": ["--translate-to", "de", "--quality", "fast"],
    "own-xtts": [],
    "own-xtts-nospec": ["--no-speculate"],
    "stock-3.3b": ["--translate-to", "de", "--quality", "best", "--decode-loop", "stock"],
    "stock-xtts": ["--decode-loop", "stock"],
    "stock-xtts-nospec": ["--decode-loop", "stock", "--no-speculate"],
}


def _event(write: Any, event: dict[str, Any]) -> None:
    write({"type": "stream_event", "event": event, "parent_tool_use_id": None})


def feed(proc: subprocess.Popen[bytes], gap: float, count: int) -> None:
    """Claude Code's stream-json with partial messages, at its pace, into proc's stdin."""
    assert proc.stdin is not None
    stdin = proc.stdin

    def write(obj: dict[str, Any]) -> None:
        stdin.write(json.dumps(obj).encode() + b"\n")
        stdin.flush()

    mid = "msg_" + uuid.uuid4().hex[:24]
    write({"type": "system", "subtype": "init", "session_id": "bench"})
    msg = {"id": mid, "type": "message", "role": "assistant", "content": []}
    _event(write, {"type": "message_start", "message": msg})
    _event(write, {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}})
    parts = sentences()[:count]
    for i, s in enumerate(parts):
        piece = s if i == 0 else " " + s
        for k in range(0, len(piece), 6):
            delta = {"type": "text_delta", "text": piece[k : k + 6]}
            _event(write, {"type": "content_block_delta", "index": 0, "delta": delta})
            time.sleep(0.02)
        time.sleep(gap)
    _event(write, {"type": "content_block_stop", "index": 0})
    _event(write, {"type": "message_stop"})
    time.sleep(gap)  # a live agent keeps stdin open while the last sentence is spoken
    stdin.close()


def run_cli(
    name: str, extra: list[str], out: Path, gap: float, limit: float, count: int
) -> dict[str, Any]:
    wav, stats, err = out / f"{name}.wav", out / f"stats_{name}.jsonl", out / f"err_{name}.txt"
    base, probe = name.removesuffix("+probe"), name.endswith("+probe")
    gil = out / f"gil_{base}.json"
    run = [str(HERE / "gil_probe.py"), str(gil), "--"] if probe else ["-m", "stream_tts.cli"]
    cmd = [sys.executable, *run, "--tts", "xtts", *CONFIGS[base], *extra]
    cmd += ["-o", str(wav), "--stats", str(stats), "-v"]
    print("==", name, " ".join(cmd[2:]), flush=True)
    t0 = time.monotonic()
    with open(err, "wb") as errf:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=errf, stdout=subprocess.DEVNULL)
        ready = None
        while proc.poll() is None and time.monotonic() - t0 < limit:
            if "reading stdin" in err.read_text(errors="replace"):
                ready = time.monotonic() - t0
                break
            time.sleep(0.05)
        feeder = threading.Thread(target=feed, args=(proc, gap, count), daemon=True)
        if ready is not None:
            feeder.start()
        try:
            rc = proc.wait(timeout=max(1.0, limit - (time.monotonic() - t0)))
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = "timeout"
    recs, summary = [], None
    if stats.exists():
        for line in stats.read_text().splitlines():
            d = json.loads(line)
            if d.get("summary"):
                summary = d
            else:
                recs.append(d)
    ttfa = [r["ttfa_ms"] for r in recs if r.get("ttfa_ms") is not None]
    row: dict[str, Any] = {"cmd": " ".join(cmd[2:]), "rc": rc, "ready_s": ready, "n": len(ttfa)}
    if ttfa:
        q = sorted(ttfa)
        row |= {
            "ttfa_median_ms": statistics.median(ttfa),
            "ttfa_p95_ms": q[min(len(q) - 1, round(0.95 * (len(q) - 1)))],
            "ttfa_first_ms": ttfa[0],
            "ttfa_max_ms": q[-1],
        }
        for key in ("translate_ms", "first_ready_ms", "rtf"):
            vals = [r[key] for r in recs if isinstance(r.get(key), (int, float))]
            if vals:
                row[f"{key}_median"] = statistics.median(vals)
    row["summary"] = summary
    if probe and gil.exists():
        row["gil"] = gil_in_first_chunks(json.loads(gil.read_text()), recs)
    trace = out / f"gil_{base}_xtts.json"
    if probe and trace.exists():
        parts = json.loads(trace.read_text())
        keys = ("tokenized", "first_token", "token_8", "chunk")
        row["xtts_first_chunk_parts_ms"] = {
            k: statistics.median(p[k] for p in parts if k in p) for k in keys if parts
        }
        row["xtts_first_chunk_ms_each"] = [p.get("chunk") for p in parts]
    tail = [ln for ln in err.read_text(errors="replace").splitlines() if not ln.startswith("{")]
    row["stderr_tail"] = tail[-8:]
    print(json.dumps({k: v for k, v in row.items() if k != "summary"}), flush=True)
    return row


def gil_in_first_chunks(gil: dict[str, Any], recs: list[dict[str, Any]]) -> dict[str, Any]:
    """The probe's waits for the GIL (those over its threshold) inside each sentence's first
    chunk, from synthesis start to the chunk (the part that was slow through the CLI)."""
    out = {k: v for k, v in gil.items() if k != "long"}
    per: list[tuple[float, float, int]] = []
    for r in recs:
        if r.get("queue_ms") is None or r.get("first_ready_ms") is None:
            continue
        start = r["read_at"] + r["queue_ms"] / 1000
        end = start + r["first_ready_ms"] / 1000
        waits = [w for t, w in gil["long"] if start <= t <= end]
        per.append((r["first_ready_ms"], sum(waits), len(waits)))
    if per:
        out["first_chunk_ms"] = [round(p[0], 2) for p in per]
        out["first_chunk_gil_wait_ms"] = [round(p[1], 2) for p in per]
        out["first_chunk_gil_waits"] = [p[2] for p in per]
    return out


def cmd_cli(a: argparse.Namespace) -> None:
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    extra = a.extra.split() if a.extra else []
    for name in a.configs.split(","):
        results[name] = run_cli(name, extra, out, a.gap, a.limit, a.sentences)
        (out / "cli.json").write_text(json.dumps(results, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("models")
    m.add_argument("--hub", required=True)
    m.add_argument("--which", default="3.3b,600m,xtts")
    m.add_argument("--tiny", action="store_true", help="tiny shapes: a CPU smoke run")
    p = sub.add_parser("parts")
    p.add_argument("--out", required=True)
    p.add_argument("--nllb", default="3.3b")
    p.add_argument("--reps", type=int, default=10)
    i = sub.add_parser("idle")
    i.add_argument("--out", required=True)
    i.add_argument("--reps", type=int, default=8)
    c = sub.add_parser("cli")
    c.add_argument("--out", required=True)
    c.add_argument("--configs", default=",".join(CONFIGS))
    c.add_argument("--gap", type=float, default=1.5)
    c.add_argument("--limit", type=float, default=240.0)
    c.add_argument("--sentences", type=int, default=len(sentences()))
    c.add_argument("--extra", default="", help="more CLI arguments for every configuration")
    s = sub.add_parser("startup")
    s.add_argument("--out", required=True)
    s.add_argument("--nllb", default="3.3b")
    s.add_argument("--device", default=None, help="cpu: a CPU run of the same steps")
    s.add_argument("--no-warmup", action="store_true", help="loads only (XTTS warms slowly on CPU)")
    s.add_argument(
        "--weights", default="bf16", choices=("bf16", "int8", "int4"),
        help="NLLB weights (int8 / int4 with the script head)",
    )  # fmt: skip
    i.add_argument("--busy", action="store_true", help="also with busy Python threads")
    a = ap.parse_args()
    cmds = {"models": cmd_models, "parts": cmd_parts, "cli": cmd_cli, "idle": cmd_idle}
    cmds["startup"] = cmd_startup
    cmds[a.cmd](a)


if __name__ == "__main__":
    main()
