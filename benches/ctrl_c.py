"""How soon Ctrl-C silences the device: SIGINT to a speaking `stream-tts`, then the last sound
at the PulseAudio null sink's monitor (parec), and the exit of the process.

    python benches/ctrl_c.py --runs 5 --out benches/results/
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from audio_rig import stop_rig
from cli_support import Recorder, pulse_rig

TEXT = b"This is a long answer that goes on for quite a while so that it can be cut off. " * 4


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    rig, rig_env = pulse_rig(f"stream_tts_ctrl_c_{os.getpid()}")
    env = {**os.environ, "STREAM_TTS_CONFIG": os.devnull, **rig_env}
    runs = []
    try:
        for i in range(a.runs):
            rec = Recorder(rig.monitor)
            time.sleep(0.3)
            cmd = [sys.executable, "-m", "stream_tts.cli", "--input", "text"]
            p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
            assert p.stdin is not None
            p.stdin.write(TEXT + b"\n")
            p.stdin.flush()
            while not rec.loud_times():
                time.sleep(0.02)
            time.sleep(0.4 + 0.1 * i)  # cut at different points of the speech
            sent = time.monotonic()
            p.send_signal(signal.SIGINT)
            rc = p.wait(10)
            exited = time.monotonic() - sent
            time.sleep(0.5)
            rec.stop()
            last = max(rec.loud_times()) - sent
            runs.append({"rc": rc, "last_sound_ms": last * 1000, "exit_ms": exited * 1000})
    finally:
        stop_rig(rig)
    last_ms = [r["last_sound_ms"] for r in runs]
    result = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "load_avg": os.getloadavg()},
        "command": "python benches/ctrl_c.py " + " ".join(sys.argv[1:]),
        "runs": runs,
        "last_sound_ms_median": round(statistics.median(last_ms), 1),
        "last_sound_ms_max": round(max(last_ms), 1),
        "exit_ms_median": round(statistics.median(r["exit_ms"] for r in runs), 1),
    }
    text = json.dumps(result, indent=1)
    if a.out:
        a.out.mkdir(parents=True, exist_ok=True)
        (a.out / f"ctrl-c-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}.json").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
