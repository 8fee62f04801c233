"""Model inputs from graph-tokenized text: `<s> text </s>` rows, and question/context windows.

Both follow `LongformerTokenizerFast` (the tokenizers library) exactly: a single text is truncated to the
model maximum (`truncation=True`); a question/context pair becomes `<s> question </s></s> context </s>`
windows, the context cut with `truncation="only_second"` and `stride=doc_stride`, as the question-answering
pipeline asks for them.
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from .text_tokenizer import Encoding


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
        context_tokens: ragged `(rows, tokens)` index of each context token of the window in the example's
            context encoding.
    """

    rows: Rows
    global_attention_mask: tf.Tensor
    example: tf.Tensor
    context_offset: tf.Tensor
    context_tokens: tf.RaggedTensor


def truncate(encoding: Encoding, max_tokens: int) -> Encoding:
    """The first `max_tokens` tokens of each row (truncation to the right, as `truncation=True`)."""
    return Encoding(*(x[:, :max_tokens] for x in encoding[:4]), encoding.valid)


def single_rows(ids: tf.RaggedTensor, cls_id: int, sep_id: int, pad_id: int) -> Rows:
    """`<s> ids </s>` rows, padded with `pad_id` to the longest.

    Args:
        ids: ragged `(batch, tokens)` ids, already truncated to leave room for the two special tokens.
        cls_id, sep_id, pad_id: the special token ids.

    Returns:
        `Rows`.
    """
    batch = ids.nrows()
    around = tf.fill(tf.stack([batch, 1]), tf.constant(0, ids.dtype))
    full = tf.concat([around + cls_id, ids, around + sep_id], axis=1)
    return _padded(full, pad_id)


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
        tokenizer refuses); such examples get one window, cut at the room left (if any).
    """
    q_len = question.ids.row_lengths()
    c_len = context.ids.row_lengths()
    room = max_length - 4 - q_len
    fits = q_len + c_len + 4 <= max_length
    impossible = tf.logical_not(fits) & (room <= stride)
    step = tf.maximum(room - stride, 1)
    count = tf.where(fits | impossible, tf.ones_like(c_len), 1 + _ceil_div(tf.maximum(c_len - room, 0), step))
    example = tf.repeat(tf.range(tf.size(q_len, out_type=tf.int64)), count)
    first = tf.ragged.range(count).flat_values * tf.gather(step, example)
    last = tf.where(tf.gather(fits, example), tf.gather(c_len, example),
                    tf.minimum(first + tf.maximum(tf.gather(room, example), 0), tf.gather(c_len, example)))
    tokens = tf.ragged.range(first, last)
    context_ids = tf.gather(context.ids.flat_values, tokens + tf.gather(context.ids.row_starts(), example)[:, None])
    question_ids = tf.gather(question.ids, example)
    windows = tf.shape(example, out_type=tf.int64)[0]
    one = tf.fill(tf.stack([windows, 1]), tf.constant(0, context.ids.dtype))
    full = tf.concat([one + cls_id, question_ids, one + sep_id, one + sep_id, context_ids, one + sep_id], axis=1)
    rows = _padded(full, pad_id)
    window_q_len = tf.gather(q_len, example)
    positions = tf.range(tf.shape(rows.input_ids, out_type=tf.int64)[1])
    global_mask = tf.cast(positions[None, :] <= window_q_len[:, None], tf.int32)  # <s> and the question
    return Windows(rows, global_mask, example, window_q_len + 3, tokens), impossible


def _padded(ids: tf.RaggedTensor, pad_id: int) -> Rows:
    input_ids = tf.cast(ids.to_tensor(default_value=tf.constant(pad_id, ids.dtype)), tf.int32)
    mask = tf.cast(tf.ones_like(ids).to_tensor(), tf.int32)
    return Rows(input_ids, mask)


def _ceil_div(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    return (a + b - 1) // b
