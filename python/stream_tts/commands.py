"""The subcommands beside the main one: `serve` (its options), `ctl` and `install-hooks`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from stream_tts.paths import shorten

CTL_COMMANDS = {
    "stop": "stop speaking: drop what is queued and playing",
    "pause": "stop at once; resume starts again at the sentence that was cut",
    "resume": "go on after pause",
    "skip": "drop the sentence being said; the next one follows",
    "mute": "stop speaking and say nothing new until unmute (text is still followed)",
    "unmute": "speak new text again",
    "faster": "play 1.2x faster from the next sentence on (pitch kept; at most 3x)",
    "slower": "play 1.2x slower from the next sentence on (at least 0.5x)",
    "status": "show the daemon's state, voice, followed sessions and latest latencies",
    "quit": "stop speaking and end the daemon",
}


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.prog = "stream-tts serve"
    parser.description = (
        "Run the per-user daemon in the foreground: the voice stays loaded, hooks hand it "
        "their sessions' transcripts, one queue speaks them. `stream-tts --hook` starts it "
        "detached when none runs; run it yourself under systemd or in a terminal."
    )
    parser.epilog = None
    from stream_tts.daemon.server import IDLE_EXIT_S

    parser.add_argument(
        "--idle-exit",
        type=float,
        default=IDLE_EXIT_S,
        metavar="SECONDS",
        help=f"exit after this long with nothing to say (default: {IDLE_EXIT_S:.0f})",
    )
    parser.add_argument(
        "--speak-notifications",
        action="store_true",
        help="say Claude Code's notifications (permission and idle prompts) too",
    )
    parser.add_argument(
        "--cue",
        choices=("name", "none"),
        default="name",
        help="when another session starts speaking, first say its folder's name (default) "
        "or nothing",
    )


SERVE_OPTIONS = ("idle_exit", "speak_notifications", "cue")


def _ctl(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="stream-tts ctl",
        description="Control the running daemon (`stream-tts serve`).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(f"  {k:8} {v}" for k, v in CTL_COMMANDS.items()),
    )
    p.add_argument("command", choices=list(CTL_COMMANDS), metavar="COMMAND")
    p.add_argument("--json", action="store_true", help="status as JSON")
    ns = p.parse_args(argv)
    from stream_tts.daemon.client import DaemonError, request

    try:
        reply = request({"op": "ctl", "cmd": ns.command})
    except DaemonError as e:
        print(f"stream-tts: {e}", file=sys.stderr)
        return 1
    if "rate" in reply and ns.command != "status":
        print(f"rate {reply['rate']}x")
    if ns.command == "status":
        if ns.json:
            import json

            print(json.dumps(reply, indent=2))
        else:
            print(format_status(reply))
    return 0


def format_status(s: dict[str, Any]) -> str:
    lines = [
        f"daemon   pid {s.get('pid')}, {s.get('state')}, up {s.get('uptime_s')} s"
        + (", muted" if s.get("muted") else "")
        + (", paused" if s.get("paused") else ""),
        f"voice    {s.get('voice') or '-'}, rate {s.get('rate', 1.0)}x",
        f"spoken   {s.get('sentences')} sentence(s)",
    ]
    if s.get("error"):
        lines.append(f"error    {s['error']}")
    sessions = s.get("sessions") or []
    lines.append(f"sessions {len(sessions)}")
    for x in sessions:
        lines.append(f"  {x.get('session') or '?'}  {shorten(x.get('transcript', ''), 60)}")
    latencies = s.get("latencies") or []
    if latencies:
        lines.append("latency  line read -> first sound (queue, first chunk), latest first:")
        for x in latencies:
            lines.append(
                f"  {x.get('ttfa_ms')} ms ({x.get('queue_ms')}, {x.get('first_ready_ms')})"
                f"  {shorten(x.get('sentence', ''), 50)}"
            )
    if s.get("barge_in_ms") is not None:
        lines.append(f"barge-in {s['barge_in_ms']} ms from the hook's request to silence queued")
    if s.get("device_latency_ms") is not None:
        lines.append(f"device   {s['device_latency_ms']} ms from taking a sample to playing it")
    return "\n".join(lines)


def _install_hooks(argv: list[str]) -> int:
    from stream_tts.install_hooks import main

    return main(argv)


def run_command(argv: list[str]) -> int:
    if argv[0] == "ctl":
        return _ctl(argv[1:])
    return _install_hooks(argv[1:])
