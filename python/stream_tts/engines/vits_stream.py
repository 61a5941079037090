"""Piper's VITS graph cut in three so a sentence's audio comes out a few frames at a time.

A Piper voice is one ONNX graph: text encoder and duration predictor (per phoneme), then the
normalizing flow and the HiFi-GAN decoder (per output frame, 256 samples each). Run whole, the
first sample exists only once the last one does: ~200 ms for a 2.5 s sentence on one core.
The flow and the decoder are stacks of convolutions, so a window of frames decoded with
enough frames of context on each side gives the same samples as the whole run. We cut the
graph where the per-frame part starts (no retraining, no re-export: any Piper voice works),
run the per-phoneme part once, then flow and decoder on a small first window (what you hear
first) and on growing windows after it while the first plays.

Context, measured on en_US-joe-medium (tests/test_vits_stream.py checks it): decoder
windows need 12 frames each side and the flow 16 more for the samples to match the whole run
to ~1e-6 of full scale; with no context they differ by 0.13 (audible clicks at every cut).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

DECODER_CONTEXT = 12  # frames each side of a decoder window
FLOW_CONTEXT = 16  # frames each side of the decoder's window, for the flow
FIRST_FRAMES = 16  # first window: 186 ms of audio at 22.05 kHz
MAX_FRAMES = 128  # later windows double up to this (1.5 s)


class CutError(Exception):
    """The graph is not shaped like a Piper VITS export; use it whole."""


@dataclass(frozen=True)
class Cut:
    """Tensor names where the per-phoneme part ends and the per-frame parts start."""

    flow_inputs: tuple[str, ...]  # latent prior and frame mask (and speaker embedding)
    latent: str  # flow output, the decoder's input
    decoder_inputs: tuple[str, ...]  # latent first, then any conditioning
    output: str


def find_cut(graph: Any) -> Cut:
    """Locate the flow and decoder of a Piper VITS graph (node names from its PyTorch export)."""
    producer: dict[str, Any] = {}
    consumers: dict[str, list[Any]] = {}
    for n in graph.node:
        for o in n.output:
            producer[o] = n
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    graph_inputs = {i.name for i in graph.input}

    def inputs_of(nodes: Sequence[Any]) -> list[str]:
        # Tensors the nodes read that come from outside them; constants travel with them.
        inside = {id(n) for n in nodes}
        out: list[str] = []
        for n in nodes:
            for name in n.input:
                if not name or name in out:
                    continue
                p = producer.get(name)
                if p is None:
                    if name in graph_inputs:
                        out.append(name)
                elif id(p) not in inside and p.op_type != "Constant":
                    out.append(name)
        return out

    dec = [n for n in graph.node if n.name.startswith("/dec/")]
    flow = [n for n in graph.node if n.name.startswith("/flow/")]
    if not dec or not flow or len(graph.output) != 1:
        raise CutError("no /dec/ and /flow/ nodes, or more than one output")
    dec_in = inputs_of(dec)
    first = next((n for n in dec if n.name.startswith("/dec/conv_pre")), None)
    if first is None or not first.input or first.input[0] not in dec_in:
        raise CutError("no decoder conv_pre")
    latent = first.input[0]
    dec_in = [latent] + [x for x in dec_in if x != latent]
    # The flow's region: its nodes and whatever between them and the latent (the reverse
    # flow's gated activations and the final mask multiply are exported without a prefix).
    ancestors: set[int] = set()
    stack = [latent]
    while stack:
        p = producer.get(stack.pop())
        if p is not None and id(p) not in ancestors:
            ancestors.add(id(p))
            stack.extend(p.input)
    below = {id(n) for n in flow}
    stack = [o for n in flow for o in n.output]
    while stack:
        for c in consumers.get(stack.pop(), []):
            if id(c) not in below:
                below.add(id(c))
                stack.extend(c.output)
    region = [n for n in graph.node if id(n) in below and id(n) in ancestors]
    flow_in = inputs_of(region)
    if len(flow_in) < 2 or any(x in graph_inputs for x in flow_in):
        raise CutError(f"unexpected flow inputs {flow_in}")
    return Cut(tuple(flow_in), latent, tuple(dec_in), graph.output[0].name)


def seed_noise(graph: Any, seed: int) -> int:
    """Fix the seed of the graph's noise (VITS draws it for durations and the latent prior), so
    a session says the same things the same way every time; returns how many nodes it set."""
    from onnx import helper

    n = 0
    for node in graph.node:
        if node.op_type in (
            "RandomNormalLike",
            "RandomNormal",
            "RandomUniformLike",
            "RandomUniform",
        ):
            kept = [a for a in node.attribute if a.name != "seed"]
            del node.attribute[:]
            node.attribute.extend([*kept, helper.make_attribute("seed", float(seed))])
            n += 1
    return n


class VitsStream:
    """The three parts of one Piper voice as onnxruntime sessions."""

    def __init__(self, model: Path, make_session: Any, *, seed: int | None = None) -> None:
        """`make_session(model_bytes)` builds an onnxruntime session with the caller's options;
        `seed` fixes the noise VITS draws (reproducible speech)."""
        try:
            import onnx
            from onnx.utils import Extractor
        except ImportError as e:
            raise CutError(f"the onnx package is missing ({e})") from None
        proto = onnx.load(str(model))
        cut = find_cut(proto.graph)
        inputs = [i.name for i in proto.graph.input]
        ex = Extractor(proto)
        prior_outputs = list(cut.flow_inputs) + [
            x for x in cut.decoder_inputs[1:] if x not in cut.flow_inputs
        ]
        parts = [
            ex.extract_model(inputs, prior_outputs),
            ex.extract_model(list(cut.flow_inputs), [cut.latent]),
            ex.extract_model(list(cut.decoder_inputs), [cut.output]),
        ]
        del proto, ex
        if seed is not None:
            seed_noise(parts[0].graph, seed)
        self.cut = cut
        self._prior_outputs = prior_outputs
        self.prior, self.flow, self.decoder = (make_session(p.SerializeToString()) for p in parts)
        self.first_frames = FIRST_FRAMES
        self.max_frames = MAX_FRAMES

    def stream(self, feeds: dict[str, npt.NDArray[Any]]) -> Iterator[npt.NDArray[np.float32]]:
        """Audio of one utterance (same feeds as the whole graph), window by window."""
        return self.windows(self.prior_values(feeds))

    def prior_values(self, feeds: dict[str, npt.NDArray[Any]]) -> dict[str, npt.NDArray[Any]]:
        """The per-phoneme part, run once: what the flow and decoder windows read."""
        return dict(zip(self._prior_outputs, self.prior.run(None, feeds), strict=True))

    def windows(self, values: dict[str, npt.NDArray[Any]]) -> Iterator[npt.NDArray[np.float32]]:
        """Flow and decoder over the frames of `prior_values`, window by window."""
        frames = values[self.cut.flow_inputs[0]].shape[-1]
        # Per-frame tensors are sliced to each window; the rest (a speaker embedding) is not.
        timed = {
            k for k, v in values.items() if v.ndim == 3 and v.shape[-1] == frames and frames > 1
        }

        def window(names: Sequence[str], lo: int, hi: int) -> dict[str, npt.NDArray[Any]]:
            return {
                k: np.ascontiguousarray(values[k][..., lo:hi]) if k in timed else values[k]
                for k in names
            }

        a, n = 0, self.first_frames
        while a < frames:
            b = min(frames, a + n)
            if frames - b < n // 2:
                b = frames  # no sliver of a window at the end
            d_lo, d_hi = max(0, a - DECODER_CONTEXT), min(frames, b + DECODER_CONTEXT)
            f_lo, f_hi = max(0, d_lo - FLOW_CONTEXT), min(frames, d_hi + FLOW_CONTEXT)
            (z,) = self.flow.run(None, window(self.cut.flow_inputs, f_lo, f_hi))
            feeds_dec = {self.cut.latent: np.ascontiguousarray(z[..., d_lo - f_lo : d_hi - f_lo])}
            for k in self.cut.decoder_inputs[1:]:
                feeds_dec[k] = (
                    np.ascontiguousarray(values[k][..., d_lo:d_hi]) if k in timed else values[k]
                )
            (audio,) = self.decoder.run(None, feeds_dec)
            audio = audio.reshape(-1)
            hop = audio.size // (d_hi - d_lo)
            yield audio[(a - d_lo) * hop : (b - d_lo) * hop].astype(np.float32, copy=False)
            a, n = b, min(2 * n, self.max_frames)
