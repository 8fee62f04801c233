#!/usr/bin/env bash
# One short run on a GPU machine: bf16 + XLA, batch 8, lengths 4096 and 16384 → tokens/s, peak memory.
# Usage (from the repository root): bash benchmarks/gpu.sh [OUT_DIR]
# Installs tensorflow[and-cuda] and the package without dependencies it already has; ~5 min incl. install.
set -euo pipefail
out=${1:-benchmarks/results}
mkdir -p "$out"
python3 -m pip install -q "tensorflow[and-cuda]>=2.16" "keras>=3" safetensors tokenizers huggingface_hub h5py
python3 -m pip install -q --no-deps -e .
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu_device.txt"
TF_CPP_MIN_LOG_LEVEL=2 python3 benchmarks/gpu_bench.py --lengths 4096 16384 --batch 8 | tee "$out/gpu.jsonl"
