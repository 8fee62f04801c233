"""Change a model's vocabulary size in place: word embeddings, the MLM bias (and an untied decoder).

Keras variables have a fixed shape, so a resize builds new layers / variables of the new size, copies
the kept rows and swaps them in under the same attribute names (a `.keras` file of the resized model
then records the new sizes through `config.vocab_size`).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from .quantization import quantization_mode


def _replace_attribute(parent: keras.layers.Layer, name: str, value: Any) -> None:
    """Set `parent.name = value` on a built layer, untracking what was there.

    Keras locks a built layer's state against new variables / sub-layers; a resize is the one deliberate
    exception, so the lock is lifted for this assignment only (Keras' private `_tracker`).
    """
    old = getattr(parent, name)
    tracker = parent._tracker
    tracker.unlock()
    try:
        tracker.untrack(old)
        setattr(parent, name, value)
    finally:
        tracker.lock()


def _new_table(old: keras.layers.Embedding, rows: np.ndarray, initializer_range: float) -> keras.layers.Embedding:
    table = keras.layers.Embedding(rows.shape[0], rows.shape[1], name=old.name, dtype=old.dtype_policy,
                                   embeddings_initializer=keras.initializers.TruncatedNormal(stddev=initializer_range))
    table.build((None, None))
    table.embeddings.assign(rows.astype(table.embeddings.dtype))
    return table


def _refuse_quantized(model) -> None:
    if quantization_mode(model) is not None:
        from .quantization import QuantizationError

        raise QuantizationError("Cannot change the vocabulary of a quantized model: resize the float model, "
                                "then quantize it.")


def _grown(values: np.ndarray, new_rows: int, fill: np.ndarray) -> np.ndarray:
    """The first `new_rows` rows of `values`, completed with rows of `fill` when it grows."""
    keep = min(new_rows, values.shape[0])
    return np.concatenate([values[:keep], fill[keep:new_rows]], axis=0)


def set_word_embeddings(model, value: Any) -> None:
    """Make `value` (an `Embedding` layer or a `(vocab, hidden)` table) the model's word embeddings.

    Raises:
        ValueError: a table of another width than `hidden_size`.
        QuantizationError: the model is quantized.
    """
    _refuse_quantized(model)
    embeddings = model.longformer.embeddings
    if isinstance(value, keras.layers.Embedding):
        table = value
    else:
        rows = np.asarray(keras.ops.convert_to_numpy(value))
        if rows.ndim != 2 or rows.shape[1] != model.config.hidden_size:
            raise ValueError(f"The word-embedding table must have shape (vocab_size, {model.config.hidden_size}), "
                             f"got {rows.shape}.")
        table = _new_table(embeddings.word_embeddings, rows, model.config.initializer_range)
    if table.output_dim != model.config.hidden_size:
        raise ValueError(f"The embedding layer must have output_dim {model.config.hidden_size}, got {table.output_dim}.")
    _replace_attribute(embeddings, "word_embeddings", table)
    _set_vocab_size(model, table.input_dim)


def resize_word_embeddings(model, new_num_tokens: int) -> None:
    """Resize the vocabulary to `new_num_tokens` ids (see `resize_token_embeddings`)."""
    if isinstance(new_num_tokens, bool) or not isinstance(new_num_tokens, (int, np.integer)) or new_num_tokens < 1:
        raise ValueError(f"new_num_tokens must be a positive int, got {new_num_tokens!r}.")
    _refuse_quantized(model)
    new_num_tokens = int(new_num_tokens)
    old = model.longformer.embeddings.word_embeddings
    fresh = keras.initializers.TruncatedNormal(stddev=model.config.initializer_range)(
        (new_num_tokens, model.config.hidden_size))
    rows = _grown(old.embeddings.numpy(), new_num_tokens, keras.ops.convert_to_numpy(fresh))
    set_word_embeddings(model, _new_table(old, rows, model.config.initializer_range))


def _set_vocab_size(model, vocab_size: int) -> None:
    """Record `vocab_size` in the config and layers and resize the MLM head's own vocabulary weights."""
    model.config.vocab_size = vocab_size
    model.longformer.config.vocab_size = vocab_size
    model.longformer.embeddings.vocab_size = vocab_size
    lm_head = getattr(model, "lm_head", None)
    if lm_head is not None and lm_head.vocab_size != vocab_size:
        _resize_lm_head(lm_head, vocab_size)
    model.train_function = model.test_function = model.predict_function = None


def _resize_lm_head(lm_head, vocab_size: int) -> None:
    bias = _grown(lm_head.bias.numpy(), vocab_size, np.zeros((vocab_size,), lm_head.bias.dtype))
    lm_head._tracker.unlock()
    try:
        del lm_head.bias  # Keras untracks a deleted variable
        lm_head.bias = lm_head.add_weight(name="bias", shape=(vocab_size,), initializer="zeros")
    finally:
        lm_head._tracker.lock()
    lm_head.bias.assign(bias)
    if lm_head.decoder is not None:
        old = lm_head.decoder
        decoder = keras.layers.Dense(vocab_size, use_bias=False, kernel_initializer=old.kernel_initializer,
                                     name=old.name, dtype=old.dtype_policy)
        decoder.build((None, None, lm_head.hidden_size))
        fresh = keras.ops.convert_to_numpy(decoder.kernel).T
        decoder.kernel.assign(_grown(old.kernel.numpy().T, vocab_size, fresh).T)
        _replace_attribute(lm_head, "decoder", decoder)
    lm_head.vocab_size = vocab_size
