"""The Longformer encoder shared by every model: embeddings, layers, optional pooler.

It owns the steps that transformers' `LongformerModel.forward` performs around the layers: merging the
attention and global-attention masks, padding to a multiple of the largest window, RoBERTa position
ids, input validation, and un-padding every output.
"""

from __future__ import annotations

from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf

from ..configuration import LongformerConfig
from ..head_mask import per_layer_head_masks
from ..input_checks import (
    InvalidInputError,
    check_index_range,
    check_mask,
    check_not_empty,
    check_same_shape,
    check_sequence_length,
    vocabulary_hint,
)
from ..layers.checkpointing import checkpointed_layer_call
from ..layers.chunk_loop import traced_inference
from ..layers.embeddings import LongformerEmbeddings
from ..layers.global_slots import compute_global_slots
from ..layers.layer_loop import call_layers_in_loop, runs_of_identical_layers
from ..layers.shapes import dims
from ..layers.transformer_layer import LongformerLayer
from ..modeling_outputs import TFLongformerBaseModelOutputWithPooling


def _call(layer, hidden_states, **kwargs):
    return layer(hidden_states, **kwargs)


class _BackboneInputs(NamedTuple):
    """The checked inputs: int32 ids clipped into their tables (`input_ids` or `inputs_embeds` is None), the
    attention mask merged with the global one (0 padding, 1 local, 2 global), the rows that failed a value
    check (`bad_rows`, NaN outputs) and the unpadded `batch` and `seq_len` (static when known)."""

    input_ids: tf.Tensor | None
    inputs_embeds: tf.Tensor | None
    attention_mask: tf.Tensor
    token_type_ids: tf.Tensor
    position_ids: tf.Tensor
    bad_rows: tf.Tensor
    batch: tf.Tensor | int
    seq_len: tf.Tensor | int


def loop_chunk(config: LongformerConfig, chunk: int) -> int:
    """`chunk` (of `attention_query_chunk` / `dense_row_chunk`), or 0 when no input of the model is longer
    than one chunk: the loop would never iterate, and tracing it, with the run-time choice between it and the
    whole computation, only makes every traced program larger (the demo model's ONNX conversion: half the
    time, docs/serving.md). Same results either way; an input made longer with explicit `position_ids` runs
    whole."""
    longest = -(-config.max_sequence_length // config.padding_multiple) * config.padding_multiple
    return chunk if longest > chunk else 0


@keras.saving.register_keras_serializable(package="tf_longformer")
class TFLongformerMainLayer(keras.layers.Layer):
    """Embeddings + `num_hidden_layers` Longformer layers (+ pooler), transformers' `LongformerModel`.

    Args:
        config: LongformerConfig or its dict.
        add_pooling_layer: bool. Build the pooler (dense + tanh on the first token).
    """

    def __init__(self, config: LongformerConfig | dict, add_pooling_layer: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.config = config if isinstance(config, LongformerConfig) else LongformerConfig(**config)
        self.add_pooling_layer = add_pooling_layer
        c = self.config
        init = keras.initializers.TruncatedNormal(stddev=c.initializer_range)

        # === Layers ===
        self.embeddings = LongformerEmbeddings(
            c.vocab_size, c.hidden_size, c.max_position_embeddings, c.type_vocab_size, c.layer_norm_eps,
            c.hidden_dropout_prob, c.initializer_range, padding_idx=c.pad_token_id, name="embeddings",
            dtype=self.dtype_policy,
        )
        self.encoder_layers = [
            LongformerLayer(
                c.hidden_size, c.num_attention_heads, c.intermediate_size, window, c.hidden_act,
                c.hidden_dropout_prob, c.attention_probs_dropout_prob, c.layer_norm_eps, c.initializer_range,
                attention_query_chunk=loop_chunk(c, c.attention_query_chunk),
                dense_row_chunk=loop_chunk(c, c.dense_row_chunk),
                name=f"layer_{i}", dtype=self.dtype_policy,
            )
            for i, window in enumerate(c.layer_attention_windows)
        ]
        self.pooler = (
            keras.layers.Dense(c.hidden_size, activation="tanh", kernel_initializer=init, name="pooler",
                               dtype=self.dtype_policy)
            if add_pooling_layer
            else None
        )

    def build(self, input_shape=None) -> None:
        self.embeddings.build()
        for layer in self.encoder_layers:
            layer.build()
        if self.pooler is not None:
            self.pooler.build((None, self.config.hidden_size))
        self.built = True

    def hf_weights(self) -> dict:
        """PyTorch parameter names of `LongformerModel` → (variable, transpose)."""
        out = {f"embeddings.{k}": v for k, v in self.embeddings.hf_weights().items()}
        for i, layer in enumerate(self.encoder_layers):
            out.update({f"encoder.layer.{i}.{k}": v for k, v in layer.hf_weights().items()})
        if self.pooler is not None:
            out["pooler.dense.weight"] = (self.pooler.kernel, True)
            out["pooler.dense.bias"] = (self.pooler.bias, False)
        return out

    @property
    def word_embeddings(self):
        """The float word-embedding table (dequantized on the fly when the model is quantized)."""
        from ..quantization import word_embedding_matrix

        return word_embedding_matrix(self.embeddings.word_embeddings)

    # --- forward ----------------------------------------------------------------------------------

    def call(
        self,
        input_ids=None,
        attention_mask=None,
        head_mask=None,
        global_attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        inputs_embeds=None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
        training: bool | None = None,
    ) -> TFLongformerBaseModelOutputWithPooling:
        inputs = self._checked_inputs(input_ids, attention_mask, global_attention_mask, token_type_ids,
                                      position_ids, inputs_embeds)
        seq_len = inputs.seq_len
        inputs = self._padded_to_window(inputs)

        hidden = self.embeddings(inputs.input_ids, inputs.position_ids, inputs.token_type_ids, inputs.inputs_embeds,
                                 training=training)
        is_index_masked = inputs.attention_mask < 1
        slots = compute_global_slots(tf.equal(inputs.attention_mask, 2))
        hidden = tf.where(inputs.bad_rows[:, None, None], tf.constant(np.nan, hidden.dtype), hidden)
        hidden, all_hidden, all_local, all_global = self._run_layers(
            hidden, is_index_masked, slots, head_mask, output_attentions, output_hidden_states, training)

        sequence_output = hidden[:, :seq_len]
        no_global = tf.executing_eagerly() and int(slots.num_slots) == 0
        return TFLongformerBaseModelOutputWithPooling(
            last_hidden_state=sequence_output,
            pooler_output=None if self.pooler is None else self.pooler(sequence_output[:, 0]),
            hidden_states=tuple(h[:, :seq_len] for h in all_hidden) if output_hidden_states else None,
            attentions=tuple(p[:, :, :seq_len] for p in all_local) if output_attentions else None,
            global_attentions=tuple(all_global) if output_attentions and not no_global else None,
        )

    def _checked_inputs(self, input_ids, attention_mask, global_attention_mask, token_type_ids, position_ids,
                        inputs_embeds) -> _BackboneInputs:
        """Validate the inputs (`input_checks.py`: eager errors, graph assertions, NaN rows under XLA), fill
        the defaults, merge the global-attention mask into the attention mask and cast the ids to int32."""
        c = self.config
        if (input_ids is None) == (inputs_embeds is None):
            raise InvalidInputError(
                "Give exactly one of input_ids and inputs_embeds "
                f"(got {'both' if input_ids is not None else 'neither'})."
            )
        if input_ids is not None:
            input_ids = tf.convert_to_tensor(input_ids)
            if input_ids.dtype not in (tf.int32, tf.int64):
                raise InvalidInputError(f"input_ids must be int32 or int64 token ids, got {input_ids.dtype.name}.")
            if input_ids.shape.rank != 2:
                raise InvalidInputError(
                    f"input_ids must have shape (batch, sequence_length), got rank {input_ids.shape.rank} "
                    f"({input_ids.shape}); add a batch axis with input_ids[None]."
                )
            shape_source, shape_name = input_ids, "input_ids"
        else:
            inputs_embeds = tf.convert_to_tensor(inputs_embeds)
            if inputs_embeds.shape.rank != 3 or inputs_embeds.shape[-1] not in (None, c.hidden_size):
                raise InvalidInputError(
                    f"inputs_embeds must have shape (batch, sequence_length, {c.hidden_size}), got "
                    f"{inputs_embeds.shape}."
                )
            shape_source, shape_name = inputs_embeds[:, :, 0], "inputs_embeds[..., 0]"
        for name, tensor in (("attention_mask", attention_mask), ("global_attention_mask", global_attention_mask),
                             ("token_type_ids", token_type_ids), ("position_ids", position_ids)):
            check_same_shape(shape_source, tensor, shape_name, name)

        batch, seq_len = dims(shape_source)
        shape_source = check_not_empty(shape_source, batch, seq_len, shape_name)
        check_sequence_length(seq_len, c.max_sequence_length)
        shape = tf.shape(shape_source)

        # every value is checked in its own dtype, before a cast to int32 could wrap it around
        bad_rows = tf.zeros(shape[:1], tf.bool)
        if input_ids is not None:
            input_ids = shape_source
            bad_rows |= check_index_range(
                input_ids, c.vocab_size, "input_ids", vocabulary_hint(c.vocab_size))
            input_ids = tf.cast(input_ids, tf.int32)
        attention_mask, failing = check_mask(attention_mask, "attention_mask")
        bad_rows |= failing
        global_attention_mask, failing = check_mask(global_attention_mask, "global_attention_mask")
        bad_rows |= failing
        if attention_mask is None:
            attention_mask = tf.ones(shape, tf.int32)
        if token_type_ids is None:
            token_type_ids = tf.zeros(shape, tf.int32)
        else:
            bad_rows |= check_index_range(
                token_type_ids, c.type_vocab_size, "token_type_ids",
                f"this model has {c.type_vocab_size} token type(s); RoBERTa-style models use only 0.",
            )
            token_type_ids = tf.cast(token_type_ids, tf.int32)
        if global_attention_mask is not None:
            # 0 padding, 1 local, 2 global (transformers' _merge_to_attention_mask; 2 * 2 is global too)
            attention_mask = tf.minimum(attention_mask * (global_attention_mask + 1), 2)
        if position_ids is None:
            position_ids = self._default_position_ids(input_ids, shape)
        else:
            bad_rows |= check_index_range(
                position_ids, c.max_position_embeddings, "position_ids",
                f"the position table has {c.max_position_embeddings} rows.",
            )
            position_ids = tf.cast(position_ids, tf.int32)
        # bad rows become NaN after the embeddings; until then their ids must index the tables
        return _BackboneInputs(
            input_ids=None if input_ids is None else tf.clip_by_value(input_ids, 0, c.vocab_size - 1),
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            token_type_ids=tf.clip_by_value(token_type_ids, 0, c.type_vocab_size - 1),
            position_ids=tf.clip_by_value(position_ids, 0, c.max_position_embeddings - 1),
            bad_rows=bad_rows, batch=batch, seq_len=seq_len,
        )

    def _padded_to_window(self, inputs: _BackboneInputs) -> _BackboneInputs:
        """Pad the sequence axis to a multiple of the largest window with padding tokens (masked)."""
        c = self.config
        multiple = c.padding_multiple
        pad_len = (multiple - inputs.seq_len % multiple) % multiple
        pad2 = [[0, 0], [0, pad_len]]
        input_ids, inputs_embeds = inputs.input_ids, inputs.inputs_embeds
        if input_ids is not None:
            input_ids = tf.pad(input_ids, pad2, constant_values=c.pad_token_id)
        else:
            pad_embedding = tf.cast(tf.gather(self.word_embeddings, [c.pad_token_id]), inputs_embeds.dtype)
            filler = tf.tile(pad_embedding[None], tf.stack([inputs.batch, pad_len, 1]))
            inputs_embeds = tf.concat([inputs_embeds, filler], axis=1)
        return inputs._replace(
            input_ids=input_ids,
            inputs_embeds=inputs_embeds,
            attention_mask=tf.pad(inputs.attention_mask, pad2),
            token_type_ids=tf.pad(inputs.token_type_ids, pad2),
            position_ids=tf.pad(inputs.position_ids, pad2, constant_values=c.pad_token_id),
        )

    def _run_layers(self, hidden, is_index_masked, slots, head_mask, output_attentions: bool,
                    output_hidden_states: bool, training):
        """The encoder layers on the padded sequence, in one of three ways (`docs/architecture.md`): one call
        per layer, each layer recomputed in the backward pass (gradient checkpointing), or each run of
        identical layers as one loop (traced inference without per-layer outputs).

        Returns:
            `(hidden, all_hidden, all_local, all_global)`: the last hidden states and the per-layer lists
            asked for (empty otherwise), all padded.
        """
        c = self.config
        all_hidden, all_local, all_global = [], [], []
        head_masks = iter(per_layer_head_masks(head_mask, c.num_hidden_layers, c.num_attention_heads))
        # gradient checkpointing (training only, as transformers): recompute each layer in the backward pass
        call_layer = checkpointed_layer_call if c.gradient_checkpointing and training is True else _call
        loop = traced_inference(training) and not (output_attentions or output_hidden_states or head_mask is not None)
        for run in runs_of_identical_layers(self.encoder_layers) if loop else [[x] for x in self.encoder_layers]:
            if len(run) > 1:
                hidden = call_layers_in_loop(run, hidden, is_index_masked=is_index_masked, slots=slots)
                continue
            if output_hidden_states:
                all_hidden.append(hidden)
            hidden, local_probs, global_probs = call_layer(
                run[0], hidden, is_index_masked=is_index_masked, slots=slots, output_attentions=output_attentions,
                training=training, layer_head_mask=next(head_masks),
            )
            if output_attentions:
                all_local.append(local_probs)
                all_global.append(global_probs)
        if output_hidden_states:
            all_hidden.append(hidden)
        return hidden, all_hidden, all_local, all_global

    def _default_position_ids(self, input_ids, shape):
        """RoBERTa positions: from `input_ids` skipping padding, else `pad+1 .. pad+seq`."""
        pad = self.config.pad_token_id
        if input_ids is not None:
            not_pad = tf.cast(tf.not_equal(input_ids, pad), tf.int32)
            return tf.cumsum(not_pad, axis=1) * not_pad + pad
        positions = tf.range(pad + 1, shape[1] + pad + 1, dtype=tf.int32)
        return tf.broadcast_to(positions[None, :], shape)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(config=self.config.to_dict(), add_pooling_layer=self.add_pooling_layer)
        return config
