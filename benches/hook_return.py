"""How long `stream-tts --hook` (the console script, as Claude Code runs it) takes to return
with a warm daemon speaking to the rig, against the bare interpreter start on the same
machine. Measured here, not in daemon_latency.py: there the parec monitor thread of the
harness competes for the GIL and slows the harness's own subprocess handling.

    python benches/hook_return.py --trials 30 --out benches/results/
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _rig import RESULTS, audio_rig, git_rev, machine, use_rig
from daemon_latency import STREAM_TTS, Transcript, _env, hook, quit_daemon, summary


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=30)
    p.add_argument("--out", type=Path, default=RESULTS)
    ns = p.parse_args()
    rig = use_rig()
    tmp = tempfile.mkdtemp(prefix="sth-", dir="/tmp")
    env = _env(tmp)
    t = Transcript(Path(tmp) / "t.jsonl")
    payload = Path(tmp) / "payload.json"
    event = {"hook_event_name": "PostToolUse", "session_id": "b", "transcript_path": str(t.path)}
    payload.write_text(json.dumps(event))
    runs: dict[str, list[float]] = {"hook": [], "python_start_floor": []}
    load_before = os.getloadavg()
    try:
        hook(env, t, "SessionStart")  # starts the daemon, waits for its voice
        for _ in range(ns.trials):
            with open(payload, "rb") as f:
                t0 = time.monotonic()
                subprocess.run([STREAM_TTS, "--hook"], stdin=f, env=env, check=True)
                runs["hook"].append(time.monotonic() - t0)
            t0 = time.monotonic()
            subprocess.run([sys.executable, "-c", "pass"], check=True)
            runs["python_start_floor"].append(time.monotonic() - t0)
        quit_daemon(env)
    finally:
        audio_rig.stop_rig(rig)
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": machine(),
        "git": git_rev(),
        "command": " ".join(["python", *sys.argv]),
        "load_before": load_before,
        "load_after": os.getloadavg(),
        **{k: summary(v) for k, v in runs.items()},
        "raw_s": runs,
    }
    ns.out.mkdir(parents=True, exist_ok=True)
    path = ns.out / f"hook-return-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "raw_s"}, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
