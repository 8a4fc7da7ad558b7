#!/bin/bash
# device call 2: host probes, engine re-profile (dense small-decode grid), fixed-KV and record-config
# comparisons, llama-2-13b cuda-graph
export PYTHONUNBUFFERED=1
cd "$(dirname "$0")"
P=/tmp/profiles; mkdir -p $P
LOG=$OUT/log2.txt
nvidia-smi --query-gpu=name,driver_version,clocks.sm,power.limit --format=csv | tee $LOG
python3 -c "import torch; from profiler.environment import host_speed_stamp as h; print('host', h(torch.device('cuda')))" | tee -a $LOG
echo "=== static probe $(date +%T)" | tee -a $LOG
timeout 120 python3 -m batchsim.profiler.static_probe ../records/static_conv_b8.json:0 ../records/static_conv_b8.json:2 \
  ../records/static_conv_b8.json:3 ../records/static_conv_b32.json:1 ../records/static_conv_b32.json:2 --steps 40 2>&1 | tee -a $LOG
run() {  # name, timeout, args...
  local name=$1 limit=$2; shift 2
  echo "=== $name $(date +%T)" | tee -a $LOG
  timeout $limit python3 -m batchsim.profiler.run "$@" --out $P/$name 2>&1 | tee -a $LOG
  echo "=== $name rc=${PIPESTATUS[0]} $(date +%T)" | tee -a $LOG
  tar cf $OUT/profiles2.tar -C $P .
}
E="--model llama-3-8b --mode engine --repeats 15 --warmup 3"
FEW="--kinds decode --decode-batches 1,4,8,16 --decode-contexts 512,2048"
run h200-llama-3-8b-engine-dense 270 $E --decode-batches 1,2,4,6,8,12,16,24,32 \
  --decode-contexts 128,256,512,1024,2048,4096,8000 --max-kv-tokens 33000 --time-limit 220
run engine-fixed-kv 90 $E $FEW --engine-kv fixed
run engine-record-config 90 $E $FEW --engine-option max_batch_tokens=512 --engine-option num_blocks=2048
run h200-llama-2-13b-cuda-graph 100 --model llama-2-13b --mode cuda-graph --repeats 7 --warmup 2 --time-limit 60
echo "done $(date +%T)" | tee -a $LOG
