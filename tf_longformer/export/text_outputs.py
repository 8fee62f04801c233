"""The answers of the text signature, computed from model outputs as the Python pipelines compute them.

Each function mirrors one pipeline's postprocessing (`tf_longformer/pipelines/`), in TensorFlow ops, for a
whole batch: scores are float32 softmaxes over the same logits, rankings use `tf.math.top_k` (ties to the
lower index, like the pipelines' stable sorts), and padding entries are -1 / "" / 0.
"""

from __future__ import annotations

import tensorflow as tf

from .text_inputs import Windows
from .text_tokenizer import Encoding, expand, take


def softmax(logits: tf.Tensor) -> tf.Tensor:
    """Softmax over the last axis, `exp(x - max) / sum` as the pipelines (numpy) compute it."""
    shifted = tf.exp(logits - tf.reduce_max(logits, axis=-1, keepdims=True))
    return shifted / tf.reduce_sum(shifted, axis=-1, keepdims=True)


def fill_mask(logits: tf.Tensor, input_ids: tf.Tensor, mask_id: int, top_k: int,
              token_strings: tf.Tensor) -> dict[str, tf.Tensor]:
    """The `top_k` tokens for every `<mask>` (the fill-mask pipeline).

    Args:
        logits: `(batch, length, vocab)`.
        input_ids: `(batch, length)` the model inputs.
        mask_id: id of `<mask>`.
        top_k: predictions per mask.
        token_strings: `(vocab,)` each id decoded (`tokenizer.decode([id])`).

    Returns:
        `token` int32, `token_str` string, `score` float32, each `(batch, masks, top_k)`; `masks` is the
        batch's largest number of masks.
    """
    is_mask = tf.equal(input_ids, mask_id)
    where = tf.where(is_mask)  # (masks in the batch, 2), in text order
    score, token = tf.math.top_k(softmax(tf.gather_nd(tf.cast(logits, tf.float32), where)),
                                 k=min(top_k, logits.shape[-1]))
    nth = tf.gather_nd(tf.cumsum(tf.cast(is_mask, tf.int64), axis=1) - 1, where)  # which mask of its row
    index = tf.stack([where[:, 0], nth], axis=1)
    shape = tf.stack([tf.shape(input_ids, out_type=tf.int64)[0],
                      tf.reduce_max(tf.concat([nth + 1, [0]], 0)), tf.cast(tf.shape(token)[1], tf.int64)])

    def by_row(values, pad):
        return tf.tensor_scatter_nd_update(tf.fill(shape, tf.constant(pad, values.dtype)), index, values)

    return {"token": by_row(token, -1), "token_str": by_row(tf.gather(token_strings, token), ""),
            "score": by_row(score, 0.0)}


def text_classification(logits: tf.Tensor, labels: tf.Tensor, function: str) -> dict[str, tf.Tensor]:
    """The best label of each text (the text-classification pipeline).

    Args:
        logits: `(batch, labels)`.
        labels: `(labels,)` strings (`config.id2label`).
        function: "softmax", "sigmoid" or "none", as the pipeline picks it for the model.

    Returns:
        `label` string `(batch,)`, `score` float32 `(batch,)`, `logits` float32 `(batch, labels)`.
    """
    logits = tf.cast(logits, tf.float32)
    scores = {"softmax": softmax, "sigmoid": tf.sigmoid, "none": tf.identity}[function](logits)
    score, best = tf.math.top_k(scores, k=1)
    return {"label": tf.gather(labels, best[:, 0]), "score": score[:, 0], "logits": logits}


def token_classification(logits: tf.Tensor, tokens: Encoding, labels: tf.Tensor) -> dict[str, tf.Tensor]:
    """A label for every token of each text (the token-classification pipeline, no aggregation).

    Args:
        logits: `(batch, length, labels)` of `<s> tokens </s>` rows.
        tokens: the (truncated) encoding of the texts, for the offsets.
        labels: `(labels,)` strings.

    Returns:
        `label` string, `score` float32, `start` / `end` int32 (character offsets), each `(batch, tokens)`
        (padded with "", 0, -1), and `token_count` int32 `(batch,)`.
    """
    count = tokens.row_lengths()[:, None]
    positions = tf.range(tf.reduce_max(tf.concat([count[:, 0], [0]], 0)))[None, :]
    real = positions < count
    score, best = tf.math.top_k(softmax(tf.cast(logits[:, 1:tf.shape(positions)[1] + 1], tf.float32)), k=1)
    index = tokens.row_splits[:-1, None] + positions
    return {"label": tf.where(real, tf.gather(labels, best[:, :, 0]), ""),
            "score": tf.where(real, score[:, :, 0], 0.0),
            "start": tf.cast(tf.where(real, take(tokens.starts, index), -1), tf.int32),
            "end": tf.cast(tf.where(real, take(tokens.ends, index), -1), tf.int32),
            "token_count": tf.cast(count[:, 0], tf.int32)}


def mean_embedding(last_hidden_state: tf.Tensor, attention_mask: tf.Tensor) -> dict[str, tf.Tensor]:
    """`embedding` `(batch, hidden)`: the mean of the last hidden states over the real tokens (`<s>`, `</s>` too)."""
    mask = tf.cast(attention_mask, tf.float32)[:, :, None]
    total = tf.reduce_sum(tf.cast(last_hidden_state, tf.float32) * mask, axis=1)
    return {"embedding": total / tf.reduce_sum(mask, axis=1)}


def question_answering(start_logits: tf.Tensor, end_logits: tf.Tensor, windows: Windows, context: Encoding,
                       contexts: tf.Tensor, max_answer_len: int, candidates: int) -> dict[str, tf.Tensor]:
    """The best answer span of each example over its windows (the question-answering pipeline, `top_k=1`).

    As the pipeline: in each window the start and end logits are softmaxed over the context tokens (and
    `<s>`, whose probability is then zeroed); the `candidates` best spans by `p(start) * p(end)` with
    `start <= end < start + max_answer_len` are widened to whole words (pre-tokenizer pieces) and cut out of
    the context; answers with the same lower-cased text add up their scores over all windows, and the best
    one wins (ties: the one found first).

    Args:
        start_logits, end_logits: `(windows, length)`.
        windows: the `Windows` the logits belong to.
        context: the encoding of the contexts.
        contexts: `(batch,)` the context strings.
        max_answer_len: longest answer, in tokens.
        candidates: spans kept per window (the pipeline's `top_k * 2 + 10`).

    Returns:
        `answer` string, `score` float32, `start` / `end` int32 character offsets into the context, each
        `(batch,)`; an example without any candidate span gets "", 0, 0, 0.
    """
    length = tf.shape(start_logits, out_type=tf.int64)[1]
    positions = tf.range(length)
    offset = windows.context_offset[:, None]
    in_context = (positions >= offset) & (positions < offset + windows.context_count[:, None])

    def probabilities(logits):
        p = softmax(tf.where(in_context | tf.equal(positions, 0), tf.cast(logits, tf.float32), -10000.0))
        return tf.where(tf.equal(positions, 0), 0.0, p)

    # spans (s, s + d) for d < max_answer_len, both ends in the context: (windows, length, max_answer_len)
    ends = positions[:, None] + tf.range(max_answer_len, dtype=tf.int64)[None, :]
    pad = [[0, 0], [0, max_answer_len]]
    end_ok = tf.gather(tf.pad(in_context, pad), ends, axis=1)
    p_end = tf.gather(tf.pad(probabilities(end_logits), pad), ends, axis=1)
    scores = tf.where(in_context[:, :, None] & end_ok, probabilities(start_logits)[:, :, None] * p_end, 0.0)
    k = tf.minimum(tf.constant(candidates, tf.int64), length * max_answer_len)
    best, index = tf.math.top_k(tf.reshape(scores, tf.stack([tf.shape(scores)[0], -1])), k=tf.cast(k, tf.int32))
    index = tf.cast(index, tf.int64)

    # row position -> context token -> first / last token of its word inside the window -> characters
    window_first = tf.gather(context.row_splits, windows.example)[:, None] + windows.context_first[:, None]
    window_last = window_first + windows.context_count[:, None] - 1
    word_first, word_last = _word_bounds(context)
    start_token = window_first + index // max_answer_len - offset
    end_token = start_token + index % max_answer_len
    start_char = take(context.starts, tf.maximum(take(word_first, start_token), window_first))
    end_char = take(context.ends, tf.minimum(take(word_last, end_token), window_last))

    # the candidates in the pipeline's order (window by window, best first), zero scores left out
    real = tf.reshape(best > 0.0, [-1])

    def flat(values):
        return tf.boolean_mask(tf.reshape(values, [-1]), real)

    example = flat(tf.broadcast_to(windows.example[:, None], tf.shape(best, out_type=tf.int64)))
    score, start_char, end_char = flat(best), flat(start_char), flat(end_char)
    text = tf.strings.substr(tf.gather(contexts, example), tf.cast(start_char, tf.int32),
                             tf.cast(end_char - start_char, tf.int32), unit="UTF8_CHAR")
    key = tf.strings.join([tf.strings.as_string(example), tf.strings.lower(text, encoding="utf-8")], "\x00")
    groups, group = tf.unique(key, out_idx=tf.int64)
    n_groups = tf.size(groups, out_type=tf.int64)
    first = tf.math.unsorted_segment_min(tf.range(tf.size(group, out_type=tf.int64)), group, n_groups)
    total = tf.math.unsorted_segment_sum(tf.cast(score, tf.float64), group, n_groups)
    group_example = tf.gather(example, first)
    batch = tf.size(contexts, out_type=tf.int64)
    top = tf.math.unsorted_segment_max(total, group_example, batch)
    # the best total; on a tie the answer found first (the pipeline's stable sort)
    winner = tf.math.unsorted_segment_min(tf.where(tf.equal(total, tf.gather(top, group_example)), first,
                                                   tf.int64.max), group_example, batch)
    found = winner < tf.int64.max

    def pick(values, empty):
        return tf.where(found, take(values, winner), empty)

    return {"answer": pick(text, ""), "score": tf.cast(pick(take(total, group), 0.0), tf.float32),
            "start": tf.cast(pick(start_char, 0), tf.int32), "end": tf.cast(pick(end_char, 0), tf.int32)}


def _word_bounds(encoding: Encoding) -> tuple[tf.Tensor, tf.Tensor]:
    """For every token (flat), the flat index of the first and the last token of its word (same row)."""
    row, _ = expand(encoding.row_lengths())
    words = encoding.words
    # a word's tokens are consecutive: runs of one (row, word)
    new_run = tf.concat([[True], tf.not_equal(words[1:], words[:-1]) | tf.not_equal(row[1:], row[:-1])], 0)
    run = tf.cumsum(tf.cast(new_run[:tf.size(words)], tf.int64)) - 1
    runs = tf.size(words, out_type=tf.int64)  # an upper bound on the number of runs
    position = tf.range(tf.size(words, out_type=tf.int64))
    return (tf.gather(tf.math.unsorted_segment_min(position, run, runs), run),
            tf.gather(tf.math.unsorted_segment_max(position, run, runs), run))
