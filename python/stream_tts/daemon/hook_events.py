"""What the daemon does with each hook event: follow a transcript, catch up with it, stop a
session's speech (barge-in), or say the answer a payload carries."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stream_tts.daemon.server import Daemon

# Claude Code: these start following a transcript from its end (nothing old is said); every
# other event catches up with it.
FOLLOW_FROM_END = {"SessionStart", "UserPromptSubmit"}
# The user sent a new prompt: what is being said is stale (Gemini CLI: BeforeAgent).
BARGE_IN = {"UserPromptSubmit", "BeforeAgent"}
# Hooks that carry the answer itself (Gemini CLI AfterAgent, Codex CLI notify): said whole.
SAYS_TEXT = {"AfterAgent", "agent-turn-complete"}
READY_WAIT_S = 60.0  # a hook waits this long at most for a starting daemon's voice


def hook_event(d: Daemon, req: dict[str, Any]) -> dict[str, Any]:
    """One hook's fields (client.hook_request) from any agent."""
    received = time.monotonic()
    event = str(req.get("hook_event_name") or "Stop")
    session = str(req.get("session_id") or "")
    raw = req.get("transcript_path")
    path = None
    if isinstance(raw, str) and raw and "\0" not in raw:
        path = os.path.abspath(os.path.expanduser(raw))
    cwd = req.get("cwd")
    name = os.path.basename(cwd.rstrip("/")) if isinstance(cwd, str) and cwd.strip("/") else ""
    if event in SAYS_TEXT:
        d.ready.wait(READY_WAIT_S)  # the hook that started the daemon: say it once ready
    with d.lock:
        if name:
            d.names[session or path or ""] = name
        if event in SAYS_TEXT or (event == "Notification" and d.speak_notifications):
            _say(d, session or path or event, req.get("text"))
        known = path is not None and path in d.transcripts.followed
        if path is not None and event not in SAYS_TEXT and event != "BeforeAgent":
            f = d.transcripts.follow(path, session, from_end=event in FOLLOW_FROM_END)
            session = session or f.session
        if event in BARGE_IN:
            if known and path is not None:
                d.transcripts.skip_to_end(path)
            if d.queue is not None:
                d.queue.barge_in(session or path or "", d.pipeline)
                d.barge_in_ms = round((time.monotonic() - received) * 1000, 2)
    if path is None or event in SAYS_TEXT or event == "BeforeAgent":
        return {"ok": True, "followed": False}  # e.g. a Notification without one
    d.poll_now.set()
    return {"ok": True, "followed": True}


def _say(d: Daemon, owner: str, text: object) -> None:
    """Speak a whole answer given in the hook's payload (a short-form line)."""
    if isinstance(text, str) and text.strip() and not d.muted and d.queue is not None:
        d.queue.say(owner, text)
