#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what is missing, builds, and runs every
# check. This is the command CI runs (.ci/run) and the one the README gives.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck disable=SC1091
. .venv/bin/activate

step() { echo; echo "==> $*"; }
step "cargo fmt --check";       cargo fmt --all -- --check
step "cargo clippy (core)";     cargo clippy --all-targets -- -D warnings
step "cargo clippy (python)";   cargo clippy --features python -- -D warnings
step "cargo test";              cargo test --all-targets
step "ruff check";              ruff check python tests benches
step "ruff format --check";     ruff format --check python tests benches
step "mypy stubtest";           python -m mypy.stubtest stream_tts._core --allowlist python/stubtest-allowlist.txt
step "mypy --strict";           python -m mypy python/stream_tts  # strict: [tool.mypy] in pyproject.toml
# Stop the sound server at the end if this run started it (a later plain `stream-tts` would
# otherwise "play" into the rig's silent null sink).
if ! pactl info >/dev/null 2>&1; then trap 'bash scripts/pulse-rig.sh stop' EXIT; fi
step "audio rig";               bash scripts/pulse-rig.sh >/dev/null  # pytest's fixture also starts it
step "pytest";                  python -m pytest -q
