"""Codex CLI's `notify` setting in `~/.codex/config.toml`, set to stream-tts or removed.

Codex runs one `notify` program (an argv array, a top-level key) after each turn, with the
event's JSON as its last argument (`agent-turn-complete`: `last-assistant-message`). There is
room for one program only, so another one already there is left alone and reported.

The file is edited as text, one line added, replaced or removed, so the user's comments and
layout stay; the result is parsed again and must equal the old settings with only `notify`
changed, or nothing is written.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any

_NOTIFY = re.compile(r"^\s*notify\s*=")
_TABLE = re.compile(r"^\s*\[")


class CodexConfigError(Exception):
    pass


def default_config() -> Path:
    home = os.environ.get("CODEX_HOME") or os.path.join(os.path.expanduser("~"), ".codex")
    return Path(home) / "config.toml"


def notify_is_ours(notify: object) -> bool:
    return (
        isinstance(notify, list)
        and bool(notify)
        and all(isinstance(w, str) for w in notify)
        and os.path.basename(notify[0]) == "stream-tts"
        and "--hook" in notify
    )


def _parse(text: str, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise CodexConfigError(f"{where} is not valid TOML: {e}") from None


def edited(text: str, argv: list[str] | None, where: str) -> str:
    """`text` with `notify = argv` (None: without our notify). The same text when there is
    nothing to change; CodexConfigError when another program holds `notify` or the line
    cannot be edited safely."""
    old = _parse(text, where)
    current = old.get("notify")
    if current is not None and not notify_is_ours(current):
        if argv is None:
            return text  # not ours: uninstall leaves it
        raise CodexConfigError(
            f"{where} already has notify = {json.dumps(current)}; Codex runs one notify "
            "program only, so it was left as it is"
        )
    if current == argv or (current is None and argv is None):
        return text
    lines = text.splitlines(keepends=True)
    top = next((i for i, line in enumerate(lines) if _TABLE.match(line)), len(lines))
    at = [i for i in range(top) if _NOTIFY.match(lines[i])]
    new_line = [] if argv is None else [f"notify = {json.dumps(argv)}\n"]
    if at:
        # Ours, written on one line; one spread over several lines is not ours to cut up.
        if not lines[at[0]].rstrip().endswith("]"):
            raise CodexConfigError(f"the notify setting in {where} spans lines: edit it by hand")
        lines[at[0] : at[0] + 1] = new_line
    else:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines[0:0] = new_line  # top-level keys come before the first [table]
    out = "".join(lines)
    want = {k: v for k, v in old.items() if k != "notify"}
    if argv is not None:
        want["notify"] = argv
    if _parse(out, where) != want:
        raise CodexConfigError(f"cannot edit {where} safely: edit its notify setting by hand")
    return out
