"""The text stage bindings: speakable, split_sentences and the streaming Shaper."""

from __future__ import annotations

import json
import random

import pytest
from shared_data import data_file

from stream_tts._core import Shaper, speakable, split_sentences

ANSWER = (
    "## Why the build is slow\n\nThe release profile uses **fat LTO** with `codegen-units = 1`, "
    "so the linker optimizes the whole program at once. That costs about 40 seconds per build."
    '\n\n```toml\n[profile.dev-release]\ninherits = "release"\n```\n\n'
    "See [the Cargo book](https://doc.rust-lang.org/cargo/) for details. Want me to do it?"
)


def read_data(name: str) -> str:
    return data_file(name).read_text(encoding="utf-8")


def test_speakable_drops_markup_and_code() -> None:
    said = speakable(ANSWER)
    assert said.splitlines()[0] == "Why the build is slow."
    assert "doc.rust-lang.org" not in said
    for noise in ("**", "`", "#", "[", "]", "http", "inherits"):
        assert noise not in said


def test_split_sentences() -> None:
    assert split_sentences("I live in the U.S. How about you? Version 3.14 is out.") == [
        "I live in the U.S.",
        "How about you?",
        "Version 3.14 is out.",
    ]


def test_shaper_streams_like_whole() -> None:
    whole = Shaper()
    expected = whole.feed(ANSWER) + whole.finish()
    rng = random.Random(5)
    for _ in range(5):
        shaper = Shaper()
        got: list[str] = []
        i = 0
        while i < len(ANSWER):
            j = i + rng.randint(1, 30)
            got += shaper.feed(ANSWER[i:j])
            i = j
        got += shaper.finish()
        assert got == expected
    assert expected[:2] == [
        "Why the build is slow.",
        "The release profile uses fat LTO with codegen-units 1, so the linker optimizes "
        "the whole program at once.",
    ]


def test_shaper_emits_before_the_end() -> None:
    shaper = Shaper()
    assert shaper.feed("First one here. Sec") == []  # the next word may still change
    assert shaper.feed("ond and") == ["First one here."]
    assert shaper.finish() == ["Second and"]
    shaper.feed("Dropped. Pend")
    shaper.reset()
    assert shaper.finish() == []


def test_early_fragment() -> None:
    shaper = Shaper(early_fragment=True, min_fragment_words=4)
    first = shaper.feed("Here is the long plan, step by step, so")
    assert first == ["Here is the long plan,"]
    rest = shaper.feed(" you can follow.") + shaper.finish()
    assert rest == ["step by step, so you can follow."]
    with pytest.raises(ValueError):
        Shaper(min_fragment_words=-1)


def test_long_input_releases_gil_and_works() -> None:
    doc = "\n\n".join(f"Paragraph {i} says hello. It has two sentences." for i in range(500))
    shaper = Shaper()
    out = shaper.feed(doc) + shaper.finish()
    assert len(out) == 1000
    assert len(split_sentences(speakable(doc))) == 1000


def test_session_sample() -> None:
    expected = json.loads(read_data("claude_code_samples/expected.json"))
    text = ""
    for line in read_data("claude_code_samples/session.short.jsonl").splitlines():
        if line.strip():
            for block in json.loads(line)["content"]:
                if block["type"] == "text":
                    text += block["text"]
    shaper = Shaper()
    spoken = " ".join(shaper.feed(text) + shaper.finish())
    norm = " ".join("".join(c if c.isalnum() else " " for c in spoken.lower()).split())
    at = 0
    for phrase in expected["must_say_in_order"][1:]:
        pos = norm.find(phrase, at)
        assert pos >= 0, (phrase, spoken)
        at = pos + len(phrase)
    for bad in expected["must_not_say"]:
        assert bad.lower() not in spoken.lower()
