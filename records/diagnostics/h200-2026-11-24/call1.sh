#!/bin/bash
# device call 1: TP shard profiles (depth-scaled, full-depth checked), eager llama-3-8b, llama-2-13b cuda-graph
export PYTHONUNBUFFERED=1
cd "$(dirname "$0")"
P=/tmp/profiles; mkdir -p $P
LOG=$OUT/log1.txt
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.limit --format=csv | tee $LOG
python3 -c "import torch, transformers; print(torch.__version__, transformers.__version__)" | tee -a $LOG
run() {  # name, timeout, args...
  local name=$1 limit=$2; shift 2
  echo "=== $name $(date +%T)" | tee -a $LOG
  timeout $limit python3 -m batchsim.profiler.run "$@" --out $P/$name 2>&1 | tee -a $LOG
  echo "=== $name rc=${PIPESTATUS[0]} $(date +%T)" | tee -a $LOG
  tar cf $OUT/profiles1.tar -C $P .
}
run h200-llama-3-70b-tp4-cuda-graph 200 --model llama-3-70b --tp 4 --mode cuda-graph --layers 10,20 --full-depth-check 999 --repeats 7 --warmup 2 --time-limit 140
run h200-llama-3-8b-eager 190 --model llama-3-8b --mode eager --repeats 4 --warmup 1 --time-limit 140
run h200-llama-3-70b-tp8-cuda-graph 130 --model llama-3-70b --tp 8 --mode cuda-graph --layers 10,20 --full-depth-check 999 --repeats 7 --warmup 2 --time-limit 80
run h200-llama-2-13b-cuda-graph 100 --model llama-2-13b --mode cuda-graph --repeats 7 --warmup 2 --time-limit 60
echo "done $(date +%T)" | tee -a $LOG
