"""`stream-tts`: speak what a coding agent writes, as it writes it."""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from stream_tts import signals
from stream_tts.config import (
    INPUT_FORMATS,
    STATS_TABLE,
    ConfigError,
    Settings,
    check_engine_tables,
    default_config_path,
    load_file,
    merge,
)
from stream_tts.registry import (
    SPEECH_ENGINES,
    PendingTranslator,
    add_translation_arguments,
    create_speech_engine,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2  # bad option or config, no audio device, unknown voice

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
interrupt = true; an engine's own options go in its table, e.g. [piper] seed = 1. The command
line wins. Exit status: 0 done, 1 failed (a write error, an engine error), 2 bad usage or no
audio device, 130 interrupted by Ctrl-C (143 SIGTERM, 129 SIGHUP); a WAV written with --output
is valid however the run ends.
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
        help="start speaking a long first sentence at its first , ; or : after six words "
        "(default: on)",
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
    voice.add_argument(
        "--rate",
        type=float,
        help="playback speed 0.5-3, applied after synthesis with the pitch kept (default: 1)",
    )
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
        const=STATS_TABLE,
        metavar="FILE",
        help="timings of each spoken sentence (time to first audio, synthesis, real-time "
        "factor): a table on stderr at exit; with FILE (or - for stderr) one JSON line per "
        "sentence as it plays and a summary line at exit, for tools",
    )
    info.add_argument(
        "--hook",
        action="store_true",
        help="run as a Claude Code hook (any event): hand the hook JSON on stdin to the "
        "daemon, starting it if needed, which follows the session's transcript and speaks "
        "its answers as they are written (with --text-only or --output: the last answer, "
        "in the foreground)",
    )
    info.add_argument(
        "--no-daemon",
        action="store_true",
        help="with --hook: speak the last answer in a detached process of its own instead",
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
    skip = {"list_voices", "list_devices", "config", "quiet", "verbose", "hook", "no_daemon"}
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

    with _native_output(con):
        devices = list_devices()
    usable = [d for d in devices if d.get("usable")]
    for d in devices:
        if not d.get("usable"):
            con.info(f"not usable: {d.get('name')} (discards audio, or no stream opens on it)")
    if not usable:
        con.error("no usable audio output device (use --output FILE.wav to write a file)")
        return EXIT_USAGE
    for d in usable:
        channels = d.get("channels") or []
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
    """The core's message (facts), and what to do about it."""
    return f"{message}; {verb} {option}"


@contextlib.contextmanager
def _native_output(con: _Console) -> Iterator[None]:
    """Hold what native libraries print on stderr while a device is probed or opened.

    With no card or sound server, libasound and the JACK client print a dozen lines of their
    own; what matters reaches the user as our one-line error. `-v -v` shows them."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            if con.verbosity >= 2:
                held.seek(0)
                text = held.read().decode(errors="replace").strip()
                if text:
                    con.info(f"the audio libraries said:\n{text}")


def _silence_stdout() -> None:
    # The reader of stdout left: point fd 1 at /dev/null so the exit flush cannot fail again.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _engine_option_types(parser: argparse.ArgumentParser) -> dict[str, dict[str, type]]:
    """The keys each [<engine>] config table may hold, from the engines' own flags."""
    out: dict[str, dict[str, type]] = {}
    for action in parser._actions:
        if "." not in action.dest:
            continue
        engine, key = action.dest.split(".", 1)
        if isinstance(action, argparse._StoreTrueAction | argparse.BooleanOptionalAction):
            kind: type = bool
        else:
            kind = action.type if isinstance(action.type, type) else str
        out.setdefault(engine, {})[key] = kind
    for engine, keys in _CONFIG_ONLY_KEYS.items():
        out.setdefault(engine, {}).update(keys)
    return out


# Engine settings with no flag of their own (registry.py reads them).
_CONFIG_ONLY_KEYS: dict[str, dict[str, type]] = {
    "xtts": {"device": str},
    "translate": {"device": str},
}


def main(argv: Sequence[str] | None = None) -> int:
    signals.install()
    try:
        return _main(argv)
    except KeyboardInterrupt:  # anywhere outside the run's own handling (imports, parsing)
        return signals.exit_status()


def _main(argv: Sequence[str] | None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["ctl"], ["install-hooks"]):
        from stream_tts.commands import run_command

        return run_command(args)
    parser = build_parser()
    serving = args[:1] == ["serve"]
    if serving:  # the daemon takes every voice option, and one of its own
        from stream_tts.commands import add_serve_arguments

        add_serve_arguments(parser)
        args = args[1:]
    ns = parser.parse_args(args)
    serve_options = {}
    if serving:
        from stream_tts.commands import SERVE_OPTIONS

        serve_options = {k: ns.__dict__.pop(k) for k in SERVE_OPTIONS}
    try:
        path = Path(default_config_path() if ns.config is None else os.path.expanduser(ns.config))
        file_values = load_file(path, required=ns.config is not None)
        check_engine_tables(
            file_values.get("engine_options", {}), _engine_option_types(parser), path
        )
        settings = merge(file_values, _cli_values(ns), source=path)
    except ConfigError as e:
        parser.exit(EXIT_USAGE, f"stream-tts: error: {e}\n")
    con = _Console(settings.verbosity)

    if ns.list_voices:
        return _list_voices()
    if ns.list_devices:
        return _list_devices(con)
    if serving:
        from stream_tts.daemon.server import serve

        return serve(settings, con, serve_options)
    fd = sys.stdin.fileno()
    if ns.hook:
        from stream_tts import hook

        try:
            serve_args = [a for a in args if a not in ("--hook", "--no-daemon")]
            runners = (_run_text_only, _run_speech)
            return hook.run(settings, con, *runners, serve_args, daemon=not ns.no_daemon)
        except KeyboardInterrupt:
            return signals.exit_status()
    if settings.text_only:
        return _run_text_only(settings, con, fd)
    return _run_speech(settings, con, fd)


def _run_text_only(settings: Settings, con: _Console, fd: int) -> int:
    from stream_tts.pipeline import OutputClosed, Pipeline

    if sys.stdout is None:  # started with fd 1 closed (`>&-`)
        con.error("stdout is closed: --text-only has nowhere to print")
        return EXIT_FAILED
    pipeline = Pipeline(settings, text_out=sys.stdout)
    try:
        outcome = pipeline.run(fd)
    except KeyboardInterrupt:
        return signals.exit_status()
    except OutputClosed:
        _silence_stdout()
        con.warn("stdout was closed; stopped reading")
        return EXIT_FAILED
    _report_input_problems(outcome, con)
    return EXIT_OK


def _open_stats(settings: Settings, stack: contextlib.ExitStack) -> Any:
    from stream_tts.stats import Stats

    if settings.stats is None:
        return None
    if settings.stats == STATS_TABLE:
        return Stats(sys.stderr, table=True)
    if settings.stats == "-":
        return Stats(sys.stderr)
    return Stats(stack.enter_context(open(settings.stats, "w", encoding="utf-8")))


def _load_error(e: BaseException, settings: Settings, stage: str) -> str:
    """The engine's message, plus the option that takes a local folder when a model is missing."""
    from stream_tts.engines.hub import ModelNotFoundError

    msg = str(e)
    if isinstance(e, ModelNotFoundError) and "hub" in msg:
        option = "--translator" if stage == "translator" else _MODEL_OPTIONS.get(settings.tts)
        if option is not None:
            msg += (
                "; download it where there is network (`hf download NAME --local-dir DIR`) "
                f"and pass the folder with {option} DIR"
            )
    return msg


# The flag that takes a local model folder, per speech engine that loads one from the hub.
_MODEL_OPTIONS = {"xtts": "--xtts-model"}


def _close_quietly(close: Any) -> None:
    # On the way out after an error already reported: a second report would only repeat it.
    with contextlib.suppress(Exception):
        close()


def _run_speech(
    settings: Settings, con: _Console, fd: int, ready: Callable[[], None] | None = None
) -> int:
    # Every resource opened below is closed on every way out (ExitStack): the WAV's header,
    # the engines' threads and GPU memory, the stats file.
    with contextlib.ExitStack() as stack:
        return _speak(settings, con, fd, stack, ready)


def _speak(
    settings: Settings,
    con: _Console,
    fd: int,
    stack: contextlib.ExitStack,
    ready: Callable[[], None] | None,
) -> int:
    from stream_tts import _core
    from stream_tts.engines.piper import VoiceError
    from stream_tts.pipeline import RING_MS, DeviceStalled, Pipeline

    load_errors = (VoiceError, ValueError, ImportError, OSError, RuntimeError)
    t0 = time.monotonic()
    stage = "translator"
    try:
        # The translator loads on a thread of its own while the speech engine loads here.
        pending = PendingTranslator(settings)
        stack.callback(_close_quietly, pending.discard)
        stage = "engine"
        engine = create_speech_engine(settings)
        stack.callback(_close_quietly, engine.close)
        stage = "translator"
        translator = pending.result()
        if translator is not None:
            stack.callback(_close_quietly, translator.close)
    except KeyboardInterrupt:
        return signals.exit_status()
    except load_errors as e:
        if signals.received is not None:  # a signal broke the load part way: not the user's error
            return signals.exit_status()
        # Unknown voice or language, a missing extra, a model not downloadable, no GPU.
        con.error(_load_error(e, settings, stage))
        return EXIT_USAGE
    if settings.rate != 1.0:
        from stream_tts.rate import RateEngine

        engine = RateEngine(engine, settings.rate)
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
            with _native_output(con):
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
    except KeyboardInterrupt:
        return signals.exit_status()
    except _core.NoAudioDeviceError as e:
        con.error(_with_hint(str(e), "--output FILE.wav", "write the speech to a file with"))
        return EXIT_USAGE
    except _core.DeviceNotFoundError as e:
        con.error(_with_hint(str(e), "--list-devices", "see"))
        return EXIT_USAGE
    except (_core.AudioError, OSError, ValueError) as e:
        con.error(f"cannot open audio output: {e}")
        return EXIT_FAILED
    # Closed first on the way out (callbacks run last-in first-out): the WAV is complete
    # before the engines take their time to shut down.
    stack.callback(_close_quietly, sink.close)

    t1 = time.monotonic()
    try:
        if translator is not None:
            translator.warmup()
        engine.warmup()
    except KeyboardInterrupt:
        return signals.exit_status()
    except RuntimeError as e:  # e.g. a GPU engine's graph capture (torch raises RuntimeError)
        con.error(f"warm-up failed: {e}")
        return EXIT_FAILED
    # Models, modules and the warm-up's leftovers are hundreds of thousands of objects that
    # live as long as the process: out of the collector's sight, a full collection no longer
    # stalls a sentence (one took 1.1 s on a 2-core machine with XTTS and NLLB loaded). No
    # collection first: it would cost that second at start-up, for little garbage.
    gc.freeze()
    con.info(f"warmed up in {time.monotonic() - t1:.2f} s; reading stdin")
    if ready is not None:
        ready()  # --hook: voice and device are up, the hook may return

    try:
        stats = _open_stats(settings, stack)
    except OSError as e:
        con.error(f"cannot write --stats file: {e}")
        return EXIT_USAGE
    pipeline = Pipeline(settings, engine=engine, sink=sink, stats=stats, translator=translator)
    try:
        outcome = pipeline.run(fd)
    except KeyboardInterrupt:
        if settings.output:
            # A file keeps everything synthesised so far: stop, let the writer finish.
            pipeline.stop()
            with contextlib.suppress(Exception):
                sink.close()
        else:
            pipeline.interrupt_now()
        if stats is not None:
            stats.poll(sink.utterance_started, final=True)
            stats.write_summary(sink.stats())
        sys.stderr.flush()
        # Worker threads may sit in onnxruntime or os.read: leave without waiting for them.
        os._exit(signals.exit_status())
    except (_core.AudioError, DeviceStalled) as e:
        errors = int(sink.stats().get("device_errors", 0))
        con.error(
            f"the audio device failed: {e} ({errors} device errors); "
            "use --output FILE.wav to write a file instead"
        )
        return EXIT_FAILED
    except OSError as e:  # the WAV could not be written (disk full, permissions)
        con.error(f"writing the speech failed: {e}")
        return EXIT_FAILED
    except Exception as e:  # an engine failed mid-run: say what, keep the output so far
        con.error(f"speech stopped: the {settings.tts} or translation engine failed: {e}")
        if con.verbosity >= 1:
            traceback.print_exc()
        return EXIT_FAILED
    sink_stats = sink.stats()
    try:
        sink.close()
    except OSError as e:
        con.error(f"writing the speech failed: {e}")
        return EXIT_FAILED
    if stats is not None:
        stats.write_summary(sink_stats)
    _report_input_problems(outcome, con)
    if sink_stats.get("device_errors", 0) > 0:
        # Played to the end regardless: xruns and the like, worth a note, not a failure.
        con.info(f"the audio device reported {int(sink_stats['device_errors'])} error(s)")
    if settings.output:
        con.info(f"wrote {settings.output}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
