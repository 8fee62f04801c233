"""Under XLA every number of global tokens, up to all of them, gives the reference's numbers, in one program.

The global part of each layer runs on chunks of global slots in a branch chosen per batch
(`tf_longformer/layers/global_tiers.py`). Each test compiles once and feeds batches whose counts select every
branch: none, one token, the factored chunks, and the projected chunks of 64 (one and two of them).
References: transformers 5 PyTorch, through our public `from_pretrained`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import torch

import tf_longformer
from tests.conftest import NO_DROPOUT, max_abs_diff

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOL = 1e-5
GRAD_TOL = 1e-4
SEQ = 75  # padded to 80 = 10 windows; 80 slots are two chunks of 64 (TINY_CONFIG: window 8, 82 positions)


def _ids(shape, seed):
    ids = np.random.default_rng(seed).integers(3, 60, size=shape)
    ids[..., 0] = 0
    return ids


def _batch(counts: tuple[int, int], seed: int = 0) -> dict:
    """Two rows of `SEQ` tokens, the second padded after 60; row `i` has `counts[i]` global tokens at
    random positions (a flag inside the padding too, which must have no effect)."""
    rng = np.random.default_rng(seed)
    ids = _ids((2, SEQ), seed)
    mask = np.ones_like(ids)
    mask[1, 60:] = 0
    ids[mask == 0] = 1
    glob = np.zeros_like(ids)
    glob[0, rng.permutation(SEQ)[:counts[0]]] = 1
    glob[1, rng.permutation(60)[:counts[1]]] = 1
    glob[1, 70] = 1
    return {"input_ids": ids, "attention_mask": mask, "global_attention_mask": glob}


def _torch(model, **inputs):
    with torch.no_grad():
        return model(**{k: torch.tensor(v) for k, v in inputs.items()})


def _xla(model):
    return tf.function(lambda inputs: dict(model(**inputs)), jit_compile=True)


def _tensors(batch: dict) -> dict:
    return {k: tf.constant(v) for k, v in batch.items()}


# 0 / 1 / a few / more than 64 / every token global; the second row has fewer (batches pay for their largest)
COUNTS = {"none": (0, 0), "one": (1, 0), "three": (3, 1), "twenty": (20, 20), "forty": (40, 3), "seventy": (70, 5),
          "all": (SEQ, 60)}


@pytest.mark.parametrize("shape", ["real", "wide-heads"])
def test_any_number_of_global_tokens_one_program(reference_factory, shape):
    """One compiled program, every count: the reference's last hidden state and pooler. `real`: 2 heads of
    8, so the global rows are factored up to 7 tokens (one chunk of 7) and 20 / 40 / 70 / 75 run one or two
    chunks of 64. `wide-heads` (hidden 96, 2 heads of 48: factored up to 47 tokens; longformer-base: 63)
    runs every branch of the base shape: 3 tokens one chunk of 16, 20 one chunk of 32, 40 two chunks of 32,
    70 and 75 chunks of 64."""
    ref_model, folder = reference_factory("TFLongformerModel", **({"hidden_size": 96} if shape == "wide-heads" else {}))
    model = tf_longformer.TFLongformerModel.from_pretrained(folder)
    forward = _xla(model)
    for name, counts in COUNTS.items():
        batch = _batch(counts, seed=len(name))
        ref = _torch(ref_model, **batch)
        out = forward(_tensors(batch))
        for field in ("last_hidden_state", "pooler_output"):
            diff = max_abs_diff(out[field], ref[field])
            assert diff <= TOL, f"{name}: {field} differs by {diff}"
    assert forward.experimental_get_tracing_count() == 1


def test_attentions_under_xla_with_many_global_tokens(reference_factory):
    """`output_attentions` under XLA: one global column per token (the only static width that fits every
    batch), zero past the batch's count; the rest equals the reference."""
    ref_model, folder = reference_factory("TFLongformerModel")
    model = tf_longformer.TFLongformerModel.from_pretrained(folder)
    forward = tf.function(lambda inputs: dict(model(**inputs, output_attentions=True)), jit_compile=True)
    batch = _batch(COUNTS["seventy"])
    ref = _torch(ref_model, **batch, output_attentions=True)
    out = forward(_tensors(batch))
    count = ref.global_attentions[0].shape[-1]
    assert count == 70
    for ours, theirs in zip(out["global_attentions"], ref.global_attentions, strict=True):
        ours = np.asarray(ours)
        assert ours.shape[-1] == 80 and not ours[..., count:].any()
        assert max_abs_diff(ours[..., :count], theirs) <= TOL
    for ours, theirs in zip(out["attentions"], ref.attentions, strict=True):
        ours = np.asarray(ours)
        window = theirs.shape[-1] - count
        assert ours.shape[-1] == 80 + window and not ours[..., count:80].any()
        assert max_abs_diff(np.concatenate([ours[..., :count], ours[..., 80:]], -1), theirs) <= TOL


def test_multiple_choice_with_long_choices(reference_factory):
    """Multiple choice puts global attention on each choice (after the second separator): choices of 50
    and 20 tokens are 50 and 20 global tokens per row."""
    ref_model, folder = reference_factory("TFLongformerForMultipleChoice")
    model = tf_longformer.TFLongformerForMultipleChoice.from_pretrained(folder)
    ids = np.ones((2, 2, 60), np.int64)
    mask = np.zeros_like(ids)
    for b in range(2):
        for c, length in enumerate((50, 20)):
            row = [0, *_ids(4, b)[1:], 2, 2, *_ids(length, 10 * b + c)[1:], 8, 2]
            ids[b, c, :len(row)] = row
            mask[b, c, :len(row)] = 1
    batch = {"input_ids": ids, "attention_mask": mask, "labels": np.array([1, 0])}
    ref = _torch(ref_model, **batch)
    out = _xla(model)(_tensors(batch))
    assert max_abs_diff(out["logits"], ref.logits) <= TOL
    assert max_abs_diff(out["loss"], ref.loss) <= TOL


def test_question_answering_with_a_long_question(reference_factory):
    """QA puts global attention on the question: 40 question tokens in one row, 5 in the other."""
    ref_model, folder = reference_factory("TFLongformerForQuestionAnswering")
    model = tf_longformer.TFLongformerForQuestionAnswering.from_pretrained(folder)
    ids = np.ones((2, 70), np.int64)
    mask = np.zeros_like(ids)
    for b, q_len in enumerate((40, 5)):
        row = [0, *_ids(q_len, b)[1:], 8, 2, 2, *_ids(20, b + 5)[1:], 2]
        ids[b, :len(row)] = row
        mask[b, :len(row)] = 1
    batch = {"input_ids": ids, "attention_mask": mask}
    ref = _torch(ref_model, **batch)
    out = _xla(model)(_tensors(batch))
    for field in ("start_logits", "end_logits"):
        assert max_abs_diff(out[field], ref[field]) <= TOL, field



def test_head_mask_under_xla_matches_transformers_4():
    """`head_mask` multiplies each head's probabilities in the branch chosen under XLA too: transformers
    4.57's logits for a (layers, heads) mask (tests/fixtures/head_mask_mlm: 1 and 2 global tokens)."""
    folder = os.path.join(os.path.dirname(__file__), "fixtures", "head_mask_mlm")
    ref = dict(np.load(os.path.join(folder, "reference.npz")))
    model = tf_longformer.TFLongformerForMaskedLM.from_pretrained(folder)
    batch = {k: tf.constant(ref[k]) for k in ("input_ids", "attention_mask", "global_attention_mask")}
    forward = tf.function(lambda b, m: model(**b, head_mask=m).logits, jit_compile=True)
    assert max_abs_diff(forward(batch, tf.constant(ref["head_mask_2d"])), ref["tf_logits"]) <= TOL

def test_training_gradients_under_xla_match_pytorch(reference_factory):
    """`training=True` under XLA: the branches read no variables and recompute their activations in the
    backward pass; the gradients equal transformers' for a batch of the factored branch (3 and 1 global
    tokens) and one of the projected chunks (70 and 5), in one compiled function. Dropout 0 and one layer
    (special shape) so that both sides compute the same function and the training program compiles fast."""
    overrides = dict(NO_DROPOUT, num_hidden_layers=1)
    ref_model, folder = reference_factory("TFLongformerModel", **overrides)
    model = tf_longformer.TFLongformerModel.from_pretrained(folder)
    w1 = np.random.default_rng(3).normal(size=(1, 1, model.config.hidden_size)).astype(np.float32)
    names, variables = zip(*((name, v) for name, (v, _) in model.hf_weights().items()), strict=True)

    @tf.function(jit_compile=True)
    def grads(inputs):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(**inputs, training=True).last_hidden_state * w1)
        return tape.gradient(loss, list(variables))

    for counts in ((3, 1), (70, 5)):
        batch = _batch(counts)
        ref_model.zero_grad()
        out = ref_model(**{k: torch.tensor(v) for k, v in batch.items()})
        (out.last_hidden_state * torch.tensor(w1)).sum().backward()
        computed = grads(_tensors(batch))
        for name, grad in zip(names, computed, strict=True):
            if name.startswith("pooler"):
                continue
            g = tf.convert_to_tensor(grad).numpy()
            g = g.T if model.hf_weights()[name][1] else g
            ref = dict(ref_model.named_parameters())[name].grad.numpy()
            diff = float(np.max(np.abs(g - ref)))  # sums over 150 tokens: relative to the gradient's size
            assert diff <= GRAD_TOL * max(1.0, float(np.abs(ref).max())), f"{counts}: {name} differs by {diff}"
        assert np.abs(computed[names.index("encoder.layer.0.attention.self.key_global.weight")]).max() > 1e-4
    assert grads.experimental_get_tracing_count() == 1


@pytest.mark.slow
def test_xla_fit_compiles_once_per_shape_whatever_the_global_count(tmp_path):
    """`fit(jit_compile=True)` on batches of one shape whose global counts differ (0, 1, 3, 70; every branch):
    traced and compiled once, at the first batch, and not again for 8 steps whose weights and batches change.
    TensorFlow's log counts the compilations (a compile key holding the batch's or the weights' values
    would compile every step). Dropout 0.1 in every branch, the recomputed backward included. One layer
    (special shape): the compiled step holds every branch, and compiling is the cost."""
    out = tmp_path / "fit.json"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0", "TF_CPP_VMODULE": "device_compiler=1"}
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "xla_fit_job.py"), str(out)],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    compiled = proc.stderr.count("Compilation of XLA executable")
    assert compiled == 1, f"{compiled} XLA compilations for 8 steps of one shape (expected 1)"
    report = json.loads(out.read_text())
    after_batch, history = report["traces_after_batch"], report["loss"]
    assert len(after_batch) == 8 and after_batch[0] > 0
    assert after_batch == after_batch[:1] * 8, f"traced again at another global count: {after_batch}"
    assert np.all(np.isfinite(history)) and history[1] != history[0]
