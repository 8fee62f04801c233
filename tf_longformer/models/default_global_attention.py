"""Default global attention of the task heads, as the PyTorch heads compute it when none is given."""

from __future__ import annotations

import tensorflow as tf

from ..input_checks import check_rows


def cls_global_attention_mask(input_ids: tf.Tensor) -> tf.Tensor:
    """Global attention on the first token only (sequence classification)."""
    first = tf.equal(tf.range(tf.shape(input_ids)[-1]), 0)
    return tf.broadcast_to(tf.cast(first, tf.int32), tf.shape(input_ids))


def question_global_attention_mask(input_ids: tf.Tensor, sep_token_id: int, before_sep_token: bool = True) -> tf.Tensor:
    """Global attention on the question of `<s> question </s></s> context </s>` inputs.

    `before_sep_token=True` (question answering): the tokens before the first separator.
    `before_sep_token=False` (multiple choice): the tokens after the second separator.
    As in transformers, every row must hold exactly three separators (checked in eager mode and in
    graphs; under XLA the first separator is used as found).

    Args:
        input_ids: `(batch, seq)` ids.
        sep_token_id: id of `</s>`.
        before_sep_token: which side of the separators is global.

    Returns:
        `(batch, seq)` int32 global attention mask.
    """
    input_ids = tf.convert_to_tensor(input_ids)
    is_sep = tf.equal(input_ids, tf.cast(sep_token_id, input_ids.dtype))
    seq_len = tf.shape(input_ids)[-1]
    check_rows(
        # an empty sequence is left to the backbone's "at least one token" check (graph assertions run in
        # no fixed order, so two checks on one request would race for the error message)
        tf.logical_or(tf.equal(tf.reduce_sum(tf.cast(is_sep, tf.int32), axis=-1), 3), tf.equal(seq_len, 0)),
        f"There should be exactly three separator tokens ({sep_token_id}) in every sample to place the default "
        "global attention on the question; otherwise pass `global_attention_mask` yourself",
    )
    positions = tf.range(seq_len, dtype=tf.int32)[None, :]
    # the first separator (an argmax would fail on an empty sequence); 0 when there is none, as argmax gives
    first_sep = tf.reduce_min(tf.where(is_sep, positions, seq_len), axis=-1)
    question_end = tf.where(tf.equal(first_sep, seq_len), 0, first_sep)[:, None]
    mask = positions < question_end if before_sep_token else positions > question_end + 1
    return tf.cast(mask, tf.int32)
