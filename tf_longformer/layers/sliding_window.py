"""Banded (sliding-window) attention in a block layout: cost and memory linear in the sequence length.

Layout of the band. With a one-sided window `w` (= attention_window / 2) token `q` attends to keys
`q - w .. q + w`. Per head, the sequence (padded to a multiple of `w`) is cut into blocks of `w`
queries: `(batch, heads, blocks, w, head_dim)`. Query block `c` can only see key blocks `c - 1`, `c`
and `c + 1`, so its keys are three shifted views of the key blocks

    keys(c) = concat([k[c - 1], k[c], k[c + 1]])          # 3w keys, one zero block before/after

and one batched matmul gives scores `(batch, heads, blocks, w, 3w)`. Query `r` of block `c` sits at
`c*w + r`; key column `j` at `(c-1)*w + j`, so the band `|key - query| <= w` is `r <= j <= r + 2w`: a
static `(w, 3w)` mask. Out-of-band and out-of-sequence entries are masked; the work done outside the
band is `3w` vs `2w + 1` columns per query, and no `n x n` matrix exists anywhere.

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


def to_blocks(x: tf.Tensor, w: int, axis: int) -> tf.Tensor:
    """Split sequence axis `axis` (length a multiple of `w`) into `(length // w, w)`."""
    axis = axis % x.shape.rank
    shape = tf.shape(x)
    new_shape = tf.concat([shape[:axis], [shape[axis] // w, w], shape[axis + 1:]], axis=0)
    out = tf.reshape(x, new_shape)
    static = x.shape.as_list()
    blocks = None if static[axis] is None else static[axis] // w
    out.set_shape(static[:axis] + [blocks, w] + static[axis + 1:])
    return out


def sliding_windows(blocks: tf.Tensor, axis: int, pad_value=0) -> tf.Tensor:
    """Blocks on `axis`, block contents on `axis + 1` → previous, own and next block concatenated (3w).

    The block before the first and after the last are `pad_value`. Written as slice-then-pad per
    neighbour so that XLA fuses the whole window into one concatenation (no padded intermediate copy).
    """
    axis = axis % blocks.shape.rank
    count = tf.shape(blocks)[axis]

    def neighbour(start: int, pad: list[int]) -> tf.Tensor:
        begin = [0] * blocks.shape.rank
        begin[axis] = start
        size = [-1] * blocks.shape.rank
        size[axis] = count - 1
        paddings = [[0, 0]] * blocks.shape.rank
        paddings[axis] = pad
        return tf.pad(tf.slice(blocks, begin, tf.stack(size)), paddings, constant_values=pad_value)

    out = tf.concat([neighbour(0, [1, 0]), blocks, neighbour(1, [0, 1])], axis=axis + 1)
    static = blocks.shape.as_list()
    static[axis + 1] = None if static[axis + 1] is None else 3 * static[axis + 1]
    out.set_shape(static)
    return out


def skew_to_band(scores: tf.Tensor, w: int) -> tf.Tensor:
    """`(..., w, 3w)` block rows → `(..., w, 2w + 1)` where `out[r, c] = scores[r, r + c]`."""
    lead = tf.shape(scores)[:-2]
    flat = tf.reshape(scores, tf.concat([lead, [w * 3 * w]], axis=0))
    rank = flat.shape.rank
    flat = tf.pad(flat, [[0, 0]] * (rank - 1) + [[0, w]])
    rows = tf.reshape(flat, tf.concat([lead, [w, 3 * w + 1]], axis=0))
    return rows[..., : 2 * w + 1]
