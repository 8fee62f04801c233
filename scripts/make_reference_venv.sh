#!/usr/bin/env bash
# The comparison environment: transformers 4.57 (the last release with TFLongformer*, Keras 2 through
# tf-keras) on the same TensorFlow as ours, plus the CPU torch, in .venvs/tf457 inside the repository
# (ignored by git). The benchmarks (transformers-4 TF baseline) and the fixture scripts that need
# transformers 4 (head_mask references, tf_model.h5 fixtures) run with its python.
#
#   scripts/make_reference_venv.sh            # creates or completes .venvs/tf457
#   .venvs/tf457/bin/python -c "import transformers; print(transformers.__version__)"
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${TF457_VENV:-$root/.venvs/tf457}"
python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q tensorflow-cpu==2.21.0
"$venv/bin/pip" install -q --no-deps tf-keras==2.21.0
"$venv/bin/pip" install -q transformers==4.57.1 "torch==2.13.0" safetensors h5py
TF_USE_LEGACY_KERAS=1 "$venv/bin/python" -c "import transformers; from transformers import TFLongformerModel; print('transformers', transformers.__version__, 'ready in $venv')"
