#!/bin/bash
# device call (issue 12, evening): the engine speed probe (profiler/speed_probe.py) before and after
# runs whose traces other hosts served already; HOST=1 or 2 names the log, CASES the plan cases (call 1: cb_chat_sat512, cb_chat_light, cb_chat_b2048, static_conv_b8 _probe1; call 2: static_conv_b32, static_conv_b8, cb_chat_sat512, cb_chat_light _probe2)
export PYTHONUNBUFFERED=1
cd "$(dirname "$0")/../../.." || exit 1
R=/tmp/records; mkdir -p $R
LOG=$OUT/call$HOST.log
nvidia-smi --query-gpu=name,uuid,driver_version,clocks.sm,power.limit --format=csv | tee $LOG
grep -m1 "model name" /proc/cpuinfo | tee -a $LOG; nproc | tee -a $LOG; uptime | tee -a $LOG
echo "=== records $(date +%T)" | tee -a $LOG
timeout 540 python3 -m batchsim.profiler.recorder --plan records/cases/probe_plan.json --out-dir $R \
  --only $CASES \
  --limit-s 110 2>&1 | tee -a $LOG
echo "=== rc=${PIPESTATUS[0]} $(date +%T)" | tee -a $LOG
cp $R/*.json $OUT/ 2>/dev/null
python3 - <<'PY' | tee -a $LOG
import json, glob
for f in sorted(glob.glob("/tmp/records/*.json")):
    r = json.load(open(f)); p = r.get("speed_probe", {})
    print(f.split("/")[-1], r.get("host"), {k: p.get(k) for k in ("before", "after")})
PY
