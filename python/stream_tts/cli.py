"""`stream-tts`: speak what a coding agent writes, as it writes it."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from stream_tts.config import (
    INPUT_FORMATS,
    ConfigError,
    Settings,
    default_config_path,
    load_file,
    merge,
)
from stream_tts.engines.registry import (
    SPEECH_ENGINES,
    add_translation_arguments,
    create_speech_engine,
    create_translator,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2  # bad option or config, no audio device, unknown voice
EXIT_INTERRUPTED = 130

_DESCRIPTION = """\
Speak what a coding agent writes, as it writes it.

Reads Claude Code's stream-json (or plain text) on stdin and speaks the assistant's answer
sentence by sentence while it is still being written:

  claude -p --output-format stream-json --verbose --include-partial-messages "..." | stream-tts
  echo "Plain text works too." | stream-tts

Thinking, tool input and tool results are never spoken; code blocks, links and tables are
read the way a person would say them. The default voice (Piper, en_US-joe-medium) is bundled
and runs offline.
"""

_EPILOG = """\
Settings can also live in ~/.config/stream-tts/config.toml (or $STREAM_TTS_CONFIG), with the
long option names spelled with underscores, e.g.  voice = "en_US-lessac-medium"  or
interrupt = true; the command line wins. Exit status: 0 done, 1 failed, 2 bad usage or no
audio device, 130 interrupted by Ctrl-C.
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="stream-tts",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # Every default is None so that only options actually given override the config file.
    inp = p.add_argument_group("input")
    inp.add_argument(
        "--input",
        choices=INPUT_FORMATS,
        help="stdin format: Claude Code stream-json, plain text, or auto-detect (default)",
    )
    inp.add_argument(
        "--speak-tools",
        action=argparse.BooleanOptionalAction,
        help="say the name of each tool the agent runs",
    )
    inp.add_argument(
        "--speak-subagents",
        action=argparse.BooleanOptionalAction,
        help="also speak messages of subagents (Task tool)",
    )
    inp.add_argument(
        "--early-fragment",
        action=argparse.BooleanOptionalAction,
        help="start speaking a long first sentence at its first comma (default: on)",
    )
    inp.add_argument(
        "--interrupt",
        action=argparse.BooleanOptionalAction,
        help="a new message cuts off the one being spoken (default: it waits its turn)",
    )
    inp.add_argument(
        "--speculate",
        action=argparse.BooleanOptionalAction,
        help="start synthesizing a sentence when its final . ! or ? arrives, before the next "
        "word makes its end certain; kept if the sentence comes out the same (default: on)",
    )

    out = p.add_argument_group("output")
    out.add_argument(
        "-o", "--output", metavar="FILE.wav", help="write a WAV file instead of playing"
    )
    out.add_argument("--device", metavar="NAME", help="output device (see --list-devices)")
    out.add_argument(
        "--buffer-ms",
        type=float,
        metavar="MS",
        help="device buffer to ask for; smaller starts sooner, larger is safer (default: 7)",
    )
    out.add_argument(
        "--text-only",
        action="store_true",
        default=None,
        help="print each sentence that would be spoken, one per line, as soon as it is known; "
        "loads no model and needs no device",
    )

    voice = p.add_argument_group("voice")
    voice.add_argument(
        "--tts", choices=sorted(SPEECH_ENGINES), help="speech engine (default: piper)"
    )
    voice.add_argument(
        "--voice",
        metavar="VOICE",
        help="Piper voice: a path to a .onnx file, or a name such as en_US-lessac-medium "
        "fetched once from huggingface.co/rhasspy/piper-voices (default: bundled en_US-joe-medium)",
    )
    voice.add_argument("--speed", type=float, help="speaking rate, 1.0 is normal")
    voice.add_argument("--volume", type=float, help="loudness multiplier, 1.0 is normal")
    voice.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="CPU threads for synthesis (default: the cores, at most 4)",
    )
    for spec in SPEECH_ENGINES.values():
        if spec.add_arguments is not None:
            spec.add_arguments(p.add_argument_group(f"{spec.name} engine"))

    add_translation_arguments(p.add_argument_group("translation (GPU engines)"))

    info = p.add_argument_group("information")
    info.add_argument("--list-voices", action="store_true", help="show installed voices and exit")
    info.add_argument("--list-devices", action="store_true", help="show output devices and exit")
    info.add_argument(
        "--stats",
        nargs="?",
        const="-",
        metavar="FILE",
        help="one JSON line per spoken sentence (time to first audio, synthesis time, real-time "
        "factor) and a summary at exit, on stderr or to FILE",
    )
    info.add_argument(
        "--hook",
        action="store_true",
        help="run as a Claude Code Stop hook: read the hook JSON on stdin and speak the last "
        "answer of the session's transcript in the background (see README)",
    )
    info.add_argument(
        "--config", metavar="FILE", help=f"config file (default: {default_config_path()})"
    )
    verb = info.add_mutually_exclusive_group()
    verb.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    verb.add_argument("-v", "--verbose", action="count", default=0, help="say more (repeatable)")
    return p


def _cli_values(ns: argparse.Namespace) -> dict[str, Any]:
    values: dict[str, Any] = {}
    engine_options: dict[str, dict[str, Any]] = {}
    skip = {"list_voices", "list_devices", "config", "quiet", "verbose", "hook"}
    for key, value in vars(ns).items():
        if key in skip or value is None:
            continue
        if "." in key:  # an engine's own flag, dest "<engine>.<option>"
            engine, opt = key.split(".", 1)
            engine_options.setdefault(engine, {})[opt] = value
        else:
            values[key] = value
    if engine_options:
        values["engine_options"] = engine_options
    if ns.quiet:
        values["verbosity"] = -1
    elif ns.verbose:
        values["verbosity"] = ns.verbose
    return values


class _Console:
    def __init__(self, verbosity: int) -> None:
        self.verbosity = verbosity

    def error(self, msg: str) -> None:
        print(f"stream-tts: {msg}", file=sys.stderr, flush=True)

    def warn(self, msg: str) -> None:
        if self.verbosity >= 0:
            print(f"stream-tts: {msg}", file=sys.stderr, flush=True)

    def info(self, msg: str) -> None:
        if self.verbosity >= 1:
            print(f"stream-tts: {msg}", file=sys.stderr, flush=True)


def _list_voices() -> int:
    from stream_tts.engines.piper import installed_voices

    for v in installed_voices():
        print(f"{v.name}\t{v.source}\t{v.model}")
    return EXIT_OK


def _list_devices(con: _Console) -> int:
    from stream_tts._core import list_devices

    devices = list_devices()
    if not devices:
        con.error("no audio output devices found (use --output FILE.wav to write a file)")
        return EXIT_USAGE
    for d in devices:
        channels = d.get("channels") or []
        if not channels:
            continue  # an ALSA plugin that cannot play anything as it stands
        mark = "*" if d.get("default") else " "
        ch = f"{min(channels)}-{max(channels)}" if isinstance(channels, list) else channels
        rates = d.get("sample_rates") or []
        rate = f"{min(rates)}-{max(rates)} Hz" if isinstance(rates, list) and rates else "?"
        print(f"{mark} {d.get('name')}\t{ch} channels, {rate}")
    return EXIT_OK


def _report_input_problems(outcome: Any, con: _Console) -> None:
    c = outcome.counters
    bad = sum(c.get(k, 0) for k in ("malformed_json", "invalid_utf8", "too_long", "too_deep"))
    if bad:
        con.warn(f"skipped {bad} malformed input line(s) of {c.get('lines', '?')}")
    for w in outcome.warnings:
        con.warn(w)


def _with_hint(message: str, option: str, verb: str) -> str:
    """The core's message, plus what to do unless it already says so."""
    return message if option in message else f"{message}; {verb} {option}"


def _silence_stdout() -> None:
    # The reader of stdout left: point fd 1 at /dev/null so the exit flush cannot fail again.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    ns = parser.parse_args(argv)
    try:
        path = default_config_path() if ns.config is None else os.path.expanduser(ns.config)
        file_values = load_file(Path(path), required=ns.config is not None)
        settings = merge(file_values, _cli_values(ns))
    except ConfigError as e:
        parser.exit(EXIT_USAGE, f"stream-tts: error: {e}\n")
    con = _Console(settings.verbosity)

    if ns.list_voices:
        return _list_voices()
    if ns.list_devices:
        return _list_devices(con)
    fd = sys.stdin.fileno()
    if ns.hook:
        from stream_tts import hook

        try:
            answer = hook.prepare(hook.payload_from_stdin())
        except hook.HookError as e:
            con.error(str(e))
            return EXIT_USAGE
        if not answer:
            return EXIT_OK
        settings.input = "stream-json"
        if not settings.text_only and not settings.output:
            hook.stop_previous()
            if not hook.detach():
                return EXIT_OK  # the parent: Claude Code goes on while the child speaks
        fd = hook.feed_fd(answer)
    try:
        if settings.text_only:
            return _run_text_only(settings, con, fd)
        return _run_speech(settings, con, fd)
    except KeyboardInterrupt:  # while loading the model or opening the device
        return EXIT_INTERRUPTED


def _run_text_only(settings: Settings, con: _Console, fd: int) -> int:
    from stream_tts.pipeline import OutputClosed, Pipeline

    pipeline = Pipeline(settings, text_out=sys.stdout)
    try:
        outcome = pipeline.run(fd)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except OutputClosed:
        _silence_stdout()
        con.warn("stdout was closed; stopped reading")
        return EXIT_FAILED
    _report_input_problems(outcome, con)
    return EXIT_OK


def _open_stats(settings: Settings) -> tuple[Any, IO[str] | None]:
    from stream_tts.stats import Stats

    if settings.stats is None:
        return None, None
    if settings.stats == "-":
        return Stats(sys.stderr), None
    f = open(settings.stats, "w", encoding="utf-8")
    return Stats(f), f


def _run_speech(settings: Settings, con: _Console, fd: int) -> int:
    from stream_tts import _core
    from stream_tts.engines.piper import VoiceError
    from stream_tts.pipeline import RING_MS, DeviceStalled, Pipeline

    t0 = time.monotonic()
    try:
        translator = create_translator(settings)
        engine = create_speech_engine(settings)
    except (VoiceError, ValueError, ImportError, OSError, RuntimeError) as e:
        # Unknown voice or language, a missing extra, a model not downloadable, no GPU.
        con.error(str(e))
        return EXIT_USAGE
    mode = getattr(engine, "mode", "")
    con.info(
        f"loaded {engine.name} ({engine.sample_rate} Hz{', ' + mode if mode else ''}) "
        f"in {time.monotonic() - t0:.2f} s"
    )

    sink: Any
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
            con.info(
                f"playing on {sink.device_name} at {sink.device_rate} Hz, "
                f"device buffer {sink.buffer_frames} frames"
            )
    except _core.NoAudioDeviceError as e:
        con.error(_with_hint(str(e), "--output FILE.wav", "write the speech to a file with"))
        return EXIT_USAGE
    except _core.DeviceNotFoundError as e:
        con.error(_with_hint(str(e), "--list-devices", "see"))
        return EXIT_USAGE
    except (_core.AudioError, OSError, ValueError) as e:
        con.error(f"cannot open audio output: {e}")
        return EXIT_FAILED

    t1 = time.monotonic()
    try:
        if translator is not None:
            translator.warmup()
        engine.warmup()
    except RuntimeError as e:  # e.g. a GPU engine's graph capture (torch raises RuntimeError)
        con.error(f"warm-up failed: {e}")
        return EXIT_FAILED
    con.info(f"warmed up in {time.monotonic() - t1:.2f} s; reading stdin")

    try:
        stats, stats_file = _open_stats(settings)
    except OSError as e:
        con.error(f"cannot write --stats file: {e}")
        return EXIT_USAGE
    pipeline = Pipeline(settings, engine=engine, sink=sink, stats=stats, translator=translator)
    try:
        outcome = pipeline.run(fd)
    except KeyboardInterrupt:
        pipeline.interrupt_now()
        if stats is not None:
            stats.poll(sink.utterance_started, final=True)
            stats.write_summary(sink.stats())
        sys.stderr.flush()
        # Worker threads may sit in onnxruntime or os.read: leave without waiting for them.
        os._exit(EXIT_INTERRUPTED)
    except (_core.AudioError, DeviceStalled) as e:
        errors = int(sink.stats().get("device_errors", 0))
        con.error(
            f"the audio device failed: {e} ({errors} device errors); "
            "use --output FILE.wav to write a file instead"
        )
        return EXIT_FAILED
    except RuntimeError as e:  # a GPU engine failed mid-answer (torch raises RuntimeError)
        con.error(f"speech stopped: the {settings.tts} or translation engine failed: {e}")
        return EXIT_FAILED
    sink_stats = sink.stats()
    sink.close()
    engine.close()
    if translator is not None:
        translator.close()
    if stats is not None:
        stats.write_summary(sink_stats)
        if stats_file is not None:
            stats_file.close()
    _report_input_problems(outcome, con)
    if sink_stats.get("device_errors", 0) > 0:
        # Played to the end regardless: xruns and the like, worth a note, not a failure.
        con.info(f"the audio device reported {int(sink_stats['device_errors'])} error(s)")
    if settings.output:
        con.info(f"wrote {settings.output}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
