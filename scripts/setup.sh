#!/usr/bin/env bash
# Set up everything stream-tts needs on a fresh Debian machine (root or sudo), idempotently:
# Debian packages for ALSA/PulseAudio, a virtual environment in .venv, and the package itself
# built from this tree (Rust core via maturin) with the test extras.
#   bash scripts/setup.sh            # runtime + test tools + the GPU engines' extras
#   EXTRAS=test bash scripts/setup.sh  # without torch & co (the GPU-engine tests then fail)
# The tests run NLLB, CTranslate2 and XTTS on the CPU, so the default takes their extras: torch
# from PyPI (its Linux wheel brings CUDA libraries, about 4 GB; a few minutes on a cold cache).
set -euo pipefail
cd "$(dirname "$0")/.."

EXTRAS="${EXTRAS:-test,nllb,xtts,ct2}"
PY="${PYTHON:-python3}"
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

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PY" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install -q --upgrade pip
echo "==> building and installing stream-tts[$EXTRAS] (Rust core via maturin)"
python -m pip install -q "maturin>=1.9,<2"
python -m pip install -q -e ".[${EXTRAS}]"
echo "==> ready: $(command -v stream-tts)"
