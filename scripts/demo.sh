#!/usr/bin/env bash
# Set up stream-tts on a fresh machine and speak the bundled Claude Code session with it.
# The session is replayed at the pace Claude Code writes it, so speech starts while the answer
# is still "being written". With no sound device, the speech goes to demo.wav instead.
#   bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${EXTRAS-}" SYNC_ARGS=--inexact bash scripts/setup.sh  # the speech needs no extras
# shellcheck disable=SC1091
. .venv/bin/activate

SAMPLE="$(python -c 'from stream_tts.samples import session_path; print(session_path())')"
replay() {
  # One line every 15 ms, like --include-partial-messages deltas arriving.
  # A reader that leaves early (an error) ends the replay quietly.
  python -c '
import os, sys, time
try:
    for line in open(sys.argv[1], "rb"):
        sys.stdout.buffer.write(line); sys.stdout.buffer.flush(); time.sleep(0.015)
except BrokenPipeError:
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
' "$SAMPLE"
}

echo "==> the sentences stream-tts will speak (stream-tts --text-only):"
stream-tts --text-only < "$SAMPLE" | sed 's/^/    /'
# --list-devices fails when no device would play (no card, no sound server, ALSA's null only).
if stream-tts --list-devices > /dev/null 2>&1; then
  echo "==> speaking $SAMPLE"
  replay | stream-tts --stats
else
  echo "==> no sound device on this machine: writing the speech to demo.wav instead"
  replay | stream-tts --output demo.wav --stats
  echo "==> wrote $(pwd)/demo.wav"
fi
