"""The concurrent stages, in process, on the real core (TextPipeline, NullSink) and Piper."""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from collections.abc import Iterator

import pytest
from speech_support import Recording, deltas, run_fed

from stream_tts._core import NullSink
from stream_tts.config import Settings
from stream_tts.engines.piper import PiperEngine, bundled_voice
from stream_tts.pipeline import Pipeline
from stream_tts.stats import SentenceRecord, Stats


@pytest.fixture(scope="module")
def engine() -> Iterator[PiperEngine]:
    e = PiperEngine(bundled_voice())
    e.warmup()
    yield e
    e.close()


def _assistant_line(message_id: str, text: str) -> bytes:
    msg = {
        "type": "assistant",
        "message": {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "content": [{"type": "text", "text": text}],
        },
        "parent_tool_use_id": None,
    }
    return json.dumps(msg).encode() + b"\n"


def _run(
    engine: PiperEngine, settings: Settings, chunks: list[tuple[float, bytes]]
) -> tuple[list[SentenceRecord], NullSink, Pipeline]:
    """Write each chunk after its delay (seconds) into a pipe the pipeline reads as stdin."""

    def write(w: int) -> None:
        for delay, data in chunks:
            time.sleep(delay)
            os.write(w, data)

    sink = NullSink(engine.sample_rate, realtime=True)
    stats = Stats(None)
    pipeline = Pipeline(settings, engine=engine, sink=sink, stats=stats)
    run_fed(pipeline, write)
    return stats.records, sink, pipeline


def test_next_sentence_is_synthesized_while_the_previous_plays(engine: PiperEngine) -> None:
    text = (
        b"The first sentence is long enough to keep the device busy for a while. "
        b"The second one is shorter. The third ends the answer.\n"
    )
    recs, sink, _ = _run(engine, Settings(input="text"), [(0, text)])
    assert [r.text for r in recs] == [
        "The first sentence is long enough to keep the device busy for a while.",
        "The second one is shorter.",
        "The third ends the answer.",
    ]
    for a, b in itertools.pairwise(recs):
        assert a.started_at is not None and b.started_at is not None
        a_ends = a.started_at + a.audio_s
        # b was ready before a finished playing: no gap between sentences.
        assert b.synth_end < a_ends, (b.text, b.synth_end - a_ends)
        assert b.started_at >= a.started_at
    played = sink.stats()["samples_played"]
    assert abs(played / engine.sample_rate - sum(r.audio_s for r in recs)) < 0.1


def test_first_sentence_starts_before_the_input_ends(engine: PiperEngine) -> None:
    # Plain text arrives by lines; the first sentence is certain once the next one starts.
    chunks = [(0, b"This sentence is complete. This one\n"), (3.0, b"came much later.\n")]
    recs, _, _ = _run(engine, Settings(input="text"), chunks)
    first, second = recs
    assert first.started_at is not None and second.started_at is not None
    assert first.started_at < second.read_at  # spoken while the rest was still unwritten
    assert first.ttfa is not None and 0 < first.ttfa < 2.0


def _two_messages(gap: float) -> list[tuple[float, bytes]]:
    long = " ".join(f"This is sentence number {n} of the first answer." for n in range(1, 7))
    return [
        (0, _assistant_line("msg_A", long)),
        (gap, _assistant_line("msg_B", "The second answer starts now.")),
    ]


def test_a_new_message_queues_behind_the_current_one(engine: PiperEngine) -> None:
    recs, _, _ = _run(engine, Settings(), _two_messages(1.0))
    assert [r.message_id for r in recs] == ["msg_A"] * 6 + ["msg_B"]
    assert not any(r.dropped for r in recs)
    a_last, b = recs[-2], recs[-1]
    assert a_last.started_at is not None and b.started_at is not None
    assert b.started_at >= a_last.started_at + a_last.audio_s - 0.05


def test_interrupt_cuts_the_current_message_off(engine: PiperEngine) -> None:
    recs, _, _ = _run(engine, Settings(interrupt=True), _two_messages(1.0))
    a = [r for r in recs if r.message_id == "msg_A"]
    (b,) = [r for r in recs if r.message_id == "msg_B"]
    assert any(r.dropped for r in a), "nothing of the first message was dropped"
    assert not b.dropped and b.ttfa is not None
    # B did not wait for the rest of A: it started within its own synthesis time.
    assert b.ttfa < 2.0, b.ttfa


def test_interrupt_now_silences_at_once(engine: PiperEngine) -> None:
    long = b"A long sentence that keeps going on and on so that there is audio to stop. " * 4
    r, w = os.pipe()
    os.write(w, long + b"\n")
    os.close(w)
    sink = NullSink(engine.sample_rate, realtime=True)
    pipeline = Pipeline(Settings(input="text"), engine=engine, sink=sink, stats=Stats(None))
    done = threading.Event()

    def run() -> None:
        try:
            pipeline.run(r)
        finally:
            done.set()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    deadline = time.monotonic() + 20
    while sink.stats()["samples_played"] < engine.sample_rate and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sink.stats()["samples_played"] >= engine.sample_rate, "never started playing"
    pipeline.interrupt_now()
    time.sleep(0.05)
    after = sink.stats()["samples_played"]
    time.sleep(0.3)
    assert sink.stats()["samples_played"] - after < engine.sample_rate * 0.01
    assert done.wait(20)
    os.close(r)


def test_a_sentence_is_synthesized_from_its_guess(engine: PiperEngine) -> None:
    # The period arrives, then (much later) the word that makes the end certain.
    parts = [(0.0, "Here is the plan for the"), (0.05, " build."), (0.6, " Next"), (0.05, " up.")]
    recs, sink, _ = _run(engine, Settings(), deltas("msg_S", parts))
    first, second = recs
    assert first.text == "Here is the plan for the build." and second.text == "Next up."
    assert first.speculated
    # Its synthesis began on the guess, before the line that made it certain was read.
    assert first.synth_start < first.read_at
    assert first.first_chunk_at - first.read_at < 0.05  # its first chunk was waiting
    played = sink.stats()["samples_played"]
    assert abs(played / engine.sample_rate - sum(r.audio_s for r in recs)) < 0.1


def test_a_wrong_guess_is_dropped(engine: PiperEngine) -> None:
    # "e.g." looks like an end until the next word says otherwise. (No period at the end: the
    # block's end says it, so no second guess races the sentence.)
    parts = [(0.0, "Pick a fast flag, e.g."), (0.6, " the thin one"), (0.05, " here")]
    recs, sink, _ = _run(engine, Settings(early_fragment=False), deltas("msg_W", parts))
    (rec,) = recs
    assert rec.text == "Pick a fast flag, e.g. the thin one here"
    assert not rec.speculated and rec.synth_start >= rec.read_at
    assert rec.audio_s > 1.5  # the whole sentence, not the guessed half
    played = sink.stats()["samples_played"]
    assert abs(played / engine.sample_rate - rec.audio_s) < 0.1


def test_speculation_can_be_turned_off(engine: PiperEngine) -> None:
    parts = [(0.0, "Here is the plan."), (0.4, " Next"), (0.05, " up.")]
    recs, _, _ = _run(engine, Settings(speculate=False), deltas("msg_O", parts))
    assert [r.text for r in recs] == ["Here is the plan.", "Next up."]
    assert not any(r.speculated for r in recs)


def test_input_after_idle_warms_the_engine_first(engine: PiperEngine) -> None:
    rec = Recording(engine)
    # A message starts after a second of quiet; its first sentence follows 0.3 s later.
    chunks = deltas("msg_I", [(0.3, "Back after a pause.")])
    chunks[0] = (1.0, chunks[0][1])
    recs, _, _ = _run(rec, Settings(), chunks)  # type: ignore[arg-type]
    assert [r.text for r in recs] == ["Back after a pause."]
    # A throwaway first chunk ran before the sentence; it was not played.
    assert rec.asked[0] == "Ready." and rec.asked[-1] == "Back after a pause."
    assert recs[0].audio_s < 2.5


def test_text_that_comes_whole_after_idle_is_not_kept_waiting_by_a_warm_up(
    engine: PiperEngine,
) -> None:
    # A transcript's text block (the daemon) or a message without deltas arrives in one read:
    # its sentences are known at once, so a throwaway chunk first would only delay them.
    # A long block makes the old order lose reliably: the synth thread took the warm-up
    # while the reader was still splitting the block into sentences.
    rec = Recording(engine)
    text = " ".join(f"Sentence {i} came whole." for i in range(40))
    stats = Stats(None)
    sink = NullSink(engine.sample_rate, realtime=False)
    pipeline = Pipeline(Settings(), engine=rec, sink=sink, stats=stats)  # type: ignore[arg-type]

    def write(w: int) -> None:
        time.sleep(1.0)  # the synth thread idles past the re-warm threshold
        os.write(w, _assistant_line("msg_W", text))

    run_fed(pipeline, write)
    assert "Ready." not in rec.asked
    assert rec.asked[0] == "Sentence 0 came whole."
    assert len(stats.records) == 40
