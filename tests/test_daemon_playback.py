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


def _owner_sink(dropped: set[int]) -> PausableSink:
    s = _sink()
    s.discard = lambda uid: uid in dropped
    return s


def test_drop_discarded_keeps_the_others_and_the_playing_one_goes_on() -> None:
    dropped: set[int] = set()
    s = _owner_sink(dropped)
    _push3(s)  # 0 and 2 are one session's, 1 another's
    time.sleep(0.1)  # 0 playing
    dropped |= {0, 2}
    s.drop_discarded()
    _wait_drained(s)
    # 100 of sentence 0 before the drop, then sentence 1 whole; 2 never.
    assert 480 <= _played(s) <= 540, _played(s)
    assert s.utterance_started(2) is None


def test_drop_discarded_cuts_into_the_sentence_being_pushed_and_after() -> None:
    dropped: set[int] = set()
    s = _owner_sink(dropped)
    s.push(np.full(400, 0.1, dtype=np.float32), utterance=0)
    s.push(np.full(200, 0.2, dtype=np.float32), utterance=1)  # partly pushed
    time.sleep(0.1)  # 0 playing: it goes on from where it is, without a repeat
    dropped.add(1)
    s.drop_discarded()
    s.push(np.full(200, 0.2, dtype=np.float32))  # the rest of 1: refused too
    s.push(np.full(300, 0.3, dtype=np.float32), utterance=2)
    _wait_drained(s)
    assert 680 <= _played(s) <= 740, _played(s)  # 400 of 0, 300 of 2


def test_retime_plays_what_has_not_started_at_the_new_rate() -> None:
    s = _sink()
    _push3(s)
    time.sleep(0.1)  # 0 playing: it ends at its own rate
    s.retime(2.0)
    _wait_drained(s)
    # 400 of sentence 0, then 1 and 2 at twice the speed (WSOLA keeps ~1/2 of each).
    assert 760 <= _played(s) <= 860, _played(s)


def test_retime_covers_the_rest_of_the_sentence_being_pushed() -> None:
    s = _sink()
    s.push(np.full(600, 0.1, dtype=np.float32), utterance=0)
    s.push(np.full(200, 0.2, dtype=np.float32), utterance=1)  # 1 is still being made
    time.sleep(0.1)
    s.retime(2.0)
    s.push(np.full(400, 0.2, dtype=np.float32))  # the rest of 1, made at the old rate
    _wait_drained(s)
    assert 850 <= _played(s) <= 960, _played(s)  # 600 of 0, then ~600/2 of 1


def test_the_last_retime_applies_to_the_rest_of_the_sentence_being_pushed() -> None:
    s = _sink()
    s.push(np.full(600, 0.1, dtype=np.float32), utterance=0)
    s.push(np.full(200, 0.2, dtype=np.float32), utterance=1)
    time.sleep(0.1)
    s.retime(1.5)
    s.push(np.full(300, 0.2, dtype=np.float32))
    s.retime(3.0)  # for what is still to come of sentence 1
    s.push(np.full(1200, 0.2, dtype=np.float32))
    _wait_drained(s)
    # 600 of 0; of 1: 500 made before the second change at 1.5x then 2x (~167), 1200 at 3x
    # (~400; at 2x alone it would be 600).
    assert 1080 <= _played(s) <= 1260, _played(s)


def test_a_sentence_begun_before_a_retime_and_pushed_after_it_is_retimed() -> None:
    s = _sink()
    s.made_at = lambda: 1.0  # its synthesis began at 1x
    s.retime(2.0)  # before its first piece reached the sink
    s.push(np.full(400, 0.1, dtype=np.float32), utterance=0)
    s.push(np.full(400, 0.1, dtype=np.float32))
    _wait_drained(s)
    assert 360 <= _played(s) <= 460, _played(s)  # ~800 / 2
