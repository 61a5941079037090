"""The pipeline gives every engine and translator text of at most the clause rule's length,
in process, on the real core, the real Piper voice and a NullSink."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from speech_support import Recording, run_fed, run_on

from stream_tts._core import CLAUSE_MAX_BYTES, NullSink
from stream_tts.config import Settings
from stream_tts.engines.piper import PiperEngine, bundled_voice
from stream_tts.pipeline import Pipeline
from stream_tts.stats import SentenceRecord, Stats


class _Echo:
    """A translator that returns its input: what is under test is what it is given."""

    name = "echo"

    def __init__(self) -> None:
        self.asked: list[str] = []

    def warmup(self) -> None:
        pass

    def translate(self, text: str) -> str:
        self.asked.append(text)
        return text

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def engine() -> Iterator[PiperEngine]:
    # Fast speech: the cut is about text, and the test takes a third of the time.
    e = PiperEngine(bundled_voice(), speed=3.0)
    e.warmup()
    yield e
    e.close()


def _speak(rec: Recording, data: bytes, translator: _Echo | None = None) -> list[SentenceRecord]:
    stats = Stats(None)
    sink = NullSink(rec.sample_rate)
    p = Pipeline(
        Settings(input="text"),
        engine=rec,  # type: ignore[arg-type]
        sink=sink,
        stats=stats,
        translator=translator,
    )
    run_fed(p, lambda w: os.write(w, data))
    return stats.records


def _bounded(pieces: list[str], text: str) -> None:
    assert len(pieces) > 1
    assert all(0 < len(p.encode()) <= CLAUSE_MAX_BYTES for p in pieces), pieces
    assert " ".join(pieces).split() == text.split()


def test_a_run_on_sentence_reaches_the_engine_in_bounded_pieces(engine: PiperEngine) -> None:
    text = run_on(1500)
    rec = Recording(engine)
    (record,) = _speak(rec, text.encode())
    spoken = [t for t in rec.asked if t != "Ready."]  # the pipeline's warm-up
    _bounded(spoken, text)
    # One utterance, all of it spoken: ~0.055 s per byte at speed 1.
    assert record.text == text and not record.dropped
    assert 0.035 / 3 * len(text) < record.audio_s < 0.09 / 3 * len(text)


def test_a_run_on_sentence_is_translated_in_bounded_pieces(engine: PiperEngine) -> None:
    text = run_on(800, seed=2)
    rec, echo = Recording(engine), _Echo()
    (record,) = _speak(rec, text.encode(), echo)
    _bounded(echo.asked, text)
    _bounded(rec.asked, text)
    assert record.source == text and record.text.split() == text.split()


def test_ordinary_sentences_reach_the_engine_whole(engine: PiperEngine) -> None:
    text = (
        "The release profile uses fat link time optimization, so the linker optimizes the "
        "whole program at once. That costs about forty seconds per build."
    )
    rec = Recording(engine)
    records = _speak(rec, text.encode())
    assert len(records) >= 2
    assert [t for t in rec.asked if t != "Ready."] == [r.text for r in records]
