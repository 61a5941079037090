"""The `stream-tts` console script. `stream-tts --hook` alone takes a fast path that imports
no engine and no numpy: Claude Code waits for it on every tool call."""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] == ["--hook"]:
        from stream_tts.daemon.client import hook_main

        sys.exit(hook_main())
    from stream_tts.cli import main as cli_main

    sys.exit(cli_main())
