"""The block layout of the band (`layers/sliding_window.py`) for both layouts it uses."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tf_longformer.layers.sliding_window import (
    band_mask,
    block_layout,
    skew_to_band,
    sliding_windows,
    to_blocks,
)


@pytest.mark.parametrize("w, layout", [(4, (2, 2)), (3, (3, 1)), (256, (128, 2)), (1, (1, 1))])
def test_block_layout(w, layout):
    assert block_layout(w) == layout


@pytest.mark.parametrize("w", [1, 2, 3, 4, 6])
def test_band_is_every_key_within_the_window(w):
    """Query `r` of block `c` and key column `j` of its window are tokens `c*s + r` and `(c - reach)*s + j`:
    the mask keeps exactly the keys at distance <= w, and the skew lines them up as transformers' 2w + 1
    columns (key `q - w + column`)."""
    size, reach = block_layout(w)
    mask = band_mask(size, reach)
    query = np.arange(size)[:, None]
    key = np.arange((2 * reach + 1) * size)[None, :] - reach * size
    np.testing.assert_array_equal(mask, np.abs(key - query) <= w)

    positions = np.broadcast_to(key, mask.shape).astype(np.float32)
    skewed = skew_to_band(tf.constant(positions[None]), size, reach)[0].numpy()
    np.testing.assert_array_equal(skewed, np.arange(size)[:, None] - w + np.arange(2 * w + 1)[None, :])


@pytest.mark.parametrize("reach", [1, 2])
@pytest.mark.parametrize("dynamic", [False, True])
def test_sliding_windows_concatenate_the_neighbour_blocks(reach, dynamic):
    size, count = 2, 5
    x = np.arange(count * size, dtype=np.float32).reshape(1, count * size) + 1

    def windows(t):
        return sliding_windows(to_blocks(t, size, axis=1), axis=1, reach=reach, pad_value=-1.0)

    spec = [tf.TensorSpec([None, None], tf.float32)] if dynamic else None
    out = tf.function(windows, input_signature=spec)(tf.constant(x)).numpy()[0]
    padded = np.concatenate([np.full(reach * size, -1.0), x[0], np.full(reach * size, -1.0)])
    expected = np.stack([padded[c * size: (c + 2 * reach + 1) * size] for c in range(count)])
    np.testing.assert_array_equal(out, expected)
