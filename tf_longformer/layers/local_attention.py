"""The window part of the local rows: every query against the keys within its window.

Queries come in blocks of `s` (`sliding_window.py` explains the layout): `(bh, c, s, d)`, heads batched
with the examples; each block sees `reach` blocks on either side, `L = (2 * reach + 1) * s` keys.
`local_rows` runs either all `c` blocks at once or, to bound the band-sized buffers (scores
`(bh, blocks, s, L)`, 120 MiB a layer at 4096 tokens with the base shape), a loop over chunks of
`chunk_blocks` query blocks, each with its own key/value windows. Both run the same arithmetic
(`softmax_parts.attend`) on each block, so the results are identical. The result is one `SoftmaxPart` of
each row's softmax; the global columns are the other (`attention.py` merges them).

The chunk loop is `chunk_loop.map_chunks` (the last chunk may overlap the one before it, so no block count
needs to be a multiple of the chunk). Under XLA with a length unknown when traced, fewer blocks than a chunk
are padded to one chunk, so the loop runs for every length.
"""

from __future__ import annotations

import tensorflow as tf

from .chunk_loop import map_chunks, padded_to_one_chunk, slice_chunk
from .shapes import dims
from .sliding_window import band_mask, sliding_windows
from .softmax_parts import SoftmaxPart, attend


def repeat_for_heads(x: tf.Tensor, heads: int) -> tf.Tensor:
    """`(b, ...)` → `(b*heads, ...)`, each example's rows repeated for its heads."""
    batch, *rest = dims(x)
    tiled = tf.broadcast_to(x[:, None], [batch, heads, *rest])
    return tf.reshape(tiled, [-1, *rest])


def _windows_at(padded: tf.Tensor, start, count: int, reach: int) -> tf.Tensor:
    """Windows of blocks `start .. start + count` from blocks padded with `reach` blocks on each side:
    `(bh, c + 2 * reach, s, ...)` → `(bh, count, (2 * reach + 1) * s, ...)`."""
    out = tf.concat([slice_chunk(padded, start + shift, count) for shift in range(2 * reach + 1)], axis=2)
    static = padded.shape.as_list()
    out.set_shape([static[0], count, None if static[2] is None else (2 * reach + 1) * static[2]] + static[3:])
    return out


def local_rows(query_b, key_b, value_b, key_kept_b, padded_query, heads: int, reach: int, chunk_blocks: int = 0,
               dropout=None):
    """Window part of every query block's softmax, at once or in chunks.

    Args:
        query_b, key_b, value_b: `(bh, c, s, d)` blocks (queries scaled).
        key_kept_b: `(b, c, s)` bool, keys that local rows may attend to (not global, not padded).
        padded_query: `(bh, c, s)` bool, queries whose probabilities are zero.
        heads: heads per example (`bh = b * heads`).
        reach: key blocks on each side of a query block (`sliding_window.block_layout`).
        chunk_blocks: query blocks per chunk; 0 runs all blocks at once.
        dropout: applied to the probabilities (training); only with `chunk_blocks=0`.

    Returns:
        `(part, band, inv_sum)`: the `SoftmaxPart` (`out` `(bh, c, s, d)`, `lse` `(bh, c, s, 1)`); when run at
        once also the unnormalised band probabilities `(bh, c, s, L)` and their normaliser `(bh, c, s, 1)`,
        in chunks `None`s.
    """
    mask = band_mask(query_b.shape[2], reach)[None, None]

    def at_once():
        keep = tf.logical_and(mask, sliding_windows(key_kept_b, 1, reach, pad_value=False)[:, :, None, :])
        return attend(query_b, sliding_windows(key_b, 1, reach), sliding_windows(value_b, 1, reach),
                      repeat_for_heads(keep, heads), padded_query, dropout=dropout)

    if not chunk_blocks:
        return at_once()
    if dropout is not None:
        raise ValueError("attention dropout needs the whole band: run local_rows with chunk_blocks=0")

    # under XLA with an unknown length, extra blocks (no kept key, only padded queries) make a short input
    # one chunk long; map_chunks cuts them from the output
    (query_b, key_b, value_b, key_kept_b, padded_query), length = padded_to_one_chunk(
        [query_b, key_b, value_b, key_kept_b, padded_query], chunk_blocks, [0, 0, 0, False, True])

    key_pad, value_pad = (tf.pad(x, [[0, 0], [reach, reach], [0, 0], [0, 0]]) for x in (key_b, value_b))
    kept_pad = tf.pad(key_kept_b, [[0, 0], [reach, reach], [0, 0]])

    def chunk_at(start):
        def windows(padded):
            return _windows_at(padded, start, chunk_blocks, reach)

        keep = tf.logical_and(mask, windows(kept_pad)[:, :, None, :])
        part, _, _ = attend(slice_chunk(query_b, start, chunk_blocks), windows(key_pad), windows(value_pad),
                            repeat_for_heads(keep, heads), slice_chunk(padded_query, start, chunk_blocks))
        return list(part)

    lse_like = tf.zeros_like(query_b[..., :1], tf.float32)  # only its shape and dtype are used
    out, lse = map_chunks(chunk_at, lambda: list(at_once()[0]), [query_b, lse_like], chunk_blocks,
                          length=length)
    return SoftmaxPart(out, lse), None, None
