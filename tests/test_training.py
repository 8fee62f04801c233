"""Training: gradients equal transformers' PyTorch gradients; `model.fit` / `evaluate` / `predict` in
Hugging Face style (labels in the inputs, the model's own loss) and Keras style (`loss=` on the logits);
XLA follows the same loss curve; gradient checkpointing gives the same gradients; bucketed datasets.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections import Counter

import keras
import numpy as np
import pytest
import tensorflow as tf
import torch

import tf_longformer
from tests.conftest import NO_DROPOUT, ONE_LAYER, TINY_CONFIG
from tests.test_parity import mc_batch, padded_batch, qa_batch
from tf_longformer.data import bucket_lengths, make_bucketed_dataset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GRAD_TOL = 1e-4
# XLA fuses and reorders float32 reductions: per-step losses of a 4-step fit agree to this (relative).
XLA_LOSS_RTOL = 1e-4
# The real-checkpoint shape (one window, dropout 0.1) with ONE_LAYER; the gradients through several layers:
# test_gradients_match_pytorch.
FIT_CONFIG = {**TINY_CONFIG, **ONE_LAYER}


# --- gradients vs transformers (PyTorch) ---------------------------------------------------------------

def _labelled_batch(head: str):
    """Inputs (numpy) with labels for `head`; the base model gets weights for a linear loss instead."""
    rng = np.random.default_rng(7)
    if head == "TFLongformerForQuestionAnswering":
        return {**qa_batch(), "start_positions": np.array([6, 5]), "end_positions": np.array([8, 40])}
    if head == "TFLongformerForMultipleChoice":
        return {**mc_batch(), "labels": np.array([2, 0])}
    batch = padded_batch(seed=3)
    shape = batch["input_ids"].shape
    if head in ("TFLongformerForMaskedLM", "TFLongformerForTokenClassification"):
        labels = rng.integers(0, 5, shape)
        labels[batch["attention_mask"] == 0] = -100
        labels[0, 1] = -100
        batch["labels"] = labels
    elif head == "regression":
        batch["labels"] = np.array([0.5, -1.0, 2.0], np.float32)
    elif head == "multi_label":
        batch["labels"] = np.array([[0, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1]], np.float32)
    elif head == "TFLongformerForSequenceClassification":
        batch["labels"] = np.array([0, 2, 1])
    return batch


GRAD_CASES = {  # case -> (class, config overrides)
    "TFLongformerModel": ("TFLongformerModel", {}),
    # the local rows in chunks of 12 queries and the dense layers in chunks of 10 rows (while loops; the
    # last chunk overlaps the one before it), and the layers in one loop: inference traced under a tape
    # (eager calls and training run unchunked)
    "chunked": ("TFLongformerModel", {"attention_query_chunk": 12, "dense_row_chunk": 10}),
    "TFLongformerForMaskedLM": ("TFLongformerForMaskedLM", {}),
    "TFLongformerForSequenceClassification": ("TFLongformerForSequenceClassification", {"num_labels": 3}),
    "regression": ("TFLongformerForSequenceClassification", {"num_labels": 1}),
    "multi_label": ("TFLongformerForSequenceClassification", {"num_labels": 4}),
    "TFLongformerForTokenClassification": ("TFLongformerForTokenClassification", {"num_labels": 5}),
    "TFLongformerForQuestionAnswering": ("TFLongformerForQuestionAnswering", {}),
    "TFLongformerForMultipleChoice": ("TFLongformerForMultipleChoice", {}),
}


def _base_model_weights(hidden: int):
    """Fixed random weights of a linear loss on the bare encoder's outputs (every position + pooler)."""
    rng = np.random.default_rng(11)
    return rng.normal(size=(1, 1, hidden)).astype(np.float32), rng.normal(size=(1, hidden)).astype(np.float32)


def _torch_grads(model, batch, case):
    model.zero_grad()
    out = model(**{k: torch.tensor(v) for k, v in batch.items()})
    if GRAD_CASES[case][0] == "TFLongformerModel":
        w1, w2 = _base_model_weights(model.config.hidden_size)
        loss = (out.last_hidden_state * torch.tensor(w1)).sum() + (out.pooler_output * torch.tensor(w2)).sum()
    else:
        loss = out.loss
    loss.backward()
    return float(loss), {name: p.grad for name, p in model.named_parameters()}


def _tf_grads(model, batch, case, training=False, traced=False):
    """Loss and {PyTorch parameter name: gradient}; `traced`: the tape runs in a `tf.function` (which runs the
    chunk and layer loops; the test checks they are in the graph)."""
    names, variables, transposed = [], [], []
    for name, (variable, transpose) in model.hf_weights().items():
        names.append(name)
        variables.append(variable)
        transposed.append(transpose)

    def loss_and_grads(inputs):
        with tf.GradientTape() as tape:
            out = model(**inputs, training=training)
            if GRAD_CASES[case][0] == "TFLongformerModel":
                w1, w2 = _base_model_weights(model.config.hidden_size)
                loss = tf.reduce_sum(out.last_hidden_state * w1) + tf.reduce_sum(out.pooler_output * w2)
            else:
                loss = out.loss
        return loss, tape.gradient(loss, variables)

    inputs = {k: tf.constant(v) for k, v in batch.items()}
    if traced:
        fn = tf.function(loss_and_grads)
        graph = fn.get_concrete_function(inputs).graph.as_graph_def()
        ops = {n.op for n in graph.node} | {n.op for f in graph.library.function for n in f.node_def}
        assert "While" in ops, "no chunk / layer loop in the traced gradient"
        loss_and_grads = fn
    loss, grads = loss_and_grads(inputs)
    result = {}
    for name, grad, transpose in zip(names, grads, transposed, strict=True):
        g = np.zeros(variables[names.index(name)].shape, np.float32) if grad is None else \
            tf.convert_to_tensor(grad).numpy()
        result[name] = g.T if transpose else g
    return float(loss), result


@pytest.mark.parametrize("case", list(GRAD_CASES))
def test_gradients_match_pytorch(reference_factory, case):
    """Loss gradients of every parameter equal transformers' autograd gradients (fp32, 1e-4)."""
    cls_name, overrides = GRAD_CASES[case]
    ref_model, folder = reference_factory(cls_name, **overrides)
    model = getattr(tf_longformer, cls_name).from_pretrained(folder)
    batch = _labelled_batch(case)
    ref_loss, ref_grads = _torch_grads(ref_model, batch, case)
    loss, grads = _tf_grads(model, batch, case, traced=case == "chunked")
    assert abs(loss - ref_loss) <= 1e-5 * max(1.0, abs(ref_loss))
    compared, worst = 0, 0.0
    for name, g in grads.items():
        if name not in ref_grads:  # tied to the word embeddings in PyTorch; their gradient includes it
            assert name == "lm_head.decoder.weight", name
            continue
        ref = ref_grads[name]
        ref = np.zeros_like(g) if ref is None else ref.numpy()
        assert g.shape == ref.shape, name
        diff = float(np.max(np.abs(g.astype(np.float64) - ref))) if g.size else 0.0
        worst = max(worst, diff)
        # float32 sums: the one token-type row's gradient adds up every position's (magnitude ~10)
        assert diff <= GRAD_TOL * max(1.0, float(np.abs(ref).max())), f"{name}: gradient differs by {diff}"
        compared += 1
    assert compared >= len(ref_grads) - 1
    # the comparison is not vacuous: the global projections and embeddings get real gradients
    assert np.abs(grads[f"{'' if cls_name == 'TFLongformerModel' else 'longformer.'}encoder.layer.0.attention.self."
                        "query_global.weight"]).max() > 1e-4
    print(f"{case}: max |grad - torch grad| = {worst:.2e}")


# --- model.fit / evaluate / predict ---------------------------------------------------------------------

HEADS = ("TFLongformerForMaskedLM", "TFLongformerForSequenceClassification", "TFLongformerForTokenClassification",
         "TFLongformerForQuestionAnswering", "TFLongformerForMultipleChoice")


def _fit_model(cls_name: str, seed: int = 0, **overrides):
    keras.utils.set_random_seed(seed)
    num_labels = 2 if cls_name == "TFLongformerForQuestionAnswering" else 3
    config = tf_longformer.LongformerConfig(**{**FIT_CONFIG, "num_labels": num_labels, **overrides})
    return getattr(tf_longformer, cls_name)(config)


def _fit_data(cls_name: str, n: int = 8):
    """`(inputs, labels)` numpy: `labels` is a dict of label inputs (HF names)."""
    rng = np.random.default_rng(1)
    if cls_name == "TFLongformerForMultipleChoice":
        ids = rng.integers(3, 60, (n, 2, 12))
        ids[..., 0], ids[..., 4:6], ids[..., -1] = 0, 2, 2  # three separators per choice
        return {"input_ids": ids}, {"labels": rng.integers(0, 2, n)}
    ids = rng.integers(3, 60, (n, 12))
    ids[:, 0] = 0
    mask = np.ones_like(ids)
    mask[::2, 9:] = 0
    ids[mask == 0] = 1
    inputs = {"input_ids": ids, "attention_mask": mask}
    if cls_name == "TFLongformerForQuestionAnswering":  # <s> q q </s></s> context </s>: three separators
        ids[:, 3:5] = 2
        ids[np.arange(n), mask.sum(1) - 1] = 2
        return inputs, {"start_positions": rng.integers(5, 9, n), "end_positions": rng.integers(5, 9, n)}
    if cls_name in ("TFLongformerForMaskedLM", "TFLongformerForTokenClassification"):
        labels = rng.integers(0, 3, ids.shape)
        labels[mask == 0] = -100
        return inputs, {"labels": labels}
    return inputs, {"labels": rng.integers(0, 3, n)}


def _keras_loss(cls_name: str):
    if cls_name == "TFLongformerModel":
        return keras.losses.MeanSquaredError()
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-100)


def _dataset(inputs, labels, style: str, batch_size: int = 4):
    if style == "hf":
        return tf.data.Dataset.from_tensor_slices({**inputs, **labels}).batch(batch_size)
    y = tuple(labels.values()) if len(labels) > 1 else next(iter(labels.values()))
    return tf.data.Dataset.from_tensor_slices((inputs, y)).batch(batch_size)


def _same_weights(target, values) -> list:
    """Give `target` the weight values `values` (from an earlier model); returns its values if None."""
    if values is None:
        return [w.numpy().copy() for w in target.weights]
    for variable, value in zip(target.weights, values, strict=True):
        variable.assign(value)
    return values


def test_fit_both_styles_give_the_same_loss_curve_evaluate_and_predict():
    """HF style (labels in the dict, model loss) and Keras style (`loss=` on logits) train identically."""
    inputs, labels = _fit_data("TFLongformerForSequenceClassification")
    histories, models, start = {}, {}, None
    for style in ("hf", "keras"):
        model = _fit_model("TFLongformerForSequenceClassification")
        start = _same_weights(model, start)
        model.compile(optimizer=keras.optimizers.SGD(0.5), loss=None if style == "hf" else _keras_loss(""),
                      metrics=[keras.metrics.SparseCategoricalAccuracy(name="acc")])
        initial = [w.numpy().copy() for w in model.trainable_weights]
        histories[style] = model.fit(_dataset(inputs, labels, style), epochs=2, verbose=0).history
        models[style] = model
        assert any(not np.allclose(a, w.numpy()) for a, w in zip(initial, model.trainable_weights, strict=True))
    hf, ks = histories["hf"], histories["keras"]
    np.testing.assert_allclose(hf["loss"], ks["loss"], rtol=1e-5)
    np.testing.assert_allclose(hf["acc"], ks["acc"])
    assert hf["loss"][-1] < hf["loss"][0]

    model = models["hf"]
    expected = model(**{k: tf.constant(v) for k, v in inputs.items()}, labels=tf.constant(labels["labels"]))
    result = model.evaluate(_dataset(inputs, labels, "hf"), verbose=0, return_dict=True)
    np.testing.assert_allclose(result["loss"], float(expected.loss), rtol=1e-5)  # two equal batches
    accuracy = float(np.mean(np.argmax(expected.logits, -1) == labels["labels"]))
    np.testing.assert_allclose(result["acc"], accuracy)
    predictions = model.predict(tf.data.Dataset.from_tensor_slices(inputs).batch(3), verbose=0)
    assert set(predictions) == {"logits"}
    np.testing.assert_allclose(predictions["logits"], expected.logits.numpy(), atol=1e-6)
    # y without a compiled loss: moved into the inputs, the model's own loss
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    result = model.evaluate(_dataset(inputs, labels, "keras"), verbose=0, return_dict=True)
    np.testing.assert_allclose(result["loss"], float(expected.loss), rtol=1e-5)


def test_fit_without_labels_or_loss_says_how_to_fix():
    model = _fit_model("TFLongformerForSequenceClassification")
    model.compile(optimizer="sgd")
    inputs, _ = _fit_data("TFLongformerForSequenceClassification")
    with pytest.raises(ValueError, match="labels"):
        model.fit(tf.data.Dataset.from_tensor_slices(inputs).batch(4), verbose=0)


@pytest.mark.slow
# every head with its own loss (labels in the inputs); Keras losses on the heads whose `y` is not one tensor
# of class ids per example (token labels, QA's two outputs) and on the bare encoder, which has no loss of its
# own; both styles on the same head give the same curve (test_fit_both_styles_...)
@pytest.mark.parametrize("cls_name, style", [(cls, "hf") for cls in HEADS] + [
    ("TFLongformerForTokenClassification", "keras"), ("TFLongformerForQuestionAnswering", "keras"),
    ("TFLongformerModel", "keras")])
def test_fit_every_head(cls_name, style, monkeypatch):
    model = _fit_model(cls_name)
    traces = Counter()

    def counted(step: str):
        original = getattr(type(model), step)

        def run(self, data):
            traces[step] += 1
            return original(self, data)
        return run

    for step in ("train_step", "test_step", "predict_step"):  # traced once each: no variable made in a trace
        monkeypatch.setattr(type(model), step, counted(step))
    inputs, labels = _fit_data(cls_name)
    if cls_name == "TFLongformerModel":
        labels = {"labels": np.random.default_rng(2).normal(size=(8, 12, 16)).astype(np.float32)}
        metrics = [keras.metrics.MeanAbsoluteError(name="m")]
    elif cls_name == "TFLongformerForQuestionAnswering":  # one list per output: (start_logits, end_logits)
        metrics = [[keras.metrics.SparseCategoricalAccuracy(name="start_m")],
                   [keras.metrics.SparseCategoricalAccuracy(name="end_m")]]
    else:
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="m")]
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=None if style == "hf" else _keras_loss(cls_name),
                  metrics=metrics)
    history = model.fit(_dataset(inputs, labels, style).take(1).repeat(4), epochs=2, verbose=0).history
    assert np.all(np.isfinite(history["loss"])) and history["loss"][-1] < history["loss"][0], history
    assert any(k.endswith("m") for k in history), history  # QA: one metric per output (start, end)
    result = model.evaluate(_dataset(inputs, labels, style), verbose=0, return_dict=True)
    assert np.isfinite(result["loss"])
    predictions = model.predict(tf.data.Dataset.from_tensor_slices(inputs).batch(4), verbose=0)
    direct = model(**{k: tf.constant(v) for k, v in inputs.items()})
    assert set(predictions) == {k for k in direct.keys() if k != "loss"}
    for key, value in predictions.items():
        np.testing.assert_allclose(value, direct[key].numpy(), atol=1e-5)
    assert traces == {"train_step": 1, "test_step": 1, "predict_step": 1}, traces


@pytest.mark.slow
def test_xla_fit_follows_the_same_loss_curve_with_and_without_checkpointing():
    """`compile(jit_compile=True)` trains on the same loss curve (per-step losses within XLA_LOSS_RTOL) without
    dropout (NO_DROPOUT: XLA draws other dropout masks than TensorFlow's kernels); with dropout on, XLA with
    gradient checkpointing follows XLA without it (the recomputation reuses the forward pass's masks)."""
    inputs, labels = _fit_data("TFLongformerForTokenClassification")
    curves, start = {}, None
    for name, jit, checkpointing, overrides in (("graph", False, False, NO_DROPOUT), ("xla", True, False, NO_DROPOUT),
                                                ("xla+dropout", True, False, {}),
                                                ("xla+dropout+ckpt", True, True, {})):
        model = _fit_model("TFLongformerForTokenClassification", **overrides)  # 4 compiles
        start = _same_weights(model, start)
        if checkpointing:
            model.gradient_checkpointing_enable()
        model.compile(optimizer=keras.optimizers.Adam(0.01), jit_compile=jit)
        ds = _dataset(inputs, labels, "hf", batch_size=8)
        curves[name] = model.fit(ds, epochs=4, verbose=0).history["loss"]
    for name, base in (("xla", "graph"), ("xla+dropout+ckpt", "xla+dropout")):
        rel = np.max(np.abs(np.subtract(curves[name], curves[base])) / np.abs(curves[base]))
        print(f"{name}: max relative loss difference to {base} over 4 steps: {rel:.1e}")
    assert curves["graph"][-1] < 0.9 * curves["graph"][0]
    np.testing.assert_allclose(curves["xla"], curves["graph"], rtol=XLA_LOSS_RTOL)
    assert not np.allclose(curves["xla+dropout"], curves["xla"], rtol=XLA_LOSS_RTOL)  # dropout was on
    np.testing.assert_allclose(curves["xla+dropout+ckpt"], curves["xla+dropout"], rtol=XLA_LOSS_RTOL)


# --- gradient checkpointing ---------------------------------------------------------------------------

def _dense(grad, variable) -> np.ndarray:
    """A gradient as a numpy array (None, e.g. an unused projection, as zeros)."""
    return np.zeros(variable.shape, np.float32) if grad is None else tf.convert_to_tensor(grad).numpy()


def _seed_states(model):
    return [g.state for layer in model._flatten_layers() for g in getattr(layer, "_seed_generators", ())]


@pytest.mark.parametrize("mode", ["eager", "graph"])
def test_gradient_checkpointing_same_gradients_with_dropout(mode, monkeypatch):
    """Recomputed activations (same dropout masks) give the gradients of the plain backward pass."""
    from tf_longformer.layers.transformer_layer import LongformerLayer

    # two layers: a recomputed layer's input gradient flows into another recomputed layer; dropout 0.1
    model = _fit_model("TFLongformerForSequenceClassification", num_hidden_layers=2)
    inputs, labels = _fit_data("TFLongformerForSequenceClassification")
    batch = {k: tf.constant(v) for k, v in {**inputs, **labels}.items()}
    seeds = [s.numpy() for s in _seed_states(model)]
    assert seeds, "dropout layers should hold seed generators"
    calls = []
    original = LongformerLayer.call

    def counting_call(self, *args, **kwargs):
        calls.append(self.name)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LongformerLayer, "call", counting_call)

    def step():
        with tf.GradientTape() as tape:
            loss = model(batch, training=True).loss
        return loss, tape.gradient(loss, model.trainable_variables)

    results = {}
    for enabled in (False, True):
        if enabled:
            model.gradient_checkpointing_enable()
        else:
            model.gradient_checkpointing_disable()
        assert model.is_gradient_checkpointing is enabled
        for state, value in zip(_seed_states(model), seeds, strict=True):
            state.assign(value)
        calls.clear()
        fn = tf.function(step) if mode == "graph" else step
        loss, grads = fn()
        results[enabled] = (float(loss), [_dense(g, v) for g, v in zip(grads, model.trainable_variables, strict=True)])
        # the layers run again in the backward pass only when checkpointing
        assert len(calls) == (4 if enabled else 2), calls
    assert results[True][0] == results[False][0]
    for a, b in zip(results[True][1], results[False][1], strict=True):
        np.testing.assert_allclose(a, b, atol=1e-7)
    # dropout was on: a second plain step with other seeds gives other gradients
    model.gradient_checkpointing_disable()
    other = [_dense(g, v) for g, v in zip(step()[1], model.trainable_variables, strict=True)]
    assert any(not np.allclose(a, b) for a, b in zip(other, results[False][1], strict=True))


def test_gradient_checkpointing_only_when_training(monkeypatch):
    """With checkpointing on, a gradient through an inference call (training=False: no dropout) runs each layer
    once and equals the gradient without checkpointing; a training step runs each layer again in the backward
    pass (the recomputation; its gradients are compared in the test above)."""
    from tf_longformer.layers.transformer_layer import LongformerLayer

    calls = []
    original = LongformerLayer.call

    @functools.wraps(original)  # Keras reads the signature of `call`
    def counting_call(self, *args, **kwargs):
        calls.append(self.name)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LongformerLayer, "call", counting_call)
    model = _fit_model("TFLongformerForSequenceClassification")
    assert model.config.hidden_dropout_prob > 0
    inputs, labels = _fit_data("TFLongformerForSequenceClassification")
    batch = {k: tf.constant(v) for k, v in {**inputs, **labels}.items()}
    layers = model.config.num_hidden_layers

    def step(training):
        calls.clear()
        with tf.GradientTape() as tape:
            out = model(batch, training=training)
        grads = tape.gradient(out.loss, model.trainable_variables)
        return out.logits.numpy(), [_dense(g, v) for g, v in zip(grads, model.trainable_variables, strict=True)]

    plain = step(training=False)
    assert len(calls) == layers
    model.gradient_checkpointing_enable()
    assert model.config.gradient_checkpointing and model.longformer.config.gradient_checkpointing
    checkpointed = step(training=False)
    assert len(calls) == layers, calls  # not recomputed
    np.testing.assert_array_equal(checkpointed[0], plain[0])
    for a, b in zip(checkpointed[1], plain[1], strict=True):
        np.testing.assert_array_equal(a, b)
    step(training=True)
    assert len(calls) == 2 * layers, calls  # recomputed in the backward pass


def test_train_memory_benchmark_small(tmp_path):
    """`benchmarks/train_memory.py --small`: one fresh process per setting, same losses with checkpointing."""
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "train_memory.py"), "--small",
                           "--tokens", "256", "--out", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "train_memory.json").read_text())
    off, on = report["results"]
    assert (off["gradient_checkpointing"], on["gradient_checkpointing"]) == (False, True)
    for row in (off, on):
        assert row["peak_rss_mb"] >= row["baseline_rss_mb"] > 100
        assert len(row["losses"]) == 2 and row["losses"][1] != row["losses"][0]
    np.testing.assert_allclose(on["losses"], off["losses"], rtol=1e-6)
    assert "| on |" in (tmp_path / "train_memory.md").read_text()
    assert report["torch_results"] == []  # --small: ours only


# --- bucketed datasets ----------------------------------------------------------------------------------

def _token_lists(n: int = 23, seed: int = 0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(3, 30, n)
    return [[0, *rng.integers(3, 60, int(k) - 2).tolist(), 2] for k in lengths]


def test_bucketed_dataset_pads_to_window_multiples():
    texts = _token_lists()
    config = tf_longformer.LongformerConfig(**FIT_CONFIG)
    token_labels = [[i % 3 for i in range(len(t))] for t in texts]
    ds = make_bucketed_dataset({"input_ids": texts}, token_labels, batch_size=4, config=config)
    seen = 0
    for batch in ds:
        ids, mask, labels = (batch[k].numpy() for k in ("input_ids", "attention_mask", "labels"))
        assert ids.shape[1] % config.padding_multiple == 0 and ids.shape == labels.shape == mask.shape
        for row_ids, row_mask, row_labels in zip(ids, mask, labels, strict=True):
            n = int(row_mask.sum())
            assert row_ids[:n].tolist() in texts and n > ids.shape[1] - config.padding_multiple
            assert (row_ids[n:] == config.pad_token_id).all() and (row_labels[n:] == -100).all()
        seen += len(ids)
    assert seen == len(texts)
    # Keras style: (inputs, labels) tuples; fixed boundaries; too-long examples refused
    x, y = next(iter(make_bucketed_dataset(texts, list(range(len(texts))), batch_size=5, pad_to_multiple_of=8,
                                           bucket_boundaries=[10, 32], labels_in_inputs=False)))
    assert x["input_ids"].shape[1] in (16, 32) and y.shape == (5,)
    assert bucket_lengths([3, 9, 17, 16], 8, [10, 32]) == [16, 16, 32, 16]
    with pytest.raises(ValueError, match="longer than the largest bucket"):
        make_bucketed_dataset(texts, batch_size=2, pad_to_multiple_of=8, bucket_boundaries=[16])


@pytest.mark.slow
def test_xla_train_step_compiles_once_per_bucket():
    """Every batch of a bucket has one shape: an XLA train step is traced (compiled) once per bucket. The step
    trains the head of a frozen encoder (a real use, and a program that compiles in seconds: the encoder's
    backward pass is what `test_xla_fit_follows_the_same_loss_curve...` compiles)."""
    config = tf_longformer.LongformerConfig(**{**FIT_CONFIG, "attention_window": 8})
    model = tf_longformer.TFLongformerForSequenceClassification(config)
    optimizer = keras.optimizers.SGD(0.1)
    head = model.classifier.trainable_variables
    head_before, encoder_before = ([v.numpy() for v in part] for part in (head, model.longformer.trainable_variables))
    texts = _token_lists(40)
    ds = make_bucketed_dataset(texts, [len(t) % 2 for t in texts], batch_size=4, config=config,
                               bucket_boundaries=[16, 32], shuffle=True, seed=0, drop_remainder=True)
    traces = []

    @tf.function(jit_compile=True)
    def train_step(batch):
        traces.append(tuple(batch["input_ids"].shape))
        with tf.GradientTape(watch_accessed_variables=False) as tape:  # no backward pass through the encoder
            tape.watch([v.value for v in head])
            loss = model(batch, training=True).loss
        grads = tape.gradient(loss, head)
        optimizer.apply_gradients(zip(grads, head, strict=True))
        return loss

    steps = 0
    for _ in range(2):
        for batch in ds:
            assert np.isfinite(float(train_step(batch)))
            steps += 1
    assert steps >= 12
    assert sorted(traces) == [(4, 16), (4, 32)], traces
    assert not any(np.array_equal(v.numpy(), b) for v, b in zip(head, head_before, strict=True)), "the head trains"
    assert all(np.array_equal(v.numpy(), b) for v, b in zip(model.longformer.trainable_variables, encoder_before,
                                                            strict=True)), "the encoder is frozen"


# --- the fine-tuning notebook ------------------------------------------------------------------------

@pytest.mark.slow
def test_finetune_notebook_runs_and_global_attention_wins(tmp_path):
    """notebooks/02_finetune_long_documents.ipynb executes; its own asserts check the accuracies."""
    import nbclient
    import nbformat

    path = os.path.join(ROOT, "notebooks", "02_finetune_long_documents.ipynb")
    notebook = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(notebook, timeout=1500, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    printed = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    assert "validation accuracy with global attention" in printed
    assert "global/train/events.out.tfevents" in printed  # the TensorBoard callback wrote its logs


def test_chunked_rows_xla_gradients_match_pytorch(reference_factory):
    """Under XLA the gradients flow through the chunk loops (while loops with a static trip count) too (ONE_LAYER:
    each layer has its own loops)."""
    ref_model, folder = reference_factory("TFLongformerModel", **ONE_LAYER, attention_query_chunk=12,
                                          dense_row_chunk=10)
    model = tf_longformer.TFLongformerModel.from_pretrained(folder)
    batch = _labelled_batch("chunked")
    _, ref_grads = _torch_grads(ref_model, batch, "chunked")
    names, variables = zip(*((name, v) for name, (v, _) in model.hf_weights().items()), strict=True)
    w1, w2 = _base_model_weights(model.config.hidden_size)

    @tf.function(jit_compile=True)
    def grads(inputs):
        with tf.GradientTape() as tape:
            out = model(**inputs)
            loss = tf.reduce_sum(out.last_hidden_state * w1) + tf.reduce_sum(out.pooler_output * w2)
        return tape.gradient(loss, list(variables))

    computed = grads({k: tf.constant(v) for k, v in batch.items()})
    for name, grad in zip(names, computed, strict=True):
        g = tf.convert_to_tensor(grad).numpy()
        g = g.T if model.hf_weights()[name][1] else g
        ref = ref_grads[name].numpy()
        assert float(np.max(np.abs(g - ref))) <= GRAD_TOL, name
