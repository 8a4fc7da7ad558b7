#!/bin/bash
# device call 1 (issue 12): the graphs-off engine profile over the extended grid (saturation decodes,
# 256k KV tokens, 8k-context mixed steps, 512/2048/8192-token budgets), repeats kept with their spread
export PYTHONUNBUFFERED=1
cd "$(dirname "$0")/../../.." || exit 1
P=/tmp/profiles; mkdir -p $P
LOG=$OUT/call1.log
nvidia-smi --query-gpu=name,driver_version,clocks.sm,power.limit --format=csv | tee $LOG
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)" | tee -a $LOG
echo "=== engine graphs off $(date +%T)" | tee -a $LOG
timeout 520 python3 -m batchsim.profiler.run --model llama-3-8b --mode engine --repeats 7 --warmup 2 \
  --time-limit 430 --out $P/h200-llama-3-8b-engine 2>&1 | tee -a $LOG
echo "=== rc=${PIPESTATUS[0]} $(date +%T)" | tee -a $LOG
tar cf $OUT/profiles1.tar -C $P .
