"""`stream-tts install-hooks`: add (or with --uninstall remove) stream-tts's hook entries in
Claude Code's settings.json (or Gemini CLI's, `--agent gemini`), keeping everything else in
it, with a backup of the old file; `--agent codex` sets Codex CLI's `notify` program
(codex_config.py).

Ours are the command hooks whose program is named `stream-tts` and which pass `--hook`; the
install replaces those (an older path, say) and adds one per event, so running it twice
changes nothing the second time.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Any

# SessionStart/UserPromptSubmit: follow the transcript (the latter also barges in);
# PostToolUse/Notification/Stop: catch up with what it gained.
EVENTS = ("SessionStart", "UserPromptSubmit", "PostToolUse", "Notification", "Stop")
_MATCHERS = {"PostToolUse": "*"}  # tool events need one; "*" is every tool
# Gemini CLI: BeforeAgent (a prompt was sent) barges in, AfterAgent carries the answer. Its
# transcript is one JSON document, not lines to follow, so no other event is needed.
GEMINI_EVENTS = ("BeforeAgent", "AfterAgent")
AGENTS = ("claude", "gemini", "codex")


def default_settings(agent: str = "claude") -> Path:
    if agent == "codex":
        from stream_tts.codex_config import default_config

        return default_config()
    return Path(os.path.expanduser("~")) / f".{agent}" / "settings.json"


def hook_program() -> str:
    """The absolute stream-tts beside this interpreter (a venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / "stream-tts"
    return str(beside) if beside.is_file() else shutil.which("stream-tts") or "stream-tts"


def hook_command() -> str:
    return f"{shlex.quote(hook_program())} --hook"


def is_ours(hook: Any) -> bool:
    if not isinstance(hook, dict) or not isinstance(hook.get("command"), str):
        return False
    try:
        words = shlex.split(hook["command"])
    except ValueError:
        return False
    return bool(words) and os.path.basename(words[0]) == "stream-tts" and "--hook" in words


def without_ours(settings: dict[str, Any]) -> dict[str, Any]:
    """`settings` with our hook entries removed (groups and events left empty go too)."""
    out = dict(settings)
    hooks = settings.get("hooks")
    if not isinstance(hooks, dict):
        return out
    kept: dict[str, Any] = {}
    for event, groups in hooks.items():
        if not isinstance(groups, list):
            kept[event] = groups
            continue
        new_groups = []
        for g in groups:
            if isinstance(g, dict) and isinstance(g.get("hooks"), list):
                rest = [h for h in g["hooks"] if not is_ours(h)]
                if not rest:
                    continue
                g = {**g, "hooks": rest}
            new_groups.append(g)
        if new_groups:
            kept[event] = new_groups
    if kept:
        out["hooks"] = kept
    else:
        out.pop("hooks", None)
    return out


def with_ours(
    settings: dict[str, Any], command: str, events: tuple[str, ...] = EVENTS, *, named: bool = False
) -> dict[str, Any]:
    out = without_ours(settings)
    hooks = dict(out.get("hooks") or {})
    entry = {"type": "command", "command": command}
    if named:  # Gemini CLI shows a hook's name in its logs and /hooks
        entry = {"name": "stream-tts", **entry}
    for event in events:
        group: dict[str, Any] = {"hooks": [entry]}
        if event in _MATCHERS:
            group = {"matcher": _MATCHERS[event], **group}
        groups = hooks.get(event)
        hooks[event] = [*(groups if isinstance(groups, list) else []), group]
    out["hooks"] = hooks
    return out


def _events_with_ours(settings: dict[str, Any]) -> set[str]:
    hooks = settings.get("hooks")
    if not isinstance(hooks, dict):
        return set()
    return {
        e
        for e, groups in hooks.items()
        if isinstance(groups, list)
        and any(
            isinstance(g, dict) and any(is_ours(h) for h in g.get("hooks") or []) for g in groups
        )
    }


def _write(path: Path, old: bytes, new: str) -> None:
    """`new` in place of `path` (atomically), the old contents kept beside it if any."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if old:
        backup = path.with_name(f"{path.name}.bak-{time.strftime('%Y%m%d-%H%M%S')}")
        backup.write_bytes(old)
        print(f"{path}: old version kept as {backup.name}")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(new, encoding="utf-8")
    os.replace(tmp, path)


def _codex(path: Path, raw: bytes, uninstall: bool) -> int:
    from stream_tts.codex_config import CodexConfigError, edited
    from stream_tts.paths import shorten

    argv = None if uninstall else [hook_program(), "--hook"]
    try:
        text = raw.decode("utf-8")
        new = edited(text, argv, shorten(path))
    except UnicodeDecodeError:
        print(f"stream-tts: {shorten(path)} is not UTF-8 text", file=sys.stderr)
        return 1
    except CodexConfigError as e:
        print(f"stream-tts: {e}", file=sys.stderr)
        return 1
    if new == text:
        print(f"{path}: nothing to change")
        return 0
    try:
        _write(path, raw, new)
    except OSError as e:
        print(f"stream-tts: cannot write {shorten(path)}: {e.strerror}", file=sys.stderr)
        return 1
    if uninstall:
        print(f"{path}: removed the stream-tts notify program")
    else:
        print(f"{path}: notify = {json.dumps(argv)} (Codex says each finished turn's answer)")
    return 0


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="stream-tts install-hooks",
        description="Add stream-tts's hooks to Claude Code's settings (or Gemini CLI's, or "
        "Codex CLI's notify program); idempotent, the old file is kept as a .bak copy. "
        "--uninstall removes them again.",
    )
    p.add_argument(
        "--agent",
        choices=AGENTS,
        default="claude",
        help="claude: ~/.claude/settings.json (default); gemini: ~/.gemini/settings.json; "
        "codex: notify in ~/.codex/config.toml",
    )
    p.add_argument("--settings", metavar="FILE", help="another file than the agent's own")
    p.add_argument("--uninstall", action="store_true", help="remove stream-tts's hooks")
    ns = p.parse_args(argv)
    path = Path(os.path.expanduser(ns.settings)) if ns.settings else default_settings(ns.agent)
    from stream_tts.paths import shorten

    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raw = b""
    except OSError as e:
        print(f"stream-tts: cannot read {shorten(path)}: {e.strerror}", file=sys.stderr)
        return 1
    if ns.agent == "codex":
        return _codex(path, raw, ns.uninstall)
    try:
        settings = json.loads(raw) if raw.strip() else {}
    except (ValueError, RecursionError) as e:
        print(f"stream-tts: {shorten(path)} is not valid JSON: {e}", file=sys.stderr)
        return 1
    if not isinstance(settings, dict):
        print(f"stream-tts: {shorten(path)} does not hold a JSON object", file=sys.stderr)
        return 1
    before = _events_with_ours(settings)
    command = hook_command()
    events = GEMINI_EVENTS if ns.agent == "gemini" else EVENTS
    if ns.uninstall:
        new = without_ours(settings)
    else:
        new = with_ours(settings, command, events, named=ns.agent == "gemini")
    if new == settings:
        print(f"{path}: nothing to change")
        return 0
    try:
        _write(path, raw, json.dumps(new, indent=2) + "\n")
    except OSError as e:
        print(f"stream-tts: cannot write {shorten(path)}: {e.strerror}", file=sys.stderr)
        return 1
    if ns.uninstall:
        print(f"{path}: removed the stream-tts hook from {', '.join(sorted(before))}")
    else:
        verb = "updated" if before else "added"
        print(f"{path}: {verb} `{command}` for {', '.join(events)}")
    return 0
