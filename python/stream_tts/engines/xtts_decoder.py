"""XTTS-v2's HiFi-GAN decoder as the stream calls it, with the first chunk made cheap.

coqui-tts keeps weight norm on 76 of the decoder's 83 convolutions (Xtts.load_checkpoint never
removes it), so every call recomputes each weight from its direction and magnitude: 76 more
kernels and their Python per chunk. `fold_weight_norm` computes them once; the weights are the
same numbers. The first chunk always decodes `first_chunk_tokens` latents, one fixed shape, so on
CUDA it is one graph, captured at warm-up on the thread that replays it: one replay instead of
about 470 launches from Python (on an H200 11.8 ms -> 2.1 ms, benches/gpu_xtts_decoder.py). Every
other length (later chunks, a sentence shorter than the first chunk) runs eagerly, as before.
"""

from __future__ import annotations

from typing import Any

from stream_tts.engines.decode.runner import StepGraphs

FIRST = "first"  # the graph's key
# Whether cuDNN times its algorithms for the graph's shape before capture. Off: on an H200 the
# timed graph was no faster than the heuristics' (2.10 vs 2.12 ms) and cost 4.5 s of warm-up;
# the heuristics' graph gave coqui's audio bit for bit there. benches/gpu_xtts_decoder.py sets it.
TIME_CUDNN = False


def fold_weight_norm(module: Any) -> int:
    """Replace each weight-norm parametrization under `module` by the weight it computes;
    returns how many were folded (0 the second time)."""
    import torch
    from torch.nn.utils import parametrize

    mods = [m for m in module.modules() if parametrize.is_parametrized(m, "weight")]
    with torch.no_grad():
        for m in mods:
            if set(m.parametrizations) != {"weight"}:
                parametrize.remove_parametrizations(m, "weight", leave_parametrized=True)
                continue
            # Not remove_parametrizations: it deletes `weight` from the module's generated
            # class, which a deepcopy of the module shares, so the copy (a test's reference)
            # loses its weight. The module gets its plain class back instead; the class stays.
            weight = m.weight
            del m.parametrizations
            m.__class__ = type(m).__bases__[0]
            m.weight = torch.nn.Parameter(weight)
    return len(mods)


class ChunkDecoder:
    """Latents so far -> audio [1, 1, samples] through coqui's HifiDecoder `hifigan`.

    `prepare`: fold its weight norm (in place, once); `graph_latents`: the chunk length that
    `capture` makes a CUDA graph of (None: always eager).
    """

    def __init__(self, hifigan: Any, *, prepare: bool, graph_latents: int | None = None) -> None:
        import torch

        self.torch = torch
        self.hifigan = hifigan
        self.folded = fold_weight_norm(hifigan.waveform_decoder) if prepare else 0
        self.dtype = next(hifigan.waveform_decoder.parameters()).dtype
        self.graph_latents = graph_latents
        self._graphs: StepGraphs | None = None
        self._z: Any = None  # the graph's static input, output and speaker embedding
        self._wav: Any = None
        self._g: Any = None

    @property
    def graphed(self) -> bool:
        return self._graphs is not None and FIRST in self._graphs

    def __call__(self, latents: list[Any], g: Any) -> Any:
        """Audio of `latents` ([1, d] each, in order) spoken by the speaker embedding `g`."""
        torch = self.torch
        if self.graphed and len(latents) == self.graph_latents:
            assert self._graphs is not None
            torch.cat(latents, dim=0, out=self._z[0])  # cast to the decoder's dtype on the way
            self._g.copy_(g)
            self._graphs.run(FIRST)
            return self._wav.clone()  # the next replay overwrites the static buffer
        z = torch.cat(latents, dim=0)[None].to(self.dtype)
        return self.hifigan(z, g=g.to(self.dtype))

    def _graph_step(self, _key: Any) -> None:
        self._wav.copy_(self.hifigan(self._z, g=self._g))

    def capture(self, g: Any) -> bool:
        """Capture the first chunk's graph for speaker embedding `g` (on CUDA, with a graph
        length set; call on the thread that will replay it). Returns whether it did."""
        torch = self.torch
        device = g.device
        if self.graph_latents is None or device.type != "cuda":
            return False
        conv = self.hifigan.waveform_decoder.conv_pre
        cudnn = torch.backends.cudnn
        saved = cudnn.benchmark
        # Timed, the graph keeps cuDNN's fastest algorithm for this one shape (eager calls stay
        # on its heuristics: each new length would be timed again, mid-sentence). torch caches
        # the plan per shape and thread, timed or not: a thread that already decoded the shape
        # eagerly reuses the heuristic pick untimed.
        cudnn.benchmark = TIME_CUDNN
        try:
            with torch.inference_mode():
                shape = (1, self.graph_latents, conv.in_channels)
                self._z = torch.zeros(shape, dtype=self.dtype, device=device)
                self._g = g.to(self.dtype).clone()
                self._wav = self.hifigan(self._z, g=self._g)  # sizes the output (and times cuDNN)
                self._graphs = StepGraphs(self._graph_step, torch, [])
                self._graphs.capture(FIRST)
                torch.cuda.synchronize()
        finally:
            cudnn.benchmark = saved
        return True
