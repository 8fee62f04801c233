"""Longformer self-attention: a sliding window for every token plus full attention for global tokens.

Matches transformers' `LongformerSelfAttention` (PyTorch) number for number:

* local rows: each token attends to its window (`layers/sliding_window.py` explains the block layout)
  and to every global token through `G` extra columns; global and padded tokens are removed from the
  window (they are reached through the global columns, or not at all). One softmax covers both sets of
  columns, computed as two parts and merged (`softmax_parts.py`);
* global rows: each global token attends to every non-padded token with its own projections
  `query_global`, `key_global`, `value_global`, and that output replaces its local one;
* padded query rows get zero probabilities; softmax runs in float32 whatever the compute dtype.

`G` and the slot tensors come from `global_slots.compute_global_slots`, computed once per forward.

The math is stated densely, without blocks or slots, in `tests/dense_reference.py` (the numpy reference
the tests compare with). The same math runs under four execution strategies, chosen in one place
(`_ExecutionStrategy.choose`) and kept out of the arithmetic; each gives the same numbers:

* row chunks (`dense_row_chunk`, traced inference): the query/key/value projections a chunk of rows at a
  time (`chunk_loop.py`);
* query chunks (`attention_query_chunk`, traced inference without probabilities): the window part a chunk
  of query blocks at a time (`local_attention.py`);
* global chunks (XLA without probabilities): the global part a chunk of slots at a time in the branch
  for the batch's count (`global_tiers.py`, `global_chunks.py`); else all `G` slots at once;
* the layer loop (traced inference, in `models/backbone.py`): identical layers as one loop (`layer_loop.py`).

Shapes: `b` batch, `h` heads, `bh = b * h`, `n` tokens, `n'` tokens padded to a whole number of blocks,
`d` head size, `G` global slots, `c` blocks of `s` queries, `L` keys of a block's window.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import keras
import tensorflow as tf

from ..head_mask import scale_heads, scale_merged_heads
from ..xla import in_xla_context
from .chunk_loop import map_row_chunks, traced_inference
from .global_chunks import SlotChunks
from .global_slots import GlobalSlots
from .global_tiers import Branch, run_branches
from .local_attention import local_rows, repeat_for_heads
from .shapes import dims
from .sliding_window import block_layout, skew_to_band, to_blocks
from .softmax_parts import NEG, SoftmaxPart, attend, merge, share


class _ExecutionStrategy(NamedTuple):
    """How one call runs (the module docstring lists the strategies); the arithmetic is the same for all.

    Attributes:
        projection_rows: rows per chunk of the query/key/value projections (0: all rows at once).
        query_chunk_blocks: query blocks per chunk of the window part (0: all blocks at once).
        global_slot_chunks: whether the global part runs in chunks of slots, in the branch for the batch's
            count (XLA), rather than on all `G` slots at once.
    """

    projection_rows: int
    query_chunk_blocks: int
    global_slot_chunks: bool

    @classmethod
    def choose(cls, layer: LongformerSelfAttention, training, output_attentions: bool) -> _ExecutionStrategy:
        """The strategy of `layer` for this call. Traced inference bounds its buffers with loops; the
        probabilities for `output_attentions` need the whole band and every slot at once."""
        traced = traced_inference(training)
        query_chunk = layer.attention_query_chunk if traced and not output_attentions else 0
        return cls(
            projection_rows=layer.dense_row_chunk if traced else 0,
            query_chunk_blocks=max(1, query_chunk // layer.block_size) if query_chunk else 0,
            global_slot_chunks=in_xla_context() and not output_attentions,
        )


@keras.saving.register_keras_serializable(package="tf_longformer")
class LongformerSelfAttention(keras.layers.Layer):
    """Sliding-window + global self-attention of one layer (the math: `tests/dense_reference.py`).

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
        batch, n, _ = dims(x)
        out = tf.reshape(x, [batch, n, self.num_attention_heads, self.head_dim])
        out.set_shape([x.shape[0], x.shape[1], self.num_attention_heads, self.head_dim])
        return tf.transpose(out, [0, 2, 1, 3])

    def _merge_heads(self, x: tf.Tensor) -> tf.Tensor:
        """`(batch, heads, n, head_dim)` → `(batch, n, hidden)`."""
        x = tf.transpose(x, [0, 2, 1, 3])
        batch, n, _, _ = dims(x)
        return tf.reshape(x, [batch, n, self.hidden_size])

    def _flat_heads(self, x: tf.Tensor, length) -> tf.Tensor:
        """`(batch, heads, n, head_dim)` → `(batch*heads, length, head_dim)`, zero rows appended past `n`."""
        n = dims(x)[2]
        flat = tf.reshape(x, [-1, n, self.head_dim])
        return tf.pad(flat, [[0, 0], [0, length - n], [0, 0]])

    def _dropout(self, training):
        return lambda x: self.dropout(x, training=training)

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
        strategy = _ExecutionStrategy.choose(self, training, output_attentions)
        size, reach = self.block_size, self.block_reach
        scale = 1.0 / math.sqrt(self.head_dim)
        compute_dtype = hidden_states.dtype
        n = dims(hidden_states)[1]
        padded_n = n + (-n) % size  # a whole number of this layer's blocks

        def project(x):  # [b, n, hidden] x [hidden, hidden] -> [b, n, hidden], three times
            return [self.query(x) * tf.cast(scale, compute_dtype), self.key(x), self.value(x)]

        projected = map_row_chunks(project, [hidden_states], [hidden_states] * 3, strategy.projection_rows)
        query, key, value = (self._heads(x) for x in projected)  # [b, h, n, d]
        query_flat = self._flat_heads(query, padded_n)  # [bh, n', d]
        per_head = functools.partial(repeat_for_heads, heads=self.num_attention_heads)
        padded_query = per_head(tf.pad(is_index_masked, [[0, 0], [0, padded_n - n]], constant_values=True))  # [bh, n']

        # --- the window part of every row's softmax, in blocks of `size` queries
        # keys outside the window: global or padded (transformers: attention_mask != 0), or past the end
        key_kept = tf.logical_not(tf.logical_or(is_index_masked, slots.is_global))
        window_b, band, band_inv_sum = local_rows(
            to_blocks(query_flat, size, axis=1),
            to_blocks(self._flat_heads(key, padded_n), size, axis=1),
            to_blocks(self._flat_heads(value, padded_n), size, axis=1),
            to_blocks(tf.pad(key_kept, [[0, 0], [0, padded_n - n]]), size, axis=1),
            to_blocks(padded_query, size, axis=1), self.num_attention_heads, reach,
            chunk_blocks=strategy.query_chunk_blocks,
            dropout=None if strategy.query_chunk_blocks else self._dropout(training),
        )
        # [bh, c, s, .] -> [bh, n', .]
        window = SoftmaxPart(*(tf.reshape(x, tf.stack([-1, padded_n, x.shape[-1]])) for x in window_b))

        # --- the global part: the global tokens' columns in every row's softmax, and their own rows
        inputs = (query_flat, key, value, window.out, window.lse, hidden_states, is_index_masked, padded_query)
        if strategy.global_slot_chunks:
            output = self._global_part_by_count(inputs, slots, training)
        else:
            output, total, probs_global, global_probs = self._global_part(
                *inputs, slots=slots, with_probs=output_attentions, n=n, training=training)
        output.set_shape(hidden_states.shape)
        output = scale_merged_heads(output, layer_head_mask, self.head_dim)

        if not output_attentions:
            return output, None, None
        # normalised probabilities: each part's, times its share of the row's total
        probs_band = band * tf.cast(band_inv_sum * tf.exp(window_b.lse - to_blocks(total.lse, size, axis=1)),
                                    band.dtype)
        local_probs = self._local_probs_for_output(probs_global, probs_band, slots.is_global, n, padded_n)
        local_probs = tf.cast(local_probs, compute_dtype)
        if global_probs is not None:  # None: an eager batch without global tokens
            global_probs = scale_heads(global_probs, layer_head_mask, 1)
        return output, scale_heads(local_probs, layer_head_mask, 1), global_probs

    def _global_part(self, query_flat, key, value, window_out, window_lse, hidden_states, is_index_masked,
                     padded_query, *, slots: GlobalSlots, with_probs: bool, n, training):
        """Attention output `[b, n, hidden]` from the window part and the `G` global slots of `slots` (any `G`).

        Args:
            query_flat: `[bh, n', d]` scaled queries; key, value: `[b, h, n, d]`.
            window_out, window_lse: the window part, `[bh, n', d]` and `[bh, n', 1]`.
            hidden_states: `[b, n, hidden]`, the layer's input.
            is_index_masked: `[b, n]` padding; padded_query: `[bh, n']` rows with zero probabilities.

        Returns:
            `(output, total, probs_global, global_probs)`: with `with_probs`, also the row totals (the merged
            `SoftmaxPart`), the local rows' normalised probabilities of the global columns `(bh, n', G)` and
            the global rows' probabilities `(b, h, n, G)`; else `None`s.
        """
        window = SoftmaxPart(window_out, window_lse)
        if isinstance(slots.num_slots, int) and slots.num_slots == 0:  # an eager batch without global tokens
            return self._local_output(window.out, n), window, None, None
        columns, exps, inv_sum = self._global_columns(query_flat, key, value, slots, padded_query, training)
        total = merge(window, columns)
        global_out, global_probs = self._global_rows(hidden_states, is_index_masked, slots, training)
        output = self._place_global_rows(self._local_output(total.out, n), global_out, slots)
        if not with_probs:
            return output, None, None, None
        probs_global = exps * tf.cast(inv_sum, exps.dtype) * share(columns, total.lse)
        return output, total, probs_global, global_probs

    def _global_part_by_count(self, inputs, slots: GlobalSlots, training):
        """Under XLA: `_global_part`'s output, in chunks of slots, as many as the batch needs, in the branch
        for the batch's largest count (`global_tiers.py`). `inputs`: `_global_part`'s positional ones."""
        def branch_fn(branch: Branch):
            return functools.partial(self._global_part_in_chunks, factored=branch.factored, training=training)

        global_layers = (self.query_global, self.key_global, self.value_global)
        return run_branches(slots, self._factored_limit(), branch_fn, inputs,
                            [v for layer in global_layers for v in layer.weights],
                            getattr(self.dropout, "seed_generator", None), bool(training))

    def _global_part_in_chunks(self, chunks: SlotChunks, query_flat, key, value, window_out, window_lse, hidden_states,
                               is_index_masked, padded_query, *, factored: bool, training):
        """`_global_part`'s output computed a chunk of slots at a time, as many chunks as the batch needs;
        `factored`: the form of the global rows."""
        n = dims(hidden_states)[1]
        if not chunks.size:  # no global token in the batch
            return self._local_output(window_out, n)
        keys_values = () if factored else self._global_keys_values(hidden_states)  # every token's, once

        def columns(chunk: GlobalSlots, query_flat, key, value, *_) -> SoftmaxPart:
            return self._global_columns(query_flat, key, value, chunk, padded_query, training)[0]

        def rows(chunk: GlobalSlots, _query, _key, _value, hidden_states, *keys_values):
            return self._global_rows(hidden_states, is_index_masked, chunk, training, factored, keys_values or None)[0]

        local, global_out = chunks.attend(SoftmaxPart(window_out, window_lse),
                                          [query_flat, key, value, hidden_states, *keys_values], columns, rows,
                                          [hidden_states.shape[0], chunks.size, self.hidden_size])
        return self._place_global_rows(self._local_output(local, n), global_out, chunks.slots)

    def _local_output(self, out_flat, n):
        """`(bh, n', d)` → `(b, n, hidden)`."""
        out = tf.reshape(out_flat, [-1, self.num_attention_heads, dims(out_flat)[1], self.head_dim])
        return self._merge_heads(out[:, :, :n])

    def _global_columns(self, query_flat, key, value, slots: GlobalSlots, padded_query, training):
        """Every row over the global tokens' keys: `attend`'s `(part, exps, inv_sum)`, rows `(bh, n', .)`."""
        def columns(x):  # [b, h, n, d] -> [bh, G, d]
            picked = tf.gather(x, slots.positions, axis=2, batch_dims=1)  # [b, h, G, d]
            return tf.reshape(picked, tf.stack([-1, tf.shape(picked)[2], self.head_dim]))

        keep = repeat_for_heads(slots.valid, self.num_attention_heads)[:, None, :]  # [bh, 1, G]
        return attend(query_flat, columns(key), columns(value), keep, padded_query, dropout=self._dropout(training))

    @staticmethod
    def _place_global_rows(local, global_out, slots: GlobalSlots):
        """The output: each global token's row from `global_out` `(b, G, hidden)`, the others from `local`."""
        # row 0 of the padded table is a zero row, so the gather is valid even with no global token
        table = tf.pad(global_out, [[0, 0], [1, 0], [0, 0]])
        from_slots = tf.gather(table, tf.where(slots.is_global, slots.slot_of_token + 1, 0), batch_dims=1)
        return tf.where(slots.is_global[:, :, None], from_slots, local)

    def _factored_limit(self) -> int:
        """The largest number of global slots for which the factored global rows are cheaper (`_global_rows`)."""
        quantized = any(getattr(d, "quantization_mode", None) for d in (self.key_global, self.value_global))
        # factored: 4*n*hidden*G*heads FLOPs; projected: 4*n*hidden^2 FLOPs
        return 0 if quantized else (self.hidden_size - 1) // self.num_attention_heads

    def _global_keys_values(self, hidden_states):
        """The `key_global` / `value_global` projections of every token, `(b, h, n, d)` each."""
        return self._heads(self.key_global(hidden_states)), self._heads(self.value_global(hidden_states))

    def _global_rows(self, hidden_states, is_index_masked, slots: GlobalSlots, training, factored_form=None,
                     keys_values=None):
        """Outputs `[b, G, hidden]` of the global tokens and their probabilities `[b, h, n, G]`.

        Two forms of the same rows (`_global_rows_projected`, `_global_rows_factored`); the factored one costs
        less for few slots (`_factored_limit`).

        Args:
            factored_form: bool or bool tensor, the form; None: the cheaper one for `G` slots.
            keys_values: `_global_keys_values(hidden_states)` when already computed (the projected form).
        """
        scale = 1.0 / math.sqrt(self.head_dim)
        compute_dtype = hidden_states.dtype
        global_hidden = tf.gather(hidden_states, slots.positions, batch_dims=1)  # [b, G, hidden]
        query = self._heads(self.query_global(global_hidden) * tf.cast(scale, compute_dtype))  # [b, h, G, d]
        keep = tf.logical_and(slots.valid[:, None, :, None], tf.logical_not(is_index_masked)[:, None, None, :])

        def projected():
            return self._global_rows_projected(query, hidden_states, keep, training, keys_values)

        def factored():
            return self._global_rows_factored(query, hidden_states, keep, training)

        if factored_form is None:
            # Training uses one form: in a gradient graph a tf.cond exposes both branches' intermediates, which
            # differ in dtype here, and TensorFlow's type inference then warns "Type inference failed" in every fit.
            factored_form = (not training and self._factored_limit() > 0
                             and slots.num_slots <= self._factored_limit())
        if isinstance(factored_form, bool):
            out, probs = factored() if factored_form else projected()
        else:
            out, probs = tf.cond(factored_form, factored, projected)
        # [b, h, n, G]; slots past the batch's largest count exist only under XLA: report them as zeros
        used = tf.range(tf.shape(probs)[2]) < slots.largest_count()
        global_probs = tf.where(used[None, None, None, :], tf.transpose(probs, [0, 1, 3, 2]), 0.0)
        return out, global_probs

    def _global_row_probs(self, scores, keep, training, compute_dtype):
        """Softmax (float32) of the global rows' scores `[b, h, G, n]` over the kept tokens, then dropout."""
        probs = tf.nn.softmax(tf.where(keep, tf.cast(scores, tf.float32), NEG), axis=-1)
        return self.dropout(tf.cast(probs, compute_dtype), training=training)

    def _global_rows_projected(self, query, hidden_states, keep, training, keys_values=None):
        """The global rows through every token's `key_global` / `value_global` projections: `(out, probs)`."""
        key, value = keys_values or self._global_keys_values(hidden_states)  # [b, h, n, d] each
        scores = tf.matmul(query, key, transpose_b=True)  # [b, h, G, d] x [b, h, d, n] -> [b, h, G, n]
        probs = self._global_row_probs(scores, keep, training, hidden_states.dtype)
        return self._merge_heads(tf.matmul(probs, value)), probs  # [b, h, G, n] x [b, h, n, d] -> [b, h, G, d]

    def _global_rows_factored(self, query, hidden_states, keep, training):
        """The global rows with the projections moved onto the `G` queries: `(out, probs)`.

        q . (x K_h + b_h) = (K_h q) . x + const: the constant cancels in the softmax, and
        sum_j p_j (x_j V_h + c_h) = (sum_j p_j x_j) V_h + c_h because the probabilities sum to one.
        """
        compute_dtype = hidden_states.dtype
        heads_shape = [self.hidden_size, self.num_attention_heads, self.head_dim]
        k_kernel = tf.reshape(tf.cast(self.key_global.kernel, compute_dtype), heads_shape)  # [hidden, h, d]
        v_kernel = tf.reshape(tf.cast(self.value_global.kernel, compute_dtype), heads_shape)  # [hidden, h, d]
        pulled = tf.einsum("bhgd,ihd->bhgi", query, k_kernel)  # [b, h, G, d] x [hidden, h, d] -> [b, h, G, hidden]

        # scores: the token axis stays the rows of a plain matmul (as `pulled @ hidden^T`, XLA copied the
        # hidden states transposed, n x hidden, every layer); only the small [b, n, h*G] result is transposed
        shape = tf.shape(pulled)  # sizes spelled out: with G = 0 a -1 could not be inferred
        flat = tf.reshape(pulled, tf.stack([shape[0], shape[1] * shape[2], self.hidden_size]))  # [b, h*G, hidden]
        by_token = tf.matmul(hidden_states, flat, transpose_b=True)  # [b, n, hidden] x [b, hidden, h*G] -> [b, n, h*G]
        by_token = tf.reshape(by_token, tf.stack([shape[0], tf.shape(hidden_states)[1], shape[1], shape[2]]))
        probs = self._global_row_probs(tf.transpose(by_token, [0, 2, 3, 1]), keep, training, compute_dtype)

        mixed = tf.matmul(probs, hidden_states[:, None])  # [b, h, G, n] x [b, 1, n, hidden] -> [b, h, G, hidden]
        out = tf.einsum("bhgi,ihd->bhgd", mixed, v_kernel)  # [b, h, G, hidden] x [hidden, h, d] -> [b, h, G, d]
        out = out + tf.reshape(tf.cast(self.value_global.bias, compute_dtype),
                               [self.num_attention_heads, 1, self.head_dim])
        return self._merge_heads(out), probs

    def _local_probs_for_output(self, probs_global, probs_band, is_global, n, padded_n):
        """`(b, h, n, G + 2w + 1)` in transformers' layout from the global columns `(bh, n', G)` and the band
        blocks `(bh, c, s, L)`; rows of global tokens are zero, as there."""
        band = skew_to_band(probs_band, self.block_size, self.block_reach)  # (bh, c, s, 2w + 1)
        band = tf.reshape(band, tf.stack([-1, padded_n, 2 * self.one_sided + 1]))
        local = tf.concat([tf.cast(probs_global, band.dtype), band], axis=-1) if probs_global is not None else band
        local = tf.reshape(local, tf.stack([-1, self.num_attention_heads, padded_n, tf.shape(local)[-1]]))[:, :, :n]
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
