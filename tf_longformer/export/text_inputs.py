"""Model inputs from graph-tokenized text: `<s> text </s>` rows, and question/context windows.

Both follow `LongformerTokenizerFast` (the tokenizers library) exactly: a single text is truncated to the
model maximum (`truncation=True`); a question/context pair becomes `<s> question </s></s> context </s>`
windows, the context cut with `truncation="only_second"` and `stride=doc_stride`, as the question-answering
pipeline asks for them. Rows are built on a dense `(rows, length)` grid of positions (a few ops, where
ragged tensors would need hundreds).
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from .text_tokenizer import Encoding, expand, take


class Rows(NamedTuple):
    """Padded model inputs, `(rows, length)` int32."""

    input_ids: tf.Tensor
    attention_mask: tf.Tensor


class Windows(NamedTuple):
    """Question/context windows, one model row each.

    Attributes:
        rows: the padded model inputs.
        global_attention_mask: `(rows, length)` int32, 1 on `<s>` and the question (the model's default).
        example: `(rows,)` the input row each window belongs to.
        context_offset: `(rows,)` position of the window's first context token in the model row.
        context_first: `(rows,)` index of that token among the example's context tokens.
        context_count: `(rows,)` context tokens in the window.
    """

    rows: Rows
    global_attention_mask: tf.Tensor
    example: tf.Tensor
    context_offset: tf.Tensor
    context_first: tf.Tensor
    context_count: tf.Tensor


def truncate(encoding: Encoding, max_tokens: int) -> Encoding:
    """The first `max_tokens` tokens of each row (truncation to the right, as `truncation=True`)."""
    _, index = expand(encoding.row_lengths())
    keep = index < max_tokens
    kept = tf.minimum(encoding.row_lengths(), max_tokens)
    splits = tf.concat([[0], tf.cumsum(kept)], 0)
    return Encoding(*(tf.boolean_mask(x, keep) for x in encoding[:4]), splits, encoding.valid)


def single_rows(encoding: Encoding, cls_id: int, sep_id: int, pad_id: int) -> Rows:
    """`<s> tokens </s>` rows, padded with `pad_id` to the longest.

    Args:
        encoding: the texts' tokens, already truncated to leave room for the two special tokens.
        cls_id, sep_id, pad_id: the special token ids.

    Returns:
        `Rows`.
    """
    cls_id, sep_id, pad_id = (tf.constant(i, tf.int64) for i in (cls_id, sep_id, pad_id))
    count = encoding.row_lengths()[:, None]
    positions = _positions(count + 2)
    ids = tf.where(tf.equal(positions, 0), cls_id, tf.where(
        positions <= count, take(encoding.ids, encoding.row_splits[:-1, None] + positions - 1),
        tf.where(tf.equal(positions, count + 1), sep_id, pad_id)))
    return Rows(tf.cast(ids, tf.int32), tf.cast(positions <= count + 1, tf.int32))


def question_context_windows(question: Encoding, context: Encoding, cls_id: int, sep_id: int, pad_id: int,
                             max_length: int, stride: int) -> tuple[Windows, tf.Tensor]:
    """`<s> question </s></s> context-window </s>` rows.

    A pair that fits in `max_length` gives one row; otherwise the context is cut into windows of the room left
    by the question, each starting `room - stride` tokens after the previous one, the last one reaching the
    end of the context (the tokenizers library's `truncate` with `stride`).

    Args:
        question, context: the encodings of the questions and contexts, `(batch, tokens)`.
        cls_id, sep_id, pad_id: the special token ids.
        max_length: tokens per row, the four special tokens included.
        stride: context tokens shared by consecutive windows.

    Returns:
        `(Windows, impossible)`: `impossible` is `(batch,)` bool, True where the context needs windows but the
        question leaves no room for them (`question tokens + stride >= max_length - 4`, which the Python
        tokenizer refuses); such examples get one window (meaningless: the caller fails the request).
    """
    cls_id, sep_id, pad_id = (tf.constant(i, tf.int64) for i in (cls_id, sep_id, pad_id))
    q_len, c_len = question.row_lengths(), context.row_lengths()
    room = max_length - 4 - q_len
    fits = q_len + c_len + 4 <= max_length
    impossible = tf.logical_not(fits) & (room <= stride)
    step = tf.maximum(room - stride, 1)
    count = tf.where(fits | impossible, tf.ones_like(c_len), 1 + (tf.maximum(c_len - room, 0) + step - 1) // step)
    example, window = expand(count)
    first = window * tf.gather(step, example)
    size = tf.where(tf.gather(fits, example), tf.gather(c_len, example),
                    tf.clip_by_value(tf.gather(c_len, example) - first, 0, tf.maximum(tf.gather(room, example), 0)))
    q, n = tf.gather(q_len, example)[:, None], size[:, None]
    positions = _positions(q + n + 4)
    in_context = (positions >= q + 3) & (positions < q + 3 + n)
    question_ids = take(question.ids, tf.gather(question.row_splits, example)[:, None] + positions - 1)
    context_ids = take(context.ids, (tf.gather(context.row_splits, example) + first)[:, None] + positions - q - 3)
    ids = tf.where(tf.equal(positions, 0), cls_id, tf.where(
        positions <= q, question_ids, tf.where(in_context, context_ids, tf.where(positions <= q + n + 3, sep_id,
                                                                                  pad_id))))
    rows = Rows(tf.cast(ids, tf.int32), tf.cast(positions <= q + n + 3, tf.int32))
    global_mask = tf.cast(positions <= q, tf.int32)  # <s> and the question
    return Windows(rows, global_mask, example, q[:, 0] + 3, first, size), impossible


def _positions(lengths: tf.Tensor) -> tf.Tensor:
    """`(1, longest)` positions 0, 1, ... for rows of `lengths` `(rows, 1)` (empty batch: length 0)."""
    longest = tf.reduce_max(tf.concat([tf.reshape(lengths, [-1]), [0]], 0))
    return tf.range(longest)[None, :]
