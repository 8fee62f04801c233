"""Validation of model inputs, the same rules in eager mode, in graphs and under XLA.

* eager: a failed check raises `InvalidInputError` (a `ValueError`) that says what was wrong and how
  to fix it;
* graph (`tf.function`, SavedModel): the same message from a `tf.debugging` assertion, raised as
  `tf.errors.InvalidArgumentError` when the graph runs;
* XLA (`jit_compile=True`): TensorFlow compiles assertions away and `tf.gather` clamps indices, so the
  check instead returns the rows that failed and the model turns those examples into NaN — never into
  plausible numbers.

Shape errors are found from static shapes at trace time, so they raise `InvalidInputError` everywhere.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .xla import in_xla_context


class InvalidInputError(ValueError):
    """An input tensor that the model cannot process; the message says how to fix it."""

    # AutoGraph re-raises trace-time errors under their own type only for plain constructors;
    # anything else becomes a `StagingError`. Keep the type: `except InvalidInputError` works in graphs.
    __init__ = Exception.__init__


def check_rows(ok_rows: tf.Tensor, message: str) -> tf.Tensor:
    """Require `ok_rows` (`(batch,)` bool) to be all True; return the failing rows (`(batch,)` bool).

    Args:
        ok_rows: per-example result of a check.
        message: what is wrong and how to fix it.

    Returns:
        `logical_not(ok_rows)`; under XLA the caller must poison these rows.
    """
    ok_rows = tf.convert_to_tensor(ok_rows, tf.bool)
    if tf.executing_eagerly():
        if not bool(tf.reduce_all(ok_rows)):
            bad = np.flatnonzero(~ok_rows.numpy()).tolist()
            raise InvalidInputError(f"{message} (batch rows {bad[:10]})")
    elif not in_xla_context():
        assertion = tf.debugging.Assert(tf.reduce_all(ok_rows), [message], name="input_check")
        with tf.control_dependencies([assertion]):
            ok_rows = tf.identity(ok_rows)
    return tf.logical_not(ok_rows)


def check_index_range(values: tf.Tensor, upper: int, name: str, hint: str) -> tf.Tensor:
    """Every entry of an integer `(batch, seq)` tensor must lie in `[0, upper)`; returns failing rows."""
    values = tf.convert_to_tensor(values)
    in_range = tf.logical_and(values >= 0, values < tf.cast(upper, values.dtype))
    ok_rows = tf.reduce_all(in_range, axis=list(range(1, values.shape.rank or 2)))
    if tf.executing_eagerly() and not bool(tf.reduce_all(ok_rows)):
        arr = values.numpy()
        bad = arr[(arr < 0) | (arr >= upper)]
        raise InvalidInputError(
            f"{name} contains {bad.size} value(s) outside [0, {upper}) (e.g. {bad[:5].tolist()}); {hint}"
        )
    return check_rows(ok_rows, f"{name} contains values outside [0, {upper}); {hint}")


def check_same_shape(reference: tf.Tensor, other: tf.Tensor | None, ref_name: str, name: str) -> None:
    """`other` (if given) must have the shape of `reference`: static check, else a graph assertion."""
    if other is None:
        return
    ref_shape, shape = reference.shape, tf.convert_to_tensor(other).shape
    if ref_shape.rank is not None and shape.rank is not None:
        if ref_shape.rank != shape.rank or not ref_shape.is_compatible_with(shape):
            raise InvalidInputError(
                f"{name} has shape {shape.as_list()} but {ref_name} has shape {ref_shape.as_list()}; "
                f"{name} needs one entry per token of {ref_name}."
            )
        if ref_shape.is_fully_defined() and shape.is_fully_defined():
            return
    if not tf.executing_eagerly() and not in_xla_context():
        tf.debugging.assert_equal(
            tf.shape(reference), tf.shape(other),
            message=f"{name} must have the same shape as {ref_name}",
        )


def check_sequence_length(seq_len, max_len: int) -> None:
    """The sequence must fit the position table (static check when the length is known)."""
    message = (
        f"the sequence has {{}} tokens but this model's position table allows at most {max_len} "
        "(max_position_embeddings - pad_token_id - 1); truncate the input (tokenizer(..., truncation=True, "
        "max_length=...)) or extend the model with `tf-longformer elongate`."
    )
    if isinstance(seq_len, int):
        if seq_len > max_len:
            raise InvalidInputError(message.format(seq_len))
    elif tf.executing_eagerly():
        if int(seq_len) > max_len:
            raise InvalidInputError(message.format(int(seq_len)))
    elif not in_xla_context():
        tf.debugging.assert_less_equal(seq_len, max_len, message=message.format("too many"))
