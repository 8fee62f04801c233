"""One Longformer layer: self-attention, residual + LayerNorm, feed-forward, residual + LayerNorm."""

from __future__ import annotations

import keras

from .activations import get_activation
from .attention import LongformerSelfAttention
from .chunk_loop import map_row_chunks, traced_inference
from .global_slots import GlobalSlots


@keras.saving.register_keras_serializable(package="tf_longformer")
class LongformerLayer(keras.layers.Layer):
    """A post-LayerNorm transformer layer with Longformer self-attention (transformers' `LongformerLayer`).

    Args:
        hidden_size, num_attention_heads, intermediate_size: widths.
        attention_window: int. This layer's window.
        hidden_act: str. Hugging Face activation name.
        hidden_dropout_prob, attention_probs_dropout_prob: dropout rates.
        layer_norm_eps: float.
        initializer_range: float. Std of the truncated-normal initialiser.
        attention_query_chunk: int. Queries per chunk of the local attention rows; 0: all at once.
        dense_row_chunk: int. Rows per chunk of the dense layers in traced inference; 0: all at once.
    """

    def __init__(
        self,
        hidden_size: int,
        num_attention_heads: int,
        intermediate_size: int,
        attention_window: int,
        hidden_act: str = "gelu",
        hidden_dropout_prob: float = 0.0,
        attention_probs_dropout_prob: float = 0.0,
        layer_norm_eps: float = 1e-12,
        initializer_range: float = 0.02,
        attention_query_chunk: int = 0,
        dense_row_chunk: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.attention_window = attention_window
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range
        self.attention_query_chunk = attention_query_chunk
        self.dense_row_chunk = dense_row_chunk
        init = keras.initializers.TruncatedNormal(stddev=initializer_range)
        policy = self.dtype_policy

        # === Layers ===
        self.self_attention = LongformerSelfAttention(
            hidden_size, num_attention_heads, attention_window, attention_probs_dropout_prob,
            kernel_initializer=init, attention_query_chunk=attention_query_chunk,
            dense_row_chunk=dense_row_chunk, name="self", dtype=policy,
        )
        self.attention_output_dense = keras.layers.Dense(
            hidden_size, kernel_initializer=init, name="attention_output_dense", dtype=policy
        )
        self.attention_output_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_eps, name="attention_output_LayerNorm", dtype=policy
        )
        self.intermediate_dense = keras.layers.Dense(
            intermediate_size, kernel_initializer=init, name="intermediate_dense", dtype=policy
        )
        self.activation = get_activation(hidden_act)
        self.output_dense = keras.layers.Dense(hidden_size, kernel_initializer=init, name="output_dense", dtype=policy)
        self.output_norm = keras.layers.LayerNormalization(epsilon=layer_norm_eps, name="output_LayerNorm", dtype=policy)
        self.dropout = keras.layers.Dropout(hidden_dropout_prob, dtype=policy)

    def build(self, input_shape=None) -> None:
        hidden = (None, None, self.hidden_size)
        self.self_attention.build(hidden)
        self.attention_output_dense.build(hidden)
        self.attention_output_norm.build(hidden)
        self.intermediate_dense.build(hidden)
        self.output_dense.build((None, None, self.intermediate_size))
        self.output_norm.build(hidden)
        self.built = True

    def hf_weights(self) -> dict:
        """PyTorch parameter names (relative to `encoder.layer.{i}.`) → (variable, transpose)."""
        out = {f"attention.self.{k}": v for k, v in self.self_attention.hf_weights().items()}
        for prefix, dense in (
            ("attention.output.dense", self.attention_output_dense),
            ("intermediate.dense", self.intermediate_dense),
            ("output.dense", self.output_dense),
        ):
            out[f"{prefix}.weight"] = (dense.kernel, True)
            out[f"{prefix}.bias"] = (dense.bias, False)
        for prefix, norm in (("attention.output.LayerNorm", self.attention_output_norm),
                             ("output.LayerNorm", self.output_norm)):
            out[f"{prefix}.weight"] = (norm.gamma, False)
            out[f"{prefix}.bias"] = (norm.beta, False)
        return out

    def call(self, hidden_states, is_index_masked, slots: GlobalSlots, output_attentions=False, training=None,
             layer_head_mask=None):
        """Returns `(hidden_states, local_probs or None, global_probs or None)`."""
        attn, local_probs, global_probs = self.self_attention(
            hidden_states, is_index_masked=is_index_masked, slots=slots, output_attentions=output_attentions,
            training=training, layer_head_mask=layer_head_mask,
        )

        def output_block(attn, hidden_states):
            attn = self.dropout(self.attention_output_dense(attn), training=training)
            attn = self.attention_output_norm(attn + hidden_states)
            ff = self.activation(self.intermediate_dense(attn))
            ff = self.dropout(self.output_dense(ff), training=training)
            return [self.output_norm(ff + attn)]

        rows = self.dense_row_chunk if traced_inference(training) else 0
        output = map_row_chunks(output_block, [attn, hidden_states], [hidden_states], rows)[0]
        return output, local_probs, global_probs

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            num_attention_heads=self.num_attention_heads,
            intermediate_size=self.intermediate_size,
            attention_window=self.attention_window,
            hidden_act=self.hidden_act,
            hidden_dropout_prob=self.hidden_dropout_prob,
            attention_probs_dropout_prob=self.attention_probs_dropout_prob,
            layer_norm_eps=self.layer_norm_eps,
            initializer_range=self.initializer_range,
            attention_query_chunk=self.attention_query_chunk,
            dense_row_chunk=self.dense_row_chunk,
        )
        return config
