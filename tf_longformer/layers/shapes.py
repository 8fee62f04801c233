"""Sizes of a traced tensor: Python ints where known when traced, scalar tensors where not.

A shape argument built from `tf.shape(x)` costs graph ops for every dimension (a slice and its three
constants each), and tracing time grows with the ops. Built from `dims`, the known sizes are constants
and a shape whose every size is known is one constant; the unknown ones still come from `tf.shape`.
"""

from __future__ import annotations

import tensorflow as tf


def dims(x: tf.Tensor) -> list:
    """The sizes of `x`'s dimensions: an int where the size is known when traced, else a scalar tensor.

    A list of them (with ints or tensors added) is a valid shape argument for `tf.reshape`, `tf.slice`,
    `tf.zeros`, `tf.broadcast_to`.

    Example:
        >>> dims(tf.zeros([2, 3]))
        [2, 3]
    """
    static = x.shape.as_list()
    if None not in static:
        return static
    dynamic = tf.unstack(tf.shape(x), num=len(static))  # two ops for all sizes; a slice is four per size
    return [dynamic[i] if size is None else size for i, size in enumerate(static)]
