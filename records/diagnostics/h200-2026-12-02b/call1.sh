#!/bin/bash
# device call 1 (issue 12, afternoon): graphs-off records and the graphs-off engine profile on ONE
# H200 host (the morning's records and profile came from different hosts), the profile's prompt
# chunks timed at a fresh shape every repeat (profiler/engine_runner.py)
export PYTHONUNBUFFERED=1
cd "$(dirname "$0")/../../.." || exit 1
P=/tmp/profiles; R=/tmp/records; mkdir -p $P $R
LOG=$OUT/call1.log
nvidia-smi --query-gpu=name,uuid,driver_version,clocks.sm,power.limit --format=csv | tee $LOG
grep -m1 "model name" /proc/cpuinfo | tee -a $LOG
echo "=== records $(date +%T)" | tee -a $LOG
timeout 270 python3 -m batchsim.profiler.recorder --plan records/cases/host_plan.json --out-dir $R \
  --only cb_chat_light,cb_chat_sat512_rep,cb_chat_b2048_rep --limit-s 100 2>&1 | tee -a $LOG
echo "=== rc=${PIPESTATUS[0]} $(date +%T)" | tee -a $LOG
tar cf $OUT/records1.tar -C $R .
timeout 300 python3 -m batchsim.profiler.run --model llama-3-8b --mode engine --repeats 7 --warmup 2 \
  --time-limit 265 --out $P/h200-llama-3-8b-engine 2>&1 | tee -a $LOG
echo "=== rc=${PIPESTATUS[0]} $(date +%T)" | tee -a $LOG
tar cf $OUT/profiles1.tar -C $P .
