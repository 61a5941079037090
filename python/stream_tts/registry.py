"""Which engines `--tts` and `--translate-backend` can name, how to build each from the CLI's
Settings, and their own flags.

The engines themselves (`engines/`) take plain arguments and never see Settings: this module
is the one place that turns the merged settings into them. Adding a speech engine is one
`EngineSpec` here (a factory taking the Settings, and an optional function adding its flags,
whose values land in `settings.engine_options[<engine>]`, as do keys of a `[<engine>]` table in
config.toml); adding a translation backend is one `TranslatorSpec`.
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stream_tts.config import Settings

if TYPE_CHECKING:  # base imports numpy: kept out of the CLI's start-up until an engine loads
    from stream_tts.engines.base import SpeechEngine, Translator


@dataclass(frozen=True)
class EngineSpec:
    name: str
    help: str
    factory: Callable[[Settings], SpeechEngine]
    add_arguments: Callable[[argparse._ArgumentGroup], None] | None = None
    # Imports the factory needs, done before a translator loads beside it (see PendingTranslator);
    # a GPU engine also starts creating its CUDA context meanwhile.
    preload: Callable[[Settings], None] | None = None


def _piper(s: Settings) -> SpeechEngine:
    from stream_tts.engines.piper import PiperEngine, resolve_voice

    opts = s.engine_options.get("piper", {})
    return PiperEngine(
        resolve_voice(s.voice),
        speed=s.speed,
        volume=s.volume,
        threads=s.threads,
        speaker=opts.get("speaker"),
        # The engine's default is the clause rule's (rust/src/text/clause.rs), not a number of ours.
        **({"min_clause_words": int(opts["clause_words"])} if "clause_words" in opts else {}),
        streaming=not opts.get("whole", False),
        first_frames=int(opts.get("first_frames", 16)),
        seed=opts.get("seed"),
    )


def _piper_args(g: argparse._ArgumentGroup) -> None:
    g.add_argument(
        "--piper-speaker",
        type=int,
        dest="piper.speaker",
        metavar="ID",
        help="speaker id of a multi-speaker Piper voice",
    )
    g.add_argument(
        "--piper-clause-words",
        type=int,
        dest="piper.clause_words",
        metavar="N",
        help="synthesize a sentence clause by clause (cut at , ; :) when each clause has at "
        "least N words, so long sentences start sooner; 0 turns it off (default: 6)",
    )
    g.add_argument(
        "--piper-first-frames",
        type=int,
        dest="piper.first_frames",
        metavar="N",
        help="frames (11.6 ms each at 22 kHz) in the first window of a sentence; later windows "
        "double up to 128. Fewer starts sooner, too few may gap on a slow machine (default: 16)",
    )
    g.add_argument(
        "--piper-seed",
        type=int,
        dest="piper.seed",
        metavar="N",
        help="fix the random noise VITS draws, so the same input is spoken the same way "
        "every run (default: fresh noise each time, as Piper does)",
    )
    g.add_argument(
        "--piper-whole",
        action="store_true",
        default=None,
        dest="piper.whole",
        help="run the voice's graph whole per clause, as the Piper CLI does, instead of "
        "streaming its decoder window by window",
    )


def _xtts(s: Settings) -> SpeechEngine:
    from stream_tts.engines.xtts import DEFAULT_MODEL, make_xtts

    o = s.engine_options.get("xtts", {})
    first = o.get("first_chunk_tokens", 8)
    return make_xtts(
        model=o.get("model") or DEFAULT_MODEL,
        speaker_wav=o.get("speaker_wav"),
        speaker=o.get("speaker"),
        # Speak the language we translate into, unless told otherwise.
        language=o.get("language") or s.translate_to or "en",
        device=o.get("device") or s.compute_device,
        chunk_tokens=int(o.get("chunk_tokens", 20)),
        first_chunk_tokens=None if first is None else int(first),
        loop=s.engine_options.get("gpu", {}).get("loop") or "own",
    )


def _xtts_preload(s: Settings) -> None:
    from stream_tts.engines.device import start_cuda
    from stream_tts.engines.extras import require_transformers
    from stream_tts.engines.xtts import import_coqui

    start_cuda(s.engine_options.get("xtts", {}).get("device") or s.compute_device, "xtts")
    require_transformers("xtts")  # coqui's XTTS is built on transformers' GPT-2
    import_coqui()


def _xtts_args(g: argparse._ArgumentGroup) -> None:
    g.add_argument(
        "--xtts-model",
        dest="xtts.model",
        metavar="REPO_OR_DIR",
        help="XTTS-v2 checkpoint: hub id or folder (default: coqui/XTTS-v2)",
    )
    g.add_argument(
        "--speaker-wav",
        dest="xtts.speaker_wav",
        metavar="FILE.wav",
        help="clone this voice (a few seconds of clean speech)",
    )
    g.add_argument(
        "--speaker",
        dest="xtts.speaker",
        metavar="NAME",
        help="a speaker shipped with the XTTS model",
    )
    g.add_argument(
        "--xtts-language",
        dest="xtts.language",
        metavar="LANG",
        help="language to speak (default: --translate-to, else en)",
    )
    g.add_argument(
        "--xtts-first-chunk-tokens",
        dest="xtts.first_chunk_tokens",
        type=int,
        metavar="N",
        help="audio tokens before the first chunk plays (default: 8)",
    )


SPEECH_ENGINES: dict[str, EngineSpec] = {
    "piper": EngineSpec("piper", "Piper (CPU, offline; default)", _piper, _piper_args),
    "xtts": EngineSpec(
        "xtts", "XTTS-v2 (GPU; needs the xtts extra)", _xtts, _xtts_args, _xtts_preload
    ),
}


def add_translation_arguments(g: argparse._ArgumentGroup) -> None:
    g.add_argument(
        "--translate-to",
        metavar="LANG",
        help="translate each sentence before speaking it (ISO 639-1 such as de, or "
        "FLORES-200 such as deu_Latn) with NLLB-200 (needs the nllb extra)",
    )
    g.add_argument("--translate-from", metavar="LANG", help="source language (default: en)")
    g.add_argument(
        "--translator",
        dest="translate.model",
        metavar="REPO_OR_DIR",
        help="NLLB-200 checkpoint (default: facebook/nllb-200-distilled-600M)",
    )
    g.add_argument(
        "--quality",
        dest="translate.quality",
        choices=["fast", "best"],
        help="fast: NLLB-200 distilled 600M; best: NLLB-200 3.3B",
    )
    g.add_argument(
        "--translate-backend",
        dest="translate.backend",
        choices=sorted(TRANSLATORS),
        help="transformers (default) or CTranslate2 (int8 on CPU)",
    )
    g.add_argument(
        "--translate-clauses",
        dest="translate.clauses",
        action=argparse.BooleanOptionalAction,
        help="start speaking a sentence on its first translated clause while the rest is "
        "translated (default: on; --no-translate-clauses waits for the whole sentence)",
    )
    g.add_argument(
        "--beams",
        dest="translate.beams",
        type=int,
        metavar="N",
        help="beam search width (default: 1, greedy)",
    )
    g.add_argument(
        "--static-cache",
        dest="translate.static_cache",
        action=argparse.BooleanOptionalAction,
        help="kept for old scripts: CUDA graphs of the decode step are now the default "
        "(--decode-loop own)",
    )
    g.add_argument(
        "--decode-loop",
        dest="gpu.loop",
        choices=["own", "stock"],
        help="own: our NLLB and XTTS decode loops (CUDA graphs on GPU; default); stock: "
        "transformers generate() and coqui-tts' stream, to compare",
    )
    g.add_argument(
        "--nllb-weights",
        dest="translate.weights",
        choices=["bf16", "int8", "int4"],
        help="bf16: the checkpoint's own weights (default); int8: the decoder and output layer "
        "quantised per row, half the bytes per token (our decode loop); int4: the same layers "
        "in 4 bits with a scale per 128 inputs, a quarter of the bytes: on an H200 (3.3B) a "
        "token in 1.04 ms against int8's 1.16, but ~100x int8's logit divergence from bf16 "
        "(random-weight tests; unchecked on the real model)",
    )
    g.add_argument(
        "--nllb-head",
        dest="translate.head",
        choices=["full", "script"],
        help="full: score the whole vocabulary (default); script: only tokens written in the "
        "target language's script (or without letters), faster, cannot copy foreign names",
    )
    g.add_argument(
        "--compute-device",
        metavar="DEV",
        help="torch device for GPU engines: cuda, cuda:1, mps, cpu (default: best)",
    )


@dataclass(frozen=True)
class TranslatorSpec:
    """A translation backend: `load(model, src=, tgt=, device=, beams=, loop=)`."""

    name: str
    help: str
    load: Callable[..., Translator]
    preload: Callable[[Settings], None] | None = None


def _nllb_transformers(model: str, **kw: Any) -> Translator:
    from stream_tts.engines.nllb import load_nllb

    return load_nllb(model, **kw)


def _nllb_transformers_preload(s: Settings) -> None:
    from stream_tts.engines.device import start_cuda
    from stream_tts.engines.nllb import import_transformers

    start_cuda(s.engine_options.get("translate", {}).get("device") or s.compute_device, "nllb")
    import_transformers()


def _nllb_ct2(model: str, *, loop: str, weights: str, head: str, **kw: Any) -> Translator:
    from stream_tts.engines.ct2 import load_ct2

    if weights != "bf16" or head != "full":
        raise ValueError("NLLB int8 weights and the script head are options of our decode loop")
    return load_ct2(model, **kw)  # CTranslate2 runs its own decoding: no loop to choose


# Adding a translation backend is one entry here (`--translate-backend` lists the keys).
TRANSLATORS: dict[str, TranslatorSpec] = {
    "transformers": TranslatorSpec(
        "transformers",
        "NLLB-200 through transformers, our decode loop on CUDA",
        _nllb_transformers,
        _nllb_transformers_preload,
    ),
    "ct2": TranslatorSpec("ct2", "NLLB-200 through CTranslate2 (int8 on CPU)", _nllb_ct2),
}


def make_translator(
    model: str,
    backend: str = "transformers",
    *,
    src: str = "en",
    tgt: str = "de",
    device: str | None = None,
    beams: int = 1,
    loop: str = "own",
    weights: str = "bf16",
    head: str = "full",
) -> Translator:
    """The translator `backend` loads for `model` (`loop`: own or stock, `weights`: bf16 or
    int8, `head`: full or script; transformers only)."""
    spec = TRANSLATORS.get(backend)
    if spec is None:
        names = ", ".join(TRANSLATORS)
        raise ValueError(f"unknown translation backend {backend!r} (choose from {names})")
    return spec.load(
        model, src=src, tgt=tgt, device=device, beams=beams, loop=loop, weights=weights, head=head
    )


def _check_languages(settings: Settings) -> None:
    """A bad language code fails here, before a model of gigabytes is fetched."""
    from stream_tts.engines.langs import to_flores

    to_flores(settings.translate_to or "en")
    to_flores(settings.translate_from)


def create_translator(settings: Settings) -> Translator | None:
    if not settings.translate_to:
        return None
    from stream_tts.engines.nllb import DEFAULT_MODEL, QUALITY_MODELS

    _check_languages(settings)
    o = settings.engine_options.get("translate", {})
    model = o.get("model") or QUALITY_MODELS.get(o.get("quality") or "", DEFAULT_MODEL)
    return make_translator(
        model,
        o.get("backend") or "transformers",
        src=settings.translate_from,
        tgt=settings.translate_to,
        device=o.get("device") or settings.compute_device,
        beams=int(o.get("beams", 1)),
        loop=settings.engine_options.get("gpu", {}).get("loop") or "own",
        weights=o.get("weights") or "bf16",
        head=o.get("head") or "full",
    )


def create_speech_engine(settings: Settings) -> SpeechEngine:
    try:
        spec = SPEECH_ENGINES[settings.tts]
    except KeyError:
        names = ", ".join(SPEECH_ENGINES)
        raise ValueError(f"unknown --tts {settings.tts!r} (choose from {names})") from None
    return spec.factory(settings)


class PendingTranslator:
    """The translator loading on a thread of its own while the speech engine loads on the
    caller's: reading weights and copying them to the GPU release the GIL, so the two loads
    overlap (NLLB-3.3B and XTTS-v2 are seconds each). The Python imports both need are done
    first, one after the other, on the caller's thread: imports are GIL-bound anyway, and two
    threads importing modules that import each other can see them half initialised; a GPU
    engine's CUDA context is created on a thread meanwhile (engines/device.py start_cuda).
    The warm-ups stay after both loads, one after the other: each captures CUDA graphs, and
    torch's capture synchronises the device and empties the cache first, which can break a
    capture under way on another thread (a start-up with the two side by side failed on the
    H200: benches/results/2026-11-30-h200-startup.md)."""

    def __init__(self, settings: Settings) -> None:
        self._result: Translator | None = None
        self._error: BaseException | None = None
        self._taken = False
        self._thread: threading.Thread | None = None
        if settings.translate_to:
            _check_languages(settings)
        engine = SPEECH_ENGINES.get(settings.tts)
        if not settings.translate_to:
            # No translator: the speech engine's imports (and CUDA context) all the same.
            if engine is not None and engine.preload is not None:
                engine.preload(settings)
            return
        spec = TRANSLATORS.get(
            settings.engine_options.get("translate", {}).get("backend") or "transformers"
        )
        for preload in (
            spec.preload if spec is not None else None,
            engine.preload if engine is not None else None,
        ):
            if preload is not None:
                preload(settings)

        def load() -> None:
            try:
                self._result = create_translator(settings)
            except BaseException as e:  # raised on the caller's thread by result()
                self._error = e

        self._thread = threading.Thread(target=load, name="stream-tts-load", daemon=True)
        self._thread.start()

    def result(self) -> Translator | None:
        """Wait for the translator (None if none was asked for); its load error is raised here."""
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        self._taken = True
        return self._result

    def discard(self) -> None:
        """Wait for the load and close what it made, unless result() handed it over."""
        if self._thread is not None:
            self._thread.join()
        if self._result is not None and not self._taken:
            self._result.close()
