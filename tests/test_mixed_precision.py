"""Mixed precision (`mixed_bfloat16`, `mixed_float16`): finite forward passes and training, outputs close to
float32 on a checkpoint with realistic weight scales (transformers' own initialisation, std 0.02), and
classification logits close to float32 relative to how much they change from one input to another (on weights
of std 0.1, whose classifier reads the input: at std 0.02 the logits hardly depend on it).

Attention scores, masks (float32 minimum) and softmax run in float32 whatever the compute dtype; the
losses are float32; `mixed_float16` training uses Keras' dynamic loss scaling (LossScaleOptimizer).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

import tf_longformer
from tests.test_training import FIT_CONFIG, _dataset, _fit_data

POLICIES = ("mixed_bfloat16", "mixed_float16")
# Max / mean |difference| to float32 over non-padded tokens of the last hidden state (LayerNorm output,
# std 1); measured 0.049 / 0.0038 (bf16) and 0.0059 / 0.00048 (fp16) on the realistic checkpoint. Max
# |difference| of the logits divided by the largest difference between the two inputs' float32 logits;
# measured 0.18 (bf16) and 0.016 (fp16) on the varying one. Bounds leave room for other CPUs / kernels.
BOUNDS = {
    "mixed_bfloat16": {"hidden_max": 0.15, "hidden_mean": 0.01, "logits_rel": 0.4},
    "mixed_float16": {"hidden_max": 0.02, "hidden_mean": 1.5e-3, "logits_rel": 0.05},
}
REALISTIC = dict(vocab_size=200, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                 attention_window=32, max_position_embeddings=300, num_labels=3)  # dropout 0.1


@pytest.fixture(autouse=True)
def _restore_policy():
    yield
    keras.mixed_precision.set_global_policy("float32")


def _checkpoint(folder: str, initializer_range: float = 0.02, classifier_scale: float = 1.0) -> str:
    """transformers' initialisation (normal std `initializer_range`, LayerNorm 1) with small bias / LayerNorm
    offsets, as a trained checkpoint has; saved as a Hugging Face folder."""
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.LongformerConfig(**REALISTIC, initializer_range=initializer_range)
    model = transformers.LongformerForSequenceClassification(config).eval()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("bias"):
                param.add_(torch.randn(param.shape, generator=gen) * 0.02)
            elif "LayerNorm.weight" in name:
                param.add_(torch.randn(param.shape, generator=gen) * 0.05)
            elif name.startswith("classifier."):
                param.mul_(classifier_scale)
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def realistic_checkpoint(tmp_path_factory):
    return _checkpoint(str(tmp_path_factory.mktemp("realistic")))


@pytest.fixture(scope="module")
def varying_checkpoint(tmp_path_factory):
    """Weights of std 0.1 (trained encoders have 0.03-0.1) and a classifier 5x that: logits that differ by
    ~0.4 between the two test inputs."""
    return _checkpoint(str(tmp_path_factory.mktemp("varying")), initializer_range=0.1, classifier_scale=5.0)


def _long_batch():
    rng = np.random.default_rng(0)
    ids = rng.integers(3, 200, (2, 250))
    ids[:, 0] = 0
    mask = np.ones_like(ids)
    mask[1, 200:] = 0
    ids[mask == 0] = 1
    glob = np.zeros_like(ids)
    glob[:, [0, 100]] = 1
    glob[1, 220] = 1  # inside padding
    return {"input_ids": ids, "attention_mask": mask, "global_attention_mask": glob}


def _forward(folder, policy):
    keras.mixed_precision.set_global_policy(policy)
    model = tf_longformer.TFLongformerForSequenceClassification.from_pretrained(folder)
    assert all(w.dtype == "float32" for w in model.weights if w.dtype.startswith("float"))
    out = model(**{k: tf.constant(v) for k, v in _long_batch().items()}, output_hidden_states=True,
                output_attentions=True)
    return out


def test_mixed_precision_forward_close_to_float32(realistic_checkpoint):
    batch = _long_batch()
    valid = batch["attention_mask"].astype(bool)
    ref = _forward(realistic_checkpoint, "float32")
    ref_hidden = ref.hidden_states[-1].numpy()
    report = {}
    for policy in POLICIES:
        out = _forward(realistic_checkpoint, policy)
        compute_dtype = policy.split("_")[1]
        assert out.logits.dtype == compute_dtype
        for tensor in (*out.hidden_states, *out.attentions, *out.global_attentions, out.logits):
            assert np.isfinite(np.asarray(tf.cast(tensor, tf.float32))).all()
        hidden = np.asarray(tf.cast(out.hidden_states[-1], tf.float32))
        diff = np.abs(hidden - ref_hidden)[valid]
        report[policy] = {"hidden_max": float(diff.max()), "hidden_mean": float(diff.mean())}
        # attention probabilities: each local row still sums to one over non-masked keys
        sums = np.asarray(tf.cast(out.attentions[0], tf.float32)).sum(-1)[0, :, 1:]
        np.testing.assert_allclose(sums[sums > 0], 1.0, atol=2e-2)
    print("difference to float32:", report)
    for policy, values in report.items():
        for key, value in values.items():
            assert value <= BOUNDS[policy][key], (policy, key, value)
        assert values["hidden_max"] > 0  # really ran in reduced precision


def test_mixed_precision_logits_close_relative_to_their_variation(varying_checkpoint):
    """The classification logits move by less than a fraction of how much they differ between two inputs."""
    batch = {k: tf.constant(v) for k, v in _long_batch().items()}
    logits = {}
    for policy in ("float32", *POLICIES):
        keras.mixed_precision.set_global_policy(policy)
        model = tf_longformer.TFLongformerForSequenceClassification.from_pretrained(varying_checkpoint)
        logits[policy] = np.asarray(tf.cast(model(**batch).logits, tf.float32))
    spread = np.abs(logits["float32"][0] - logits["float32"][1]).max()
    assert spread > 0.2, logits["float32"]  # the logits depend on the input
    for policy in POLICIES:
        rel = np.abs(logits[policy] - logits["float32"]).max() / spread
        print(f"{policy}: max |logits - float32| / spread = {rel:.3f}")
        assert 0 < rel <= BOUNDS[policy]["logits_rel"], (policy, rel)


@pytest.mark.slow
@pytest.mark.parametrize("policy", POLICIES)
def test_mixed_precision_fit(policy):
    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(0)
    model = tf_longformer.TFLongformerForTokenClassification(tf_longformer.LongformerConfig(**FIT_CONFIG, num_labels=3))
    model.compile(optimizer=keras.optimizers.Adam(0.01), metrics=[keras.metrics.SparseCategoricalAccuracy()])
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer) == (policy == "mixed_float16")
    inputs, labels = _fit_data("TFLongformerForTokenClassification")
    history = model.fit(_dataset(inputs, labels, "hf", batch_size=8), epochs=3, verbose=0).history
    assert np.all(np.isfinite(history["loss"])) and history["loss"][-1] < history["loss"][0], history
    for weight in model.trainable_weights:
        assert weight.dtype == "float32" and np.isfinite(weight.numpy()).all()
    result = model.evaluate(_dataset(inputs, labels, "hf"), verbose=0, return_dict=True)
    assert np.isfinite(result["loss"])


def test_gpu_benchmark_script_runs_on_cpu():
    """`benchmarks/gpu_bench.py` (run by gpu.sh where a GPU is lent): bf16 + XLA + a global token, one
    JSON line per length and chunking with tokens/s; here on a tiny shape on CPU so the one-shot GPU run cannot fail on
    the script itself."""
    import json
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run([sys.executable, os.path.join(root, "benchmarks", "gpu_bench.py"), "--small",
                           "--lengths", "40", "--batch", "2", "--repeats", "1"],
                          capture_output=True, text=True, timeout=300, env=dict(os.environ, PYTHONPATH=root))
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    results = rows[1:]  # the first line names the devices
    assert [r["chunks"] for r in results] == ["default", "off"]  # with the chunk loops and without them
    for result in results:
        assert result["seq"] == 40 and result["dtype"] == "mixed_bfloat16" and result["tokens_per_s"] > 0
