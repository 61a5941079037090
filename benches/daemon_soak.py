"""Soak of the warm daemon (issue #14): two simulated Claude Code sessions append text
blocks, tool calls and tool results to their transcripts at random intervals and run the
hooks, for `--minutes`; the daemon speaks to the rig (PulseAudio null sink) with --stats.

Checked at the end, from the daemon's --stats records: every sentence written was said
exactly once (nothing lost, nothing repeated), no two sentences played at the same time,
the device's underruns; and the daemon's RSS sampled every 10 s (flat or not).

    python benches/daemon_soak.py --minutes 30 --out benches/results/
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _rig import RESULTS, audio_rig, git_rev, machine, use_rig
from daemon_latency import Transcript, _env, hook, quit_daemon


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _daemon_pid(env: dict[str, str]) -> int:
    import subprocess

    r = subprocess.run(
        [str(Path(sys.executable).parent / "stream-tts"), "ctl", "status", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return int(json.loads(r.stdout)["pid"])


def _slope_mb_per_min(points: list[tuple[float, int]]) -> float | None:
    if len(points) < 3:
        return None
    xs = [t / 60 for t, _ in points]
    ys = [kib / 1024 for _, kib in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    num = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    den = sum((x - mx) ** 2 for x in xs)
    return round(num / den, 3) if den else None


def _tool(t: Transcript, n: int) -> None:
    use = {"type": "tool_use", "id": f"toolu_{n}", "name": "Bash", "input": {"command": "ls"}}
    t.write({"type": "assistant", "message": {"id": f"tool_{n}", "content": [use]}})
    res = {"type": "tool_result", "tool_use_id": f"toolu_{n}", "content": "file.txt\n" * 50}
    t.write({"type": "user", "message": {"role": "user", "content": [res]}})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=30)
    p.add_argument("--out", type=Path, default=RESULTS)
    ns = p.parse_args()
    rig = use_rig()
    tmp = tempfile.mkdtemp(prefix="sts-", dir="/tmp")
    env = _env(tmp)
    stats = Path(tmp) / "stats.jsonl"
    rng = random.Random(7)
    sessions = {name: Transcript(Path(tmp) / f"{name}.jsonl") for name in ("alpha", "bravo")}
    written: list[str] = []
    rss: list[tuple[float, int]] = []
    loads: list[float] = []  # the 1-minute load average beside each RSS sample
    load_before = os.getloadavg()
    try:
        for t in sessions.values():
            hook(env, t, "SessionStart", "--stats", str(stats))
        pid = _daemon_pid(env)
        t0 = time.monotonic()
        end = t0 + ns.minutes * 60
        next_rss = t0
        n = 0
        while time.monotonic() < end:
            name = rng.choice(list(sessions))
            t = sessions[name]
            n += 1
            if rng.random() < 0.4:
                _tool(t, n)
                hook(env, t, "PostToolUse")
            else:
                words = rng.choice(["first", "next", "last"])
                # No commas: a long first sentence may be spoken from its first comma on
                # (early fragments), which would split it in the records.
                sentences = [f"Session {name} says block {n} as the {words} part."]
                if rng.random() < 0.5:
                    sentences.append(f"Block {n} of {name} has a second sentence.")
                written += sentences
                t.say(" ".join(sentences))
            if time.monotonic() >= next_rss:
                rss.append((round(time.monotonic() - t0, 1), _rss_kib(pid)))
                loads.append(round(os.getloadavg()[0], 2))
                next_rss += 10
            # A block every 2-6 s: about what the voice can say, so the queue stays short.
            time.sleep(rng.uniform(2.0, 6.0))
        for t in sessions.values():
            hook(env, t, "Stop")
        # Let the queue play out (ctl quit cuts what is queued): until everything written
        # was said, or nothing new was said for 30 s.
        said_n, changed = -1, time.monotonic()
        while time.monotonic() - changed < 30:
            n_now = sum(1 for x in stats.read_text().splitlines() if x.startswith("{"))
            if n_now != said_n:
                said_n, changed = n_now, time.monotonic()
            if n_now >= len(written):
                break
            time.sleep(1)
        quit_daemon(env)
    finally:
        audio_rig.stop_rig(rig)
    lines = [json.loads(x) for x in stats.read_text().splitlines() if x.startswith("{")]
    records = [r for r in lines if not r.get("summary")]
    summary = next((r for r in lines if r.get("summary")), {})
    said = [r["sentence"] for r in records if not r["dropped"] and r["ttfa_ms"] is not None]
    spoken = [s for s in said if not s.endswith(":")]  # a change of session's cue
    lost = [s for s in written if s not in spoken]
    repeated = sorted({s for s in spoken if spoken.count(s) > 1})
    spans = sorted(
        (r["read_at"] + r["ttfa_ms"] / 1000, r["read_at"] + r["ttfa_ms"] / 1000 + r["audio_s"])
        for r in records
        if r["ttfa_ms"] is not None and not r["dropped"]
    )
    # Allow 30 ms: a sentence's start is stamped when the device took its first sample.
    overlaps = sum(1 for a, b in itertools.pairwise(spans) if b[0] < a[1] - 0.03)
    result: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": machine(),
        "git": git_rev(),
        "command": " ".join(["python", *sys.argv]),
        "minutes": ns.minutes,
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "load_1min_median": statistics.median(loads) if loads else None,
        "sentences_written": len(written),
        "sentences_said": len(spoken),
        "lost": lost,
        "repeated": repeated,
        "overlapping_sentences": overlaps,
        "underruns": summary.get("underruns"),
        "xruns": summary.get("xruns"),
        "ttfa_idle_ms_median": summary.get("ttfa_idle_ms_median"),
        # Memory flat or not: the RSS trend after the first 5 minutes (the voice's arenas
        # and caches fill during the first ones), least squares.
        "rss_mb_per_min_after_5_min": _slope_mb_per_min([p for p in rss if p[0] >= 300]),
        "rss_mb_first_last": [round(rss[0][1] / 1024, 1), round(rss[-1][1] / 1024, 1)]
        if rss
        else None,
        "rss_kib": rss,
    }
    ns.out.mkdir(parents=True, exist_ok=True)
    path = ns.out / f"daemon-soak-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "rss_kib"}, indent=2))
    print(f"rss KiB first {rss[0][1] if rss else '?'}, last {rss[-1][1] if rss else '?'}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
