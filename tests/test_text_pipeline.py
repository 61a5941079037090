"""The joined text stage through the binding: bytes in, Sentence objects out."""

from __future__ import annotations

import json
import threading

import pytest
from shared_data import data_file

from stream_tts._core import Sentence, TextPipeline


def _read(name: str) -> bytes:
    return data_file(f"claude_code_samples/{name}").read_bytes()


def _speak(data: bytes, chunk: int, **kw: object) -> list[Sentence]:
    tp = TextPipeline(**kw)  # type: ignore[arg-type]
    out: list[Sentence] = []
    view = memoryview(data)
    for i in range(0, len(data), chunk):
        out += tp.feed(view[i : i + chunk])
    return out + tp.finish()


@pytest.mark.parametrize("shape", ["partial", "full", "short"])
def test_sample_sessions_match_whole_and_chunked(shape: str) -> None:
    data = _read(f"session.{shape}.jsonl")
    whole = [(s.text, s.message_id, s.line, s.first) for s in _speak(data, len(data))]
    for chunk in (1, 13, 4096):
        got = [(s.text, s.message_id, s.line, s.first) for s in _speak(data, chunk)]
        assert got == whole
    expected = json.loads(_read("expected.json"))
    spoken = " ".join(t for t, *_ in whole).lower()
    for bad in expected["must_not_say"]:
        assert bad.lower() not in spoken


def test_sentence_fields_and_counters() -> None:
    tp = TextPipeline("text")
    out = tp.feed(b"Hello there, world. This is")
    assert [s.text for s in out] == []  # the first end is certain only once the next starts
    out = tp.feed(b" streamed.\nNext")
    assert [s.text for s in out] == ["Hello there, world."]
    s = out[0]
    assert (s.kind, s.first, s.fragment, s.message_id) == ("text", True, False, "text")
    rest = tp.finish()
    assert [s.text for s in rest] == ["This is streamed.", "Next"]
    assert not any(s.first for s in rest)
    assert tp.counters["sentences"] == 3
    assert "Sentence(text=" in repr(s)


def test_bad_lines_are_counted_and_do_not_lose_the_next() -> None:
    tp = TextPipeline("auto")
    line = json.dumps({"content": [{"type": "text", "text": "Still here."}]}).encode()
    out = tp.feed(b'{"type": broken\n\xff\xfe{"x":1}\n' + line + b"\n")
    out += tp.finish()
    assert [s.text for s in out] == ["Still here."]
    c = tp.counters
    assert c["malformed_json"] + c["invalid_utf8"] >= 2
    assert tp.take_warnings()
    assert tp.take_warnings() == []


def test_tool_names_are_spoken_only_when_asked() -> None:
    data = _read("session.partial.jsonl")
    quiet = _speak(data, 4096)
    loud = _speak(data, 4096, speak_tools=True)
    assert all(s.kind == "text" for s in quiet)
    tools = [s for s in loud if s.kind == "tool"]
    assert tools and all(s.text.startswith("Running ") for s in tools)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        TextPipeline("yaml")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        TextPipeline(max_line_bytes=0)


def test_feed_releases_the_gil() -> None:
    # Several pipelines fed from threads at once must each give the single-thread result.
    data = _read("session.partial.jsonl")
    want = [s.text for s in _speak(data, 512)]
    results: list[list[str]] = []

    def work() -> None:
        results.append([s.text for s in _speak(data, 512)])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [want] * 4
