#!/bin/bash
# device call 3 (issue 12): graphs-off runs at saturation (512- and 2048-token budgets), the 9 grid
# points call 1's time limit cut (resumed), and the decode points of the graphs-on profile
export PYTHONUNBUFFERED=1
cd "$(dirname "$0")/../../.." || exit 1
P=/tmp/profiles; R=/tmp/records; mkdir -p $P $R
LOG=$OUT/call3.log
nvidia-smi --query-gpu=name,driver_version,clocks.sm,power.limit --format=csv | tee $LOG
timeout 230 python3 -m batchsim.profiler.recorder --plan records/cases/load_plan.json --out-dir $R \
  --only cb_chat_sat512,cb_chat_b2048 --limit-s 100 2>&1 | tee -a $LOG
echo "=== rc=${PIPESTATUS[0]} $(date +%T)" | tee -a $LOG
tar cf $OUT/records3.tar -C $R .
timeout 150 python3 -m batchsim.profiler.run --model llama-3-8b --mode engine --repeats 7 --warmup 2 \
  --resume-from 75 --out $P/engine-resumed 2>&1 | tee -a $LOG
echo "=== rc=${PIPESTATUS[0]} $(date +%T)" | tee -a $LOG
tar cf $OUT/profiles3.tar -C $P .
timeout 170 python3 -m batchsim.profiler.run --model llama-3-8b --mode engine --repeats 7 --warmup 2 \
  --engine-option use_cuda_graph=true --engine-option use_async_batching=false --max-kv-tokens 140000 \
  --kinds decode,skewed --time-limit 130 --out $P/graphs-decodes 2>&1 | tee -a $LOG
echo "=== rc=${PIPESTATUS[0]} $(date +%T)" | tee -a $LOG
tar cf $OUT/profiles3.tar -C $P .
