#!/bin/bash
# device call 3 (issue 12): graphs-off runs at saturation, 512- and 2048-token budgets
export PYTHONUNBUFFERED=1
cd "$(dirname "$0")/../../.." || exit 1
R=/tmp/records; mkdir -p $R
LOG=$OUT/call3.log
nvidia-smi --query-gpu=name,driver_version,clocks.sm,power.limit --format=csv | tee $LOG
timeout 400 python3 -m batchsim.profiler.recorder --plan records/cases/load_plan.json --out-dir $R \
  --only cb_chat_sat512,cb_chat_b2048 --limit-s 150 2>&1 | tee -a $LOG
echo "=== rc=${PIPESTATUS[0]} $(date +%T)" | tee -a $LOG
tar cf $OUT/records3.tar -C $R .
