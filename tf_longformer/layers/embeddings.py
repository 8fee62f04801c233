"""Word + position + token-type embeddings, LayerNorm and dropout (transformers' `LongformerEmbeddings`)."""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tf_longformer")
class LongformerEmbeddings(keras.layers.Layer):
    """Embeddings of a Longformer (RoBERTa layout: position ids start after `pad_token_id`).

    Args:
        vocab_size, hidden_size, max_position_embeddings, type_vocab_size: table sizes.
        layer_norm_eps: float. LayerNorm epsilon.
        hidden_dropout_prob: float. Dropout after the LayerNorm.
        initializer_range: float. Std of the truncated-normal initialiser.
        padding_idx: int or None. Rows of the word and position tables at this id get no gradient
            (PyTorch `nn.Embedding(padding_idx=...)`, as transformers builds them); forward unchanged.
    """

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        max_position_embeddings: int,
        type_vocab_size: int,
        layer_norm_eps: float = 1e-12,
        hidden_dropout_prob: float = 0.0,
        initializer_range: float = 0.02,
        padding_idx: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.layer_norm_eps = layer_norm_eps
        self.hidden_dropout_prob = hidden_dropout_prob
        self.initializer_range = initializer_range
        self.padding_idx = padding_idx
        init = keras.initializers.TruncatedNormal(stddev=initializer_range)

        # === Layers ===
        self.word_embeddings = keras.layers.Embedding(
            vocab_size, hidden_size, embeddings_initializer=init, name="word_embeddings", dtype=self.dtype_policy
        )
        self.position_embeddings = keras.layers.Embedding(
            max_position_embeddings, hidden_size, embeddings_initializer=init,
            name="position_embeddings", dtype=self.dtype_policy,
        )
        self.token_type_embeddings = keras.layers.Embedding(
            type_vocab_size, hidden_size, embeddings_initializer=init,
            name="token_type_embeddings", dtype=self.dtype_policy,
        )
        self.LayerNorm = keras.layers.LayerNormalization(
            epsilon=layer_norm_eps, name="LayerNorm", dtype=self.dtype_policy
        )
        self.dropout = keras.layers.Dropout(hidden_dropout_prob, dtype=self.dtype_policy)

    def build(self, input_shape=None) -> None:
        for table in (self.word_embeddings, self.position_embeddings, self.token_type_embeddings):
            table.build((None, None))
        self.LayerNorm.build((None, None, self.hidden_size))
        self.built = True

    def hf_weights(self) -> dict:
        """PyTorch parameter names (relative to `embeddings.`) → (variable, transpose)."""
        return {
            "word_embeddings.weight": (self.word_embeddings.embeddings, False),
            "position_embeddings.weight": (self.position_embeddings.embeddings, False),
            "token_type_embeddings.weight": (self.token_type_embeddings.embeddings, False),
            "LayerNorm.weight": (self.LayerNorm.gamma, False),
            "LayerNorm.bias": (self.LayerNorm.beta, False),
        }

    def call(self, input_ids=None, position_ids=None, token_type_ids=None, inputs_embeds=None, training=None):
        """Embed; exactly one of `input_ids` / `inputs_embeds` is given, ids are already range-checked."""
        if inputs_embeds is None:
            inputs_embeds = self._no_gradient_at_padding(self.word_embeddings(input_ids), input_ids)
        inputs_embeds = tf.cast(inputs_embeds, self.compute_dtype)
        position_embeds = self._no_gradient_at_padding(self.position_embeddings(position_ids), position_ids)
        embeddings = inputs_embeds + position_embeds + self.token_type_embeddings(token_type_ids)
        embeddings = self.LayerNorm(embeddings)
        return self.dropout(embeddings, training=training)

    def _no_gradient_at_padding(self, embedded, ids):
        """The lookup, with the `padding_idx` row cut off from the gradient (values unchanged)."""
        if self.padding_idx is None:
            return embedded
        at_padding = tf.equal(ids, self.padding_idx)[..., None]
        return tf.where(at_padding, tf.stop_gradient(embedded), embedded)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            vocab_size=self.vocab_size,
            hidden_size=self.hidden_size,
            max_position_embeddings=self.max_position_embeddings,
            type_vocab_size=self.type_vocab_size,
            layer_norm_eps=self.layer_norm_eps,
            hidden_dropout_prob=self.hidden_dropout_prob,
            initializer_range=self.initializer_range,
            padding_idx=self.padding_idx,
        )
        return config
