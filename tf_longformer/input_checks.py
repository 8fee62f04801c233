"""Validation of model inputs, the same rules in eager mode, in graphs and under XLA.

* eager: a failed check raises `InvalidInputError` (a `ValueError`) that says what was wrong and how
  to fix it;
* graph (`tf.function`, SavedModel): the same message (built by the same ops, values included) from a
  `tf.debugging` assertion, raised as `tf.errors.InvalidArgumentError` when the graph runs;
* XLA (`jit_compile=True`): TensorFlow compiles assertions away and `tf.gather` clamps indices, so the
  check instead returns the rows that failed and the model turns those examples into NaN — never into
  plausible numbers.

Shape errors are found from static shapes at trace time, so they raise `InvalidInputError` everywhere.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from .xla import in_xla_context


class InvalidInputError(ValueError):
    """An input tensor that the model cannot process; the message says how to fix it."""

    # AutoGraph re-raises trace-time errors under their own type only for plain constructors;
    # anything else becomes a `StagingError`. Keep the type: `except InvalidInputError` works in graphs.
    __init__ = Exception.__init__


#: the values each mask may hold. attention_mask: 0 padding, 1 a token, 2 a token with global attention
#: (the allenai / transformers meaning: it is merged with global_attention_mask); global_attention_mask: 0 or 1.
MASK_VALUES = {"attention_mask": (0, 1, 2), "global_attention_mask": (0, 1)}
MASK_HINTS = {
    "attention_mask": "use 1 for tokens and 0 for padding (2 marks a token with global attention)",
    "global_attention_mask": "use 1 for tokens with global attention and 0 for the others",
}


def check_rows(ok_rows: tf.Tensor, message: str | Callable[[], tf.Tensor]) -> tf.Tensor:
    """Require `ok_rows` (`(batch,)` bool) to be all True; return the failing rows (`(batch,)` bool).

    Args:
        ok_rows: per-example result of a check.
        message: what is wrong and how to fix it, or a function building it as a string tensor (the same
            text in eager mode and in graphs, values included).

    Returns:
        `logical_not(ok_rows)`; under XLA the caller must poison these rows.
    """
    ok_rows = tf.convert_to_tensor(ok_rows, tf.bool)
    if tf.executing_eagerly():
        if not bool(tf.reduce_all(ok_rows)):
            if callable(message):
                raise InvalidInputError(message().numpy().decode("utf-8"))
            bad = np.flatnonzero(~ok_rows.numpy()).tolist()
            raise InvalidInputError(f"{message} (batch rows {bad[:10]})")
    elif not in_xla_context():
        text = message() if callable(message) else message
        assertion = tf.debugging.Assert(tf.reduce_all(ok_rows), [text], name="input_check")
        with tf.control_dependencies([assertion]):
            ok_rows = tf.identity(ok_rows)
    return tf.logical_not(ok_rows)


def values_message(values: tf.Tensor, ok: tf.Tensor, name: str, what: str, hint: str) -> tf.Tensor:
    """`"<name> contains <n> value(s) <what> (e.g. [<up to 5 of them>]); <hint>"` as a string tensor."""
    bad = tf.boolean_mask(values, tf.logical_not(ok))
    return tf.strings.join([
        f"{name} contains ", tf.strings.format("{}", tf.size(bad)), f" value(s) {what} (e.g. ",
        tf.strings.format("{}", bad[:5], summarize=-1), f"); {hint}",
    ])


def check_values(values: tf.Tensor, ok: tf.Tensor, name: str, what: str, hint: str) -> tf.Tensor:
    """Every entry of `values` (`(batch, ...)`) must have `ok` True; returns the failing rows.

    The message names the tensor, how many values fail and the first of them, in eager mode and in graphs.
    """
    ok_rows = tf.reduce_all(ok, axis=list(range(1, values.shape.rank or 2)))
    return check_rows(ok_rows, lambda: values_message(values, ok, name, what, hint))


def check_index_range(values: tf.Tensor, upper: int, name: str, hint: str) -> tf.Tensor:
    """Every entry of an integer `(batch, seq)` tensor must lie in `[0, upper)`; returns failing rows.

    Check before any cast: an int64 id of 2**32 + 17 cast to int32 would read as 17.
    """
    values = tf.convert_to_tensor(values)
    if not values.dtype.is_integer:
        raise InvalidInputError(f"{name} must hold integers, got {values.dtype.name}.")
    in_range = tf.logical_and(values >= 0, values < tf.cast(upper, values.dtype))
    return check_values(values, in_range, name, f"outside [0, {upper})", hint)


def vocabulary_hint(vocab_size: int) -> str:
    """What to do about ids outside the vocabulary (the model and the SavedModel say the same)."""
    return f"the vocabulary of this model has {vocab_size} ids: use the tokenizer that belongs to the model."


def mask_values_ok(mask: tf.Tensor, name: str) -> tuple[tf.Tensor, str]:
    """Which entries of `mask` hold one of `MASK_VALUES[name]`, and those values in words ("other than ...")."""
    allowed = MASK_VALUES[name]
    ok = tf.reduce_any(tf.stack([tf.equal(mask, tf.cast(v, mask.dtype)) for v in allowed]), axis=0)
    return ok, "other than " + " and ".join([", ".join(map(str, allowed[:-1])), str(allowed[-1])])


def check_mask(mask, name: str) -> tuple[tf.Tensor | None, tf.Tensor | bool]:
    """Check that `mask` (int, float or bool) holds only `MASK_VALUES[name]`; return it as int32 and the
    failing rows (`(None, False)` for no mask)."""
    if mask is None:
        return None, False
    mask = tf.convert_to_tensor(mask)
    if mask.dtype == tf.bool:
        return tf.cast(mask, tf.int32), False
    if not (mask.dtype.is_integer or mask.dtype.is_floating):
        raise InvalidInputError(f"{name} must hold numbers, got {mask.dtype.name}.")
    ok, what = mask_values_ok(mask, name)
    return tf.cast(mask, tf.int32), check_values(mask, ok, name, what, MASK_HINTS[name])


def check_not_empty(tensor: tf.Tensor, batch, seq_len, name: str) -> tf.Tensor:
    """The input must hold at least one example of at least one token; returns `tensor` (in graphs, after
    the check, so that no other op meets the empty input first)."""
    message = f"{name} is empty (no examples or no tokens); give at least one example of at least one token."
    if isinstance(batch, int) and isinstance(seq_len, int):
        if batch == 0 or seq_len == 0:
            raise InvalidInputError(f"{message} Its shape is {tensor.shape}.")
        return tensor
    if tf.executing_eagerly():
        if int(batch) == 0 or int(seq_len) == 0:
            raise InvalidInputError(message)
        return tensor
    if in_xla_context():
        return tensor
    assertion = tf.debugging.Assert(tf.logical_and(batch > 0, seq_len > 0), [message], name="input_check")
    with tf.control_dependencies([assertion]):
        return tf.identity(tensor)


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
        f"the sequence has {{}} tokens but the position table of this model allows at most {max_len} "
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
