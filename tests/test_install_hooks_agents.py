"""`stream-tts install-hooks --agent gemini|codex`: Gemini CLI's settings.json hooks and Codex
CLI's `notify` program, in real files, idempotent, undone by --uninstall."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

from stream_tts.install_hooks import GEMINI_EVENTS, is_ours


def _run(*args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if home is not None:
        env |= {"HOME": str(home), "CODEX_HOME": str(home / ".codex")}
    return subprocess.run(
        [sys.executable, "-m", "stream_tts.cli", "install-hooks", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


GEMINI_THEIRS = {
    "theme": "Default",
    "hooks": {
        "AfterAgent": [{"hooks": [{"type": "command", "command": "./log-turn.sh"}]}],
        "BeforeTool": [
            {"matcher": "run_shell_command", "hooks": [{"type": "command", "command": "x"}]}
        ],
    },
}


def test_gemini_hooks_go_into_its_settings_and_come_out_again(tmp_path: Path) -> None:
    path = tmp_path / ".gemini" / "settings.json"
    path.parent.mkdir()
    path.write_text(json.dumps(GEMINI_THEIRS))
    r = _run("--agent", "gemini", home=tmp_path)  # ~/.gemini/settings.json by default
    assert r.returncode == 0, r.stderr
    s = json.loads(path.read_text())
    assert (
        s["theme"] == "Default" and s["hooks"]["BeforeTool"] == GEMINI_THEIRS["hooks"]["BeforeTool"]
    )
    assert s["hooks"]["AfterAgent"][0] == GEMINI_THEIRS["hooks"]["AfterAgent"][0]
    for event in GEMINI_EVENTS:
        ours = [h for g in s["hooks"][event] for h in g["hooks"] if is_ours(h)]
        assert len(ours) == 1 and ours[0]["name"] == "stream-tts", (event, s["hooks"][event])
        assert ours[0]["command"].endswith(" --hook")
    assert not any(is_ours(h) for g in s["hooks"]["BeforeTool"] for h in g["hooks"])
    assert "nothing to change" in _run("--agent", "gemini", home=tmp_path).stdout
    assert _run("--agent", "gemini", "--uninstall", home=tmp_path).returncode == 0
    assert json.loads(path.read_text()) == GEMINI_THEIRS


CODEX_THEIRS = """# my Codex settings
model = "gpt-5-codex"  # the default model
approval_policy = "on-request"

[history]
persistence = "save-all"

[mcp_servers.docs]
command = "docs-mcp"
"""


def test_codex_notify_is_set_keeping_the_rest_and_removed_again(tmp_path: Path) -> None:
    path = tmp_path / ".codex" / "config.toml"
    path.parent.mkdir()
    path.write_text(CODEX_THEIRS)
    r = _run("--agent", "codex", home=tmp_path)  # $CODEX_HOME/config.toml by default
    assert r.returncode == 0, r.stderr
    assert "kept as" in r.stdout
    text = path.read_text()
    parsed = tomllib.loads(text)
    notify = parsed.pop("notify")
    assert Path(notify[0]).name == "stream-tts" and Path(notify[0]).is_absolute()
    assert notify[1:] == ["--hook"]  # Codex adds the event's JSON as the last argument
    assert parsed == tomllib.loads(CODEX_THEIRS)
    assert "# the default model" in text and "# my Codex settings" in text
    assert "nothing to change" in _run("--agent", "codex", home=tmp_path).stdout
    gone = _run("--agent", "codex", "--uninstall", home=tmp_path)
    assert gone.returncode == 0 and "removed" in gone.stdout
    assert path.read_text() == CODEX_THEIRS


def test_codex_notify_of_another_program_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    theirs = 'notify = ["python3", "/home/me/notify.py"]\nmodel = "o3"\n'
    path.write_text(theirs)
    r = _run("--agent", "codex", "--settings", str(path))
    assert r.returncode == 1 and "one notify program" in r.stderr
    assert path.read_text() == theirs
    r = _run("--agent", "codex", "--settings", str(path), "--uninstall")
    assert r.returncode == 0 and path.read_text() == theirs


def test_codex_config_that_does_not_exist_yet_is_created(tmp_path: Path) -> None:
    path = tmp_path / "new" / "config.toml"
    assert _run("--agent", "codex", "--settings", str(path)).returncode == 0
    assert tomllib.loads(path.read_text())["notify"][1:] == ["--hook"]


def test_codex_config_that_is_not_toml_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("model = \n")
    r = _run("--agent", "codex", "--settings", str(path))
    assert r.returncode == 1 and "not valid TOML" in r.stderr
    assert path.read_text() == "model = \n"
