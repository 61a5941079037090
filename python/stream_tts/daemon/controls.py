"""`stream-tts ctl`: the daemon's side of stop, pause, resume, skip, mute, unmute, faster,
slower, status and quit."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from stream_tts.daemon.playback import PausableSink
from stream_tts.paths import shorten
from stream_tts.rate import clamp

if TYPE_CHECKING:
    from stream_tts.daemon.server import Daemon

RATE_STEP = 1.2  # ctl faster / slower


def control(d: Daemon, cmd: str) -> dict[str, Any]:
    if cmd == "status":
        return {"ok": True, **status(d)}
    with d.lock:
        if cmd in ("stop", "mute") and d.pipeline is not None:
            d.pipeline.cut()
        if cmd in ("mute", "unmute"):
            d.muted = cmd == "mute"
    sink = getattr(d.pipeline, "sink", None)
    if cmd in ("pause", "resume", "skip"):
        if not isinstance(sink, PausableSink):
            return {"ok": False, "error": "no voice to pause"}
        if cmd == "skip":
            sink.skip()
        else:
            getattr(sink, cmd)()
        return {"ok": True}
    if cmd in ("faster", "slower"):
        engine = getattr(d.pipeline, "engine", None)
        if engine is None or not hasattr(engine, "rate") or not isinstance(sink, PausableSink):
            return {"ok": False, "error": "no voice to speed up or slow down"}
        old = engine.rate
        engine.rate = clamp(old * (RATE_STEP if cmd == "faster" else 1 / RATE_STEP))
        # What is synthesised from now on has the new rate; what was made ahead of time
        # and has not started is re-timed, so the next sentence heard has it too.
        sink.retime(engine.rate)
        return {"ok": True, "rate": round(engine.rate, 2)}
    if cmd == "quit":
        d.shutdown(now=True)
    elif cmd not in ("stop", "mute", "unmute"):
        return {"ok": False, "error": f"unknown command {shorten(cmd, 40)}"}
    return {"ok": True}


def status(d: Daemon) -> dict[str, Any]:
    state = "failed" if d.error else "ready" if d.ready.is_set() else "loading"
    with d.lock:
        sessions = [
            {"session": f.session, "transcript": f.path, "offset": f.offset}
            for f in d.transcripts.followed.values()
        ]
        latencies = d.queue.latencies() if d.queue is not None else []
    p = d.pipeline
    return {
        "pid": os.getpid(),
        "state": state,
        "error": d.error,
        "voice": d.voice,
        "muted": d.muted,
        "paused": isinstance(getattr(p, "sink", None), PausableSink) and p.sink.paused,
        "uptime_s": round(time.monotonic() - d.started, 1),
        "idle_exit_s": d.idle_exit_s,
        "sentences": 0 if p is None else p.outcome.sentences,
        "rate": round(getattr(getattr(p, "engine", None), "rate", 1.0), 2),
        "sessions": sessions,
        # From reading a sentence's line to its first sound, the latest first.
        "latencies": latencies,
        # From a barge-in hook reaching the daemon to the device's queue dropped.
        "barge_in_ms": d.barge_in_ms,
        # What the device reports between taking a sample and playing it.
        "device_latency_ms": _device_latency_ms(p),
    }


def _device_latency_ms(p: Any) -> float | None:
    sink = getattr(p, "sink", None)
    if sink is None:
        return None
    latency = sink.stats().get("output_latency")
    return None if latency is None else round(latency * 1000, 2)
