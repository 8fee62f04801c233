"""The same model through each execution path gives the same numbers (`docs/architecture.md` lists them).

One input with padding and a different number of global tokens per row runs eagerly, in `tf.function`
(chunk loops and the layer loop), under XLA (global slots in chunks, the branch for the batch's count) and
in training (dropout off: the NO_DROPOUT shape), with and without gradient checkpointing. The chunk sizes
are set small enough that every chunk loop runs at this length.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import torch

import tf_longformer
from tests.conftest import NO_DROPOUT, max_abs_diff

TOL = 1e-5
SMALL_CHUNKS = dict(attention_query_chunk=8, dense_row_chunk=8)  # below the length: the chunk loops run
LENGTH = 37  # not a window multiple: the backbone pads


def _inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    ids = rng.integers(3, 60, (2, LENGTH)).astype(np.int32)
    ids[:, 0], ids[0, -1] = 0, 2  # <s> ... </s>
    mask = np.ones_like(ids)
    mask[1, 30:] = 0  # the second row is padded
    ids[1, 29], ids[1, 30:] = 2, 1
    global_mask = np.zeros_like(ids)
    global_mask[:, 0] = 1
    global_mask[0, [5, 17]] = 1  # three global tokens in the first row, one in the second
    return dict(input_ids=ids, attention_mask=mask, global_attention_mask=global_mask)


PATHS = ("eager", "tf.function", "xla", "training", "training, tf.function")


@pytest.fixture(scope="module")
def reference(reference_factory):
    return reference_factory("TFLongformerModel", **NO_DROPOUT)


@pytest.fixture(scope="module")
def model(reference):
    return tf_longformer.TFLongformerModel.from_pretrained(reference[1], **SMALL_CHUNKS)


@pytest.fixture(scope="module")
def paths(model) -> dict:
    """Path name → a callable of the input tensors; each traced function traces once for the module."""
    return {
        "eager": lambda t: model(**t),
        "tf.function": tf.function(lambda t: model(**t)),
        "xla": tf.function(lambda t: model(**t), jit_compile=True),
        "training": lambda t: model(**t, training=True),
        "training, tf.function": tf.function(lambda t: model(**t, training=True)),
    }


@pytest.fixture(scope="module")
def eager_output(paths):
    return paths["eager"](_tensors())


def _tensors() -> dict[str, tf.Tensor]:
    return {k: tf.constant(v) for k, v in _inputs().items()}


def test_eager_path_matches_reference(reference, eager_output):
    torch_model = reference[0]
    with torch.no_grad():
        expected = torch_model(**{k: torch.tensor(v) for k, v in _inputs().items()})
    assert max_abs_diff(eager_output.last_hidden_state, expected.last_hidden_state) <= TOL
    assert max_abs_diff(eager_output.pooler_output, expected.pooler_output) <= TOL


@pytest.mark.parametrize("path", PATHS[1:])
def test_path_matches_eager(paths, eager_output, path):
    out = paths[path](_tensors())
    for field in ("last_hidden_state", "pooler_output"):
        diff = max_abs_diff(out[field], eager_output[field])
        assert diff <= TOL, f"{path}: {field} differs from eager by {diff}"


def _op_types(function, inputs) -> list[str]:
    """Op types of the traced program, nested loop bodies and branches included."""
    graph_def = function.get_concrete_function(inputs).graph.as_graph_def()
    return [n.op for n in graph_def.node] + [n.op for f in graph_def.library.function for n in f.node_def]


def test_traced_paths_take_their_loops(paths):
    """The paths compared above are the ones claimed: traced inference loops over layers and chunks, XLA
    switches between the global branches as well; training traces neither."""
    loops = ("While", "StatelessWhile")
    switches = ("Case", "StatelessCase")
    traced, xla, training = (_op_types(paths[p], _tensors()) for p in ("tf.function", "xla", "training, tf.function"))
    # the layer loop (a loop with a switch over the layers' weights) and the chunk loops inside it
    assert sum(op in loops for op in traced) >= 3 and any(op in switches for op in traced)
    # XLA adds the switch between the global branches inside the layer loop
    assert sum(op in switches for op in xla) > sum(op in switches for op in traced)
    assert not any(op in loops or op in switches for op in training)


def test_gradient_checkpointing_path_gives_the_same_gradients(reference):
    """Training with gradient checkpointing recomputes each layer in the backward pass: same outputs and
    gradients as keeping the activations."""
    x = _tensors()
    results = []
    for checkpointing in (False, True):
        model = tf_longformer.TFLongformerModel.from_pretrained(reference[1], gradient_checkpointing=checkpointing)
        with tf.GradientTape() as tape:
            out = model(**x, training=True).last_hidden_state
            loss = tf.reduce_sum(out * tf.cos(tf.range(out.shape[-1], dtype=out.dtype)))
        grads = tape.gradient(loss, model.trainable_variables)
        results.append((out, [g for g in grads if g is not None]))
    (out_plain, grads_plain), (out_checkpointed, grads_checkpointed) = results
    assert max_abs_diff(out_checkpointed, out_plain) <= TOL
    assert len(grads_checkpointed) == len(grads_plain) > 0
    for plain, checkpointed in zip(grads_plain, grads_checkpointed, strict=True):
        assert max_abs_diff(tf.convert_to_tensor(checkpointed), tf.convert_to_tensor(plain)) <= TOL
