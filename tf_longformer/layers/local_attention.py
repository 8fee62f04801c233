"""The local rows of Longformer attention: every query against its window and the global tokens' keys.

Queries come in blocks of `s` (`sliding_window.py` explains the layout): `(bh, c, s, d)`, heads batched
with the examples; each block sees `reach` blocks on either side, `L = (2 * reach + 1) * s` keys.
`local_rows` runs either all `c` blocks at once or, to bound the band-sized buffers (scores
`(bh, blocks, s, L)`, 120 MiB a layer at 4096 tokens with the base shape), a loop over chunks of
`chunk_blocks` query blocks, each with its own key/value windows. Both run the same arithmetic
(`attend_blocks`) on each block, so the results are identical.

The chunk loop is `chunk_loop.map_chunks` (the last chunk may overlap the one before it, so no block count
needs to be a multiple of the chunk).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from .chunk_loop import map_chunks, slice_chunk
from .sliding_window import band_mask, sliding_windows

NEG = np.finfo(np.float32).min  # masked score, as transformers uses torch.finfo(float32).min


def repeat_for_heads(x: tf.Tensor, heads: int) -> tf.Tensor:
    """`(b, ...)` → `(b*heads, ...)`, each example's rows repeated for its heads."""
    shape = tf.shape(x)
    tiled = tf.broadcast_to(x[:, None], tf.concat([[shape[0], heads], shape[1:]], 0))
    return tf.reshape(tiled, tf.concat([[-1], shape[1:]], 0))


def attend_blocks(query_b, key_win, value_win, keep, padded_query, key_global_cols, value_global_cols,
                  global_valid, dropout: Callable[[tf.Tensor], tf.Tensor] | None = None):
    """Softmax attention of query blocks over their windows and the global columns.

    Args:
        query_b: `(bh, c, s, d)` scaled queries.
        key_win, value_win: `(bh, c, L, d)` each block's window of keys / values.
        keep: `(bh, c, s, L)` bool, the entries inside the band and not global / padded.
        padded_query: `(bh, c, s)` bool, queries whose probabilities are zero.
        key_global_cols, value_global_cols: `(bh, G, d)` keys / values of the global tokens.
        global_valid: `(bh, G)` bool, slots that hold a global token.
        dropout: applied to the unnormalised probabilities (training only), or None.

    Returns:
        `(out, band, glob, inv_sum)`: `out` `(bh, c, s, d)` normalised; `band` `(bh, c, s, L)` and `glob`
        `(bh, c, s, G)` the unnormalised probabilities and `inv_sum` `(bh, c, s, 1)` float32 the factor that
        normalises them (0 for padded queries).
    """
    compute_dtype = query_b.dtype
    band = tf.cast(tf.matmul(query_b, key_win, transpose_b=True), tf.float32)
    glob = tf.cast(tf.einsum("bcqd,bgd->bcqg", query_b, key_global_cols), tf.float32)

    # one softmax over [global columns, band] without materialising their concatenation or the normalised
    # probabilities: rows are divided by their sums after the value matmul, on `head_dim` columns
    # instead of `G + L`, so the exp can be the matmul's input directly.
    band = tf.where(keep, band, NEG)
    glob = tf.where(global_valid[:, None, None, :], glob, NEG)
    row_max = tf.maximum(tf.reduce_max(band, axis=-1), tf.reduce_max(glob, axis=-1))[..., None]
    band = tf.exp(band - row_max)
    glob = tf.exp(glob - row_max)
    row_sum = tf.reduce_sum(band, axis=-1) + tf.reduce_sum(glob, axis=-1)
    inv_sum = tf.where(padded_query, 0.0, 1.0 / row_sum)[..., None]  # padded queries: zero probabilities
    band, glob = tf.cast(band, compute_dtype), tf.cast(glob, compute_dtype)
    if dropout is not None:
        band, glob = dropout(band), dropout(glob)

    out = tf.matmul(band, value_win) + tf.einsum("bcqg,bgd->bcqd", glob, value_global_cols)
    return out * tf.cast(inv_sum, compute_dtype), band, glob, inv_sum


def _windows_at(padded: tf.Tensor, start, count: int, reach: int) -> tf.Tensor:
    """Windows of blocks `start .. start + count` from blocks padded with `reach` blocks on each side:
    `(bh, c + 2 * reach, s, ...)` → `(bh, count, (2 * reach + 1) * s, ...)`."""
    out = tf.concat([slice_chunk(padded, start + shift, count) for shift in range(2 * reach + 1)], axis=2)
    static = padded.shape.as_list()
    out.set_shape([static[0], count, None if static[2] is None else (2 * reach + 1) * static[2]] + static[3:])
    return out


def local_rows(query_b, key_b, value_b, key_kept_b, padded_query, key_global_cols, value_global_cols,
               global_valid, heads: int, reach: int, chunk_blocks: int = 0, dropout=None):
    """Local attention output of every query block, at once or in chunks.

    Args:
        query_b, key_b, value_b: `(bh, c, s, d)` blocks (queries scaled).
        key_kept_b: `(b, c, s)` bool, keys that local rows may attend to (not global, not padded).
        padded_query, key_global_cols, value_global_cols, global_valid: as in `attend_blocks`.
        heads: heads per example (`bh = b * heads`).
        reach: key blocks on each side of a query block (`sliding_window.block_layout`).
        chunk_blocks: query blocks per chunk; 0 runs all blocks at once.
        dropout: as in `attend_blocks`; only with `chunk_blocks=0`.

    Returns:
        `attend_blocks`'s `(out, band, glob, inv_sum)` when run at once; `(out, None, None, None)` in chunks.
    """
    mask = band_mask(query_b.shape[2], reach)[None, None]
    shared = (key_global_cols, value_global_cols, global_valid)

    def at_once():
        keep = tf.logical_and(mask, sliding_windows(key_kept_b, 1, reach, pad_value=False)[:, :, None, :])
        return attend_blocks(query_b, sliding_windows(key_b, 1, reach), sliding_windows(value_b, 1, reach),
                             repeat_for_heads(keep, heads), padded_query, *shared, dropout=dropout)

    if not chunk_blocks:
        return at_once()
    if dropout is not None:
        raise ValueError("attention dropout needs the whole band: run local_rows with chunk_blocks=0")

    key_pad, value_pad = (tf.pad(x, [[0, 0], [reach, reach], [0, 0], [0, 0]]) for x in (key_b, value_b))
    kept_pad = tf.pad(key_kept_b, [[0, 0], [reach, reach], [0, 0]])

    def chunk_at(start):
        def windows(padded):
            return _windows_at(padded, start, chunk_blocks, reach)

        keep = tf.logical_and(mask, windows(kept_pad)[:, :, None, :])
        return attend_blocks(slice_chunk(query_b, start, chunk_blocks), windows(key_pad), windows(value_pad),
                             repeat_for_heads(keep, heads),
                             slice_chunk(padded_query, start, chunk_blocks), *shared)[:1]

    out = map_chunks(chunk_at, lambda: at_once()[:1], [query_b], chunk_blocks)[0]
    return out, None, None, None
