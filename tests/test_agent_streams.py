"""Codex CLI and Gemini CLI streams on stdin, recognised in auto mode: what must and must
not be heard (samples written from their documented formats, tests/agent_samples/)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cli_support import stream_tts

SAMPLES = Path(__file__).parent / "agent_samples"


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9. ]", " ", text.lower())).strip()


@pytest.mark.parametrize("name", ["codex_exec.jsonl", "gemini_stream.jsonl"])
def test_agent_stream_says_the_answer_only(name: str) -> None:
    expected = json.loads((SAMPLES / "expected.json").read_text())[name]
    r = stream_tts("--text-only", stdin=(SAMPLES / name).read_bytes())
    assert r.returncode == 0, r.stderr.decode()
    assert "unknown" not in r.stderr.decode(), r.stderr.decode()
    said = _norm(r.stdout.decode())
    for phrase in expected["must_say"]:
        assert _norm(phrase) in said, (phrase, said)
    for phrase in expected["must_not_say"]:
        assert _norm(phrase) not in said, (phrase, said)
