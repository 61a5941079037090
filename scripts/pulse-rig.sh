#!/usr/bin/env bash
# The audio test rig for a machine without a sound card, idempotently: a PulseAudio server
# with a null sink (its monitor can be recorded with parec), and an ALSA configuration that
# routes ALSA's default device to it, plus a bit-exact capture device (file plugin).
#
#   bash scripts/pulse-rig.sh            # start (or reuse) the rig; prints the exports
#   eval "$(bash scripts/pulse-rig.sh)"  # ... and use it in this shell
#   bash scripts/pulse-rig.sh stop       # stop the server this script started
#   STREAM_TTS_RIG_SINK=name STREAM_TTS_RIG_DIR=dir bash scripts/pulse-rig.sh [remove]
#                                        # a private sink (tests), or remove it again
#
# Works as root (containers, CI) and as a normal user. Everything lives in $RIG_DIR.
set -euo pipefail

RIG_DIR="${STREAM_TTS_RIG_DIR:-/tmp/stream-tts-rig}"
SINK="${STREAM_TTS_RIG_SINK:-stream_tts_null}"
mkdir -p "$RIG_DIR"

log() { echo "pulse-rig: $*" >&2; }

if [ "${1:-}" = "stop" ]; then
  for f in "$RIG_DIR"/keeper-*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; rm -f "$f"; done
  if pactl info >/dev/null 2>&1; then pactl exit 2>/dev/null || true; fi
  for _ in $(seq 50); do pactl info >/dev/null 2>&1 || break; sleep 0.1; done
  exit 0
fi

if [ "${1:-}" = "remove" ]; then
  f="$RIG_DIR/keeper-$SINK.pid"
  if [ -f "$f" ]; then kill "$(cat "$f")" 2>/dev/null || true; rm -f "$f"; fi
  pactl list short modules 2>/dev/null | awk -v s="sink_name=$SINK" '$0 ~ s {print $1}' |
    while read -r id; do pactl unload-module "$id" || true; done
  exit 0
fi

for tool in pulseaudio pactl parec; do
  command -v "$tool" >/dev/null || { log "$tool is missing: apt-get install pulseaudio pulseaudio-utils"; exit 1; }
done

if ! pactl info >/dev/null 2>&1; then
  log "starting PulseAudio (log: $RIG_DIR/pulse.log)"
  # -n: no default.pa (no hardware probing); the modules we need are loaded explicitly.
  # No idle exit, no D-Bus, no realtime scheduling: this must work in a bare container.
  # No shared memory: with several clients PulseAudio 16 aborts on memfd block references
  # (pulseaudio issue 824, seen here as crashes and doubled periods); copying is cheap.
  pulseaudio -n --daemonize=yes --exit-idle-time=-1 --system=no --use-pid-file=yes \
    --disallow-exit=no --high-priority=no --realtime=no --disable-shm=yes \
    --log-target="file:$RIG_DIR/pulse.log" --log-level=notice \
    -L module-native-protocol-unix >/dev/null 2>&1 || true
  for _ in $(seq 50); do
    pactl info >/dev/null 2>&1 && break
    sleep 0.1
  done
  pactl info >/dev/null 2>&1 || { log "PulseAudio did not start; see $RIG_DIR/pulse.log"; tail -5 "$RIG_DIR/pulse.log" >&2 || true; exit 1; }
fi

# The null sink: float stereo at 48 kHz, so the monitor gives back what was played.
if ! pactl list short sinks | awk '{print $2}' | grep -qx "$SINK"; then
  pactl load-module module-null-sink sink_name="$SINK" rate=48000 channels=2 format=float32le \
    sink_properties=device.description=stream-tts-null >/dev/null
fi
# Only the shared rig sink becomes the server default; private sinks are named in ALSA's.
[ -n "${STREAM_TTS_RIG_SINK:-}" ] || pactl set-default-sink "$SINK"

# An idle null sink renders in 2 s blocks, so a new stream could wait that long for its first
# period. A low-latency recorder on the monitor keeps the sink on a short clock, as a real
# sound card would be.
KEEPER_PID="$RIG_DIR/keeper-$SINK.pid"
if ! { [ -f "$KEEPER_PID" ] && kill -0 "$(cat "$KEEPER_PID")" 2>/dev/null; }; then
  nohup parec -d "$SINK.monitor" --latency-msec=5 --raw >/dev/null 2>&1 &
  echo $! >"$KEEPER_PID"
fi

# ALSA: the system configuration, then default -> PulseAudio, and a capture device that
# writes exactly what the application gave it to a file (file plugin) while playing into the
# same sink, so it keeps the sink's clock (over ALSA's null PCM it would run unclocked).
cat >"$RIG_DIR/asound.conf" <<CONF
</usr/share/alsa/alsa.conf>
pcm.!default {
  type pulse
  device "$SINK"
  hint { show on description "stream-tts rig: PulseAudio null sink" }
}
ctl.!default { type pulse }
pcm.stream_tts_capture {
  type file
  slave.pcm { type pulse device "$SINK" }
  file "$RIG_DIR/capture.raw"
  format "raw"
  hint { show on description "stream-tts rig: raw capture to $RIG_DIR/capture.raw" }
}
CONF

echo "export ALSA_CONFIG_PATH=$RIG_DIR/asound.conf"
echo "export STREAM_TTS_RIG_SINK=$SINK"
# While PulseAudio runs, the system's ALSA hook redefines default as plain `pulse` after our
# file, so name the sink for libpulse too.
echo "export PULSE_SINK=$SINK"
