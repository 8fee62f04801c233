"""`layers/chunk_loop.py`: a computation over chunks of axis 1 equals the computation over all of it."""

import numpy as np
import pytest
import tensorflow as tf

from tf_longformer.layers.chunk_loop import map_row_chunks


def _rows_fn(x, y):
    # row-wise and nonlinear, two outputs of different widths and dtypes
    return [tf.tanh(x) * y[..., :1], tf.cast(tf.reduce_sum(x, axis=-1, keepdims=True) > 0, tf.int32)]


@pytest.mark.parametrize("length", [1, 4, 5, 12, 13])
@pytest.mark.parametrize("mode", ["graph", "xla", "graph_dynamic", "xla_dynamic"])
def test_map_row_chunks_equals_all_rows(length, mode):
    """Fewer rows than a chunk, exactly one chunk, a last chunk overlapping the one before it, a multiple of
    the chunk; static and dynamic shapes. Under XLA with a dynamic length (a SavedModel exported with
    `jit_compile=True`) the rows are padded to one chunk and the loop runs for every length."""
    rng = np.random.default_rng(length)
    x = tf.constant(rng.normal(size=(2, length, 3)), tf.float32)
    y = tf.constant(rng.normal(size=(2, length, 2)), tf.float32)
    templates = [x, tf.zeros((2, length, 1), tf.int32)]  # the outputs' shapes
    spec = [tf.TensorSpec([None, None, 3], tf.float32), tf.TensorSpec([None, None, 2], tf.float32)]

    @tf.function(jit_compile=mode.startswith("xla"), input_signature=spec if mode.endswith("dynamic") else None)
    def chunked(x, y):
        like = [x, tf.zeros_like(x[..., :1], tf.int32)]
        return map_row_chunks(_rows_fn, [x, y], like, chunk=4)

    expected = _rows_fn(x, y)
    got = chunked(x, y)
    for g, e, template in zip(got, expected, templates, strict=True):
        assert g.shape == template.shape and g.dtype == e.dtype
        np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=0, atol=1e-6)  # XLA's tanh may differ in the last bit
    if mode == "xla_dynamic":
        graph = chunked.get_concrete_function().graph.as_graph_def()
        ops = {n.op for n in graph.node} | {n.op for f in graph.library.function for n in f.node_def}
        assert ops & {"While", "StatelessWhile"} and not ops & {"If", "StatelessIf"}, ops
