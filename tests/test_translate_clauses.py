"""Speech that starts on the first translated clause (CPU, a tiny random-weight NLLB-200).

The model is the real M2M100 architecture; its tokenizer (a real NllbTokenizer) spells every
ordinary id as a word, every other one with a comma after it, so the random translation has
clause breaks to cut at. Language-tag rows are zeroed so greedy decoding says words.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import gpu_models as gm
import pytest
import torch
from speech_support import Recording, run_fed

from stream_tts._core import CLAUSE_MIN_WORDS, NullSink, first_clause_end
from stream_tts.config import Settings
from stream_tts.engines.nllb import NllbTranslator
from stream_tts.engines.piper import PiperEngine, bundled_voice
from stream_tts.pipeline import Pipeline
from stream_tts.stats import SentenceRecord, Stats

TOKENS = 40
TEXT = "The release profile sets fat LTO and the final link takes four minutes."


def wordy_tokenizer() -> Any:
    from transformers import NllbTokenizer

    base = gm.nllb_tokenizer()
    vocab = {}
    for token, i in sorted(base.get_vocab().items(), key=lambda kv: kv[1]):
        if i >= base.convert_tokens_to_ids("<mask>"):
            break  # <mask> and the language codes follow the ordinary ids, as in NLLB
        vocab[token if i < 4 else f"▁w{i}" + ("," if i % 2 == 0 else "")] = i
    return NllbTokenizer(vocab=vocab, merges=[])


@pytest.fixture(scope="module")
def translator() -> NllbTranslator:
    tok = wordy_tokenizer()
    torch.manual_seed(3)  # a seed whose translation has several clauses
    model = gm.nllb_model(gm.NLLB_TINY, tok)
    first_special = tok.convert_tokens_to_ids("<mask>")
    with torch.no_grad():
        model.get_input_embeddings().weight[[0, 1, 3, *range(first_special, len(tok))]] = 0
    t = NllbTranslator(model, tok, tgt="de")
    t.generate_kwargs = {"min_new_tokens": TOKENS, "max_new_tokens": TOKENS}
    return t


def test_the_binding_counts_characters() -> None:
    s = "äöü äöü äöü äöü äöü äöü, und weiter"
    assert first_clause_end(s) == s.index(",") + 1
    assert first_clause_end("one two three, four five six seven") is None  # too few words
    assert first_clause_end("one two three four five six, ") is None  # nothing after it yet
    assert first_clause_end("one two, three", min_words=2) == len("one two,")


def test_pieces_join_to_the_whole_translation(translator: NllbTranslator) -> None:
    for text in (TEXT, "Hello there, how are you today?"):
        whole = translator.translate(text)
        pieces = list(translator.translate_clauses(text))
        assert " ".join(pieces) == whole
        assert len(pieces) >= 2, pieces  # the fixture's translation has clause breaks
        for p in pieces[:-1]:
            # Each cut as the clause rule cuts text still arriving.
            assert p[-1] in ",;:" and first_clause_end(p + " x") == len(p)
            assert len(p.split()) >= CLAUSE_MIN_WORDS


def test_a_piece_comes_out_before_the_decoder_has_finished(translator: NllbTranslator) -> None:
    steps: list[int] = []
    loop = translator.loop
    run = loop.generate_iter

    def counted(*a: Any, **kw: Any) -> Iterator[int]:
        for tok in run(*a, **kw):
            steps.append(tok)
            yield tok

    loop.generate_iter = counted
    try:
        clauses = translator.translate_clauses(TEXT)
        next(clauses)
        at_first = len(steps)
        rest = list(clauses)
    finally:
        del loop.generate_iter
    assert rest and at_first < len(steps) == TOKENS


def test_interrupt_mid_sentence_stops_it(translator: NllbTranslator) -> None:
    before = translator.interrupted
    clauses = translator.translate_clauses(TEXT)
    first = next(clauses)
    translator.interrupt()
    assert list(clauses) == []
    assert translator.interrupted == before + 1
    assert next(translator.translate_clauses(TEXT)) == first  # the next one runs in full


def test_closing_early_frees_the_translator(translator: NllbTranslator) -> None:
    clauses = translator.translate_clauses(TEXT)
    next(clauses)
    clauses.close()
    assert translator.translate(TEXT) == " ".join(translator.translate_clauses(TEXT))


# -- through the pipeline ---------------------------------------------------------------


class Gated:
    """The real translator, holding its second piece back until the engine has been asked
    to say the first: a pipeline that waited for the whole translation would never ask."""

    name = "nllb"

    def __init__(self, inner: NllbTranslator, asked: threading.Event) -> None:
        self.inner, self.asked = inner, asked
        self.waited_out = False
        self.done_at: list[float] = []

    def translate(self, text: str) -> str:
        return self.inner.translate(text)

    def translate_clauses(self, text: str) -> Iterator[str]:
        for i, piece in enumerate(self.inner.translate_clauses(text)):
            yield piece
            if i == 0 and not self.asked.wait(30):
                self.waited_out = True
        self.done_at.append(time.monotonic())

    def interrupt(self) -> None:
        self.inner.interrupt()

    def warmup(self) -> None:
        pass

    def close(self) -> None:
        pass


class Noted(Recording):
    """Notes when each text was asked for; `on_first` runs at the first."""

    def __init__(self, engine: Any, on_first: Any = None) -> None:
        super().__init__(engine)
        self.at: list[float] = []
        self.first = threading.Event()
        self.on_first = on_first

    def synthesize(self, text: str) -> Iterator[Any]:
        self.at.append(time.monotonic())
        if not self.first.is_set():
            if self.on_first is not None:
                self.on_first()  # before anyone waiting on `first` goes on
            self.first.set()
        return super().synthesize(text)


@pytest.fixture(scope="module")
def piper() -> Iterator[PiperEngine]:
    e = PiperEngine(bundled_voice())
    yield e
    e.close()


def run_pipeline(
    pipeline: Pipeline, lines: list[bytes], gate: threading.Event | None = None
) -> None:
    """Each line into the pipeline's stdin; with `gate`, the second and later wait for it."""

    def write(w: int) -> None:
        for i, line in enumerate(lines):
            if i and gate is not None:
                gate.wait(30)
            os.write(w, line)

    run_fed(pipeline, write)


def make(
    translator: Any, engine: Any, clauses: bool = True
) -> tuple[Pipeline, list[SentenceRecord]]:
    settings = Settings(input="text")
    settings.engine_options = {"translate": {"clauses": clauses}}
    sink = NullSink(engine.sample_rate, realtime=False)
    stats = Stats(None)
    p = Pipeline(settings, engine=engine, sink=sink, stats=stats, translator=translator)
    return p, stats.records


def test_speech_starts_on_the_first_clause(translator: NllbTranslator, piper: Any) -> None:
    engine = Noted(piper)
    gated = Gated(translator, engine.first)
    pipeline, recs = make(gated, engine)
    run_pipeline(pipeline, [(TEXT + "\n").encode()])
    pieces = list(translator.translate_clauses(TEXT))
    assert not gated.waited_out
    assert engine.asked == pieces  # each piece said as it came, nothing twice
    assert engine.at[0] < gated.done_at[0]  # the first before the translation finished
    (rec,) = recs
    assert rec.text == " ".join(pieces) == translator.translate(TEXT)
    assert rec.source == TEXT and 0 < rec.translate_first_s < rec.translate_s
    assert rec.audio_s > 0 and not rec.dropped


def test_turned_off_speech_waits_for_the_whole(translator: NllbTranslator, piper: Any) -> None:
    engine = Noted(piper)
    pipeline, recs = make(translator, engine, clauses=False)
    run_pipeline(pipeline, [(TEXT + "\n").encode()])
    assert engine.asked == [translator.translate(TEXT)]
    assert recs[0].translate_first_s == recs[0].translate_s


def test_a_cut_mid_sentence_stops_translation_and_speech(
    translator: NllbTranslator, piper: Any
) -> None:
    holder: list[Pipeline] = []
    engine = Noted(piper, on_first=lambda: holder[0].cut())
    gated = Gated(translator, engine.first)
    pipeline, recs = make(gated, engine)
    holder.append(pipeline)
    before = translator.interrupted
    second = "Then I ran the whole suite again and every test passed."
    # The second line is written once the first sentence was cut: it is said in full.
    # (A blank line ends the first paragraph, so its sentence goes on before the second line.)
    lines = [(TEXT + "\n\n").encode(), (second + "\n").encode()]
    run_pipeline(pipeline, lines, engine.first)
    first, pieces = (list(translator.translate_clauses(t)) for t in (TEXT, second))
    assert translator.interrupted == before + 1  # the decoder stopped mid-sentence
    assert engine.asked == [first[0], *pieces]  # the first clause cut off, all of the next
    assert [r.dropped for r in recs] == [True, False]
    assert recs[1].text == " ".join(pieces)
