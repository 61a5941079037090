"""Where the warm daemon's memory goes (issue #14): the daemon in this process, speaking to a
WAV file (synthesis as fast as the CPU allows), two transcripts appended every `--every`
seconds; RSS every 20 s, and with `--tracemalloc` the Python heap and its biggest growth by
traceback between the first and the last sample.

The WAV file takes audio faster than it plays, but the pause/skip wrapper keeps each sentence
until its playing time has passed (playback.py): blocks written faster than real time (each
is ~4 s of speech) pile audio up there. Keep `--every` at 4 s or more for the daemon's own
growth.

    python benches/daemon_memory.py --minutes 3 --out benches/results/
    python benches/daemon_memory.py --minutes 3 --glibc-arenas   # without the daemon's mallopt

RSS growth with a flat Python heap is native memory (malloc arenas, onnxruntime's arena);
growth in the heap names its Python line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

from _rig import RESULTS, git_rev, machine, rss_kib


class _Quiet:
    def info(self, message: str) -> None:
        pass

    def error(self, message: str) -> None:
        print(message, file=sys.stderr)


def _where(stat: tracemalloc.StatisticDiff) -> str:
    """A heap growth and the three innermost frames that made it."""
    frames = list(stat.traceback)[::-1][:3]  # oldest first as stored
    where = " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in frames)
    return f"{stat.size_diff / 1024:+.0f} KiB in {stat.count_diff:+d} blocks: {where}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=3)
    p.add_argument("--every", type=float, default=4.0, help="seconds between blocks")
    p.add_argument("--tracemalloc", action="store_true")
    p.add_argument("--glibc-arenas", action="store_true", help="leave malloc's arenas as is")
    p.add_argument("--out", type=Path, default=RESULTS)
    ns = p.parse_args()
    tmp = tempfile.mkdtemp(prefix="stm-", dir="/tmp")
    os.environ.pop("XDG_RUNTIME_DIR", None)
    os.environ |= {"TMPDIR": tmp, "XDG_STATE_HOME": f"{tmp}/state"}
    os.environ["STREAM_TTS_CONFIG"] = os.devnull
    tempfile.tempdir = None  # TMPDIR changed: where the daemon's socket goes
    from stream_tts.config import Settings
    from stream_tts.daemon import server
    from stream_tts.daemon.client import request

    if ns.glibc_arenas:
        server._few_malloc_arenas = lambda: None  # type: ignore[attr-defined]
    settings = Settings()
    settings.output = f"{tmp}/out.wav"
    daemon = server.Daemon(settings, _Quiet())
    samples: list[dict[str, Any]] = []
    top: list[str] = []

    def drive() -> None:
        daemon.ready.wait(120)
        paths = [f"{tmp}/{name}.jsonl" for name in ("alpha", "bravo")]
        for i, path in enumerate(paths):
            Path(path).touch()
            hook = {"hook_event_name": "SessionStart", "session_id": f"s{i}"}
            request({"op": "hook", **hook, "transcript_path": path, "cwd": f"/w/p{i}"})
        if ns.tracemalloc:
            tracemalloc.start(8)
        first = None
        n, t0 = 0, time.monotonic()
        next_sample = t0
        while time.monotonic() - t0 < ns.minutes * 60:
            n += 1
            path = paths[n % 2]
            text = f"Block {n} is here. It has a second sentence too."
            message = {
                "id": f"m{n}",
                "role": "assistant",
                "content": [{"type": "text", "text": text}],
            }
            use = {"type": "tool_use", "id": f"t{n}", "name": "Bash", "input": {"command": "ls"}}
            with open(path, "a") as f:
                f.write(json.dumps({"type": "assistant", "message": message}) + "\n")
                f.write(
                    json.dumps({"type": "assistant", "message": {"id": f"u{n}", "content": [use]}})
                    + "\n"
                )
            if n % 5 == 0:
                hook = {"hook_event_name": "PostToolUse", "session_id": "s0"}
                request({"op": "hook", **hook, "transcript_path": paths[0]})
            if time.monotonic() >= next_sample:
                next_sample += 20
                traced = tracemalloc.get_traced_memory()[0] if ns.tracemalloc else 0
                samples.append(
                    {
                        "t_s": round(time.monotonic() - t0),
                        "blocks": n,
                        "rss_mib": round(rss_kib() / 1024, 1),
                        "python_heap_mib": round(traced / 2**20, 2),
                    }
                )
                print(samples[-1], flush=True)
                if ns.tracemalloc:
                    snap = tracemalloc.take_snapshot()
                    first = first or snap
                    top[:] = [_where(s) for s in snap.compare_to(first, "traceback")[:5]]
            time.sleep(ns.every)
        daemon.shutdown(now=True)

    threading.Thread(target=drive, daemon=True).start()
    daemon.run()
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": machine(),
        "git": git_rev(),
        "command": " ".join(["python", *sys.argv]),
        "load_after": os.getloadavg(),
        "malloc_arenas": "glibc default" if ns.glibc_arenas else "2 (the daemon's mallopt)",
        "samples": samples,
        "python_heap_growth_top": top,
    }
    ns.out.mkdir(parents=True, exist_ok=True)
    path = ns.out / f"daemon-memory-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
