"""The `stream-tts` console script. `stream-tts --hook` alone takes a fast path that imports
no engine and no numpy: Claude Code waits for it on every tool call. So does
`stream-tts --hook '<json>'`, the form Codex CLI's `notify` setting runs."""

from __future__ import annotations

import sys


def main() -> None:
    args = sys.argv[1:]
    if args == ["--hook"] or (len(args) == 2 and args[0] == "--hook" and args[1][:1] == "{"):
        from stream_tts.daemon.client import hook_main

        sys.exit(hook_main(args[1] if len(args) == 2 else None))
    from stream_tts.cli import main as cli_main

    sys.exit(cli_main())
