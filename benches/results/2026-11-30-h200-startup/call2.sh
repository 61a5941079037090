#!/bin/bash
# hs call 2: the CLI's ready time, old (main's python/, benches/) vs new (.hs-gpu/), on the device
# as set up (PYTHONDONTWRITEBYTECODE=1, the image's packages without bytecode), then with the
# bytecode of everything imported written once, as a pip install does. Triton's cache is warmed
# by the first start (new code); every start measured after it is a second start.
set -u
OUT=${OUT:-/tmp/out}; R=$PWD
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .gpu/whl/*.whl || exit 1
python3 -m compileall -q -j 0 /tmp/site python .hs-gpu/python >/dev/null 2>&1
export HF_HOME=/tmp/hf HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 STREAM_TTS_CACHE=/tmp/stc
export LD_LIBRARY_PATH=$R/.gpu/lib:${LD_LIBRARY_PATH:-}
OLD=/tmp/site:$R/python; NEW=/tmp/site:$R/.hs-gpu/python
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; uname -a; nproc; echo "PYTHONDONTWRITEBYTECODE=${PYTHONDONTWRITEBYTECODE-unset}"; python3 -c "import torch, transformers; print(torch.__version__, transformers.__version__)"; } > $OUT/device.txt 2>&1
T0=$(date +%s)
cli() { # name tree bench
  PYTHONPATH=$2 python3 $3 cli --out /tmp/r-$1 --configs own-3.3b --sentences 2 --gap 0.3 --limit 100 2>&1 | grep -v "^==" | python3 -c "import json,sys
for l in sys.stdin:
    try: d=json.loads(l); print('$1', 'ready_s', d.get('ready_s'), 'rc', d.get('rc'), 'ttfa', d.get('ttfa_median_ms'), [x for x in d.get('stderr_tail') if 'Loading' not in x])
    except Exception: print(l.rstrip()[:300])"
}
echo "== models $(date +%T)"; PYTHONPATH=$OLD python3 benches/gpu_e2e.py models --hub /tmp/hf/hub --which 3.3b,xtts 2>&1 | grep "laid out"
echo "== cli new, first start (Triton compiles) $(date +%T)"; cli new1 $NEW .hs-gpu/benches/gpu_e2e.py
echo "== startup new $(date +%T)"; PYTHONPATH=$NEW python3 .hs-gpu/benches/gpu_e2e.py startup --out $OUT/snew 2>&1 | grep -v "Warning\|Loading weights" | tail -12
echo "== cli new $(date +%T)"; cli new2 $NEW .hs-gpu/benches/gpu_e2e.py
echo "== cli old $(date +%T)"; cli old2 $OLD benches/gpu_e2e.py
echo "== bytecode written by one old start $(date +%T)"; ( unset PYTHONDONTWRITEBYTECODE; cli oldpyc $OLD benches/gpu_e2e.py )
echo "== cli new, bytecode $(date +%T)"; cli new3 $NEW .hs-gpu/benches/gpu_e2e.py
echo "== cli old, bytecode $(date +%T)"; cli old3 $OLD benches/gpu_e2e.py
echo "== startup new, bytecode $(date +%T)"; PYTHONPATH=$NEW python3 .hs-gpu/benches/gpu_e2e.py startup --out $OUT/snewpyc 2>&1 | grep "^startup"
tar czf $OUT/cli.tgz -C /tmp r-new1 r-new2 r-old2 r-oldpyc r-new3 r-old3 2>/dev/null
echo "== done $(date +%T), $(( $(date +%s) - T0 )) s"
