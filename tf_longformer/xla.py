"""Is the code being traced for XLA? The one place that decides between exact and static shapes."""

from __future__ import annotations

import tensorflow as tf

from .private_apis import graph_is_xla_compiled


def in_xla_context() -> bool:
    """True while tracing inside `tf.function(jit_compile=True)`, `model.compile(jit_compile=True)` or TPU.

    XLA needs static shapes, so there the global tokens get one slot per token and each layer runs on as
    many chunks of them as the batch needs (`global_tiers.py`); in eager mode and plain `tf.function` the
    number of slots is the batch's real count.
    """
    if tf.executing_eagerly():
        return False
    return graph_is_xla_compiled()
