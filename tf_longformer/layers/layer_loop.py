"""A run of identical layers as one loop in a traced program: one copy of the layer instead of one per layer.

Traced with `tf.function` (and compiled by XLA), a Python loop over 12 layers puts 12 copies of the layer's
~700 ops into the graph and 12 copies of its kernels into the compiled program; at the base shape that is
~80 MiB of graph and ~100 MiB of compiled program resident after the first call. Consecutive layers with
the same configuration (the same attention window) run instead as a `tf.while_loop`: iteration `i` picks
layer `i`'s weights with `tf.switch_case` and runs the first layer of the run statelessly on them
(`keras.layers.Layer.stateless_call`). The arithmetic is the same as calling the layers one by one.

Only for inference in a traced function: eager code has no program to shrink, per-layer outputs
(`output_hidden_states`, `output_attentions`) need each layer separately, and training keeps its unrolled
path (dropout seeds, gradient checkpointing). Converters that cannot read `tf.switch_case` (tf2onnx 1.17
has no converter for TensorFlow's `Case`) trace inside `layers_unrolled()`, which calls every layer on its
own.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

import keras
import tensorflow as tf

_UNROLLED = contextvars.ContextVar("tf_longformer_layers_unrolled", default=False)


@contextlib.contextmanager
def layers_unrolled() -> Iterator[None]:
    """Within this context, `call_layers_in_loop` calls the layers one after the other instead of looping.

    For programs traced for a converter that cannot read the loop (ONNX). The arithmetic is the same.

    Example:
        >>> with layers_unrolled():  # doctest: +SKIP
        ...     concrete = tf.function(model).get_concrete_function(spec)
    """
    token = _UNROLLED.set(True)
    try:
        yield
    finally:
        _UNROLLED.reset(token)


def runs_of_identical_layers(layers: list[keras.layers.Layer]) -> list[list[keras.layers.Layer]]:
    """Split `layers` into runs of consecutive layers that differ only in their names and weight values:
    same configuration, and weights of the same shapes and dtypes (a layer quantized on its own, with
    int8 kernels and scales, starts a run of its own)."""

    def signature(layer):
        config = layer.get_config()
        config.pop("name", None)
        weights = [(tuple(v.shape), v.dtype) for v in layer.trainable_variables + layer.non_trainable_variables]
        return type(layer), repr(sorted(config.items())), weights

    runs: list[list[keras.layers.Layer]] = []
    for layer in layers:
        if runs and signature(runs[-1][0]) == signature(layer):
            runs[-1].append(layer)
        else:
            runs.append([layer])
    return runs


def _weights(layer: keras.layers.Layer) -> list[tf.Tensor]:
    """The values of `layer.weights` in `trainable_variables + non_trainable_weights` order."""
    return [tf.convert_to_tensor(v.value) for v in layer.trainable_variables + layer.non_trainable_weights]


def _non_trainable_values(layer: keras.layers.Layer, weights: list[tf.Tensor]) -> list[tf.Tensor]:
    """`layer.non_trainable_variables`' values for `stateless_call`: `weights` (the values of its
    `non_trainable_weights`) where they go, and constants for the rest of its state, the Dropout layers' seed
    generators.

    Inference never draws a seed, and capturing those variables would make every traced function hold
    resources that no model tracks (`model.weights` omits them): `tf.saved_model.save` then refuses it
    ("references an 'untracked' resource ... seed_generator_state").
    """
    by_variable = {id(v): value for v, value in zip(layer.non_trainable_weights, weights, strict=True)}
    return [by_variable[id(v)] if id(v) in by_variable else tf.zeros(v.shape, v.dtype)
            for v in layer.non_trainable_variables]


def call_layers_in_loop(layers: list[keras.layers.Layer], hidden_states: tf.Tensor, **kwargs) -> tf.Tensor:
    """`hidden_states` through `layers` (built, identical apart from their weights) in one `tf.while_loop`.

    Inference only: the layers' seed generators are not read (see `_non_trainable_values`). Inside
    `layers_unrolled()` the layers are called one by one.

    Args:
        layers: a run from `runs_of_identical_layers`; each is called as `layer(hidden_states, **kwargs)` and returns
            `(hidden_states, *others)` (the others are dropped).
        hidden_states: the input of the first layer.
        **kwargs: the layers' other call arguments (loop invariants).

    Returns:
        The output hidden states of the last layer.
    """
    if _UNROLLED.get():
        for layer in layers:
            hidden_states = layer(hidden_states, training=False, **kwargs)[0]
        return hidden_states
    first = layers[0]
    trainable = len(first.trainable_variables)
    branches = [lambda layer=layer: _weights(layer) for layer in layers]

    def body(i, hidden):
        values = tf.switch_case(i, branches)
        non_trainable = _non_trainable_values(first, values[trainable:])
        outputs, _ = first.stateless_call(values[:trainable], non_trainable, hidden, training=False, **kwargs)
        out = outputs[0]
        out.set_shape(hidden.shape)
        return [i + 1, out]

    _, hidden = tf.while_loop(lambda i, _: i < len(layers), body, [tf.constant(0), hidden_states],
                              maximum_iterations=len(layers))
    return hidden
