"""Subprocess job for tests/test_xla_global_tokens.py: `fit(jit_compile=True)` on batches whose global counts
differ, in a process whose log shows every XLA compilation.

Usage:
    TF_CPP_MIN_LOG_LEVEL=0 TF_CPP_VMODULE=device_compiler=1 python tests/xla_fit_job.py OUT.json

Writes `{"traces_after_batch": [...], "loss": [...]}`; TensorFlow logs one "Compilation of XLA executable"
line per program it compiles (the log level must be set before TensorFlow starts, hence the process).
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import tf_longformer  # noqa: E402
from tests.conftest import TINY_CONFIG  # noqa: E402
from tests.test_xla_global_tokens import _batch  # noqa: E402

COUNTS = (0, 1, 3, 70)  # every branch: none, one, factored chunks, projected chunks


def main(out: str) -> None:
    config = tf_longformer.LongformerConfig(**{**TINY_CONFIG, "num_hidden_layers": 1, "num_labels": 2})
    keras.utils.set_random_seed(0)
    model = tf_longformer.TFLongformerForSequenceClassification(config)
    traces, after_batch = [], []
    backbone_call = model.longformer.call
    model.longformer.call = lambda *args, **kwargs: traces.append(1) or backbone_call(*args, **kwargs)
    batches = []
    for i, count in enumerate(COUNTS):
        batch = _batch((count, min(count, 60)), seed=i)
        batch["labels"] = np.array([0, 1])
        batches.append(batch)
    data = tf.data.Dataset.from_tensor_slices({k: np.concatenate([b[k] for b in batches]) for k in batches[0]})
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=True)
    record = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: after_batch.append(len(traces)))
    # the dataset's shapes are unknown at trace time ((None, None)): the program must not depend on values
    history = model.fit(data.batch(2), epochs=2, verbose=0, callbacks=[record]).history["loss"]
    with open(out, "w") as f:
        json.dump({"traces_after_batch": after_batch, "loss": [float(x) for x in history]}, f)


if __name__ == "__main__":
    main(sys.argv[1])
