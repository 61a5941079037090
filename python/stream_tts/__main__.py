"""The `stream-tts` console script and `python -m stream_tts`: signal handling first, then the
CLI. `stream-tts --hook` alone takes a fast path that imports no engine and no numpy: Claude
Code waits for it on every tool call. So does `stream-tts --hook '<json>'`, the form Codex
CLI's `notify` setting runs."""

from __future__ import annotations

import sys


def _hook(argument: str | None) -> int:
    """The payload's bytes straight to a running daemon (daemon/fast_hook.py); the full
    client, which starts a daemon, only when none answers."""
    try:
        from stream_tts.daemon import fast_hook

        payload = argument.encode() if argument is not None else fast_hook.read_stdin()
        code = fast_hook.run(payload)
        if code is not None:
            return code
        from stream_tts.daemon.client import hook_main

        return hook_main(payload)
    except KeyboardInterrupt:
        return 130


def main() -> int:
    args = sys.argv[1:]
    if args == ["--hook"] or (len(args) == 2 and args[0] == "--hook" and args[1][:1] == "{"):
        # Before the signal handlers: `signal` imports enum, which the hook has no time for;
        # the defaults (Ctrl-C: KeyboardInterrupt, SIGTERM/SIGHUP: exit) suit it.
        return _hook(args[1] if len(args) == 2 else None)
    from stream_tts import signals

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
