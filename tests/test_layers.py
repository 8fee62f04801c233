"""Every Keras layer of the package through `run_layer_test` (tiny shapes: seconds)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tests.layer_test import run_layer_test
from tf_longformer.layers.attention import LongformerSelfAttention
from tf_longformer.layers.embeddings import LongformerEmbeddings
from tf_longformer.layers.global_slots import compute_global_slots
from tf_longformer.layers.heads import LongformerClassificationHead, LongformerLMHead
from tf_longformer.layers.transformer_layer import LongformerLayer

BATCH, LENGTH, HIDDEN, HEADS, WINDOW, VOCAB = 2, 16, 8, 2, 4, 30


def _hidden(seed: int = 0) -> tf.Tensor:
    return tf.constant(np.random.default_rng(seed).normal(size=(BATCH, LENGTH, HIDDEN)), tf.float32)


def _attention_inputs():
    """Padding at the end of the second row, one global token (`<s>`) per row."""
    is_index_masked = tf.constant(np.arange(LENGTH)[None, :] >= np.array([[LENGTH], [LENGTH - 5]]))
    is_global = tf.constant(np.arange(LENGTH)[None, :].repeat(BATCH, 0) == 0)
    return is_index_masked, compute_global_slots(is_global)


def test_embeddings():
    ids = tf.constant(np.random.default_rng(1).integers(3, VOCAB, (BATCH, LENGTH)), tf.int32)
    positions = tf.range(2, LENGTH + 2)[None, :] * tf.ones_like(ids)
    run_layer_test(
        LongformerEmbeddings,
        {"vocab_size": VOCAB, "hidden_size": HIDDEN, "max_position_embeddings": LENGTH + 2, "type_vocab_size": 1,
         "layer_norm_eps": 1e-5, "hidden_dropout_prob": 0.1, "padding_idx": 1},
        [ids], [(BATCH, LENGTH, HIDDEN)],
        call_kwargs={"position_ids": positions, "token_type_ids": tf.zeros_like(ids)},
        expected_num_trainable_weights=5,
    )


def test_self_attention_with_global_tokens_and_padding():
    is_index_masked, slots = _attention_inputs()
    run_layer_test(
        LongformerSelfAttention,
        {"hidden_size": HIDDEN, "num_attention_heads": HEADS, "attention_window": WINDOW,
         "attention_probs_dropout_prob": 0.1},
        [_hidden()], [(BATCH, LENGTH, HIDDEN), (BATCH, HEADS, LENGTH, 1 + WINDOW + 1), (BATCH, HEADS, LENGTH, 1)],
        call_kwargs={"is_index_masked": is_index_masked, "slots": slots, "output_attentions": True},
        expected_num_trainable_weights=12,
    )


def test_transformer_layer():
    is_index_masked, slots = _attention_inputs()
    run_layer_test(
        LongformerLayer,
        {"hidden_size": HIDDEN, "num_attention_heads": HEADS, "intermediate_size": 16, "attention_window": WINDOW,
         "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "layer_norm_eps": 1e-5},
        [_hidden(), is_index_masked, slots], [(BATCH, LENGTH, HIDDEN)],
        expected_num_trainable_weights=12 + 2 * 3 + 2 * 2,
    )


def test_lm_head_tied_and_untied():
    table = tf.constant(np.random.default_rng(2).normal(size=(VOCAB, HIDDEN)), tf.float32)
    kwargs = {"hidden_size": HIDDEN, "vocab_size": VOCAB, "layer_norm_eps": 1e-5}
    run_layer_test(LongformerLMHead, kwargs, [_hidden(), table], [(BATCH, LENGTH, VOCAB)],
                   expected_num_trainable_weights=5)
    run_layer_test(LongformerLMHead, {**kwargs, "tie_word_embeddings": False}, [_hidden()],
                   [(BATCH, LENGTH, VOCAB)], expected_num_trainable_weights=6)


def test_classification_head():
    run_layer_test(LongformerClassificationHead, {"hidden_size": HIDDEN, "num_labels": 3, "hidden_dropout_prob": 0.1},
                   [_hidden()], [(BATCH, 3)], expected_num_trainable_weights=4)
