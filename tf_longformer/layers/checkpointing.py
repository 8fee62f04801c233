"""Gradient checkpointing: run a layer without keeping its activations, recompute them in the backward pass.

`checkpointed_layer_call(layer, hidden_states, ...)` is `layer(hidden_states, ...)` wrapped in
`tf.recompute_grad`: the forward pass stores only the layer's input, and the backward pass runs the
layer again to get the activations it needs. Numbers are identical to the plain call (the same ops run
on the same inputs). Works eagerly, in `tf.function`, under XLA and inside `tf.distribute`.

Dropout stays correct: Keras dropout draws its masks from seed-generator variables that every call
advances, so the recomputation first rewinds those seeds to their value before the forward pass (and
restores them afterwards); the recomputed masks are the forward pass's masks.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from ..private_apis import seed_states


def checkpointed_layer_call(layer: keras.layers.Layer, hidden_states: tf.Tensor, **kwargs: Any):
    """`layer(hidden_states, **kwargs)` whose activations are recomputed in the backward pass.

    Args:
        layer: a layer whose call takes the hidden states first and returns a tuple
            `(hidden_states, *others)` (others may be `None`), such as `LongformerLayer`.
        hidden_states: the one differentiable input.
        **kwargs: the other call arguments (masks, flags); they get no gradient.

    Returns:
        The layer's output tuple.

    Example:
        >>> out, _, _ = checkpointed_layer_call(layer, hidden, is_index_masked=mask, slots=slots,
        ...                                     training=True)  # doctest: +SKIP
    """
    states = seed_states(layer)
    seeds_before = [tf.identity(state.value) for state in states]
    structure: list = []
    calls = [0]

    def forward(hidden):
        rewind = calls[0] > 0 and states
        calls[0] += 1
        if rewind:  # recomputation: replay the forward pass's dropout masks
            seeds_after = [tf.identity(state.value) for state in states]
            for state, value in zip(states, seeds_before, strict=True):
                state.assign(value)
        outputs = layer(hidden, **kwargs)
        if rewind:
            for state, value in zip(states, seeds_after, strict=True):
                state.assign(value)
        if not structure:
            structure.append([o is not None for o in outputs])
        return tuple(o for o in outputs if o is not None)

    flat = tf.recompute_grad(forward)(hidden_states)
    flat = list(flat) if isinstance(flat, (tuple, list)) else [flat]
    return tuple(flat.pop(0) if present else None for present in structure[0])
