"""`head_mask`: transformers 4's per-head multipliers of the attention probabilities.

A head mask is `(num_heads,)` (the same for every layer) or `(num_layers, num_heads)`; 1 keeps a head,
0 silences it, any other value scales it. Each layer multiplies the attention probabilities of head `h`
(local window, global columns and the global tokens' own rows) by `mask[h]`, as transformers 4 did
(PyTorch and TensorFlow). Since the output of a head is a sum of its probabilities times values, the
layer applies the multiplier to each head's output (and to the probabilities it returns).
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from .input_checks import InvalidInputError


def per_layer_head_masks(head_mask: Any, num_layers: int, num_heads: int) -> list[tf.Tensor | None]:
    """Split `head_mask` into one `(num_heads,)` float vector per layer.

    Args:
        head_mask: None, `(num_heads,)` or `(num_layers, num_heads)`.
        num_layers: layers of the model.
        num_heads: attention heads per layer.

    Returns:
        A list of `num_layers` entries, each `None` (no mask) or a float32 `(num_heads,)` tensor.

    Raises:
        InvalidInputError: any other shape (the message gives the two accepted ones).
    """
    if head_mask is None:
        return [None] * num_layers
    mask = tf.cast(tf.convert_to_tensor(head_mask), tf.float32)
    accepted = f"({num_heads},) or ({num_layers}, {num_heads})"
    if mask.shape.rank == 1:
        mask = tf.tile(mask[None], [num_layers, 1])
    elif mask.shape.rank != 2:
        raise InvalidInputError(f"head_mask must have shape {accepted} (heads, or layers x heads), got {mask.shape}.")
    static = mask.shape.as_list()
    if any(d is not None and d != want for d, want in zip(static, (num_layers, num_heads), strict=True)):
        raise InvalidInputError(f"head_mask must have shape {accepted} (heads, or layers x heads), got "
                                f"{tuple(tf.convert_to_tensor(head_mask).shape)}.")
    mask = tf.ensure_shape(mask, (num_layers, num_heads))
    return tf.unstack(mask, num=num_layers, axis=0)


def scale_heads(x: tf.Tensor, layer_head_mask: tf.Tensor | None, head_axis: int) -> tf.Tensor:
    """`x` with head `h` (along `head_axis`) multiplied by `layer_head_mask[h]`; `x` itself without a mask."""
    if layer_head_mask is None:
        return x
    shape = [1] * x.shape.rank
    shape[head_axis] = -1
    return x * tf.reshape(tf.cast(layer_head_mask, x.dtype), shape)


def scale_merged_heads(x: tf.Tensor, layer_head_mask: tf.Tensor | None, head_dim: int) -> tf.Tensor:
    """`(..., heads * head_dim)` with the features of head `h` multiplied by `layer_head_mask[h]`."""
    if layer_head_mask is None:
        return x
    return x * tf.repeat(tf.cast(layer_head_mask, x.dtype), head_dim)
