"""The ingest binding: StreamParser/Event over the Rust parser (rust/src/ingest.rs).

The Rust unit tests cover the parsing rules in depth; these check what the binding adds:
buffer types, chunking across calls, counters and warnings as Python objects, errors, and
parsing from several threads with the GIL released.
"""

from __future__ import annotations

import array
import json
import threading

import pytest
from shared_data import data_file

from stream_tts._core import Event, StreamParser


def sample(name: str) -> bytes:
    return data_file(f"claude_code_samples/{name}").read_bytes()


def answer() -> str:
    """The final answer's Markdown, from the `result` line of the full session."""
    last = sample("session.full.jsonl").strip().splitlines()[-1]
    text = json.loads(last)["result"]
    assert isinstance(text, str)
    return text


def messages(events: list[Event]) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in events:
        if e.kind == "text":
            out[e.message_id] = out.get(e.message_id, "") + e.text
    return out


def parse(chunks: list[bytes | bytearray | memoryview], **kw: object) -> list[Event]:
    p = StreamParser(**kw)  # type: ignore[arg-type]
    events: list[Event] = []
    for c in chunks:
        events += p.feed(c)
    return events + p.finish()


def as_tuples(events: list[Event]) -> list[tuple[str, str, int, str, int]]:
    return [(e.kind, e.message_id, e.block, e.text, e.line) for e in events]


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_partial_session_speaks_each_message_once() -> None:
    events = parse([sample("session.partial.jsonl")])
    assert messages(events) == {
        "msg_017731af10506bf2efc6f877": "I'll check the build profile first.",
        "msg_01e7a46309973f798626b1cf": answer(),
    }
    ends = [(e.kind, e.line) for e in events if e.kind != "text"]
    assert ends == [
        ("block_end", 26),
        ("message_end", 47),
        ("block_end", 156),
        ("message_end", 159),
    ]


@pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview", "memoryview-slice"])
def test_buffer_types_and_chunks_give_the_same_events(kind: str) -> None:
    data = sample("session.partial.jsonl")
    whole = as_tuples(parse([data]))
    chunks: list[bytes | bytearray | memoryview]
    if kind == "bytes":
        chunks = list(chunked(data, 7))
    elif kind == "bytearray":
        chunks = [bytearray(c) for c in chunked(data, 13)]
    elif kind == "memoryview":
        chunks = [memoryview(c) for c in chunked(data, 1)]
    else:
        view = memoryview(bytearray(data))
        chunks = [view[i : i + 101] for i in range(0, len(data), 101)]
    assert as_tuples(parse(chunks)) == whole


def test_any_contiguous_buffer_is_read_as_bytes() -> None:
    line = b'{"content":[{"type":"text","text":"hi"}]}\n'
    padded = line + b" " * (-len(line) % 2)
    words = array.array("H")
    words.frombytes(padded)
    assert [e.text for e in parse([words]) if e.kind == "text"] == ["hi"]  # type: ignore[list-item]


def test_non_contiguous_and_non_buffer_inputs_are_rejected() -> None:
    p = StreamParser()
    with pytest.raises(BufferError):
        p.feed(memoryview(b"ab\ncd\n")[::2])
    with pytest.raises(TypeError):
        p.feed("text is not bytes")  # type: ignore[arg-type]
    # The parser is still usable after a rejected call.
    assert [e.text for e in p.feed(b"still fine\n")] == ["still fine\n"]


def test_utf8_split_across_calls() -> None:
    text = "caf\u00e9 \u4e16\u754c \U0001f3b5"
    data = text.encode() + b"\n"
    events = parse([data[i : i + 1] for i in range(len(data))], input="text")
    assert [e.text for e in events if e.kind == "text"] == [text + "\n"]


def test_event_is_frozen_with_typed_fields() -> None:
    (e, *_) = StreamParser().feed(b'{"content":[{"type":"text","text":"hi"}]}\n')
    assert (e.kind, e.message_id, e.block, e.text, e.line) == ("text", "short-1", 0, "hi", 1)
    assert isinstance(e.block, int) and isinstance(e.line, int)
    assert "short-1" in repr(e)
    with pytest.raises(AttributeError):
        e.text = "changed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Event()  # type: ignore[call-arg]


def test_bad_lines_are_counted_and_warned_once() -> None:
    good = b'{"content":[{"type":"text","text":"ok"}]}\n'
    bad = [
        b'{"type": broken\n',
        b'{"content":[{"type":"text","text":"\xff"}]}\n',
        b"{" + b" " * 200 + b"}\n",
        b'{"x":' + b"[" * 50 + b"]" * 50 + b"}\n",
        b'{"type":"rate_limit_event"}\n',
    ]
    p = StreamParser(max_line_bytes=150, max_depth=20)
    events = []
    for _ in range(2):
        for line in bad:
            events += p.feed(line + good)
    events += p.finish()
    assert [e.text for e in events if e.kind == "text"] == ["ok"] * 10
    counters = p.counters
    assert isinstance(counters, dict)
    wanted = ["malformed_json", "invalid_utf8", "too_long", "too_deep", "unknown_type"]
    assert {k: counters[k] for k in wanted} == dict.fromkeys(wanted, 2)
    assert counters["lines"] == 20
    assert counters["events"] == len(events)
    warnings = p.take_warnings()
    assert len(warnings) == 5 and all(isinstance(w, str) for w in warnings)
    assert warnings[0].startswith("line 1: malformed JSON")
    assert p.take_warnings() == []


def test_options() -> None:
    data = sample("session.full.jsonl")
    tools = [(e.text, e.block) for e in parse([data], speak_tools=True) if e.kind == "tool"]
    assert tools == [("Bash", 2)]
    subagent = messages(parse([data], speak_subagents=True))
    assert subagent["msg_010becd7b03898d190f9ebda"].startswith("Subagent scratch")
    assert "msg_010becd7b03898d190f9ebda" not in messages(parse([data]))
    # Strict stream-json: plain text is malformed, not spoken.
    p = StreamParser("stream-json")
    assert p.feed(b"hello\n") == [] and p.counters["malformed_json"] == 1


@pytest.mark.parametrize(
    "kwargs",
    [{"input": "json"}, {"max_line_bytes": 0}, {"max_depth": 0}],
)
def test_bad_arguments_raise_value_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        StreamParser(**kwargs)  # type: ignore[arg-type]


def test_parsers_in_threads() -> None:
    data = sample("session.partial.jsonl") * 20
    expected = as_tuples(parse([data]))
    results: list[list[tuple[str, str, int, str, int]]] = []

    def work() -> None:
        results.append(as_tuples(parse(list(chunked(data, 4096)))))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 4


def test_one_parser_shared_by_threads_fails_cleanly() -> None:
    """Concurrent calls on one parser either run or raise RuntimeError; never corrupt it."""
    p = StreamParser()
    line = b'{"content":[{"type":"text","text":"x"}]}\n'
    errors: list[BaseException] = []
    fed = [0]

    def work() -> None:
        for _ in range(200):
            try:
                p.feed(line * 50)
                fed[0] += 50
            except RuntimeError:
                pass
            except BaseException as e:
                errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert p.counters["lines"] == fed[0]
