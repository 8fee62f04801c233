"""Training: gradients equal transformers' PyTorch gradients; `model.fit` / `evaluate` / `predict` in
Hugging Face style (labels in the inputs, the model's own loss) and Keras style (`loss=` on the logits);
XLA follows the same loss curve; gradient checkpointing gives the same gradients; bucketed datasets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
import torch

import tf_longformer
from tests.conftest import TINY_CONFIG
from tests.test_parity import mc_batch, padded_batch, qa_batch
from tf_longformer.data import bucket_lengths, make_bucketed_dataset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GRAD_TOL = 1e-4
# XLA fuses and reorders float32 reductions: per-step losses of a 6-step fit agree to this (relative).
XLA_LOSS_RTOL = 1e-4
# Two layers, one window: the fit tests trace forward + backward, so fewer layers keep them fast.
FIT_CONFIG = {**TINY_CONFIG, "num_hidden_layers": 2, "attention_window": [8, 4]}


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
    if case == "TFLongformerModel":
        w1, w2 = _base_model_weights(model.config.hidden_size)
        loss = (out.last_hidden_state * torch.tensor(w1)).sum() + (out.pooler_output * torch.tensor(w2)).sum()
    else:
        loss = out.loss
    loss.backward()
    return float(loss), {name: p.grad for name, p in model.named_parameters()}


def _tf_grads(model, batch, case, training=False):
    names, variables, transposed = [], [], []
    for name, (variable, transpose) in model.hf_weights().items():
        names.append(name)
        variables.append(variable)
        transposed.append(transpose)
    with tf.GradientTape() as tape:
        out = model(**{k: tf.constant(v) for k, v in batch.items()}, training=training)
        if case == "TFLongformerModel":
            w1, w2 = _base_model_weights(model.config.hidden_size)
            loss = tf.reduce_sum(out.last_hidden_state * w1) + tf.reduce_sum(out.pooler_output * w2)
        else:
            loss = out.loss
    grads = tape.gradient(loss, variables)
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
    loss, grads = _tf_grads(model, batch, case)
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
        assert diff <= GRAD_TOL, f"{name}: gradient differs by {diff}"
        compared += 1
    assert compared >= len(ref_grads) - 1
    # the comparison is not vacuous: the global projections and embeddings get real gradients
    assert np.abs(grads[f"{'' if case == 'TFLongformerModel' else 'longformer.'}encoder.layer.0.attention.self."
                        "query_global.weight"]).max() > 1e-4
    print(f"{case}: max |grad - torch grad| = {worst:.2e}")
