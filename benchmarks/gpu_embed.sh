#!/usr/bin/env bash
# benchmarks.gpu_embed on a lent GPU machine: install the carried wheels, put the carried fp16
# weights where the platform looks for its packaged model, and run. Prepare .gpu-carry/ here first:
#   .venv/bin/python -m benchmarks.gpu_embed --prepare
# then, through the device tool: run(command="bash benchmarks/gpu_embed.sh", carry=[".gpu-carry"]).
set -euo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/gpu-embed-site .gpu-carry/wheels/*.whl
export PYTHONPATH="/tmp/gpu-embed-site:$PWD/.gpu-carry/site:$PWD"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -m benchmarks.gpu_embed "$@"
