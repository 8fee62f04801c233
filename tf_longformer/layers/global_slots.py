"""Where the global tokens are: slot indices computed once per forward pass and shared by every layer.

Global tokens are addressed through `G` *slots*: slot `s` of example `b` holds the position of the
`s`-th global token of that example (in increasing position order, as transformers orders them).
`G` is the largest number of global tokens in the batch (eager and `tf.function`: exact shapes, as the
reference) or, under XLA, the sequence length, so that any count fits; there each layer runs on the
first few slots only, as many as the batch needs (`global_tiers.py`). Slots past an example's own count
are invalid and masked everywhere.
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from ..xla import in_xla_context
from .shapes import dims


class GlobalSlots(NamedTuple):
    """Index tensors describing the global tokens of a batch.

    Attributes:
        positions: `(batch, G)` int32, the position of each slot's token (0 for invalid slots).
        valid: `(batch, G)` bool, whether the slot holds a global token.
        slot_of_token: `(batch, seq)` int32, for a global token the slot that holds it (else 0).
        is_global: `(batch, seq)` bool.
        count: `(batch,)` int32, global tokens per example.
    """

    positions: tf.Tensor
    valid: tf.Tensor
    slot_of_token: tf.Tensor
    is_global: tf.Tensor
    count: tf.Tensor

    @property
    def num_slots(self) -> tf.Tensor | int:
        """`G`: a Python int when static (XLA), else a scalar tensor."""
        return dims(self.positions)[1]

    def largest_count(self) -> tf.Tensor:
        """The largest number of global tokens of an example in the batch (0 for an empty batch)."""
        return tf.reduce_max(tf.concat([self.count, [0]], axis=0))

    def first(self, num: int) -> GlobalSlots:
        """The first `num` slots: all the batch needs when no example has more global tokens."""
        return self._replace(positions=self.positions[:, :num], valid=self.valid[:, :num])


def compute_global_slots(is_global: tf.Tensor) -> GlobalSlots:
    """Build the `GlobalSlots` of a `(batch, seq)` boolean mask of global tokens.

    Args:
        is_global: `(batch, seq)` bool.

    Returns:
        GlobalSlots with `G` = the batch's largest count, or under XLA the sequence length.
    """
    is_global = tf.convert_to_tensor(is_global, tf.bool)
    as_int = tf.cast(is_global, tf.int32)
    count = tf.reduce_sum(as_int, axis=1)
    seq_len = tf.shape(is_global)[1]
    if in_xla_context():
        # every token may be global; a static length keeps G static (the tiers slice it)
        num_slots: tf.Tensor | int = is_global.shape[1] if is_global.shape[1] is not None else seq_len
    else:
        num_slots = tf.reduce_max(tf.concat([count, [0]], axis=0))
    # Earlier global tokens get larger keys, so top_k lists them first in position order.
    order_key = as_int * (seq_len - tf.range(seq_len, dtype=tf.int32))[None, :]
    _, positions = tf.math.top_k(order_key, k=num_slots, sorted=True)
    positions = tf.cast(positions, tf.int32)
    valid = tf.range(num_slots, dtype=tf.int32)[None, :] < count[:, None]
    positions = tf.where(valid, positions, tf.zeros_like(positions))
    slot_of_token = tf.where(is_global, tf.cumsum(as_int, axis=1) - 1, 0)
    return GlobalSlots(positions, valid, slot_of_token, is_global, count)
