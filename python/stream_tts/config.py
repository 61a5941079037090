"""Settings: built-in defaults, then ~/.config/stream-tts/config.toml, then the command line.

The config file holds the same settings as the long options, with `-` spelled `_`:

    voice = "en_US-lessac-medium"
    speed = 1.1
    early_fragment = true
    interrupt = true
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

InputFormat = Literal["auto", "stream-json", "text"]
INPUT_FORMATS: tuple[InputFormat, ...] = ("auto", "stream-json", "text")


# `--stats` with no FILE: a table on stderr at exit (a FILE, or "-", gets JSON lines).
STATS_TABLE = ""


class ConfigError(Exception):
    """The config file or an option is wrong; the message names the key and the file."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key  # the setting at fault, when one is


@dataclass
class Settings:
    tts: str = "piper"
    voice: str | None = None
    device: str | None = None
    speed: float = 1.0
    rate: float = 1.0  # playback speed after synthesis, pitch kept (rate.py)
    volume: float = 1.0
    input: InputFormat = "auto"
    speak_tools: bool = False
    speak_subagents: bool = False
    early_fragment: bool = True
    min_fragment_words: int = 6
    interrupt: bool = False
    speculate: bool = True
    # 7 ms asked gives PulseAudio's ALSA plugin a 4.6 ms period (9.3 ms queued), ~7 ms sooner
    # at the monitor than 10 ms (benches/latency.py); 1 xrun in a 10 min benches/soak.py run.
    # 5 ms saved 2 ms more but had 2 xruns in 2 minutes of speech.
    buffer_ms: float = 7.0
    threads: int | None = None
    translate_to: str | None = None
    translate_from: str = "en"
    compute_device: str | None = None  # torch device for GPU engines
    output: str | None = None
    stats: str | None = None  # a file for JSON lines, "-" JSON on stderr, STATS_TABLE a table
    text_only: bool = False
    verbosity: int = 0  # -1 quiet, 0 normal, 1+ verbose
    # Options of one engine, from a [<engine>] table or its own flags (e.g. [xtts] language;
    # [translate] model, quality, backend, beams, static_cache).
    engine_options: dict[str, dict[str, Any]] = field(default_factory=dict)

    def check(self) -> None:
        def bad(key: str, rule: str) -> ConfigError:
            return ConfigError(f"{key} must be {rule}, got {getattr(self, key)!r}", key)

        if self.speed <= 0 or self.speed > 5:
            raise bad("speed", "in (0, 5]")
        if not 0.5 <= self.rate <= 3:
            raise bad("rate", "in [0.5, 3]")
        if self.volume < 0 or self.volume > 4:
            raise bad("volume", "in [0, 4]")
        if self.buffer_ms <= 0 or self.buffer_ms > 1000:
            raise bad("buffer_ms", "in (0, 1000]")
        if self.input not in INPUT_FORMATS:
            raise bad("input", f"one of {', '.join(INPUT_FORMATS)}")
        if self.threads is not None and self.threads < 1:
            raise bad("threads", "at least 1")
        if self.min_fragment_words < 1:
            raise bad("min_fragment_words", "at least 1")


# Keys a config file may not set: they name one run's input/output, not a preference.
_RUN_ONLY = {"output", "text_only", "engine_options"}
_TYPES: dict[str, tuple[type, ...]] = {
    "tts": (str,),
    "voice": (str,),
    "device": (str,),
    "speed": (int, float),
    "rate": (int, float),
    "volume": (int, float),
    "input": (str,),
    "speak_tools": (bool,),
    "speak_subagents": (bool,),
    "early_fragment": (bool,),
    "min_fragment_words": (int,),
    "interrupt": (bool,),
    "speculate": (bool,),
    "buffer_ms": (int, float),
    "threads": (int,),
    "translate_to": (str,),
    "translate_from": (str,),
    "compute_device": (str,),
    "stats": (str,),
    "verbosity": (int,),
}


def default_config_path() -> Path:
    if env := os.environ.get("STREAM_TTS_CONFIG"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "stream-tts" / "config.toml"


def load_file(path: Path, *, required: bool = False) -> dict[str, Any]:
    """Read and type-check one config file; a missing file is empty unless `required`."""
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        if required:
            raise ConfigError(f"config file not found: {path}") from None
        return {}
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"invalid TOML in config file {path}: {e}") from None
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e}") from None
    out: dict[str, Any] = {}
    engines: dict[str, dict[str, Any]] = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if isinstance(value, dict):
            engines[name] = dict(value)  # an engine's own table, checked by that engine
            continue
        if name in _RUN_ONLY or name not in _TYPES:
            raise ConfigError(f"{path}: unknown setting {key!r}")
        types = _TYPES[name]
        # bool is an int in Python: keep `speed = true` out.
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            want = " or ".join(t.__name__ for t in types)
            raise ConfigError(f"{path}: {key} must be {want}, got {value!r}")
        out[name] = value
        if float in types:
            out[name] = float(out[name])
    if engines:
        out["engine_options"] = engines
    return out


def check_engine_tables(
    tables: dict[str, dict[str, Any]], allowed: dict[str, dict[str, type]], path: Path
) -> None:
    """Each [<engine>] table of the config file names an engine and only keys it knows, with
    values of the type its flag takes (`allowed`: engine -> key -> type, from the flags)."""
    for engine, table in tables.items():
        keys = allowed.get(engine)
        if keys is None:
            known = ", ".join(f"[{e}]" for e in sorted(allowed))
            raise ConfigError(f"{path}: unknown table [{engine}] (known: {known})")
        for key, value in table.items():
            name = key.replace("-", "_")
            if name not in keys:
                known = ", ".join(sorted(keys))
                raise ConfigError(f"{path}: [{engine}] unknown setting {key!r} (known: {known})")
            want = keys[name]
            ok = isinstance(value, want) and (want is bool or not isinstance(value, bool))
            if want is float and isinstance(value, int) and not isinstance(value, bool):
                ok = True
            if not ok:
                raise ConfigError(
                    f"{path}: [{engine}] {key} must be {want.__name__}, got {value!r}"
                )
        if any("-" in k for k in table):
            tables[engine] = {k.replace("-", "_"): v for k, v in table.items()}


def merge(
    file_values: dict[str, Any], cli_values: dict[str, Any], *, source: Path | None = None
) -> Settings:
    """Defaults, overridden by the file, overridden by what was given on the command line.

    `cli_values` holds only options the user actually gave (argparse defaults of None). A bad
    value's message names where it came from: the option, or the file `source`.
    """
    known = {f.name for f in fields(Settings)}
    s = replace(Settings(), **{k: v for k, v in file_values.items() if k in known})
    engine_opts = {k: dict(v) for k, v in s.engine_options.items()}
    for k, v in cli_values.items():
        if v is None:
            continue
        if k == "engine_options":
            for engine, opts in v.items():
                engine_opts.setdefault(engine, {}).update(opts)
            continue
        if k not in known:
            raise ConfigError(f"unknown setting {k!r}")
        setattr(s, k, v)
    s.engine_options = engine_opts
    try:
        s.check()
    except ConfigError as e:
        if e.key is not None and e.key in cli_values:
            raise ConfigError(f"--{e.key.replace('_', '-')}: {e}", e.key) from None
        if e.key is not None and source is not None:
            raise ConfigError(f"{source}: {e}", e.key) from None
        raise
    return s
