#!/bin/bash
# hs: start to ready before (main's python/ and benches/) and after (.hs-gpu/), one H200.
# Triton's cache is warmed by the first CLI start (old code); every later start is a second start.
set -u
OUT=${OUT:-/tmp/out}; R=$PWD
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .gpu/whl/*.whl || exit 1
python3 -m compileall -q -j 0 /tmp/site python .hs-gpu/python >/dev/null 2>&1
export HF_HOME=/tmp/hf HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 STREAM_TTS_CACHE=/tmp/stc
export LD_LIBRARY_PATH=$R/.gpu/lib:${LD_LIBRARY_PATH:-}
OLD=/tmp/site:$R/python; NEW=/tmp/site:$R/.hs-gpu/python
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; uname -a; nproc; python3 -c "import torch, transformers; print(torch.__version__, transformers.__version__)"; } > $OUT/device.txt 2>&1
T0=$(date +%s)
cli() { # name tree bench
  PYTHONPATH=$2 python3 $3 cli --out /tmp/r-$1 --configs own-3.3b --sentences 2 --gap 0.3 --limit 100 2>&1 | grep -v "^==" | python3 -c "import json,sys
for l in sys.stdin:
    try: d=json.loads(l); print('$1', 'ready_s', d.get('ready_s'), 'rc', d.get('rc'), 'ttfa', d.get('ttfa_median_ms'), d.get('stderr_tail'))
    except Exception: print(l.rstrip()[:300])"
}
echo "== models $(date +%T)"; PYTHONPATH=$OLD python3 benches/gpu_e2e.py models --hub /tmp/hf/hub --which 3.3b,xtts 2>&1 | grep "laid out"
echo "== diag $(date +%T)"; PYTHONPATH=$NEW python3 .hs-gpu/diag.py /tmp/hf/hub > $OUT/diag.json 2>&1; grep -v '^  "/' $OUT/diag.json | tr -d '\n'; echo
echo "== cli old, first start (Triton compiles) $(date +%T)"; cli old1 $OLD benches/gpu_e2e.py
echo "== startup old $(date +%T)"; PYTHONPATH=$OLD python3 benches/gpu_e2e.py startup --out $OUT/sold 2>&1 | grep "^startup"
echo "== startup new $(date +%T)"; PYTHONPATH=$NEW python3 .hs-gpu/benches/gpu_e2e.py startup --out $OUT/snew 2>&1 | grep "^startup"
echo "== cli new $(date +%T)"; cli new $NEW .hs-gpu/benches/gpu_e2e.py
echo "== cli old $(date +%T)"; cli old2 $OLD benches/gpu_e2e.py
echo "== importtime new $(date +%T)"; PYTHONPATH=$NEW python3 -X importtime .hs-gpu/pre.py 2> /tmp/imp-new.txt; tail -1 /tmp/imp-new.txt; gzip -c /tmp/imp-new.txt > $OUT/importtime-new.txt.gz
tar czf $OUT/cli.tgz -C /tmp r-old1 r-new r-old2 2>/dev/null
echo "== done $(date +%T), $(( $(date +%s) - T0 )) s"
