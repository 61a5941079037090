"""Which engines `--tts` can name, how to build each from Settings, and their own flags.

Adding an engine is one `EngineSpec` here: a factory taking the merged Settings, and an
optional function adding its flags to the CLI (their values land in
`settings.engine_options[<engine>]`, as do keys of a `[<engine>]` table in config.toml).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from stream_tts.config import Settings
from stream_tts.engines.base import SpeechEngine


@dataclass(frozen=True)
class EngineSpec:
    name: str
    help: str
    factory: Callable[[Settings], SpeechEngine]
    add_arguments: Callable[[argparse._ArgumentGroup], None] | None = None


def _piper(s: Settings) -> SpeechEngine:
    from stream_tts.engines.piper import PiperEngine, resolve_voice

    opts = s.engine_options.get("piper", {})
    return PiperEngine(
        resolve_voice(s.voice),
        speed=s.speed,
        volume=s.volume,
        threads=s.threads,
        speaker=opts.get("speaker"),
        min_clause_words=int(opts.get("clause_words", 5)),
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
        "least N words, so long sentences start sooner; 0 turns it off (default: 5)",
    )


SPEECH_ENGINES: dict[str, EngineSpec] = {
    "piper": EngineSpec("piper", "Piper (CPU, offline; default)", _piper, _piper_args),
}


def create_speech_engine(settings: Settings) -> SpeechEngine:
    try:
        spec = SPEECH_ENGINES[settings.tts]
    except KeyError:
        names = ", ".join(SPEECH_ENGINES)
        raise ValueError(f"unknown --tts {settings.tts!r} (choose from {names})") from None
    return spec.factory(settings)
