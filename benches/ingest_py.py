"""Ingest from Python: StreamParser.feed versus json/orjson (+ regex) doing the same job.

The job: read a Claude Code partial-message transcript (~10 MB, session.partial.jsonl
repeated with fresh message ids) in 64 KiB chunks and extract the top-level assistant text
deltas. One run of each on the same input; prints a table.

    python benches/ingest_py.py            (build with `maturin develop --release` first)
"""

from __future__ import annotations

import json
import os
import platform
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

from stream_tts._core import StreamParser

# $STREAM_TTS_DATA, else ../shared/data beside the checkout (docs/testing.md).
DATA = Path(
    os.environ.get("STREAM_TTS_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data"
)
SAMPLE = DATA / "claude_code_samples" / "session.partial.jsonl"
TARGET_BYTES = 10_000_000
CHUNK = 64 * 1024


def transcript() -> bytes:
    if not SAMPLE.is_file():
        raise SystemExit(
            f"benchmark input {SAMPLE} is missing (set STREAM_TTS_DATA to the data folder)"
        )
    session = SAMPLE.read_text()
    parts: list[str] = []
    size = 0
    copy = 0
    while size < TARGET_BYTES:
        part = session.replace('"msg_0', f'"msg_{copy:05}_').replace(
            '"toolu_0', f'"toolu_{copy:05}_'
        )
        parts.append(part)
        size += len(part)
        copy += 1
    return "".join(parts).encode()


def chunks(data: bytes) -> Iterator[bytes]:
    for i in range(0, len(data), CHUNK):
        yield data[i : i + CHUNK]


def lines(data: bytes) -> Iterator[bytes]:
    """Line framing across chunks, as a Python reader of stdin would do it."""
    pending = b""
    for chunk in chunks(data):
        parts = (pending + chunk).split(b"\n")
        pending = parts.pop()
        yield from parts
    if pending:
        yield pending


def delta_text(obj: Any) -> str | None:
    if obj.get("type") != "stream_event" or obj.get("parent_tool_use_id") is not None:
        return None
    ev = obj.get("event") or {}
    if ev.get("type") != "content_block_delta":
        return None
    delta = ev.get("delta") or {}
    if delta.get("type") != "text_delta":
        return None
    text = delta.get("text")
    return text if isinstance(text, str) else None


def with_stream_parser(data: bytes) -> list[str]:
    p = StreamParser()
    out: list[str] = []
    for chunk in chunks(data):
        out += [e.text for e in p.feed(chunk) if e.kind == "text"]
    out += [e.text for e in p.finish() if e.kind == "text"]
    return out


def with_loads(loads: Callable[[bytes], Any]) -> Callable[[bytes], list[str]]:
    def run(data: bytes) -> list[str]:
        out: list[str] = []
        for line in lines(data):
            if not line.strip():
                continue
            try:
                text = delta_text(loads(line))
            except ValueError:
                continue
            if text is not None:
                out.append(text)
        return out

    return run


TEXT_DELTA = re.compile(rb'"type"\s*:\s*"text_delta"')


def with_regex_orjson(data: bytes) -> list[str]:
    """Only lines that mention text_delta are parsed at all."""
    out: list[str] = []
    for line in lines(data):
        if not TEXT_DELTA.search(line):
            continue
        try:
            text = delta_text(orjson.loads(line))
        except orjson.JSONDecodeError:
            continue
        if text is not None:
            out.append(text)
    return out


def main() -> None:
    data = transcript()
    n_lines = data.count(b"\n")
    rows: list[tuple[str, float, int]] = []
    reference: str | None = None
    for name, fn in [
        ("stream_tts StreamParser.feed", with_stream_parser),
        ("json.loads per line", with_loads(json.loads)),
        ("orjson.loads per line", with_loads(orjson.loads)),
        ("regex prefilter + orjson", with_regex_orjson),
    ]:
        start = time.perf_counter()
        texts = fn(data)
        elapsed = time.perf_counter() - start
        joined = "".join(texts)
        if reference is None:
            reference = joined
        elif joined != reference:
            raise SystemExit(f"{name} extracted different text than StreamParser")
        rows.append((name, elapsed, len(texts)))
    print(f"input: {len(data):,} bytes, {n_lines:,} lines; python {platform.python_version()}")
    print(f"| {'method':<30} | {'ms':>8} | {'MB/s':>8} | {'ns/line':>8} | {'texts':>6} |")
    print(f"|{'-' * 32}|{'-' * 9}:|{'-' * 9}:|{'-' * 9}:|{'-' * 7}:|")
    for name, elapsed, n in rows:
        mbps = len(data) / elapsed / 1e6
        print(
            f"| {name:<30} | {elapsed * 1e3:>8.1f} | {mbps:>8.1f} | "
            f"{elapsed / n_lines * 1e9:>8.0f} | {n:>6} |"
        )


if __name__ == "__main__":
    main()
