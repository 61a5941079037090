"""Piper's graph cut in three and run window by window gives the whole graph's samples."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper

from stream_tts.engines import vits_stream
from stream_tts.engines.piper import PiperEngine, bundled_voice
from stream_tts.engines.vits_stream import CutError, VitsStream, find_cut

SENTENCES = [
    "Here is what I changed in the parser, and why it matters for the next release.",
    "Yes.",  # fewer frames than the first window
    "The failing test is a race between the timer and the worker thread, which only shows "
    "up under load when the machine has two cores and the linker runs at the same time.",
]


def _session(model: str | bytes) -> onnxruntime.InferenceSession:
    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = 1
    return onnxruntime.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def parts() -> tuple[VitsStream, onnxruntime.InferenceSession, PiperEngine]:
    v = bundled_voice()
    return VitsStream(v.model, _session), _session(str(v.model)), PiperEngine(v, streaming=False)


def _feeds(engine: PiperEngine, text: str) -> dict[str, np.ndarray]:
    (phonemes,) = engine._voice.phonemize(text)
    feeds = engine._feeds(engine._voice.phonemes_to_ids(phonemes))
    # No noise: the prior is then deterministic and both runs see the same latent.
    feeds["scales"] = np.array([0.0, 1.0, 0.0], dtype=np.float32)
    return feeds


def test_the_cut_of_a_piper_graph() -> None:
    graph = onnx.load(str(bundled_voice().model), load_external_data=False).graph
    cut = find_cut(graph)
    assert len(cut.flow_inputs) == 2  # the latent prior and the frame mask
    assert cut.decoder_inputs == (cut.latent,)  # one speaker: no conditioning
    assert cut.output == "output"


def test_a_graph_that_is_not_vits_is_refused(tmp_path: object) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="/relu")], "g", [x], [y])
    with pytest.raises(CutError):
        find_cut(graph)


@pytest.mark.parametrize("text", SENTENCES)
def test_windows_give_the_whole_graphs_samples(
    parts: tuple[VitsStream, onnxruntime.InferenceSession, PiperEngine], text: str
) -> None:
    stream, whole, engine = parts
    feeds = _feeds(engine, text)
    expected = whole.run(None, feeds)[0].reshape(-1)
    chunks = list(stream.stream(feeds))
    got = np.concatenate(chunks)
    assert got.shape == expected.shape
    assert np.max(np.abs(got - expected)) < 1e-4
    frames = expected.size // 256
    if frames >= 4 * vits_stream.FIRST_FRAMES:
        assert chunks[0].size == vits_stream.FIRST_FRAMES * 256
        assert len(chunks) >= 3


def test_without_context_the_cuts_are_heard(
    parts: tuple[VitsStream, onnxruntime.InferenceSession, PiperEngine],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What the context is for: cut with none and the samples at every cut go wrong.
    stream, whole, engine = parts
    feeds = _feeds(engine, SENTENCES[0])
    expected = whole.run(None, feeds)[0].reshape(-1)
    monkeypatch.setattr(vits_stream, "DECODER_CONTEXT", 0)
    monkeypatch.setattr(vits_stream, "FLOW_CONTEXT", 0)
    got = np.concatenate(list(stream.stream(feeds)))
    assert np.max(np.abs(got - expected)) > 1e-2


def test_engine_streams_and_matches_the_whole_run() -> None:
    text = SENTENCES[2]
    streaming = PiperEngine(bundled_voice())
    whole = PiperEngine(bundled_voice(), streaming=False, min_clause_words=0)
    assert streaming.streaming is not None and "streaming" in streaming.mode
    assert whole.streaming is None
    s_chunks = list(streaming.synthesize(text))
    w_chunks = list(whole.synthesize(text))
    clauses = len(text.split(",")) if streaming.min_clause_words else 1
    assert len(w_chunks) == 1
    assert len(s_chunks) > 2 * clauses
    # The first chunk is the first window less the lead-in silence: short, so it starts soon.
    assert s_chunks[0].size <= vits_stream.FIRST_FRAMES * 256
    # Same speech, give or take the noise VITS draws and the clause cut: similar length.
    s, w = sum(c.size for c in s_chunks), w_chunks[0].size
    assert 0.8 < s / w < 1.25, (s, w)


@pytest.mark.parametrize("streaming", [True, False])
def test_a_seed_makes_speech_reproducible(streaming: bool) -> None:
    def say(seed: int | None) -> np.ndarray:
        e = PiperEngine(bundled_voice(), streaming=streaming, seed=seed)
        return np.concatenate(list(e.synthesize("Same words, same way.")))

    a, b, c = say(5), say(5), say(None)
    assert np.array_equal(a, b)
    # Unseeded, durations differ from run to run (the noise also sets how long each sound is).
    assert a.shape != c.shape or not np.array_equal(a, c)
