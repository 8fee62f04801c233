"""Weight-only int8 / int4 quantization of a Longformer with Keras 3's own quantized layers.

`quantize_model(model, "int8" | "int4")` calls Keras' `Model.quantize` on every `keras.layers.Dense` (the
query / key / value projections and their global twins, the attention output, the feed-forward layers,
the pooler and the task heads) and every `keras.layers.Embedding` (word, position and token-type tables).
Only weights are quantized: activations stay float (Keras' int8 default would also quantize each Dense
layer's inputs; we turn that off), LayerNorms, biases and the attention math (scores, softmax,
probabilities) are unchanged.

* int8: one scale per output unit (Dense) or per table row (Embedding), symmetric.
* int4: two values per byte; groups of `block_size` (default 128) input features with their own scale and
  zero point (Keras' sub-channel int4); `block_size=None` gives one scale per output unit.

The MaskedLM decoder is tied to the word-embedding table; with a quantized table it uses the table
dequantized on the fly (`word_embedding_matrix`), so the tied weights are stored once, in int8 / int4.

Example:
    >>> from tf_longformer import LongformerConfig, TFLongformerForMaskedLM
    >>> from tf_longformer.quantization import quantize_model, quantization_mode
    >>> model = TFLongformerForMaskedLM(LongformerConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
    ...     num_attention_heads=2, intermediate_size=32, attention_window=4, max_position_embeddings=40))
    >>> _ = quantize_model(model, "int8")
    >>> quantization_mode(model)
    'int8'
"""

from __future__ import annotations

import contextlib
import gc
import warnings
from collections.abc import Callable

import keras
import numpy as np

from .private_apis import layers_of

#: Modes `quantize_model` accepts.
MODES = ("int8", "int4")
#: Default int4 group size (input features sharing one scale and zero point).
INT4_BLOCK_SIZE = 128
_QUANTIZABLE = (keras.layers.Dense, keras.layers.Embedding)


class QuantizationError(ValueError):
    """A quantization request that cannot be carried out (unknown mode, already quantized, saving)."""


def quantizable_layers(model: keras.layers.Layer) -> list[keras.layers.Layer]:
    """The `Dense` and `Embedding` layers of `model` (exactly those classes, as Keras quantizes only them)."""
    return [layer for layer in layers_of(model) if type(layer) in _QUANTIZABLE]


def quantization_mode(model: keras.layers.Layer) -> str | None:
    """`"int8"` / `"int4"` when the model's layers are quantized, None for a float model.

    Raises:
        QuantizationError: layers quantized in different modes (not something `quantize_model` makes).
    """
    modes = {layer.quantization_mode for layer in quantizable_layers(model)} - {None}
    if len(modes) > 1:
        raise QuantizationError(f"layers are quantized in several modes: {sorted(modes)}.")
    return next(iter(modes), None)


def quantization_config(mode: str, block_size: int | None = INT4_BLOCK_SIZE) -> keras.quantizers.QuantizationConfig:
    """Keras config for weight-only quantization in `mode` (`block_size` applies to int4 only)."""
    check_mode(mode)
    if mode == "int8":
        return keras.quantizers.Int8QuantizationConfig(activation_quantizer=None)
    return keras.quantizers.Int4QuantizationConfig(block_size=block_size)


def check_mode(mode) -> str:
    """Return `mode` if it is a supported quantization mode, else raise QuantizationError."""
    if mode not in MODES:
        raise QuantizationError(f"Unknown quantization mode {mode!r}; choose one of {list(MODES)} "
                                "(weight-only int8 or int4).")
    return mode


def quantize_model(model: keras.Model, mode: str, *, block_size: int | None = INT4_BLOCK_SIZE,
                   config: keras.quantizers.QuantizationConfig | None = None,
                   filters: Callable[[keras.layers.Layer], bool] | None = None) -> keras.Model:
    """Quantize the weights of a (float) Longformer in place with Keras 3's `Model.quantize`.

    Args:
        model: a built TFLongformer* model (every model is built at construction).
        mode: `"int8"` or `"int4"`.
        block_size: int4 group size along the input features; None = one scale per output unit.
        config: a Keras `QuantizationConfig` instead of the weight-only default (its mode must be `mode`).
        filters: optional `layer -> bool`; only matching Dense / Embedding layers are quantized.

    Returns:
        The same model, quantized.

    Raises:
        QuantizationError: unknown mode, a model already quantized, or a config for another mode.

    Example:
        >>> model = TFLongformerModel.from_pretrained("folder")   # doctest: +SKIP
        >>> quantize_model(model, "int4")                          # doctest: +SKIP
    """
    check_mode(mode)
    current = quantization_mode(model)
    if current is not None:
        raise QuantizationError(
            f"{type(model).__name__} is already quantized ({current}); weights cannot be quantized twice. "
            "Quantize the full-precision model instead (load it again, e.g. "
            f"from_pretrained(folder, quantization={mode!r}))."
        )
    if config is None:
        config = quantization_config(mode, block_size)
    elif config.mode != mode:
        raise QuantizationError(f"config is for {config.mode!r}, not {mode!r}.")
    targets = {id(layer) for layer in quantizable_layers(model) if filters is None or filters(layer)}
    with warnings.catch_warnings(), _one_collection():
        # Keras' quantizers convert variables with np.asarray(copy=False); numpy 2 warns about TF's __array__.
        warnings.filterwarnings("ignore", message=".*__array__ implementation doesn't accept a copy keyword.*")
        keras.Model.quantize(model, config=config, filters=lambda layer: id(layer) in targets)
    return model


@contextlib.contextmanager
def _one_collection():
    """Run Python's garbage collector once at the end instead of after every replaced variable.

    Keras' `Layer.__delattr__` calls `gc.collect()` each time a layer drops its float kernel; with
    TensorFlow (and often PyTorch) loaded a collection takes about half a second, which made quantizing
    even a tiny model take tens of seconds. One collection at the end frees the same float buffers.
    """
    collect = gc.collect
    gc.collect = lambda *args, **kwargs: 0
    try:
        yield
    finally:
        gc.collect = collect
        gc.collect()


def word_embedding_matrix(layer: keras.layers.Embedding):
    """The float `(vocab, hidden)` table of an Embedding layer, dequantized when the layer is quantized.

    Used by the tied MaskedLM decoder: a float table is returned as is (no copy); a quantized one is
    rebuilt by Keras' own lookup of every row (a transient float copy for the duration of the call).
    """
    if layer.quantization_mode is None:
        return layer.embeddings
    import tensorflow as tf

    return layer(tf.range(layer.input_dim))


def dtype_policy_for_config(model: keras.Model):
    """The model's dtype policy for `get_config`: a `DTypePolicyMap` naming each quantized layer's policy.

    When the model is rebuilt from that config (`.keras` loading), every Dense / Embedding layer looks up
    its own path in the map and creates quantized variables, so the saved int8 / int4 weights load as is.
    """
    quantized = {layer.path: layer.dtype_policy for layer in quantizable_layers(model)
                 if layer.quantization_mode is not None}
    if not quantized:
        return model.dtype_policy
    return keras.dtype_policies.DTypePolicyMap(default_policy=model.dtype_policy, policy_map=quantized)


def restore_weight_only(model: keras.Model) -> keras.Model:
    """After rebuilding a quantized model from its config, make its quantized layers weight-only again.

    Our layers are rebuilt by the model's constructor, not from their own configs, so Keras' int8 Dense
    layers come back with its default input (activation) quantizer; this removes it and records the
    weight-only config, so a `.keras` round trip gives exactly the numbers of the model that was saved.
    """
    for layer in quantizable_layers(model):
        mode = layer.quantization_mode
        if mode is None:
            continue
        block_size = getattr(layer, "_int4_block_size", None) if mode == "int4" else None
        layer.quantization_config = quantization_config(mode, block_size)
        if isinstance(layer, keras.layers.Dense):
            layer.inputs_quantizer = None
    return model


def weight_bytes(model: keras.layers.Layer) -> int:
    """Bytes held by the model's variables (int8 / packed int4 / float32 as stored)."""
    return int(sum(int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize for v in model.variables))


def refuse_quantized_export(model, what: str = "save_pretrained") -> None:
    """Raise QuantizationError when `model` is quantized: Hugging Face checkpoints hold float weights."""
    mode = quantization_mode(model)
    if mode is not None:
        raise QuantizationError(
            f"{what} writes a full-precision Hugging Face checkpoint, but this model's weights are {mode}-quantized "
            "(the float weights no longer exist). Save it with model.save('model.keras') (keeps the quantized "
            "weights) or export it for serving; for a Hugging Face checkpoint, save the model before quantizing "
            f"and quantize when loading: from_pretrained(folder, quantization={mode!r})."
        )


__all__ = [
    "INT4_BLOCK_SIZE", "MODES", "QuantizationError", "check_mode", "dtype_policy_for_config", "quantizable_layers",
    "quantization_config", "quantization_mode", "quantize_model", "refuse_quantized_export", "restore_weight_only",
    "weight_bytes",
    "word_embedding_matrix",
]
