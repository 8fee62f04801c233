"""Task heads that sit on the encoder output (transformers' `LongformerLMHead`, `LongformerClassificationHead`)."""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tf_longformer")
class LongformerLMHead(keras.layers.Layer):
    """dense → gelu → LayerNorm → vocabulary logits (decoder tied to the word embeddings by default).

    Args:
        hidden_size, vocab_size: widths.
        layer_norm_eps: float.
        tie_word_embeddings: bool. Use the word-embedding table (passed to `call`) as the decoder.
        initializer_range: float.
    """

    def __init__(self, hidden_size: int, vocab_size: int, layer_norm_eps: float = 1e-12,
                 tie_word_embeddings: bool = True, initializer_range: float = 0.02, **kwargs) -> None:
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.vocab_size = vocab_size
        self.layer_norm_eps = layer_norm_eps
        self.tie_word_embeddings = tie_word_embeddings
        self.initializer_range = initializer_range
        init = keras.initializers.TruncatedNormal(stddev=initializer_range)
        self.dense = keras.layers.Dense(hidden_size, kernel_initializer=init, name="dense", dtype=self.dtype_policy)
        self.layer_norm = keras.layers.LayerNormalization(epsilon=layer_norm_eps, name="layer_norm",
                                                          dtype=self.dtype_policy)
        self.decoder = None if tie_word_embeddings else keras.layers.Dense(
            vocab_size, use_bias=False, kernel_initializer=init, name="decoder", dtype=self.dtype_policy
        )

    def build(self, input_shape=None) -> None:
        self.dense.build((None, None, self.hidden_size))
        self.layer_norm.build((None, None, self.hidden_size))
        if self.decoder is not None:
            self.decoder.build((None, None, self.hidden_size))
        self.bias = self.add_weight(name="bias", shape=(self.vocab_size,), initializer="zeros")
        self.built = True

    def hf_weights(self) -> dict:
        """PyTorch parameter names (relative to `lm_head.`) → (variable, transpose)."""
        out = {
            "dense.weight": (self.dense.kernel, True),
            "dense.bias": (self.dense.bias, False),
            "layer_norm.weight": (self.layer_norm.gamma, False),
            "layer_norm.bias": (self.layer_norm.beta, False),
            "bias": (self.bias, False),
        }
        if self.decoder is not None:
            out["decoder.weight"] = (self.decoder.kernel, True)
        return out

    def call(self, hidden_states, word_embeddings=None):
        x = keras.activations.gelu(self.dense(hidden_states), approximate=False)
        x = self.layer_norm(x)
        if self.decoder is not None:
            logits = self.decoder(x)
        else:
            logits = tf.matmul(x, tf.cast(word_embeddings, x.dtype), transpose_b=True)
        return logits + tf.cast(self.bias, logits.dtype)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(hidden_size=self.hidden_size, vocab_size=self.vocab_size, layer_norm_eps=self.layer_norm_eps,
                      tie_word_embeddings=self.tie_word_embeddings, initializer_range=self.initializer_range)
        return config


@keras.saving.register_keras_serializable(package="tf_longformer")
class LongformerClassificationHead(keras.layers.Layer):
    """First token → dropout → dense → tanh → dropout → `num_labels` logits.

    Args:
        hidden_size, num_labels: widths.
        hidden_dropout_prob: float.
        initializer_range: float.
    """

    def __init__(self, hidden_size: int, num_labels: int, hidden_dropout_prob: float = 0.0,
                 initializer_range: float = 0.02, **kwargs) -> None:
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.num_labels = num_labels
        self.hidden_dropout_prob = hidden_dropout_prob
        self.initializer_range = initializer_range
        init = keras.initializers.TruncatedNormal(stddev=initializer_range)
        self.dense = keras.layers.Dense(hidden_size, kernel_initializer=init, name="dense", dtype=self.dtype_policy)
        self.out_proj = keras.layers.Dense(num_labels, kernel_initializer=init, name="out_proj",
                                           dtype=self.dtype_policy)
        self.dropout = keras.layers.Dropout(hidden_dropout_prob, dtype=self.dtype_policy)

    def build(self, input_shape=None) -> None:
        self.dense.build((None, self.hidden_size))
        self.out_proj.build((None, self.hidden_size))
        self.built = True

    def hf_weights(self) -> dict:
        return {
            "dense.weight": (self.dense.kernel, True),
            "dense.bias": (self.dense.bias, False),
            "out_proj.weight": (self.out_proj.kernel, True),
            "out_proj.bias": (self.out_proj.bias, False),
        }

    def call(self, sequence_output, training=None):
        x = self.dropout(sequence_output[:, 0, :], training=training)
        x = tf.tanh(self.dense(x))
        x = self.dropout(x, training=training)
        return self.out_proj(x)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(hidden_size=self.hidden_size, num_labels=self.num_labels,
                      hidden_dropout_prob=self.hidden_dropout_prob, initializer_range=self.initializer_range)
        return config
