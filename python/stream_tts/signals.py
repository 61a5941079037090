"""How the CLI stops on a signal: SIGINT, SIGTERM and SIGHUP all end a run the way Ctrl-C does
(output finalised), with exit status 128 + the signal. Imports nothing heavy, so the handlers
are in place before the rest of the program loads (`python -m stream_tts`)."""

from __future__ import annotations

import signal

# The signal that stopped the run, if one did.
received: int | None = None


def _on_signal(signum: int, _frame: object) -> None:
    global received
    received = signum
    raise KeyboardInterrupt


def install() -> None:
    """An ignored SIGINT or SIGHUP (inherited from `nohup` or a shell's `&`) stays ignored."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if sig != signal.SIGTERM and signal.getsignal(sig) == signal.SIG_IGN:
            continue
        signal.signal(sig, _on_signal)


def exit_status() -> int:
    """128 + the signal received; Ctrl-C's 130 when a KeyboardInterrupt came without one."""
    return 128 + (received if received is not None else signal.SIGINT)
