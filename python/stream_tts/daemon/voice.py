"""The daemon's voice: the speech engine, the audio device and the translator of the
settings, opened and warmed before the daemon says it is ready."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class VoiceOpenError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def open_voice(
    settings: Any, con: Any, *, waiting: Callable[[], bool] = lambda: False
) -> tuple[Any, Any, Any]:
    """The engine, the device and the translator of `settings`, warmed up unless speech is
    `waiting` (a cold start by a hook with an answer to say): then that answer warms it,
    half a second sooner (its first chunk takes about as long as it would after a warmup on
    this 2-core VM; the level is then set by the answer itself instead of a sample)."""
    from stream_tts import _core
    from stream_tts.engines.piper import VoiceError
    from stream_tts.pipeline import RING_MS
    from stream_tts.registry import create_speech_engine, create_translator

    try:
        translator = create_translator(settings)
        engine = create_speech_engine(settings)
    except (VoiceError, ValueError, ImportError, OSError, RuntimeError) as e:
        raise VoiceOpenError(str(e), 2) from None
    sink: _core.WavSink | _core.AudioSink
    try:
        if settings.output:
            sink = _core.WavSink(settings.output, engine.sample_rate)
        else:
            sink = _core.AudioSink(
                engine.sample_rate,
                device=settings.device,
                buffer_ms=settings.buffer_ms,
                ring_ms=RING_MS,
            )
    except (_core.NoAudioDeviceError, _core.DeviceNotFoundError) as e:
        raise VoiceOpenError(str(e), 2) from None
    except (_core.AudioError, OSError, ValueError) as e:
        raise VoiceOpenError(f"cannot open audio output: {e}", 1) from None
    if translator is not None:
        translator.warmup()
    if not waiting():
        engine.warmup()
    con.info(f"voice {engine.name} ready, {engine.sample_rate} Hz")
    from stream_tts.rate import RateEngine

    return RateEngine(engine, settings.rate), sink, translator  # ctl faster/slower
