"""Longformer self-attention: a sliding window for every token plus full attention for global tokens.

Matches transformers' `LongformerSelfAttention` (PyTorch) number for number:

* local rows: each token attends to its window (`layers/sliding_window.py` explains the block layout)
  and to every global token through `G` extra columns placed *before* the window columns; global and
  padded tokens are removed from the window (they are reached through the global columns, or not at all);
* global rows: each global token attends to every non-padded token with its own projections
  `query_global`, `key_global`, `value_global`, and that output replaces its local one;
* padded query rows get zero probabilities; softmax runs in float32 whatever the compute dtype.

`G` and the slot tensors come from `global_attention.compute_global_slots`, computed once per forward.
"""

from __future__ import annotations

import functools
import math

import keras
import tensorflow as tf

from ..global_attention import GlobalSlots
from ..head_mask import scale_heads, scale_merged_heads
from .chunk_loop import map_row_chunks, traced_inference
from .local_attention import NEG, local_rows, repeat_for_heads
from .sliding_window import block_layout, skew_to_band, to_blocks


@keras.saving.register_keras_serializable(package="tf_longformer")
class LongformerSelfAttention(keras.layers.Layer):
    """Sliding-window + global self-attention of one layer.

    Args:
        hidden_size: int. Model width.
        num_attention_heads: int. Heads.
        attention_window: int. Window of this layer (both sides; even).
        attention_probs_dropout_prob: float. Dropout on attention probabilities.
        kernel_initializer: initializer of the projections.
        attention_query_chunk: int. Queries per chunk of the local rows (whole query blocks of
            `sliding_window.block_layout`, at least one); 0 runs every block at once. See `local_attention.py`.
        dense_row_chunk: int. Rows per chunk of the query/key/value projections in traced inference; 0:
            all rows at once. See `chunk_loop.py`.
    """

    def __init__(
        self,
        hidden_size: int,
        num_attention_heads: int,
        attention_window: int,
        attention_probs_dropout_prob: float = 0.0,
        kernel_initializer="glorot_uniform",
        attention_query_chunk: int = 0,
        dense_row_chunk: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.num_attention_heads = num_attention_heads
        self.head_dim = hidden_size // num_attention_heads
        self.attention_window = attention_window
        self.one_sided = attention_window // 2
        self.block_size, self.block_reach = block_layout(self.one_sided)  # queries per block, key blocks per side
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.attention_query_chunk = attention_query_chunk
        self.dense_row_chunk = dense_row_chunk

        # === Layers ===
        def projection(name: str) -> keras.layers.Dense:
            return keras.layers.Dense(
                hidden_size, kernel_initializer=self.kernel_initializer, name=name, dtype=self.dtype_policy
            )

        self.query = projection("query")
        self.key = projection("key")
        self.value = projection("value")
        self.query_global = projection("query_global")
        self.key_global = projection("key_global")
        self.value_global = projection("value_global")
        self.dropout = keras.layers.Dropout(attention_probs_dropout_prob, dtype=self.dtype_policy)

    def build(self, input_shape) -> None:
        for dense in (self.query, self.key, self.value, self.query_global, self.key_global, self.value_global):
            dense.build((None, None, self.hidden_size))
        self.built = True

    def hf_weights(self) -> dict:
        """PyTorch parameter names (relative to `attention.self.`) → (variable, transpose)."""
        out = {}
        for name in ("query", "key", "value", "query_global", "key_global", "value_global"):
            dense = getattr(self, name)
            out[f"{name}.weight"] = (dense.kernel, True)
            out[f"{name}.bias"] = (dense.bias, False)
        return out

    def _heads(self, x: tf.Tensor) -> tf.Tensor:
        """`(batch, n, hidden)` → `(batch, heads, n, head_dim)`."""
        shape = tf.shape(x)
        out = tf.reshape(x, tf.stack([shape[0], shape[1], self.num_attention_heads, self.head_dim]))
        out.set_shape([x.shape[0], x.shape[1], self.num_attention_heads, self.head_dim])
        return tf.transpose(out, [0, 2, 1, 3])

    def _merge_heads(self, x: tf.Tensor) -> tf.Tensor:
        """`(batch, heads, n, head_dim)` → `(batch, n, hidden)`."""
        x = tf.transpose(x, [0, 2, 1, 3])
        return tf.reshape(x, tf.stack([tf.shape(x)[0], tf.shape(x)[1], self.hidden_size]))

    def call(
        self,
        hidden_states: tf.Tensor,
        is_index_masked: tf.Tensor,
        slots: GlobalSlots,
        output_attentions: bool = False,
        training: bool | None = None,
        layer_head_mask: tf.Tensor | None = None,
    ):
        """Attend.

        Args:
            hidden_states: `(batch, n, hidden)`, `n` a multiple of the model's largest window.
            is_index_masked: `(batch, n)` bool, padding.
            slots: the batch's `GlobalSlots`.
            output_attentions: also return the probabilities.
            training: dropout on.
            layer_head_mask: `(heads,)` multipliers of each head's probabilities (see `head_mask.py`).

        Returns:
            `(output, local_probs, global_probs)`: output `(batch, n, hidden)`; when
            `output_attentions`, local probs `(batch, heads, n, G + window + 1)` and global probs
            `(batch, heads, n, G)`, else `None`s.
        """
        size, reach = self.block_size, self.block_reach
        scale = 1.0 / math.sqrt(self.head_dim)
        compute_dtype = hidden_states.dtype
        n = tf.shape(hidden_states)[1]
        is_global = slots.is_global

        def project(x):
            return [self.query(x) * tf.cast(scale, compute_dtype), self.key(x), self.value(x)]

        rows = self.dense_row_chunk if traced_inference(training) else 0
        projected = map_row_chunks(project, [hidden_states], [hidden_states] * 3, rows)
        query, key, value = (self._heads(x) for x in projected)  # (b, h, n, d)

        # --- the local rows batch the heads with the examples: (b, h, n, d) -> (b*h, n, d), blocks of `size`
        # (padded to a multiple of this layer's block; a no-op when the windows divide each other)
        batch = tf.shape(hidden_states)[0]
        pad = (size - n % size) % size

        def blocks(x):
            flat = tf.reshape(x, tf.stack([-1, n, self.head_dim]))
            return to_blocks(tf.pad(flat, [[0, 0], [0, pad], [0, 0]]), size, axis=1)

        query_b = blocks(query)  # (bh, c, size, d)
        per_head = functools.partial(repeat_for_heads, heads=self.num_attention_heads)
        padded_query = per_head(to_blocks(tf.pad(is_index_masked, [[0, 0], [0, pad]], constant_values=True),
                                          size, axis=1))  # (bh, c, size)
        # keys outside the window: global or padded (transformers: attention_mask != 0), or past the end
        key_kept = tf.logical_not(tf.logical_or(is_index_masked, is_global))
        key_kept_b = to_blocks(tf.pad(key_kept, [[0, 0], [0, pad]]), size, axis=1)  # (b, c, size)
        key_global_cols = tf.gather(key, slots.positions, axis=2, batch_dims=1)  # (b, h, G, d)
        value_global_cols = tf.gather(value, slots.positions, axis=2, batch_dims=1)
        key_global_cols, value_global_cols = (tf.reshape(x, tf.stack([-1, tf.shape(x)[2], self.head_dim]))
                                              for x in (key_global_cols, value_global_cols))  # (bh, G, d)
        # traced inference: chunks of query blocks bound the band-sized buffers; the probabilities for
        # `output_attentions` need the whole band at once
        chunked = bool(self.attention_query_chunk) and traced_inference(training) and not output_attentions
        local_out, band, glob, inv_sum = local_rows(
            query_b, blocks(key), blocks(value), key_kept_b, padded_query, key_global_cols, value_global_cols,
            per_head(slots.valid), self.num_attention_heads, reach,
            chunk_blocks=max(1, self.attention_query_chunk // size) if chunked else 0,
            dropout=None if chunked else (lambda x: self.dropout(x, training=training)),
        )
        local_out = tf.reshape(local_out, tf.stack([batch, self.num_attention_heads, -1, self.head_dim]))
        local_out = self._merge_heads(local_out[:, :, :n])

        # --- global rows: full attention with the *_global projections
        global_out, global_probs = self._global_rows(hidden_states, is_index_masked, slots, training)
        # row 0 of the padded table is a zero row, so the gather is valid even with no global token
        table = tf.pad(global_out, [[0, 0], [1, 0], [0, 0]])
        rows_from_slots = tf.gather(table, tf.where(is_global, slots.slot_of_token + 1, 0), batch_dims=1)
        output = tf.where(is_global[:, :, None], rows_from_slots, local_out)
        output.set_shape(hidden_states.shape)
        output = scale_merged_heads(output, layer_head_mask, self.head_dim)

        if not output_attentions:
            return output, None, None
        probs_band, probs_global = (tf.cast(x * tf.cast(inv_sum, x.dtype), compute_dtype) for x in (band, glob))
        local_probs = self._local_probs_for_output(probs_global, probs_band, is_global, n)
        return output, scale_heads(local_probs, layer_head_mask, 1), scale_heads(global_probs, layer_head_mask, 1)

    def _factored_global_rows(self, num_slots) -> bool | tf.Tensor:
        """Use the factored form of the global rows when it is cheaper (see `_global_scores_and_values`)."""
        quantized = any(getattr(d, "quantization_mode", None) for d in (self.key_global, self.value_global))
        if quantized:
            return False
        # factored: 4*n*hidden*G*heads FLOPs; projected: 4*n*hidden^2 FLOPs
        return num_slots * self.num_attention_heads < self.hidden_size

    def _global_rows(self, hidden_states, is_index_masked, slots: GlobalSlots, training):
        """Outputs `(b, G, hidden)` of the global tokens and their probabilities `(b, h, n, G)`."""
        scale = 1.0 / math.sqrt(self.head_dim)
        compute_dtype = hidden_states.dtype
        global_hidden = tf.gather(hidden_states, slots.positions, batch_dims=1)  # (b, G, hidden)
        query = self._heads(self.query_global(global_hidden) * tf.cast(scale, compute_dtype))  # (b, h, G, d)
        keep = tf.logical_and(slots.valid[:, None, :, None], tf.logical_not(is_index_masked)[:, None, None, :])

        def attend(scores_fn, output_fn):
            scores = tf.cast(scores_fn(), tf.float32)
            probs = tf.nn.softmax(tf.where(keep, scores, NEG), axis=-1)
            probs = self.dropout(tf.cast(probs, compute_dtype), training=training)
            return output_fn(probs), probs

        def projected():
            key = self._heads(self.key_global(hidden_states))
            value = self._heads(self.value_global(hidden_states))
            return attend(lambda: tf.matmul(query, key, transpose_b=True),
                          lambda probs: self._merge_heads(tf.matmul(probs, value)))

        def factored():
            # q . (x K_h + b_h) = (K_h q) . x + const: the constant cancels in the softmax, and
            # sum_j p_j (x_j V_h + c_h) = (sum_j p_j x_j) V_h + c_h because the probabilities sum to one.
            k_kernel = tf.reshape(tf.cast(self.key_global.kernel, compute_dtype),
                                  [self.hidden_size, self.num_attention_heads, self.head_dim])
            v_kernel = tf.reshape(tf.cast(self.value_global.kernel, compute_dtype),
                                  [self.hidden_size, self.num_attention_heads, self.head_dim])
            pulled = tf.einsum("bhgd,ihd->bhgi", query, k_kernel)

            def values(probs):
                mixed = tf.matmul(probs, hidden_states[:, None])  # (b, h, G, hidden)
                out = tf.einsum("bhgi,ihd->bhgd", mixed, v_kernel)
                out = out + tf.reshape(tf.cast(self.value_global.bias, compute_dtype),
                                       [self.num_attention_heads, 1, self.head_dim])
                return self._merge_heads(out)

            def scores():
                # (b, n, hidden) x (b, h*G, hidden)^T: the token axis stays the rows of a plain matmul (as
                # `pulled @ hidden^T`, XLA copied the hidden states transposed, n x hidden, every layer);
                # only the small (b, n, h*G) result is transposed
                shape = tf.shape(pulled)  # sizes spelled out: with G = 0 a -1 could not be inferred
                flat = tf.reshape(pulled, tf.stack([shape[0], shape[1] * shape[2], self.hidden_size]))
                by_token = tf.matmul(hidden_states, flat, transpose_b=True)  # (b, n, h*G)
                by_token = tf.reshape(by_token, tf.stack([shape[0], tf.shape(hidden_states)[1], shape[1], shape[2]]))
                return tf.transpose(by_token, [0, 2, 3, 1])  # (b, h, G, n)

            return attend(scores, values)

        # Training uses one form: in a gradient graph a tf.cond exposes both branches' intermediates, which
        # differ in dtype here, and TensorFlow's type inference then warns "Type inference failed" in every fit.
        factored_form = False if training else self._factored_global_rows(slots.num_slots)
        if isinstance(factored_form, bool):
            out, probs = factored() if factored_form else projected()
        else:
            out, probs = tf.cond(factored_form, factored, projected)
        # (b, h, n, G); slots past the batch's largest count exist only under XLA: report them as zeros
        batch_max = tf.reduce_max(tf.concat([slots.count, [0]], axis=0))
        used = tf.range(tf.shape(probs)[2]) < batch_max
        global_probs = tf.where(used[None, None, None, :], tf.transpose(probs, [0, 1, 3, 2]), 0.0)
        return out, global_probs

    def _local_probs_for_output(self, probs_global, probs_band, is_global, n):
        """`(b, h, n, G + 2w + 1)` in transformers' layout from the `(b*h, c, size, ..)` blocks; rows of global
        tokens are zero, as there."""
        local = tf.concat([probs_global, skew_to_band(probs_band, self.block_size, self.block_reach)],
                          axis=-1)  # (bh, c, size, G + 2w + 1)
        shape = tf.shape(local)
        local = tf.reshape(local, tf.stack([-1, self.num_attention_heads, shape[1] * shape[2], shape[3]]))[:, :, :n]
        return tf.where(is_global[:, None, :, None], tf.zeros((), local.dtype), local)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            num_attention_heads=self.num_attention_heads,
            attention_window=self.attention_window,
            attention_probs_dropout_prob=self.attention_probs_dropout_prob,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            attention_query_chunk=self.attention_query_chunk,
            dense_row_chunk=self.dense_row_chunk,
        )
        return config
