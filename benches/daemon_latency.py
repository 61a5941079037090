"""The warm daemon's latencies (issue #14), through the real device path.

A PulseAudio null sink stands in for the sound card and `parec` records its monitor
(Monitor from latency.py). Measured, each over several trials:

  hook     `stream-tts --hook` as Claude Code runs it (the console script, process start
           included) with a warm daemon, PostToolUse payload: until the hook exits
  warm     an assistant text line appended to a followed transcript -> first sound, and
           where it goes (the daemon's own record of each trial, from `ctl status`)
  barge    `stream-tts --hook` UserPromptSubmit while speaking -> last sound
  cold     no daemon running: `stream-tts --hook` (Stop) -> first sound, and the same with
           `--no-daemon` (a speaker process of its own, as --hook was before the daemon)

    python benches/daemon_latency.py --trials 20 --out benches/results/

Timings are this machine's, not pass/fail: the results file says which machine and load.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _rig import RESULTS, audio_rig, git_rev, machine, use_rig
from latency import SENTENCES, Monitor

STREAM_TTS = str(Path(sys.executable).parent / "stream-tts")


CONFIG = os.devnull  # the daemon's settings file (--config): none, the defaults


def _env(tmp: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    return env | {"TMPDIR": tmp, "XDG_STATE_HOME": f"{tmp}/state", "STREAM_TTS_CONFIG": CONFIG}


class Transcript:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.write_text("")
        self.n = 0

    def write(self, entry: dict[str, Any]) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(entry) + "\n")
            f.flush()

    def prompt(self, text: str) -> None:
        self.write({"type": "user", "message": {"role": "user", "content": text}})

    def say(self, text: str) -> None:
        self.n += 1
        content = [{"type": "text", "text": text}]
        message = {"id": f"msg_{self.n}", "role": "assistant", "content": content}
        self.write({"type": "assistant", "message": message, "isSidechain": False})


def hook(env: dict[str, str], t: Transcript, event: str, *args: str) -> float:
    """Run the hook as Claude Code does; its wall time in seconds."""
    payload = {"hook_event_name": event, "session_id": "bench", "transcript_path": str(t.path)}
    t0 = time.monotonic()
    r = subprocess.run(
        [STREAM_TTS, "--hook", *args], input=json.dumps(payload).encode(), env=env, timeout=120
    )
    took = time.monotonic() - t0
    if r.returncode != 0:
        raise SystemExit(f"hook {event} failed with {r.returncode}")
    return took


def quit_daemon(env: dict[str, str]) -> None:
    subprocess.run([STREAM_TTS, "ctl", "quit"], env=env, capture_output=True, timeout=60)
    lock = Path(env["TMPDIR"]) / f"stream-tts-{os.getuid()}" / "daemon.lock"
    deadline = time.monotonic() + 20
    from stream_tts.speaker_lock import holder

    while lock.exists() and time.monotonic() < deadline:
        fd = os.open(lock, os.O_RDWR)
        try:
            pid = holder(fd)
        finally:
            os.close(fd)
        if pid is None:
            return
        time.sleep(0.05)


def stop_speaker(env: dict[str, str]) -> None:
    lock = Path(env["TMPDIR"]) / f"stream-tts-{os.getuid()}" / "speaker.lock"
    if not lock.exists():
        return
    from stream_tts.speaker_lock import holder

    fd = os.open(lock, os.O_RDWR)
    try:
        pid = holder(fd)
    finally:
        os.close(fd)
    if pid is not None:
        os.kill(pid, signal.SIGKILL)


def said_first(env: dict[str, str], since: float) -> dict[str, Any]:
    """The daemon's record (`ctl status`) of the first piece it read after `since` (a sentence
    may be said in clauses): from reading the line to the device's first sample."""
    status = subprocess.run(
        [STREAM_TTS, "ctl", "status", "--json"], env=env, capture_output=True, timeout=60
    )
    doc = json.loads(status.stdout)
    ours = [r for r in doc.get("latencies", []) if r["read_at"] >= since]
    if not ours:
        return {}
    return dict(min(ours, key=lambda r: r["read_at"])) | {
        "device_latency_ms": doc.get("device_latency_ms")
    }


def breakdown(parts: list[dict[str, Any]]) -> dict[str, float]:
    """Medians of where the append -> sound time goes: append -> the pipeline reading the line
    (inotify, the follow thread), the daemon's TTFA (read -> the device taking the first
    sample), of which the queue and the first chunk's synthesis, and what is left after the
    device took it (its buffer, the sound server, the monitor's capture)."""
    out: dict[str, float] = {}
    keys = (
        "append_to_sound_ms",
        "append_to_first_sample_ms",
        "append_to_read_ms",
        "ttfa_ms",
        "queue_ms",
        "first_ready_ms",
        "device_latency_ms",
    )
    for key in keys:
        vals = [p[key] for p in parts if p.get(key) is not None]
        if vals:
            out[key] = round(statistics.median(vals), 1)
    split = [p for p in parts if p.get("ttfa_ms") is not None and "append_to_read_ms" in p]
    if split:
        # TTFA as --stats counts it: to the device taking the first sample; then the rest.
        to_device = [p["append_to_read_ms"] + p["ttfa_ms"] for p in split]
        after = [p["append_to_sound_ms"] - d for p, d in zip(split, to_device, strict=True)]
        out["device_to_monitor_ms"] = round(statistics.median(after), 1)
        out["append_to_device_ms"] = round(statistics.median(to_device), 1)
        if all("append_to_first_sample_ms" in p for p in split):
            first = [
                p["append_to_first_sample_ms"] - d for p, d in zip(split, to_device, strict=True)
            ]
            out["device_to_first_sample_ms"] = round(statistics.median(first), 1)
        if all(p.get("device_latency_ms") is not None for p in split):
            # When the device says it plays the first sample: taken, plus its reported delay.
            played = [d + p["device_latency_ms"] for p, d in zip(split, to_device, strict=True)]
            out["append_to_played_ms"] = round(statistics.median(played), 1)
    return out


def summary(values: list[float]) -> dict[str, Any]:
    ms = sorted(v * 1000 for v in values)
    if not ms:
        return {"n": 0}
    return {
        "n": len(ms),
        "median_ms": round(statistics.median(ms), 1),
        "p95_ms": round(ms[min(len(ms) - 1, round(0.95 * len(ms) + 0.5) - 1)], 1),
        "min_ms": round(ms[0], 1),
        "max_ms": round(ms[-1], 1),
    }


def cold(mon: Monitor, tmp: str, trials: int) -> dict[str, Any]:
    out: dict[str, list[float]] = {"daemon": [], "no_daemon": [], "daemon_hook_s": []}
    for i in range(trials):
        for mode in ("daemon", "no_daemon"):
            env = _env(tmp)
            t = Transcript(Path(tmp) / f"cold-{mode}-{i}.jsonl")
            t.prompt("Why?")
            t.say(SENTENCES[i % len(SENTENCES)])
            mon.wait_silence(0.6)
            mon.arm()
            t0 = time.monotonic()
            took = hook(env, t, "Stop", *(["--no-daemon"] if mode == "no_daemon" else []))
            onset = mon.wait_onset(30)
            if onset is not None:
                out[mode].append(onset - t0)
            if mode == "daemon":
                out["daemon_hook_s"].append(took)
                quit_daemon(env)
            else:
                stop_speaker(env)
    return {k: summary(v) for k, v in out.items()} | {"raw_s": out}


def warm(mon: Monitor, tmp: str, trials: int) -> dict[str, Any]:
    env = _env(tmp)
    t = Transcript(Path(tmp) / "warm.jsonl")
    hook(env, t, "SessionStart")  # starts the daemon and waits for its voice
    hook_times = [hook(env, t, "PostToolUse") for _ in range(max(trials, 50))]
    # The floor under the hook: this interpreter starting and exiting, doing nothing.
    bare = []
    for _ in range(20):
        t0 = time.monotonic()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare.append(time.monotonic() - t0)
    append: list[float] = []  # to the first sound (above THRESHOLD) at the monitor
    append_first: list[float] = []  # to the first sample at the monitor
    parts: list[dict[str, Any]] = []  # the daemon's own record of each trial's sentence
    for i in range(trials):
        mon.wait_silence(0.6)
        time.sleep(1.0)  # an idle gap, as between tool calls
        mon.arm()
        t0 = time.monotonic()
        t.say(SENTENCES[i % len(SENTENCES)])
        onset = mon.wait_onset(10)
        first = mon.first_sample()
        if onset is not None and first is not None:
            append.append(onset - t0)
            append_first.append(first - t0)
            # The daemon's record is complete once the sentence is synthesised to its end.
            mon.wait_silence(0.6)
            said = said_first(env, t0)
            if "read_at" in said:  # one clock (CLOCK_MONOTONIC) in both processes
                said["append_to_read_ms"] = round((said["read_at"] - t0) * 1000, 2)
            parts.append(
                said
                | {
                    "append_to_sound_ms": round((onset - t0) * 1000, 2),
                    "append_to_first_sample_ms": round((first - t0) * 1000, 2),
                }
            )
    barge: list[float] = []
    barge_daemon: list[float] = []  # the daemon's own part: request received -> ring flushed
    for _ in range(max(5, trials // 2)):
        mon.wait_silence(0.6)
        mon.arm()
        t.say(" ".join(SENTENCES))
        if mon.wait_onset(10) is None:
            continue
        time.sleep(0.8)
        # Cut while a sentence sounds, not in the pause between two (that read 0 ms).
        deadline = time.monotonic() + 3
        while time.monotonic() - mon.last_sound > 0.01 and time.monotonic() < deadline:
            time.sleep(0.002)
        t0 = time.monotonic()
        t.prompt("Stop, and do this instead.")
        hook(env, t, "UserPromptSubmit")
        time.sleep(1.5)
        barge.append(max(0.0, mon.last_sound - t0))
        status = subprocess.run(
            [STREAM_TTS, "ctl", "status", "--json"], env=env, capture_output=True, timeout=60
        )
        barge_daemon.append(json.loads(status.stdout)["barge_in_ms"] / 1000)
    quit_daemon(env)
    return {
        "hook_return": summary(hook_times),
        "python_start_floor": summary(bare),
        "append_to_first_sound": summary(append),
        "append_to_first_sample": summary(append_first),
        "barge_in_to_silence": summary(barge),
        "barge_in_daemon_part": summary(barge_daemon),
        "append_breakdown_median_ms": breakdown(parts),
        "append_parts": parts,
        "raw_s": {
            "hook": hook_times,
            "bare": bare,
            "append": append,
            "append_first_sample": append_first,
            "barge": barge,
            "barge_daemon": barge_daemon,
        },
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--cold-trials", type=int, default=5)
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument(
        "--config", type=Path, help="a settings file for the daemon (default: none, the defaults)"
    )
    ns = p.parse_args()
    global CONFIG
    if ns.config is not None:
        CONFIG = str(ns.config.resolve())
    rig = use_rig()
    mon = Monitor(rig.monitor)
    time.sleep(0.5)
    tmp = tempfile.mkdtemp(prefix="stb-", dir="/tmp")
    try:
        results: dict[str, Any] = {
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "machine": machine(),
            "load_before": os.getloadavg(),
            "git": git_rev(),
            "command": " ".join(["python", *sys.argv]),
            "config": None if ns.config is None else ns.config.read_text(),
            "warm": warm(mon, tmp, ns.trials),
            "cold": cold(mon, tmp, ns.cold_trials),
            "load_after": os.getloadavg(),
        }
    finally:
        mon.close()
        audio_rig.stop_rig(rig)
    ns.out.mkdir(parents=True, exist_ok=True)
    path = ns.out / f"daemon-latency-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    brief = {k: v for k, v in results.items() if k not in ("warm", "cold")}
    for part in ("warm", "cold"):
        brief[part] = {k: v for k, v in results[part].items() if k != "raw_s"}
    print(json.dumps(brief, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
