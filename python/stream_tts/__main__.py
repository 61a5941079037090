"""`stream-tts` and `python -m stream_tts`: signal handling first, then the CLI."""

from __future__ import annotations

import sys

from stream_tts import signals


def main() -> int:
    signals.install()
    try:
        try:
            import stream_tts._core  # noqa: F401
        except ImportError as e:
            # The Rust core links the system's ALSA library (docs/install.md).
            lib = "libasound.so.2" in str(e)
            print(
                f"stream-tts: the native core does not load: {e}"
                + (
                    "; install ALSA: apt install libasound2, or dnf install alsa-lib" if lib else ""
                ),
                file=sys.stderr,
            )
            return 1
        from stream_tts.cli import main as cli_main

        return cli_main()
    except KeyboardInterrupt:  # while the program itself was still loading
        return signals.exit_status()


if __name__ == "__main__":
    sys.exit(main())
