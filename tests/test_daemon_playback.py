"""The daemon's pause / resume / skip (daemon/playback.py) over a real sink that plays in
real time (NullSink at 1000 samples a second: one sample is one millisecond)."""

from __future__ import annotations

import time

import numpy as np

from stream_tts._core import NullSink
from stream_tts.daemon.playback import PausableSink

RATE = 1000


def _sink() -> PausableSink:
    return PausableSink(NullSink(RATE, realtime=True))


def _played(s: PausableSink) -> float:
    return s.stats()["samples_played"]


def _push3(s: PausableSink) -> None:
    for uid in range(3):
        s.push(np.full(400, 0.1 * (uid + 1), dtype=np.float32), utterance=uid)


def _wait_drained(s: PausableSink) -> None:
    assert s.drain(timeout=5)


def test_pause_stops_and_resume_says_the_cut_sentence_again() -> None:
    s = _sink()
    _push3(s)
    time.sleep(0.6)  # sentence 0 played, sentence 1 half
    assert s.pause()
    at_pause = _played(s)
    time.sleep(0.3)
    assert _played(s) - at_pause < 30  # silent (a device period may still go out)
    assert s.paused
    resumed = time.monotonic()
    assert s.resume()
    _wait_drained(s)
    # Sentence 1 again from its start, then sentence 2: 800 ms more after the pause.
    assert 780 <= _played(s) - at_pause <= 830, _played(s) - at_pause
    started = s.utterance_started(1)
    assert started is not None and started >= resumed


def test_what_arrives_while_paused_waits_for_resume() -> None:
    s = _sink()
    assert s.pause()
    s.push(np.full(300, 0.5, dtype=np.float32), utterance=7)
    time.sleep(0.3)
    assert _played(s) < 30
    s.resume()
    _wait_drained(s)
    assert 290 <= _played(s) <= 330


def test_skip_drops_only_the_sentence_being_said() -> None:
    s = _sink()
    _push3(s)
    time.sleep(0.2)  # sentence 0 half said
    s.skip()
    _wait_drained(s)
    assert 980 <= _played(s) <= 1030, _played(s)  # 200 of sentence 0, then 1 and 2 whole


def test_flush_while_paused_forgets_what_was_held() -> None:
    s = _sink()
    _push3(s)
    s.pause()
    s.flush()  # ctl stop, or barge-in
    s.resume()
    time.sleep(0.3)
    assert _played(s) < 30
