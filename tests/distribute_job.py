"""Subprocess job for tests/test_distribute.py: tf.distribute training of a tiny Longformer with model.fit.

Usage:
    python tests/distribute_job.py mirrored OUT.json
        2 logical CPU devices, MirroredStrategy vs one device on the same global batches; writes the
        largest weight difference.
    TF_CONFIG=... python tests/distribute_job.py worker OUT.npz
        one MultiWorkerMirroredStrategy worker; writes its final weights and losses (worker 0 also those of
        the same training on one device, `single_*`).

It runs in its own process because logical devices and the collective runtime must be configured before
TensorFlow initialises.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tests.conftest import NO_DROPOUT, ONE_LAYER, TINY_CONFIG  # noqa: E402

# The test config without dropout: replicas draw other dropout masks than one device does, and the tests
# compare the distributed weights with one device's.
CONFIG = {**TINY_CONFIG, **NO_DROPOUT, **ONE_LAYER, "num_labels": 3}
GLOBAL_BATCH = 8
STEPS = 3


def dataset() -> tf.data.Dataset:
    rng = np.random.default_rng(0)
    ids = rng.integers(3, 60, (GLOBAL_BATCH * STEPS, 16)).astype(np.int32)
    ids[:, 0] = 0
    mask = np.ones_like(ids)
    mask[::3, 12:] = 0
    ids[mask == 0] = 1
    labels = rng.integers(0, 3, len(ids)).astype(np.int32)
    ds = tf.data.Dataset.from_tensor_slices({"input_ids": ids, "attention_mask": mask, "labels": labels})
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.batch(GLOBAL_BATCH).with_options(options)


def build_and_fit(initial_weights=None):
    import keras

    import tf_longformer

    keras.utils.set_random_seed(0)
    model = tf_longformer.TFLongformerForSequenceClassification(tf_longformer.LongformerConfig(**CONFIG))
    if initial_weights is not None:
        model.set_weights(initial_weights)
    start = model.get_weights()
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    history = model.fit(dataset(), epochs=2, verbose=0).history
    return model, start, history["loss"]


def mirrored(out_path: str) -> None:
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    single, start, single_losses = build_and_fit()
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        mirrored_model, _, mirrored_losses = build_and_fit(start)
    diffs = [float(np.max(np.abs(a - b))) for a, b in zip(single.get_weights(), mirrored_model.get_weights(),
                                                           strict=True)]
    moved = max(float(np.max(np.abs(a - b))) for a, b in zip(start, single.get_weights(), strict=True))
    with open(out_path, "w") as f:
        json.dump({"replicas": strategy.num_replicas_in_sync, "max_weight_diff": max(diffs), "moved": moved,
                   "single_losses": single_losses, "mirrored_losses": mirrored_losses}, f)


def worker(out_path: str) -> None:
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        model, start, losses = build_and_fit()
    single = {}
    if json.loads(os.environ["TF_CONFIG"])["task"]["index"] == 0:  # outside the scope: one device
        one_device, _, single_losses = build_and_fit(start)
        single = {f"single_{i}": w for i, w in enumerate(one_device.get_weights())}
        single["single_losses"] = np.asarray(single_losses)
    np.savez(out_path, *model.get_weights(), losses=np.asarray(losses),
             moved=max(float(np.max(np.abs(a - b))) for a, b in zip(start, model.get_weights(), strict=True)),
             replicas=strategy.num_replicas_in_sync, **single)


if __name__ == "__main__":
    {"mirrored": mirrored, "worker": worker}[sys.argv[1]](sys.argv[2])
