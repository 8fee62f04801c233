"""One softmax over several sets of columns, computed a set at a time and merged.

A local row of Longformer attends to two sets of columns: the keys in its window and the global tokens'
keys. Both are computed on their own (the window in blocks, the global columns for every row at once, or
a chunk of global slots at a time when there are many), each as a `SoftmaxPart`: the attention output
over its columns, normalised over them, and `lse`, the log of the sum of the exponentials of its scores.
Parts over disjoint columns merge into the part over their union, which is the softmax over all of them:

    lse = log(exp(lse_a) + exp(lse_b))
    out = out_a * exp(lse_a - lse) + out_b * exp(lse_b - lse)

(each part's output is weighted by its share of the total). Dropout on the probabilities of a part scales
them by the same mask as dropout on the joint probabilities would, so merging dropped parts is exact too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import tensorflow as tf

NEG = np.finfo(np.float32).min  # masked score, as transformers uses torch.finfo(float32).min


class SoftmaxPart(NamedTuple):
    """Softmax attention of some query rows over one set of columns.

    Attributes:
        out: `(..., rows, d)` the values averaged with the probabilities over these columns only.
        lse: `(..., rows, 1)` float32, log of the sum of `exp(score)` over these columns (`-inf` for none).
    """

    out: tf.Tensor
    lse: tf.Tensor


def attend(query: tf.Tensor, key: tf.Tensor, value: tf.Tensor, keep: tf.Tensor, padded_query: tf.Tensor,
           dropout: Callable[[tf.Tensor], tf.Tensor] | None = None):
    """Softmax attention of `query` over the columns `key` / `value` where `keep` is True.

    Args:
        query: `(..., rows, d)` scaled queries.
        key, value: `(..., cols, d)`.
        keep: bool, broadcastable to `(..., rows, cols)`.
        padded_query: `(..., rows)` bool, rows whose probabilities are zero (their `out` is zero).
        dropout: applied to the probabilities (training), or None.

    Returns:
        `(part, exps, inv_sum)`: the `SoftmaxPart`; `exps` `(..., rows, cols)` the unnormalised probabilities
        (after dropout) and `inv_sum` `(..., rows, 1)` float32 the factor that normalises them.
    """
    compute_dtype = query.dtype
    scores = tf.cast(tf.matmul(query, key, transpose_b=True), tf.float32)  # [.., rows, d] x [.., d, cols] -> [.., rows, cols]
    scores = tf.where(keep, scores, NEG)
    row_max = tf.reduce_max(scores, axis=-1, keepdims=True)
    exps = tf.exp(scores - row_max)
    row_sum = tf.reduce_sum(exps, axis=-1, keepdims=True)
    # no columns at all (a dynamic count of 0): a zero output and lse = -inf, which merges as nothing
    # expand_dims, not [..., None]: tf2onnx cannot convert an ellipsis slice of a tensor of unknown rank
    inv_sum = tf.where(tf.expand_dims(padded_query, -1), 0.0, tf.math.divide_no_nan(1.0, row_sum))
    lse = row_max + tf.math.log(row_sum)
    # the row sums divide the (.., d) output rather than the (.., cols) probabilities: a smaller pass, and
    # the exps are the matmul's input directly
    exps = tf.cast(exps, compute_dtype)
    if dropout is not None:
        exps = dropout(exps)
    out = tf.matmul(exps, value) * tf.cast(inv_sum, compute_dtype)  # [.., rows, cols] x [.., cols, d] -> [.., rows, d]
    return SoftmaxPart(out, lse), exps, inv_sum


def merge(a: SoftmaxPart, b: SoftmaxPart) -> SoftmaxPart:
    """The part over the columns of `a` and `b` together (disjoint sets; `a.lse` finite)."""
    top = tf.maximum(a.lse, b.lse)
    lse = top + tf.math.log(tf.exp(a.lse - top) + tf.exp(b.lse - top))
    return SoftmaxPart(a.out * share(a, lse) + b.out * share(b, lse), lse)


def share(part: SoftmaxPart, total_lse: tf.Tensor) -> tf.Tensor:
    """The weight of `part` in a softmax whose total is `total_lse`, in the dtype of its output."""
    return tf.cast(tf.exp(part.lse - total_lse), part.out.dtype)
