"""Hugging Face activation names (`config.hidden_act`) → Keras functions, computed as PyTorch does."""

from __future__ import annotations

from collections.abc import Callable

import keras
import tensorflow as tf


def _gelu_exact(x):
    return keras.activations.gelu(x, approximate=False)


def _gelu_tanh(x):
    return keras.activations.gelu(x, approximate=True)


def _quick_gelu(x):
    return x * tf.sigmoid(tf.cast(1.702, x.dtype) * x)


ACTIVATIONS: dict[str, Callable] = {
    "gelu": _gelu_exact,
    "gelu_python": _gelu_exact,
    "gelu_new": _gelu_tanh,
    "gelu_pytorch_tanh": _gelu_tanh,
    "gelu_fast": _gelu_tanh,
    "quick_gelu": _quick_gelu,
    "relu": keras.activations.relu,
    "silu": keras.activations.silu,
    "swish": keras.activations.silu,
    "tanh": keras.activations.tanh,
    "sigmoid": keras.activations.sigmoid,
}


def get_activation(name: str) -> Callable:
    """The activation called `name` in Hugging Face configs; `ValueError` listing the known names."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"Unknown hidden_act {name!r}; supported: {sorted(ACTIVATIONS)}.") from None
