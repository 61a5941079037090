"""XTTS-v2 speech through coqui-tts, streamed chunk by chunk.

The GPT's audio tokens are decoded by the HiFi-GAN decoder in chunks: the first after
`first_chunk_tokens` (small, so the first audio comes sooner), each next one twice the last, up
to `chunk_tokens` (so every chunk is ready before the audio before it has played out); successive
chunks are crossfaded over `overlap` samples by coqui's `handle_chunks`, so they join without
clicks. Voice: a reference WAV (conditioning latents cached on disk by file hash) or a speaker
shipped with the model.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import threading
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from stream_tts.engines.device import pick_device
from stream_tts.engines.extras import require
from stream_tts.engines.hub import cache_dir, ensure_model
from stream_tts.engines.langs import to_xtts
from stream_tts.engines.xtts_decoder import ChunkDecoder, fold_weight_norm

DEFAULT_MODEL = "coqui/XTTS-v2"
XTTS_PATTERNS = ["config.json", "model.pth", "vocab.json", "speakers_xtts.pth"]
WARMUP_TEXT = "Hello, this is a warm-up sentence."
DEFAULT_SPEAKER = "Claribel Dervla"  # first of the speakers XTTS-v2 ships


LOOPS = ("own", "stock")
URGENT = -100  # CUDA stream priority of our loop's thread (clamped to the device's highest)


class VoiceError(ValueError):
    """No usable voice: a bad reference WAV or an unknown speaker name."""


class EngineBusyError(RuntimeError):
    """synthesize() was called on a thread whose earlier stream is still open."""


def patch_coqui_for_transformers() -> bool:
    """Make coqui-tts 0.28's streaming GPT work with transformers >= 5.18.

    Those versions pass the KV cache to `forward` as `cache=` (was `past_key_values=`); coqui's
    GPT2InferenceModel.forward only reads `past_key_values`, so the cache is lost and the second
    token fails. We rename the argument on the way in. Returns True if the patch was applied now.
    """
    from transformers.modeling_outputs import CausalLMOutputWithCrossAttentions
    from TTS.tts.layers.xtts.gpt_inference import GPT2InferenceModel

    renamed = "cache" in getattr(CausalLMOutputWithCrossAttentions, "__dataclass_fields__", {})
    forward = GPT2InferenceModel.forward
    if not renamed or getattr(forward, "stream_tts_patch", False):
        return False
    if "cache" in inspect.signature(forward).parameters:
        return False  # a coqui-tts that already reads `cache`

    def forward_with_cache(self: Any, *args: Any, cache: Any = None, **kwargs: Any) -> Any:
        if cache is not None and kwargs.get("past_key_values") is None:
            kwargs["past_key_values"] = cache
        return forward(self, *args, **kwargs)

    forward_with_cache.stream_tts_patch = True  # type: ignore[attr-defined]
    forward_with_cache.original = forward  # type: ignore[attr-defined]
    GPT2InferenceModel.forward = forward_with_cache
    return True


@dataclass
class Voice:
    gpt_cond_latent: Any  # torch.Tensor [1, 32, 1024]
    speaker_embedding: Any  # torch.Tensor [1, 512, 1]


def latents_cache_dir() -> Path:
    return cache_dir("xtts-latents")


def voice_from_wav(model: Any, wav: str | os.PathLike[str], model_key: str) -> Voice:
    """Conditioning latents for `wav`, computed once and cached by the file's hash."""
    import soundfile as sf
    import torch
    import torchaudio  # type: ignore[import-untyped]

    path = Path(wav)
    if not path.is_file():
        raise VoiceError(f"--speaker-wav {wav}: no such file")
    digest = hashlib.sha256(path.read_bytes() + model_key.encode()).hexdigest()[:32]
    cached = latents_cache_dir() / f"{digest}.pt"
    if cached.exists():
        d = torch.load(cached, weights_only=True)
        return Voice(d["gpt_cond_latent"], d["speaker_embedding"])
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:
        raise VoiceError(f"--speaker-wav {wav}: cannot read audio ({e})") from e
    audio = torch.from_numpy(data.mean(axis=1))[None, :]
    if audio.shape[1] < sr // 2:
        raise VoiceError(f"--speaker-wav {wav}: too short (XTTS needs at least 0.5 s of speech)")
    audio = torchaudio.functional.resample(audio, sr, 22050)[:, : 22050 * 30].clamp(-1, 1)
    with torch.inference_mode():
        spk = model.get_speaker_embedding(audio.to(model.device), 22050)
        gpt = model.get_gpt_cond_latents(audio, 22050, length=6, chunk_length=6)
    voice = Voice(gpt.cpu(), spk.cpu())
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".tmp{os.getpid()}")
    torch.save(
        {"gpt_cond_latent": voice.gpt_cond_latent, "speaker_embedding": voice.speaker_embedding},
        tmp,
    )
    os.replace(tmp, cached)
    return voice


def voice_from_speaker(model: Any, name: str | None = None) -> Voice:
    """A speaker shipped with the model (`speakers_xtts.pth`); None: XTTS-v2's first one."""
    manager = getattr(model, "speaker_manager", None)
    speakers = manager.speakers if manager is not None else {}
    if name is None:
        name = DEFAULT_SPEAKER if DEFAULT_SPEAKER in speakers else next(iter(speakers), "")
    if name not in speakers:
        known = ", ".join(sorted(speakers)[:8]) or "none shipped with this model"
        raise VoiceError(f"unknown XTTS speaker {name!r}; some known: {known}")
    d = speakers[name]
    return Voice(d["gpt_cond_latent"], d["speaker_embedding"])


class XttsEngine:
    """Speak sentences with an XTTS-v2 model already in memory."""

    name = "xtts"

    def __init__(
        self,
        model: Any,
        voice: Voice,
        *,
        language: str = "en",
        chunk_tokens: int = 20,
        first_chunk_tokens: int | None = 8,
        overlap: int = 1024,
        temperature: float = 0.75,
        top_k: int = 50,
        top_p: float = 0.85,
        repetition_penalty: float = 10.0,
        generate_kwargs: dict[str, Any] | None = None,
        loop: str = "own",
        dtype: Any = None,
    ) -> None:
        if loop not in LOOPS:
            raise ValueError(f"unknown decode loop {loop!r}; use one of {', '.join(LOOPS)}")
        self.model = model
        self.language = to_xtts(language)
        self.sample_rate = int(model.args.output_sample_rate)
        self.chunk_tokens = max(1, chunk_tokens)
        self.first_chunk_tokens = max(1, first_chunk_tokens or chunk_tokens)
        self.overlap = overlap
        device = model.device
        self.gpt_cond_latent = voice.gpt_cond_latent.to(device)
        self.speaker_embedding = voice.speaker_embedding.to(device)
        self.sampling = {
            "temperature": temperature,
            "top_k": top_k,
            "top_p": top_p,
            "repetition_penalty": repetition_penalty,
            "do_sample": True,
        }
        # Extra generate() settings, e.g. min/max_new_tokens to force token counts in benches.
        self.generate_kwargs = dict(generate_kwargs or {})
        self._lock = threading.Lock()
        self._owner: int | None = None  # thread holding _lock (its stream is open)
        self._stop = threading.Event()
        self.interrupted = 0  # sentences cut short by interrupt()
        self._gpu: Any = None
        self.loop: Any = None
        if loop == "own":
            self.loop = self._own_loop(dtype)
        self.loop_name = "own" if self.loop is not None else "stock"
        # The conditioning latents in the loop's dtype, cast once rather than per sentence.
        self._loop_cond = None if self.loop is None else self.gpt_cond_latent.to(self.loop.dtype)
        # Our loop also gets the prepared decoder (weight norm folded, if a model was not loaded
        # by load_xtts_model; on CUDA the first chunk's graph, captured in warmup); the stock
        # path runs the module as it is.
        self.decoder = ChunkDecoder(
            model.hifigan_decoder,
            prepare=self.loop is not None,
            graph_latents=self.first_chunk_tokens if self._gpu is not None else None,
        )

    def _own_loop(self, dtype: Any) -> Any:
        """Our GPT loop; `dtype` of its weights: None picks bf16 (fp16 where the GPU lacks
        bf16) on CUDA and keeps float32 elsewhere. The HiFi-GAN decoder stays float32."""
        from stream_tts.engines.decode.runner import GpuThread
        from stream_tts.engines.decode.xtts_loop import XttsLoop
        from stream_tts.engines.device import pick_dtype

        device = str(self.model.device)
        cuda = device.startswith("cuda")
        # CUDA graphs are captured and replayed on this one thread, whoever calls synthesize().
        self._gpu = GpuThread("stream-tts-xtts") if cuda else None
        if dtype is None and cuda:
            dtype = pick_dtype(device, extra="xtts")
        return XttsLoop(self.model.gpt, graphs=cuda, dtype=dtype, sampling=self.sampling)

    def _on_gpu(self, fn: Any) -> Any:
        return self._gpu.call(fn) if self._gpu is not None else fn()

    def warmup(self) -> None:
        if self.loop is not None and self._gpu is not None:
            # Speech first: the translator's decoder may be running beside it (clause streaming).
            self._gpu.use_stream(URGENT)
            self._gpu.call(self.loop.warmup)
            self._gpu.call(lambda: self.decoder.capture(self.speaker_embedding))
        for _ in self.synthesize(WARMUP_TEXT):
            pass
        # A long prompt too: one longer than any before can take slower kernels the first
        # time (seen on an H200: the first translated sentence's first chunk took 1.2 s). Its
        # first chunk is enough: the rest of a long sentence is seconds of start-up.
        stream = self.synthesize(" ".join([WARMUP_TEXT] * 6))
        next(stream, None)
        stream.close()

    def synthesize(self, text: str) -> Generator[npt.NDArray[np.float32], None, None]:
        text = text.strip().lower()
        if not text:
            return
        import torch

        me = threading.get_ident()
        if not self._lock.acquire(blocking=False):
            if self._owner == me:
                # Waiting would never end: this thread holds the open stream.
                raise EngineBusyError(
                    "XTTS is still speaking a sentence on this thread; close that stream first"
                )
            self._lock.acquire()
        self._owner = me
        self._stop.clear()
        inner = self._stream(text, torch)

        def step() -> Any:
            with torch.inference_mode():
                return next(inner, None)

        try:
            while (chunk := self._on_gpu(step)) is not None:
                yield chunk
        finally:
            # Each chunk is made on the GPU thread (graphs live there), and so is the cleanup.
            self._on_gpu(inner.close)
            self._owner = None
            self._lock.release()

    def _tokens(self, text_ids: Any, torch: Any) -> Generator[tuple[Any, Any], None, None]:
        """(audio token, latent) pairs from our loop or coqui's stream."""
        m = self.model
        kw = self.generate_kwargs
        if self.loop is not None and set(kw) <= {"min_new_tokens", "max_new_tokens"}:
            yield from self.loop.stream(
                self._loop_cond,
                text_ids,
                min_new_tokens=int(kw.get("min_new_tokens", 0)),
                max_new_tokens=kw.get("max_new_tokens"),
            )
            return
        inputs = m.gpt.compute_embeddings(self.gpt_cond_latent, text_ids)
        gen = m.gpt.get_generator(
            fake_inputs=inputs,
            num_beams=1,
            num_return_sequences=1,
            length_penalty=1.0,
            output_attentions=False,
            output_hidden_states=True,
            return_dict_in_generate=True,
            **self.sampling,
            **self.generate_kwargs,
        )
        try:
            yield from gen
        finally:
            gen.close()

    def _stream(self, text: str, torch: Any) -> Generator[npt.NDArray[np.float32], None, None]:
        m = self.model
        ids = m.tokenizer.encode(text, lang=self.language)
        tokens = torch.IntTensor(ids).unsqueeze(0).to(m.device)
        gen = self._tokens(tokens, torch)
        latents: list[Any] = []
        prev = overlap = None
        pending, target, done = 0, self.first_chunk_tokens, False
        try:
            while not done:
                try:
                    _, latent = next(gen)
                    latents.append(latent)
                    pending += 1
                except StopIteration:
                    done = True
                if self._stop.is_set():
                    self.interrupted += 1
                    return
                if (done and pending) or pending >= target:
                    # The decoder sees every latent so far (as coqui's inference_stream does),
                    # so each chunk is continuous with the last; handle_chunks crossfades.
                    wav = self.decoder(latents, self.speaker_embedding)
                    chunk, prev, overlap = m.handle_chunks(
                        wav.squeeze(), prev, overlap, self.overlap, is_final=done
                    )
                    pending, target = 0, min(self.chunk_tokens, 2 * target)
                    yield chunk.float().cpu().numpy()
                elif done and overlap is not None:
                    yield overlap.float().cpu().numpy()  # the held-back tail of the last chunk
        finally:
            gen.close()

    def interrupt(self) -> None:
        """Stop the sentence being spoken after its current token."""
        self._stop.set()

    def close(self) -> None:
        if self._gpu is not None:
            self._gpu.close()
        self.model = None
        self.loop = None


def import_coqui() -> None:
    """The modules load_xtts_model needs (seconds of Python imports), without loading."""
    require("torch", "xtts")
    require("TTS", "xtts")
    import TTS.tts.models.xtts  # noqa: F401


def load_xtts_model(
    model: str = DEFAULT_MODEL, device: str | None = None, fast: bool = True
) -> Any:
    """Load coqui's Xtts from a hub id or a folder (config.json, model.pth, vocab.json).

    `fast`: our loader (engines/xtts_load.py: no random initialisation, the checkpoint
    memory-mapped); False: coqui's own `load_checkpoint`, the same model more slowly.
    """
    require("torch", "xtts")
    require("TTS", "xtts")
    from TTS.tts.configs.xtts_config import XttsConfig
    from TTS.tts.models.xtts import Xtts

    from stream_tts.engines.xtts_load import build_xtts

    patch_coqui_for_transformers()
    dev = pick_device(device, extra="xtts")
    path = ensure_model(model, XTTS_PATTERNS, required=["config.json", "model.pth", "vocab.json"])
    from transformers.utils import logging as hf_logging

    config = XttsConfig()
    config.load_json(str(path / "config.json"))
    # coqui builds GPT2Configs with GPT-2's token ids, which transformers warns about four
    # times per load; they are unused (XTTS has its own start and stop tokens).
    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    try:
        if fast:
            m = build_xtts(path, config)
        else:
            m = Xtts(config)
            m.load_checkpoint(config, checkpoint_dir=str(path), eval=True)
    finally:
        hf_logging.set_verbosity(level)
    # coqui's Xtts keeps HiFi-GAN's weight norm (its vocoders' own loader folds it for
    # inference): folded here, every model we load has the same inference-ready weights, and
    # an engine leaves the layout of a loaded model's state dict as it was.
    fold_weight_norm(m.hifigan_decoder.waveform_decoder)
    m.model_key = str(path.resolve())
    return m.to(dev)


def make_xtts(
    model: str = DEFAULT_MODEL,
    speaker_wav: str | None = None,
    speaker: str | None = None,
    language: str = "en",
    device: str | None = None,
    chunk_tokens: int = 20,
    first_chunk_tokens: int | None = 8,
    loop: str = "own",
) -> XttsEngine:
    """The XTTS engine the CLI asks for (`--tts xtts`); `loop`: own or stock (coqui's)."""
    language = to_xtts(language)  # fail on a bad language before loading gigabytes
    m = load_xtts_model(model, device)
    if speaker_wav:
        voice = voice_from_wav(m, speaker_wav, m.model_key)
    else:
        voice = voice_from_speaker(m, speaker)
    return XttsEngine(
        m,
        voice,
        language=language,
        chunk_tokens=chunk_tokens,
        first_chunk_tokens=first_chunk_tokens,
        loop=loop,
    )
