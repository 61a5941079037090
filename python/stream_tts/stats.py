"""Per-sentence timing records (`--stats`) and the summary printed at exit.

Every time is `time.monotonic()` seconds, the clock the audio sink stamps utterances with.
Time to first audio (TTFA) runs from reading the input chunk that completed a sentence to the
device taking that sentence's first sample.
"""

from __future__ import annotations

import json
import statistics
import threading
from dataclasses import dataclass
from typing import IO, Any


@dataclass
class SentenceRecord:
    utterance: int
    text: str
    message_id: str
    line: int
    fragment: bool
    read_at: float
    synth_start: float = 0.0
    first_ready_at: float = 0.0  # the engine made the first chunk (before it, if speculated)
    first_chunk_at: float = 0.0  # first audio of this sentence handed to the sink
    synth_end: float = 0.0
    audio_s: float = 0.0
    started_at: float | None = None  # device took the first sample
    dropped: bool = False  # cut off by --interrupt or Ctrl-C
    # Synthesis began on a guess, before the sentence was certain (then queue_ms < 0).
    speculated: bool = False
    # Audio of earlier sentences still to play when this one was read: TTFA waits for it.
    behind: float = 0.0
    source: str | None = None  # the sentence before translation (--translate-to)
    translate_s: float = 0.0
    translate_first_s: float = 0.0  # to its first translated clause (clause streaming)

    @property
    def ttfa(self) -> float | None:
        return None if self.started_at is None else self.started_at - self.read_at

    def as_json(self) -> dict[str, Any]:
        def ms(a: float, b: float) -> float | None:
            return round((b - a) * 1000, 2) if a and b else None

        synth = self.synth_end - self.synth_start if self.synth_end else 0.0
        ttfa = self.ttfa
        return {
            "sentence": self.text,
            "message_id": self.message_id,
            "line": self.line,
            "fragment": self.fragment,
            "read_at": round(self.read_at, 6),
            "ttfa_ms": None if ttfa is None else round(ttfa * 1000, 2),
            "behind_ms": round(self.behind * 1000, 2),
            "queue_ms": ms(self.read_at, self.synth_start),
            "first_chunk_ms": ms(self.synth_start, self.first_chunk_at),
            # Synthesis of the first chunk alone (first_chunk_ms adds any wait for the line
            # that confirms a speculated sentence).
            "first_ready_ms": ms(self.synth_start, self.first_ready_at),
            "synth_ms": ms(self.synth_start, self.synth_end),
            "audio_s": round(self.audio_s, 3),
            "rtf": round(synth / self.audio_s, 4) if synth and self.audio_s > 0 else None,
            "dropped": self.dropped,
            "speculated": self.speculated,
            **(
                {
                    "source": self.source,
                    "translate_ms": round(self.translate_s * 1000, 2),
                    "translate_first_ms": round(self.translate_first_s * 1000, 2),
                }
                if self.source is not None
                else {}
            ),
        }


def _pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(q / 100 * len(s) + 0.5) - 1))
    return s[k]


class Stats:
    """Collects records; writes one JSON line per sentence once its first sample played, or
    (`table`) a table for people at exit."""

    def __init__(self, out: IO[str] | None, *, table: bool = False) -> None:
        self._out = out
        self._table = table
        self._lock = threading.Lock()
        self.records: list[SentenceRecord] = []
        self._pending: list[SentenceRecord] = []
        self._busy_until = 0.0  # when the audio queued so far should finish playing

    def add(self, rec: SentenceRecord) -> None:
        with self._lock:
            self.records.append(rec)
            self._pending.append(rec)

    def poll(self, started: Any, *, final: bool = False) -> None:
        """Emit, in order, records whose start `started(utterance)` now knows (all if final)."""
        with self._lock:
            while self._pending:
                rec = self._pending[0]
                if rec.started_at is None and rec.synth_end and not rec.dropped:
                    rec.started_at = started(rec.utterance)
                if rec.started_at is None and not (final or rec.dropped):
                    break
                self._pending.pop(0)
                if rec.started_at is None:
                    rec.dropped = True  # never reached the device (interrupted or flushed)
                rec.behind = max(0.0, self._busy_until - rec.read_at)
                if rec.started_at is not None:
                    end = rec.started_at + rec.audio_s
                    self._busy_until = max(self._busy_until, end)
                self._emit(rec)

    def cut(self, started: Any) -> None:
        """The sink's queue was just flushed: a sentence that has not started never will."""
        with self._lock:
            for rec in self._pending:
                if rec.started_at is None:
                    rec.started_at = started(rec.utterance)
                    rec.dropped = rec.started_at is None

    def _emit(self, rec: SentenceRecord) -> None:
        if self._out is None or self._table:
            return
        self._out.write(json.dumps(rec.as_json(), ensure_ascii=False) + "\n")
        self._out.flush()

    def summary(self, sink_stats: dict[str, float] | None = None) -> dict[str, Any]:
        ttfa = [t * 1000 for r in self.records if (t := r.ttfa) is not None]
        # Sentences read while the device was idle: TTFA there is the pipeline's own latency.
        idle = [t * 1000 for r in self.records if (t := r.ttfa) is not None and r.behind == 0]
        synth = [(r.synth_end - r.synth_start) * 1000 for r in self.records if r.synth_end]
        rtf = [
            (r.synth_end - r.synth_start) / r.audio_s
            for r in self.records
            if r.synth_end and r.audio_s > 0
        ]
        out: dict[str, Any] = {
            "summary": True,
            "sentences": len(self.records),
            "spoken": len(ttfa),
            "dropped": sum(r.dropped for r in self.records),
            "speculated": sum(r.speculated for r in self.records),
            "audio_s": round(sum(r.audio_s for r in self.records), 3),
        }
        if ttfa:
            out["ttfa_ms_median"] = round(statistics.median(ttfa), 2)
            out["ttfa_ms_p95"] = round(_pct(ttfa, 95), 2)
            out["ttfa_ms_first"] = round(ttfa[0], 2)
        if idle:
            out["ttfa_idle_ms_median"] = round(statistics.median(idle), 2)
            out["ttfa_idle_ms_p95"] = round(_pct(idle, 95), 2)
        if synth:
            out["synth_ms_median"] = round(statistics.median(synth), 2)
        if rtf:
            out["rtf_median"] = round(statistics.median(rtf), 4)
        if sink_stats:
            out["underruns"] = int(sink_stats.get("underruns", 0))
            out["device_errors"] = int(sink_stats.get("device_errors", 0))
            # The device ran dry because the audio callback came late (not our ring's fault).
            out["xruns"] = int(sink_stats.get("xruns", 0))
        return out

    def write_summary(self, sink_stats: dict[str, float] | None = None) -> None:
        if self._out is None:
            return
        summary = self.summary(sink_stats)
        if self._table:
            self._out.write(format_table(self.records, summary))
        else:
            self._out.write(json.dumps(summary) + "\n")
        self._out.flush()


_TEXT_WIDTH = 44


def format_table(records: list[SentenceRecord], summary: dict[str, Any]) -> str:
    """What `--stats` prints at exit: one row per sentence, then the medians, in words."""

    def ms(seconds: float | None) -> str:
        return "-" if seconds is None else f"{seconds * 1000:.0f} ms"

    rows = [("#", "first audio", "waited", "synthesis", "audio", "sentence")]
    for i, r in enumerate(records, 1):
        synth = r.synth_end - r.synth_start if r.synth_end else None
        text = r.text if len(r.text) <= _TEXT_WIDTH else r.text[: _TEXT_WIDTH - 1] + "…"
        mark = " (cut off)" if r.dropped else " (guessed early)" if r.speculated else ""
        rows.append(
            (
                str(i),
                ms(r.ttfa),
                ms(r.behind) if r.behind else "",
                ms(synth),
                f"{r.audio_s:.1f} s",
                text + mark,
            )
        )
    widths = [max(len(row[c]) for row in rows) for c in range(5)]
    lines = ["  ".join(row[c].rjust(widths[c]) for c in range(5)) + "  " + row[5] for row in rows]
    s = summary
    lines.append(
        f"{s['spoken']} of {s['sentences']} sentences spoken ({s['audio_s']:.1f} s of audio)"
        + (f", {s['dropped']} cut off" if s["dropped"] else "")
    )
    if "ttfa_ms_median" in s:
        lines.append(
            f"first audio: median {s['ttfa_ms_median']:.0f} ms, p95 {s['ttfa_ms_p95']:.0f} ms, "
            f"first sentence {s['ttfa_ms_first']:.0f} ms"
            + (
                f"; when nothing was playing: median {s['ttfa_idle_ms_median']:.0f} ms"
                if "ttfa_idle_ms_median" in s
                else ""
            )
        )
    if "rtf_median" in s:
        lines.append(
            f"synthesis: median {s['synth_ms_median']:.0f} ms per sentence, "
            f"{s['rtf_median']:.3f} s per second of audio"
        )
    if "underruns" in s:
        lines.append(
            f"device: {s['underruns']} underruns, {s['xruns']} xruns, {s['device_errors']} errors"
        )
    lines.append(
        "first audio: from the input that completed a sentence to its first sample at the "
        "device; waited: audio of earlier sentences still playing then"
    )
    return "\n".join(lines) + "\n"
