"""Peak memory and time to first audio against the length of a sentence with no punctuation.

Each run is the CLI as a user runs it, plain text on stdin written to a WAV:

    stream-tts --input text --output x.wav --stats x.jsonl < run-on.txt

once per length (100 B to 20 kB of prose with no `.,;:!?`, one never-ending sentence).
Peak RSS is the child's own (wait4), time to first audio the `ttfa_ms` of `--stats`: from
reading the input to the sink taking the first sample (python/stream_tts/stats.py). Every
run is under an address-space cap so that a tree without the cut fails instead of taking the
machine down; `--python` runs another checkout's interpreter (its `stream_tts`), e.g. the
tree before the cut, on the lengths that are safe for it:

    python benches/clause_length.py --out benches/results/
    python benches/clause_length.py --python /work/main/.venv/bin/python \\
        --lengths 100 300 1000 2000 --label before-cut --out benches/results/
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _rig import machine
from speech_support import run_on  # tests/ (on the path through _rig)

LENGTHS = [100, 300, 1000, 2000, 5000, 10_000, 20_000]


def rev_of(python: str) -> str:
    """The git revision of the tree whose `stream_tts` `python` imports (+ if modified)."""
    where = subprocess.run(
        [python, "-c", "import stream_tts, os; print(os.path.dirname(stream_tts.__file__))"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    git = ["git", "-C", where or ".", "describe", "--always", "--dirty=+"]
    return subprocess.run(git, capture_output=True, text=True).stdout.strip()


def one(python: str, n: int, cap_bytes: int, timeout: float, extra: list[str]) -> dict[str, Any]:
    text = run_on(n)
    with tempfile.TemporaryDirectory() as tmp:
        src, wav, stats = (Path(tmp) / f for f in ("in.txt", "out.wav", "stats.jsonl"))
        src.write_text(text, encoding="utf-8")
        cmd = [python, "-m", "stream_tts.cli", "--input", "text", "--output", str(wav)]
        cmd += ["--stats", str(stats), *extra]
        env = dict(os.environ, STREAM_TTS_CONFIG=os.devnull)

        def cap() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (cap_bytes, cap_bytes))

        t0 = time.monotonic()
        with src.open("rb") as fin:
            proc = subprocess.Popen(
                cmd,
                stdin=fin,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=env,
                preexec_fn=cap,
            )
            killer = threading.Timer(timeout, proc.kill)
            killer.start()
            assert proc.stderr is not None
            err = proc.stderr.read()
            _, status, usage = os.wait4(proc.pid, 0)
            killer.cancel()
        wall = time.monotonic() - t0
        rc = os.waitstatus_to_exitcode(status)
        summary: dict[str, Any] = {}
        if stats.exists():
            for line in stats.read_text().splitlines():
                d = json.loads(line)
                if d.get("summary"):
                    summary = d
    last = err.decode(errors="replace").strip().splitlines()[-1:] if rc else []
    return {
        "bytes": len(text.encode()),
        "rc": rc,
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "ttfa_ms": summary.get("ttfa_ms_first"),
        "audio_s": summary.get("audio_s"),
        "wall_s": round(wall, 2),
        "rtf": summary.get("rtf_median"),
        "error": last[0][:300] if last else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--python", default=sys.executable, help="interpreter whose CLI to run")
    ap.add_argument("--lengths", type=int, nargs="+", default=LENGTHS, help="bytes of text")
    ap.add_argument("--repeats", type=int, default=1, help="runs per length")
    ap.add_argument("--cap-gib", type=float, default=8.0, help="address-space cap per run")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per run")
    ap.add_argument("--label", default="after-cut", help="name of this tree in the results")
    ap.add_argument("--out", type=Path, help="directory for the result JSON and Markdown")
    ap.add_argument("args", nargs="*", help="extra stream-tts options (after --)")
    a = ap.parse_args()
    cap = int(a.cap_gib * (1 << 30))
    runs = []
    for n in a.lengths:
        for _ in range(a.repeats):
            r = one(a.python, n, cap, a.timeout, a.args)
            runs.append(r)
            print(json.dumps(r), flush=True)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    result = {
        "bench": "clause_length",
        "label": a.label,
        "date": stamp,
        "machine": machine(),
        "load_avg_at_end": os.getloadavg(),
        "rev": rev_of(a.python),
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "cli": "stream-tts --input text --output x.wav --stats x.jsonl " + " ".join(a.args),
        "cap_gib": a.cap_gib,
        "runs": runs,
    }
    if a.out:
        a.out.mkdir(parents=True, exist_ok=True)
        name = f"clause-length-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{a.label}"
        (a.out / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n")
        rows = [
            "| bytes | rc | peak RSS MB | first audio ms | audio s | wall s |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        rows += [
            f"| {r['bytes']} | {r['rc']} | {r['peak_rss_mb']} | {r['ttfa_ms']} | "
            f"{r['audio_s']} | {r['wall_s']} |"
            for r in runs
        ]
        head = [
            f"# Clause length: {a.label}",
            "",
            f"- date: {stamp}",
            f"- machine: {result['machine']}",
            f"- tree: {result['rev']} (`{a.python}`)",
            f"- command: `{result['command']}`",
            f"- each run: `{result['cli'].strip()}`, under a {a.cap_gib:g} GiB address-space cap",
            "",
        ]
        (a.out / f"{name}.md").write_text("\n".join(head + rows) + "\n")
        print(f"wrote {a.out / name}.json and .md")


if __name__ == "__main__":
    main()
