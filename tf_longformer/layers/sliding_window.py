"""Banded (sliding-window) attention in a block layout: cost and memory linear in the sequence length.

Layout of the band. With a one-sided window `w` (= attention_window / 2) token `q` attends to keys
`q - w .. q + w`. Per head, the sequence (padded to a multiple of the block size `s`) is cut into blocks
of `s` queries: `(batch, heads, blocks, s, head_dim)`, with `s = w / reach` (`block_layout` picks it).
Query block `c` can only see key blocks `c - reach .. c + reach`, so its keys are `2 * reach + 1` shifted
views of the key blocks, e.g. with `reach = 2`

    keys(c) = concat([k[c - 2], k[c - 1], k[c], k[c + 1], k[c + 2]])   # 2w + s keys, zero blocks at the ends

and one batched matmul gives scores `(batch, heads, blocks, s, 2w + s)`. Query `r` of block `c` sits at
`c*s + r`; key column `j` at `(c - reach)*s + j`, so the band `|key - query| <= w` is `r <= j <= r + 2w`:
a static `(s, 2w + s)` mask. Out-of-band and out-of-sequence entries are masked; the work done outside
the band is `2w + s` vs `2w + 1` columns per query (blocks of `w`: 3w columns, a third unused; blocks of
`w / 2`: 2.5w), and no `n x n` matrix exists anywhere.

Hugging Face reports local attention as `(…, 2w + 1)` with column `c` = key `q - w + c`; `skew_to_band`
maps our `(s, 2w + s)` block rows to that layout with one pad-and-reshape (row `r` is shifted left by `r`).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .shapes import dims


def block_layout(w: int) -> tuple[int, int]:
    """`(block size s, reach)` for a one-sided window `w`: blocks of `w / 2` queries seeing 2 blocks on
    each side when `w` is even (the band computed is 2.5w wide), else blocks of `w` seeing 1 (3w)."""
    return (w // 2, 2) if w % 2 == 0 else (w, 1)


def band_mask(size: int, reach: int) -> np.ndarray:
    """Static `(s, 2w + s)` bool mask (`w = reach * s`): True where key column `j` is in query row `r`'s window."""
    r = np.arange(size)[:, None]
    j = np.arange((2 * reach + 1) * size)[None, :]
    return (j >= r) & (j <= r + 2 * reach * size)


def to_blocks(x: tf.Tensor, size: int, axis: int) -> tf.Tensor:
    """Split sequence axis `axis` (length a multiple of `size`) into `(length // size, size)`."""
    axis = axis % x.shape.rank
    sizes = dims(x)
    out = tf.reshape(x, sizes[:axis] + [sizes[axis] // size, size] + sizes[axis + 1:])
    static = x.shape.as_list()
    blocks = None if static[axis] is None else static[axis] // size
    out.set_shape(static[:axis] + [blocks, size] + static[axis + 1:])
    return out


def sliding_windows(blocks: tf.Tensor, axis: int, reach: int, pad_value=0) -> tf.Tensor:
    """Blocks on `axis`, block contents on `axis + 1` → blocks `c - reach .. c + reach` concatenated.

    Needs at least `reach` blocks (the model pads the sequence to a whole window, `2 * reach` blocks).
    Blocks before the first and after the last are `pad_value`. Written as slice-then-pad per
    neighbour so that XLA fuses the whole window into one concatenation (no padded intermediate copy).
    """
    axis = axis % blocks.shape.rank
    count = tf.shape(blocks)[axis]

    def neighbour(shift: int) -> tf.Tensor:
        if shift == 0:
            return blocks
        begin = [0] * blocks.shape.rank
        begin[axis] = max(shift, 0)
        size = [-1] * blocks.shape.rank
        size[axis] = count - abs(shift)
        paddings = [[0, 0]] * blocks.shape.rank
        paddings[axis] = [-shift, 0] if shift < 0 else [0, shift]
        return tf.pad(tf.slice(blocks, begin, tf.stack(size)), paddings, constant_values=pad_value)

    out = tf.concat([neighbour(shift) for shift in range(-reach, reach + 1)], axis=axis + 1)
    static = blocks.shape.as_list()
    static[axis + 1] = None if static[axis + 1] is None else (2 * reach + 1) * static[axis + 1]
    out.set_shape(static)
    return out


def skew_to_band(scores: tf.Tensor, size: int, reach: int) -> tf.Tensor:
    """`(..., s, 2w + s)` block rows → `(..., s, 2w + 1)` where `out[r, c] = scores[r, r + c]`."""
    width = (2 * reach + 1) * size
    lead = tf.shape(scores)[:-2]
    flat = tf.reshape(scores, tf.concat([lead, [size * width]], axis=0))
    rank = flat.shape.rank
    flat = tf.pad(flat, [[0, 0]] * (rank - 1) + [[0, size]])
    rows = tf.reshape(flat, tf.concat([lead, [size, width + 1]], axis=0))
    return rows[..., : 2 * reach * size + 1]
