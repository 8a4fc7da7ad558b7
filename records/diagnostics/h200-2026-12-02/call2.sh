#!/bin/bash
# device call 2 (issue 12): the graphs-on engine profile (use_cuda_graph=True, async off, as the
# engine resolves it with paged sdpa), then the graphs-on runs and the KV-pressure run
export PYTHONUNBUFFERED=1
cd "$(dirname "$0")/../../.." || exit 1
P=/tmp/profiles; R=/tmp/records; mkdir -p $P $R
LOG=$OUT/call2.log
nvidia-smi --query-gpu=name,driver_version,clocks.sm,power.limit --format=csv | tee $LOG
echo "=== engine graphs on $(date +%T)" | tee -a $LOG
timeout 260 python3 -m batchsim.profiler.run --model llama-3-8b --mode engine --repeats 7 --warmup 2 \
  --engine-option use_cuda_graph=true --engine-option use_async_batching=false --max-kv-tokens 140000 \
  --time-limit 200 --out $P/h200-llama-3-8b-engine-graphs 2>&1 | tee -a $LOG
echo "=== rc=${PIPESTATUS[0]} $(date +%T)" | tee -a $LOG
tar cf $OUT/profiles2.tar -C $P .
echo "=== records $(date +%T)" | tee -a $LOG
timeout 290 python3 -m batchsim.profiler.recorder --plan records/cases/load_plan.json --out-dir $R \
  --only cb_chat_light_graphs,cb_chat_sat512_graphs,cb_pressure_preempt --limit-s 120 --stop-after-s 200 2>&1 | tee -a $LOG
echo "=== rc=${PIPESTATUS[0]} $(date +%T)" | tee -a $LOG
tar cf $OUT/records2.tar -C $R .
