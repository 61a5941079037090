"""`stream-tts install-hooks`: merged into a real settings file, kept idempotent, undone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from stream_tts.install_hooks import EVENTS, is_ours

THEIRS = {
    "model": "opus",
    "permissions": {"allow": ["Bash(ls:*)"]},
    "hooks": {
        "PostToolUse": [
            {"matcher": "Write", "hooks": [{"type": "command", "command": "prettier --write"}]}
        ],
        "Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}],
    },
}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stream_tts.cli", "install-hooks", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _ours(settings: dict) -> dict[str, int]:
    return {
        e: sum(is_ours(h) for g in groups for h in g.get("hooks", []))
        for e, groups in settings.get("hooks", {}).items()
    }


def test_install_keeps_other_settings_twice_is_a_no_op_and_uninstall_restores(
    tmp_path: Path,
) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(THEIRS, indent=2))
    r = _run("--settings", str(path))
    assert r.returncode == 0, r.stderr
    assert "added" in r.stdout and "kept as" in r.stdout
    installed = json.loads(path.read_text())
    assert {e: n for e, n in _ours(installed).items() if n} == dict.fromkeys(EVENTS, 1)
    assert installed["model"] == "opus" and installed["permissions"] == THEIRS["permissions"]
    assert installed["hooks"]["PostToolUse"][0] == THEIRS["hooks"]["PostToolUse"][0]
    assert installed["hooks"]["Stop"][0] == THEIRS["hooks"]["Stop"][0]
    command = installed["hooks"]["Stop"][1]["hooks"][0]["command"]
    assert command.endswith(" --hook") and Path(command.split()[0]).is_absolute()
    backups = list(tmp_path.glob("settings.json.bak-*"))
    assert len(backups) == 1 and json.loads(backups[0].read_text()) == THEIRS

    again = _run("--settings", str(path))
    assert again.returncode == 0 and "nothing to change" in again.stdout
    assert json.loads(path.read_text()) == installed

    gone = _run("--settings", str(path), "--uninstall")
    assert gone.returncode == 0 and "removed" in gone.stdout
    assert json.loads(path.read_text()) == THEIRS


def test_an_old_path_is_replaced_not_doubled(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    old = {"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "stream-tts --hook"}]}]}}
    path.write_text(json.dumps(old))
    r = _run("--settings", str(path))
    assert r.returncode == 0 and "updated" in r.stdout
    assert _ours(json.loads(path.read_text()))["Stop"] == 1


def test_a_missing_file_is_created(tmp_path: Path) -> None:
    path = tmp_path / "new" / "settings.json"
    assert _run("--settings", str(path)).returncode == 0
    assert set(json.loads(path.read_text())["hooks"]) == set(EVENTS)


def test_broken_json_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{"hooks": ')
    r = _run("--settings", str(path))
    assert r.returncode == 1 and "not valid JSON" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert path.read_text() == '{"hooks": '
