"""The losses of the Hugging Face heads, reduced exactly as PyTorch reduces them (scalar means)."""

from __future__ import annotations

import tensorflow as tf


def cross_entropy(logits: tf.Tensor, labels: tf.Tensor, ignore_index: int = -100) -> tf.Tensor:
    """Mean softmax cross-entropy over labels != `ignore_index` (PyTorch `CrossEntropyLoss`).

    Args:
        logits: `(..., classes)`.
        labels: integer `(...)`.
        ignore_index: label value that contributes nothing.

    Returns:
        Scalar float32 (NaN if every label is ignored, as PyTorch).
    """
    logits = tf.cast(logits, tf.float32)
    num_classes = tf.shape(logits)[-1]
    logits = tf.reshape(logits, tf.stack([-1, num_classes]))
    labels = tf.reshape(tf.cast(labels, tf.int32), [-1])
    keep = tf.not_equal(labels, ignore_index)
    safe = tf.where(keep, labels, 0)
    per_token = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=safe, logits=logits)
    weights = tf.cast(keep, tf.float32)
    return tf.reduce_sum(per_token * weights) / tf.reduce_sum(weights)


def mean_squared_error(predictions: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
    """Mean of squared differences (PyTorch `MSELoss`)."""
    predictions = tf.cast(predictions, tf.float32)
    return tf.reduce_mean(tf.square(predictions - tf.cast(targets, tf.float32)))


def binary_cross_entropy_with_logits(logits: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
    """Mean sigmoid cross-entropy (PyTorch `BCEWithLogitsLoss`)."""
    logits = tf.cast(logits, tf.float32)
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.cast(targets, tf.float32), logits=logits))


def sequence_classification_loss(logits: tf.Tensor, labels: tf.Tensor, num_labels: int,
                                 problem_type: str | None) -> tf.Tensor:
    """The loss transformers' `LongformerForSequenceClassification` picks from `problem_type`.

    With `problem_type=None`: one label → regression; integer labels → single-label classification;
    otherwise multi-label classification.
    """
    labels = tf.convert_to_tensor(labels)
    if problem_type is None:
        if num_labels == 1:
            problem_type = "regression"
        elif labels.dtype.is_integer:
            problem_type = "single_label_classification"
        else:
            problem_type = "multi_label_classification"
    if problem_type == "regression":
        if num_labels == 1:
            return mean_squared_error(tf.reshape(logits, [-1]), tf.reshape(labels, [-1]))
        return mean_squared_error(logits, labels)
    if problem_type == "single_label_classification":
        return cross_entropy(logits, labels)
    return binary_cross_entropy_with_logits(logits, labels)


def span_loss(start_logits: tf.Tensor, end_logits: tf.Tensor, start_positions: tf.Tensor,
              end_positions: tf.Tensor) -> tf.Tensor:
    """Extractive-QA loss: positions clamped to `[0, seq_len]`, `seq_len` ignored, mean of both ends."""
    seq_len = tf.shape(start_logits)[1]

    def one_end(logits, positions):
        positions = tf.reshape(tf.cast(positions, tf.int32), [-1])
        positions = tf.clip_by_value(positions, 0, seq_len)
        return cross_entropy(logits, positions, ignore_index=seq_len)

    return (one_end(start_logits, start_positions) + one_end(end_logits, end_positions)) / 2.0
