"""Banded (sliding-window) attention in a block layout: cost and memory linear in the sequence length.

Layout of the band. With a one-sided window `w` (= attention_window / 2) token `q` attends to keys
`q - w .. q + w`. The sequence (padded to a multiple of `w`) is cut into blocks of `w` queries. Query
block `c` can only see key blocks `c - 1`, `c` and `c + 1`, so its keys are the three shifted views

    keys(c) = concat([k[c - 1], k[c], k[c + 1]])          # 3w keys, one zero block before/after

and one einsum gives scores of shape `(batch, blocks, heads, w, 3w)`. Query `r` of block `c` sits at
`c*w + r`; key column `j` at `(c-1)*w + j`, so the band `|key - query| <= w` is `r <= j <= r + 2w`: a
static `(w, 3w)` mask. Out-of-band and out-of-sequence entries are masked; the work done outside the
band is `3w` vs `2w + 1` columns per query (no `n x n` matrix exists anywhere).

Hugging Face reports local attention as `(…, 2w + 1)` with column `c` = key `q - w + c`; `skew_to_band`
maps our `(w, 3w)` block rows to that layout with one pad-and-reshape (row `r` is shifted left by `r`).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def band_mask(w: int) -> np.ndarray:
    """Static `(w, 3w)` bool mask: True where key column `j` is within the window of query row `r`."""
    r = np.arange(w)[:, None]
    j = np.arange(3 * w)[None, :]
    return (j >= r) & (j <= r + 2 * w)


def to_blocks(x: tf.Tensor, w: int) -> tf.Tensor:
    """`(batch, n, ...)` with `n % w == 0` → `(batch, n // w, w, ...)`."""
    shape = tf.shape(x)
    new_shape = tf.concat([shape[:1], [shape[1] // w, w], shape[2:]], axis=0)
    out = tf.reshape(x, new_shape)
    if x.shape.rank is not None:
        out.set_shape([x.shape[0], None if x.shape[1] is None else x.shape[1] // w, w, *x.shape[2:]])
    return out


def sliding_windows(x_blocks: tf.Tensor, pad_value=0) -> tf.Tensor:
    """`(batch, blocks, w, ...)` → `(batch, blocks, 3w, ...)`: previous, own and next block per block."""
    rank = x_blocks.shape.rank
    padded = tf.pad(x_blocks, [[0, 0], [1, 1]] + [[0, 0]] * (rank - 2), constant_values=pad_value)
    return tf.concat([padded[:, :-2], padded[:, 1:-1], padded[:, 2:]], axis=2)


def skew_to_band(scores: tf.Tensor, w: int) -> tf.Tensor:
    """`(..., w, 3w)` block rows → `(..., w, 2w + 1)` where `out[r, c] = scores[r, r + c]`."""
    lead = tf.shape(scores)[:-2]
    flat = tf.reshape(scores, tf.concat([lead, [w * 3 * w]], axis=0))
    rank = flat.shape.rank
    flat = tf.pad(flat, [[0, 0]] * (rank - 1) + [[0, w]])
    rows = tf.reshape(flat, tf.concat([lead, [w, 3 * w + 1]], axis=0))
    return rows[..., : 2 * w + 1]
