"""A bundled Claude Code session (stream-json with partial messages), written for stream-tts.

It has thinking, tool calls and results, a subagent message, and a final answer with a
heading, bold, inline code, a code block, a table and a link: what the demo speaks and the
end-to-end test listens to.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def session_path() -> Path:
    """Path of `session.jsonl` as `claude -p --output-format stream-json --verbose
    --include-partial-messages` would print it."""
    return Path(str(files(__name__).joinpath("session.jsonl")))
