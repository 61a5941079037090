#!/bin/bash
# The GPU machine's side of benches/gpu_e2e.py: install the carried wheels, lay out the models,
# run the stages in order of importance, each one's output under $OUT as it finishes.
# usage (from a copy of the checkout with whl/ and lib/ beside it): bash benches/gpu_e2e_device.sh STAGES
# whl/: cp312 manylinux wheels the device image lacks (pip download --no-deps): coqui-tts 0.28.0,
#   coqpit-config, coqui-tts-trainer, anyascii, inflect, jaraco.functools, more-itertools,
#   typeguard, num2words, pysbd, librosa 1.0.0, audioread, soxr, pooch, decorator, soundfile,
#   cffi, pycparser, torchcodec 0.11.1, monotonic-alignment-search, six, platformdirs,
#   ko-speech-tools (about 8 MB); python/ holds our package with its built _core.abi3.so.
# lib/: libasound.so.2 (Debian's libasound2), which _core links and the image lacks.
# Stages: models (lay out random full-size weights), gputests (the GPU-only tests of the decoder
# graph and the kernels), startup, cli, idle, parts, engine (benches/gpu_nllb_engine.py).
# Env: MODELS, CONFIGS, GAP, SENTENCES, NLLB (empty: skip NLLB in parts and startup), REPS,
# ENGINE_VARIANTS (engine stage: WEIGHTS[-script],...), ENGINE_ARGS (more gpu_nllb_engine.py options).
# python/stream_tts/_core.abi3.so must be built from this tree (it binds first_clause_end).
# The lead's run, in two calls on the same warm machine (/tmp/hf stays), about 6 + 2 minutes:
#   MODELS=3.3b,600m,xtts bash benches/gpu_e2e_device.sh "models startup cli"
#   bash benches/gpu_e2e_device.sh "idle parts"
set -u
OUT=${OUT:-/tmp/out}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site whl/*.whl || exit 1
# Bytecode once, as a normal pip install does: otherwise the first run compiles coqui-tts and
# our package (seconds) and start-up times depend on which configuration ran first.
python3 -m compileall -q -j 0 /tmp/site python >/dev/null 2>&1
export PYTHONPATH=/tmp/site:$PWD/python HF_HOME=/tmp/hf HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
export LD_LIBRARY_PATH=$PWD/lib:${LD_LIBRARY_PATH:-}  # libasound.so.2 for our core (carried)
export STREAM_TTS_CACHE=/tmp/stc
# The image sets PYTHONDONTWRITEBYTECODE=1 and its packages hold no .pyc, so every start would
# compile torch, transformers and sympy from source (imports 12 s instead of 8 s:
# results/2026-11-30-h200-startup.md). A pip or uv install writes bytecode; so does the first
# start here (the `models` stage imports the same packages), and later starts read it.
unset PYTHONDONTWRITEBYTECODE
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv | tee $OUT/device.txt
CONFIGS=${CONFIGS:-own-3.3b,own-3.3b-whole,own-600m,own-xtts,own-xtts-nospec+probe,stock-xtts-nospec,stock-3.3b}
for stage in ${1:-models startup cli idle parts}; do
  case $stage in
    engine) python3 benches/gpu_nllb_engine.py --out $OUT --variants "${ENGINE_VARIANTS:-bf16,int8-script}" ${ENGINE_ARGS:-} 2>&1 | grep -v Warning | tee $OUT/engine.log ;;
    gputests) python3 -m pytest -q -p no:cacheprovider tests/test_xtts_decoder.py tests/test_kernels.py 2>&1 | tail -8 | tee $OUT/gputests.log ;;
    models) python3 benches/gpu_e2e.py models --hub /tmp/hf/hub --which ${MODELS:-3.3b,600m,xtts} 2>&1 | grep -v Warning | tee $OUT/models.log ;;
    startup) python3 benches/gpu_e2e.py startup --out $OUT --nllb "${NLLB-3.3b}" 2>&1 | grep -v Warning | tee $OUT/startup.log ;;
    cli) python3 benches/gpu_e2e.py cli --out /tmp/r --configs $CONFIGS --gap ${GAP:-1.2} --sentences ${SENTENCES:-12} --limit 120 2>&1 | tee -a $OUT/cli.log
         cp /tmp/r/cli.json $OUT/ ; tar czf $OUT/stats.tgz -C /tmp/r $(cd /tmp/r && ls stats_* err_* gil_* 2>/dev/null) ;;
    idle) python3 benches/gpu_e2e.py idle --out $OUT --busy --reps ${REPS:-5} 2>&1 | grep -v Warning | tee $OUT/idle.log ;;
    parts) python3 benches/gpu_e2e.py parts --out $OUT --nllb "${NLLB-3.3b}" --reps ${REPS:-5} 2>&1 | grep -v Warning | tee $OUT/parts.log ;;
  esac
done
