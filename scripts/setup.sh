#!/usr/bin/env bash
# Set up everything stream-tts needs on a fresh Debian machine (root or sudo), idempotently:
# Debian packages for ALSA/PulseAudio, a virtual environment in .venv holding exactly the
# versions in uv.lock, and the package itself built from this tree (Rust core via maturin).
#   bash scripts/setup.sh                 # runtime + test tools + the GPU engines' extras
#   EXTRAS= bash scripts/setup.sh         # runtime only (what scripts/demo.sh uses)
#   EXTRAS=test bash scripts/setup.sh     # without torch & co (the GPU-engine tests then skip)
# The tests run NLLB, CTranslate2 and XTTS on the CPU, so the default takes their extras: torch
# from PyPI (its Linux wheel brings CUDA libraries: about 6 GB in .venv, a few minutes cold).
# Versions come from uv.lock only (`uv sync --frozen`): a new release of anything upstream
# changes nothing here until someone runs `uv lock` and commits the result.
set -euo pipefail
cd "$(dirname "$0")/.."

EXTRAS="${EXTRAS-test,nllb,xtts,ct2}"
PY="${PYTHON:-python3}"
UV_VERSION=0.13.9
APT_PKGS=(libasound2-dev pkg-config pulseaudio pulseaudio-utils libasound2-plugins alsa-utils)

need_apt=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$p")
done
if ((${#need_apt[@]})); then
  echo "==> installing Debian packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# uv itself, pinned, in a folder of its own (a system Python may refuse pip installs).
UV="${UV:-}"
if [ -z "$UV" ]; then
  if command -v uv >/dev/null && [ "$(uv --version | cut -d' ' -f2)" = "$UV_VERSION" ]; then
    UV=uv
  else
    if [ ! -x .uv/bin/uv ] || [ "$(.uv/bin/uv --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
      echo "==> installing uv $UV_VERSION into .uv/"
      "$PY" -m venv .uv
      .uv/bin/python -m pip install -q --disable-pip-version-check "uv==$UV_VERSION"
    fi
    UV=.uv/bin/uv
  fi
fi

extra_args=()
IFS=',' read -r -a extras <<<"$EXTRAS"
for e in "${extras[@]}"; do [ -n "$e" ] && extra_args+=(--extra "$e"); done
echo "==> installing stream-tts${EXTRAS:+[$EXTRAS]} from uv.lock (Rust core via maturin)"
# Exact by default (anything not in the lock is removed); the demo passes SYNC_ARGS=--inexact
# so that a runtime-only setup keeps the extras an earlier full setup installed.
# shellcheck disable=SC2086
UV_PYTHON_DOWNLOADS=never "$UV" sync --frozen --python "$PY" ${SYNC_ARGS:-} "${extra_args[@]}"
echo "==> ready: $(pwd)/.venv/bin/stream-tts"
