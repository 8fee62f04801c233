"""What a user sees on stderr when training: no TensorFlow warning caused by our own graphs.

TensorFlow prints its native warnings only at its default log level, so the check runs in a fresh process
with `TF_CPP_MIN_LOG_LEVEL=0` (this test process runs at level 2).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FIT = """
import numpy as np, keras, tensorflow as tf
import tf_longformer
from tests.conftest import ONE_LAYER, TINY_CONFIG
model = tf_longformer.TFLongformerForSequenceClassification(
    tf_longformer.LongformerConfig(**{**TINY_CONFIG, **ONE_LAYER}))  # the warning came from each layer's graph
ids = np.random.default_rng(0).integers(3, 60, size=(2, 20)).astype(np.int32)
glob = np.zeros_like(ids)
glob[:, :2] = 1  # few global tokens: inference would pick the factored form of the global rows
data = tf.data.Dataset.from_tensor_slices({"input_ids": ids, "global_attention_mask": glob,
                                           "labels": np.arange(2)}).batch(2)
model.compile(optimizer=keras.optimizers.Adam(1e-3))
model.fit(data, epochs=1, verbose=0)
print("trained")
"""


@pytest.mark.slow
def test_fit_prints_no_type_inference_warning():
    """Training uses one form of the global rows: a tf.cond between the two forms makes every `fit` print
    "Type inference failed ... layer_0/self/cond" (its gradient exposes intermediates of different dtypes)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0",
           "PYTHONPATH": os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", FIT], capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
    assert proc.returncode == 0 and "trained" in proc.stdout, proc.stderr[-3000:]
    assert "Type inference failed" not in proc.stderr, proc.stderr[-3000:]
