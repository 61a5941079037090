"""What a hook reads: its JSON payload on stdin and the last answer of the transcript it names.

Whatever the payload names is read with care: only a regular file, opened without blocking,
its last TAIL_BYTES only, every line's parse failure caught. Shared by the one-shot speaker
(hook.py) and the daemon (daemon/), which both start from here.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

from stream_tts.paths import log, shorten

# Not `import typing`: the hook's fast path has no time for it (annotations are strings).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Claude Code reads exit 2 from a hook as "blocking": a Stop hook's stderr would go to the
# model as a reason to keep working. Failures of ours are exit 1, shown to the user only.
EXIT_HOOK_FAILED = 1

TAIL_BYTES = 8 << 20  # the last answer; a transcript's older turns are never read
PAYLOAD_BYTES = 16 << 20  # hook JSON carries tool input and output: roomy, but bounded


class HookError(Exception):
    pass


def _is_prompt(entry: dict[str, Any]) -> bool:
    if entry.get("type") != "user" or entry.get("isSidechain") or entry.get("isMeta"):
        return False
    content = (entry.get("message") or {}).get("content")
    if isinstance(content, str):
        return True
    if isinstance(content, list):
        return not any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content)
    return False


def parse_line(line: bytes) -> dict[str, Any] | None:
    """One transcript line as a dict, or None for junk (bad JSON, too deep, not an object)."""
    try:
        entry = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return entry if isinstance(entry, dict) else None


def read_tail(path: Path, limit: int = TAIL_BYTES) -> bytes:
    """The last `limit` bytes of a regular file, from a line start; never blocks.

    A FIFO, a device or a socket is refused before it is opened (opening some devices does
    something), and again after (the path may have been swapped in between)."""
    where = shorten(path)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise HookError(f"the transcript {where} is not a regular file")
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as e:
        raise HookError(f"cannot read the transcript {where}: {e.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise HookError(f"the transcript {where} is not a regular file")
        start = max(0, st.st_size - limit)
        data = os.pread(fd, st.st_size - start, start)
    except OSError as e:
        raise HookError(f"cannot read the transcript {where}: {e.strerror}") from None
    finally:
        os.close(fd)
    if start > 0:
        cut = data.find(b"\n")
        data = b"" if cut < 0 else data[cut + 1 :]  # the first line is only a part
    return data


def answer_lines(data: bytes) -> tuple[list[bytes], int]:
    """The assistant lines after the last prompt in `data`, and how many lines were junk."""
    answer: list[bytes] = []
    junk = 0
    for line in data.splitlines():
        if not line.strip():
            continue
        entry = parse_line(line)
        if entry is None:
            junk += 1
            continue
        if _is_prompt(entry):
            answer = []
        elif entry.get("type") == "assistant" and not entry.get("isSidechain"):
            answer.append(line + b"\n")
    return answer, junk


def last_answer(transcript: Path) -> bytes:
    """The assistant lines after the last user prompt, as stream-json input."""
    answer, junk = answer_lines(read_tail(transcript))
    if junk:
        # A half-written last line is normal while Claude Code writes; more is worth a note.
        log(f"{junk} unreadable line(s) in the transcript {shorten(transcript)} skipped")
    return b"".join(answer)


def read_payload(data: bytes) -> dict[str, Any]:
    """The hook JSON; it must name a transcript."""
    payload = parse_line(data)
    if payload is not None and payload.get("type") == "agent-turn-complete":
        return payload  # Codex CLI's notify: the answer itself, no transcript
    if payload is None or not isinstance(payload.get("transcript_path"), str):
        raise HookError("--hook expects Claude Code's hook JSON on stdin (with transcript_path)")
    if "\0" in payload["transcript_path"]:
        raise HookError(f"transcript_path {shorten(payload['transcript_path'])} holds a NUL byte")
    return payload


def transcript_of(payload: dict[str, Any]) -> Path:
    path = payload.get("transcript_path")
    if not isinstance(path, str):
        raise HookError("this hook payload names no transcript to read the answer from")
    return Path(path).expanduser()


def prepare(stdin: bytes) -> bytes:
    """From the hook payload to the stream-json lines to speak (may be empty)."""
    return last_answer(transcript_of(read_payload(stdin)))


def payload_from_stdin(limit: int = PAYLOAD_BYTES) -> bytes:
    """stdin up to `limit` bytes; more is an error, not a reason to eat memory."""
    chunks: list[bytes] = []
    size = 0
    fd = sys.stdin.fileno()
    while size <= limit:
        chunk = os.read(fd, min(1 << 20, limit + 1 - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
    raise HookError(f"the hook JSON on stdin is larger than {limit >> 20} MiB")
