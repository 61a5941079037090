"""`stream-tts` and `python -m stream_tts`: signal handling first, then the CLI."""

from __future__ import annotations

import sys

from stream_tts import signals


def main() -> int:
    signals.install()
    try:
        from stream_tts.cli import main as cli_main

        return cli_main()
    except KeyboardInterrupt:  # while the program itself was still loading
        return signals.exit_status()


if __name__ == "__main__":
    sys.exit(main())
