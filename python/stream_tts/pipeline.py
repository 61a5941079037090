"""The concurrent stages between stdin and the sound device.

    reader thread:  os.read(fd 0) -> TextPipeline.feed (Rust) -> sentence queue
    [translate thread: sentence queue -> translator (NLLB-200) -> translated queue; with
     clause streaming a sentence goes on with its first translated clause, the rest follow
     through the sentence's own queue of pieces while the translator goes on]
    synth thread:   sentence queue -> engine.synthesize (GIL released in onnxruntime) -> sink
    stats thread:   asks the sink when each utterance reached the device (--stats)
    main thread:    waits, so Ctrl-C lands here at once; then drains the sink

While sentence n plays from the sink's ring, the synth thread is already on sentence n+1.
With `speculate`, the reader also passes on the text stage's guess of a sentence whose final
period has arrived but not the word after it that makes the end certain; an idle synth thread
makes the guess's first chunk and keeps it if the sentence comes out the same (it usually
does, one input line later), so that line finds its first audio ready or nearly. Input that
arrives after the synth thread sat idle for a while first gets a throwaway first chunk, so
the engine runs warm when the sentence comes. The
ring is large (tens of seconds), so pushing never waits on playback and `flush()` drops
everything queued: that is all `--interrupt` and Ctrl-C need.
"""

from __future__ import annotations

import itertools
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Protocol

import numpy as np

from stream_tts._core import split_clauses
from stream_tts.config import Settings
from stream_tts.engines.base import AudioChunk, SpeechEngine, Translator
from stream_tts.stats import SentenceRecord, Stats

if TYPE_CHECKING:
    from stream_tts._core import Sentence, TextPipeline

RING_MS = 30_000.0  # room for whole answers: synthesis runs ahead of playback
_SLICE_S = 0.25  # push in slices so an interrupt lands between them, not after a long one
_READ_SIZE = 1 << 16


class Sink(Protocol):
    """What the pipeline needs of stream_tts._core's AudioSink / WavSink / NullSink."""

    @property
    def sample_rate(self) -> int: ...
    def push(self, samples: np.ndarray, *, utterance: int | None = None) -> None: ...
    def flush(self) -> None: ...
    def drain(self, timeout: float | None = None) -> bool: ...
    def utterance_started(self, utterance: int) -> float | None: ...
    def stats(self) -> dict[str, float]: ...


class OutputClosed(Exception):
    """stdout went away under --text-only (e.g. `| head -1`)."""


class DeviceStalled(Exception):
    """Audio is queued but the device has taken none of it for STALL_S seconds."""


STALL_S = 3.0


@dataclass
class _Item:
    text: str
    message_id: str
    line: int
    fragment: bool
    read_at: float
    generation: int
    source: str | None = None  # the sentence before translation
    translate_s: float = 0.0
    # Clause streaming: the translation's pieces as they come (None ends them); `text` is
    # the whole translation once they have all come.
    pieces: queue.SimpleQueue[str | None] | None = None
    translate_first_s: float = 0.0  # the first piece's translation time


@dataclass
class Outcome:
    sentences: int = 0
    counters: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Guess:
    text: str
    message_id: str
    generation: int


@dataclass
class _Held:
    """A guess being spoken ahead: its synthesis and first chunk, not yet pushed."""

    guess: _Guess
    chunks: Iterator[AudioChunk]
    first: AudioChunk | None
    started: float
    ready: float  # when `first` came out

    def matches(self, item: _Item) -> bool:
        g = self.guess
        return (g.text, g.message_id, g.generation) == (item.text, item.message_id, item.generation)

    def close(self) -> None:
        _close(self.chunks)


def _close(chunks: Iterator[AudioChunk]) -> None:
    """Stop an engine's synthesis part way (a generator frees what it holds)."""
    close = getattr(chunks, "close", None)
    if close is not None:
        close()


def _spoken(engine: SpeechEngine, text: str) -> Iterator[AudioChunk]:
    """The engine's audio for `text`, given to it in pieces no longer than the clause rule's
    limit (an engine's memory and time grow with the square of its input's length)."""
    for piece in split_clauses(text, min_words=0):
        yield from engine.synthesize(piece)


def _spoken_pieces(
    engine: SpeechEngine, pieces: queue.SimpleQueue[str | None]
) -> Iterator[AudioChunk]:
    """The engine's audio for each piece as the translator hands it over (None: the end)."""
    while (piece := pieces.get()) is not None:
        yield from _spoken(engine, piece)


_EOF = object()
# Input after the synth thread sat idle this long: warm the engine before the sentence comes.
REWARM_AFTER_S = 0.5
_WARM = object()


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        *,
        engine: SpeechEngine | None = None,
        sink: Sink | None = None,
        stats: Stats | None = None,
        text_out: IO[str] | None = None,
        make_text_pipeline: Callable[[], TextPipeline] | None = None,
        translator: Translator | None = None,
    ) -> None:
        if (engine is None or sink is None) and text_out is None:
            raise ValueError("a pipeline needs an engine and a sink, or text_out")
        self.settings = settings
        self.engine = engine
        self.sink = sink
        self.stats = stats
        self.text_out = text_out
        self._make_tp = make_text_pipeline or self._default_text_pipeline
        self.translator = translator
        self._queue: queue.SimpleQueue[_Item | _Guess | object] = queue.SimpleQueue()
        # Speech starts on the first translated clause (translators that can stream them).
        self._clauses = bool(settings.engine_options.get("translate", {}).get("clauses", True))
        # Guesses go straight to synthesis: only when nothing translates in between.
        self._speculate = settings.speculate and translator is None and text_out is None
        # On this 2-core VM the first inference after a few idle seconds takes 2-3x as long
        # (benches/idle_warm.py: first chunk 52 ms back to back, 153 ms after 3 s); one
        # throwaway first chunk when input resumes brings it back (55 ms) before the sentence.
        self._rewarm = translator is None and text_out is None
        self._idle_at: float | None = None  # when the synth thread last ran out of work
        self._warm_posted = False
        # What the synth thread reads: translations, or the sentences themselves.
        self._speak_queue = queue.SimpleQueue() if translator is not None else self._queue
        self._generation = 0
        self._current_message: str | None = None
        self._next_utterance = 0
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self.outcome = Outcome()

    def _default_text_pipeline(self) -> TextPipeline:
        from stream_tts._core import TextPipeline

        s = self.settings
        return TextPipeline(
            s.input,
            speak_tools=s.speak_tools,
            speak_subagents=s.speak_subagents,
            early_fragment=s.early_fragment,
            min_fragment_words=s.min_fragment_words,
            speculate=self._speculate,
        )

    # -- reader ------------------------------------------------------------------------

    def _read(self, fd: int) -> None:
        tp = self._make_tp()
        feed = tp.feed
        try:
            while not self._stop.is_set():
                data = os.read(fd, _READ_SIZE)
                read_at = time.monotonic()
                idle_at = self._idle_at
                rewarm = (
                    self._rewarm
                    and idle_at is not None
                    and read_at - idle_at > REWARM_AFTER_S
                    and not self._warm_posted
                )
                sentences = feed(data) if data else tp.finish()
                # Only while a sentence is still being written: one that came whole (a
                # transcript's text block) would wait behind the throwaway chunk.
                if rewarm and not sentences:
                    self._warm_posted = True
                    self._queue.put(_WARM)
                self._sentences(sentences, read_at)
                if not data:
                    break
                if self._speculate:
                    guess = tp.take_guess()
                    if guess is not None:
                        self._queue.put(_Guess(guess.text, guess.message_id, self._generation))
        except BaseException as e:
            self._fail(e)
        finally:
            self.outcome.counters = dict(tp.counters)
            self.outcome.warnings = list(tp.take_warnings())
            self._queue.put(_EOF)

    def _sentences(self, sentences: list[Sentence], read_at: float) -> None:
        for s in sentences:
            self.outcome.sentences += 1
            if self.text_out is not None:
                try:
                    self.text_out.write(s.text + "\n")
                    self.text_out.flush()
                except (BrokenPipeError, ValueError):
                    raise OutputClosed() from None
                continue
            if s.first and s.message_id != self._current_message:
                if self.settings.interrupt and self._current_message is not None:
                    self.cut()  # a new message cuts the old one off: drop what is queued of it
                self._current_message = s.message_id
            self._queue.put(
                _Item(s.text, s.message_id, s.line, s.fragment, read_at, self._generation)
            )

    # -- translation -------------------------------------------------------------------

    def _translate(self) -> None:
        assert self.translator is not None
        streams = self._clauses and hasattr(self.translator, "translate_clauses")
        try:
            while True:
                item = self._queue.get()
                if item is not _EOF:
                    assert isinstance(item, _Item)
                    if item.generation == self._generation and not self._stop.is_set():
                        if streams:
                            self._translate_streaming(item)  # it hands the item on itself
                            continue
                        t0 = time.monotonic()
                        item.source = item.text
                        # Cut as for speech; the rest of a cut-off message is not translated.
                        pieces = split_clauses(item.text, min_words=0)
                        item.text = " ".join(
                            self.translator.translate(p)
                            for p in pieces
                            if item.generation == self._generation
                        )
                        item.translate_s = time.monotonic() - t0
                        item.translate_first_s = item.translate_s  # speech waited for it all
                self._speak_queue.put(item)
                if item is _EOF:
                    return
        except BaseException as e:
            self._fail(e)
            self._speak_queue.put(_EOF)

    def _translate_streaming(self, item: _Item) -> None:
        """Translate `item` clause by clause: it goes to synthesis with its first translated
        clause, the rest follow through `item.pieces` while the translator goes on."""
        translate_clauses = getattr(self.translator, "translate_clauses")  # noqa: B009
        t0 = time.monotonic()
        item.source = item.text
        pieces: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        said: list[str] = []
        try:
            # Cut as for speech first (the length cap); each part is translated as it streams.
            for part in split_clauses(item.text, min_words=0):
                clauses = translate_clauses(part)
                try:
                    for clause in clauses:
                        if item.generation != self._generation:
                            break  # cut off: the rest is not translated
                        said.append(clause)
                        pieces.put(clause)
                        if item.pieces is None:
                            item.translate_first_s = time.monotonic() - t0
                            item.pieces = pieces
                            self._speak_queue.put(item)
                finally:
                    clauses.close()
                if item.generation != self._generation:
                    break
        finally:
            item.text = " ".join(said)
            item.translate_s = time.monotonic() - t0
            pieces.put(None)
            if item.pieces is None:  # nothing came out: the item goes on as it is
                item.pieces = pieces
                self._speak_queue.put(item)

    # -- synthesis ---------------------------------------------------------------------

    def _synthesize(self) -> None:
        assert self.engine is not None and self.sink is not None
        engine, sink = self.engine, self.sink
        rate = engine.sample_rate
        slice_len = max(1, int(rate * _SLICE_S))
        held: _Held | None = None
        try:
            while not self._stop.is_set():
                if self._speak_queue.empty():
                    self._idle_at = time.monotonic()
                item = self._speak_queue.get()
                self._idle_at = None
                if item is _WARM:
                    # A held guess owns the engine (XTTS holds its lock across yields) and
                    # ran it just now: no throwaway chunk then.
                    if self._speak_queue.empty() and held is None:
                        warm = iter(engine.synthesize("Ready."))
                        next(warm, None)
                        _close(warm)
                    self._warm_posted = False
                    continue
                if isinstance(item, _Guess):
                    if held is not None:
                        held.close()
                        held = None
                    # Only when idle: queued sentences are real work (the guessed one among them).
                    if item.generation == self._generation and self._speak_queue.empty():
                        started = time.monotonic()
                        ahead = _spoken(engine, item.text)
                        first = next(ahead, None)
                        held = _Held(item, ahead, first, started, time.monotonic())
                    continue
                spec = None
                if held is not None and isinstance(item, _Item) and held.matches(item):
                    spec = held
                if held is not None and spec is None:
                    held.close()
                held = None
                if item is _EOF:
                    return
                assert isinstance(item, _Item)
                uid = self._next_utterance
                self._next_utterance += 1
                rec = SentenceRecord(
                    uid, item.text, item.message_id, item.line, item.fragment, item.read_at
                )
                rec.source, rec.translate_s = item.source, item.translate_s
                rec.translate_first_s = item.translate_first_s
                if self.stats is not None:
                    self.stats.add(rec)
                if item.generation != self._generation:
                    rec.dropped = True
                    continue
                if spec is not None:
                    # Begun before the sentence was certain: its synthesis started earlier.
                    rec.synth_start, rec.speculated = spec.started, True
                    rec.first_ready_at = spec.ready
                    ready: list[AudioChunk] = [] if spec.first is None else [spec.first]
                    chunks: Iterator[AudioChunk] = itertools.chain(ready, spec.chunks)
                elif item.pieces is not None:
                    rec.synth_start = time.monotonic()
                    chunks = _spoken_pieces(engine, item.pieces)
                else:
                    rec.synth_start = time.monotonic()
                    chunks = _spoken(engine, item.text)
                samples = 0
                for chunk in chunks:
                    if not rec.first_ready_at:
                        rec.first_ready_at = time.monotonic()
                    for start in range(0, len(chunk), slice_len):
                        if item.generation != self._generation or self._stop.is_set():
                            break
                        part = chunk[start : start + slice_len]
                        if samples == 0:
                            rec.first_chunk_at = time.monotonic()
                            sink.push(part, utterance=uid)
                        else:
                            sink.push(part)
                        samples += len(part)
                    if item.generation != self._generation or self._stop.is_set():
                        # Interrupted while pushing: what landed after the flush goes too.
                        sink.flush()
                        rec.dropped = True
                        break
                _close(chunks)
                if item.pieces is not None:
                    # Streamed: the whole translation is known once its last piece was taken
                    # (or the translator stops sending them: a cut).
                    rec.text, rec.translate_s = item.text, item.translate_s
                    rec.translate_first_s = item.translate_first_s
                rec.audio_s = samples / rate
                rec.synth_end = time.monotonic()
        except BaseException as e:
            self._fail(e)

    def _poll_stats(self) -> None:
        assert self.stats is not None and self.sink is not None
        while not self._stop.wait(0.02):
            self.stats.poll(self.sink.utterance_started)

    # -- control -----------------------------------------------------------------------

    def _fail(self, e: BaseException) -> None:
        if self._error is None:
            self._error = e
        self._stop.set()

    def stop(self) -> None:
        """Stop reading and synthesising; what is queued in the sink stays (a file keeps it)."""
        self._stop.set()

    def cut(self) -> None:
        """Drop what is queued and playing (and the sentence being translated); what is read
        next is said. `--interrupt` at a new message, the daemon's barge-in."""
        self._generation += 1
        if self.sink is not None:
            self.sink.flush()
            if self.stats is not None:
                self.stats.cut(self.sink.utterance_started)
        stop = getattr(self.translator, "interrupt", None)
        if stop is not None:
            stop()

    def interrupt_now(self) -> None:
        """Ctrl-C: silence at once (the sink drops its ring within one device period)."""
        self.stop()
        if self.sink is not None:
            self.sink.flush()

    def _drain(self, sink: Sink) -> None:
        # Short waits keep Ctrl-C prompt; no progress for STALL_S means the device is gone.
        played, progress_at = sink.stats().get("samples_played", 0), time.monotonic()
        while not sink.drain(timeout=0.05):
            now_played = sink.stats().get("samples_played", 0)
            if now_played != played:
                played, progress_at = now_played, time.monotonic()
            elif time.monotonic() - progress_at > STALL_S:
                self._fail(DeviceStalled(f"no audio taken for {STALL_S:.0f} s"))
                return

    def run(self, fd: int = 0) -> Outcome:
        """Run until end of input has been spoken; KeyboardInterrupt comes out of here."""
        reader = threading.Thread(target=self._read, args=(fd,), name="stream-tts-reader")
        reader.daemon = True
        workers = [reader]
        if self.text_out is None:
            if self.translator is not None:
                workers.append(
                    threading.Thread(target=self._translate, name="stream-tts-translate")
                )
            workers.append(threading.Thread(target=self._synthesize, name="stream-tts-synth"))
        poller = None
        if self.stats is not None and self.sink is not None:
            poller = threading.Thread(target=self._poll_stats, name="stream-tts-stats")
            poller.daemon = True
        for t in workers:
            t.daemon = True
            t.start()
        if poller is not None:
            poller.start()
        # Short joins keep the main thread where signals are delivered.
        for t in workers[::-1]:
            while t.is_alive():
                t.join(0.05)
                if self._error is not None:
                    break
            if self._error is not None:
                break
        if self._error is None and self.sink is not None:
            self._drain(self.sink)
        self._stop.set()
        if poller is not None:
            poller.join()
        if self.stats is not None and self.sink is not None:
            self.stats.poll(self.sink.utterance_started, final=True)
        if self._error is not None:
            raise self._error
        return self.outcome
