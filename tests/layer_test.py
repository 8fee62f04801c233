"""`run_layer_test`: the checks every Keras layer of the package passes (after keras-hub's `TestCase`).

One call checks a layer class on tiny inputs: `get_config` -> `from_config` gives the same config, the
layer builds every weight on the first call, outputs have the expected shapes, a Keras serialisation
round trip gives the same outputs, and under `mixed_float16` it computes in float16 with float32 weights
and stays close to float32.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

FP16_TOLERANCE = 2e-2


def _outputs(result: Any) -> list[tf.Tensor]:
    return [tensor for tensor in tf.nest.flatten(result) if tensor is not None]


def run_layer_test(
    layer_cls: type[keras.layers.Layer],
    init_kwargs: dict[str, Any],
    call_args: Sequence[Any],
    expected_output_shapes: Sequence[tuple[int, ...]],
    *,
    call_kwargs: dict[str, Any] | None = None,
    expected_num_trainable_weights: int,
    inputs_for: Callable[[str], Sequence[Any]] | None = None,
) -> None:
    """Check a layer class: config round trip, build, output shapes, serialisation, mixed precision.

    Args:
        layer_cls: the layer class (registered with `keras.saving.register_keras_serializable`).
        init_kwargs: constructor arguments (a tiny layer).
        call_args: positional arguments of `call`.
        expected_output_shapes: the shape of each non-None output, in `tf.nest.flatten` order.
        call_kwargs: keyword arguments of `call` (no `training`: the layer runs in inference).
        expected_num_trainable_weights: number of trainable variables once built.
        inputs_for: the call arguments for a compute dtype (default: `call_args` with floating tensors cast).

    Example:
        >>> run_layer_test(LongformerClassificationHead, {"hidden_size": 8, "num_labels": 3},   # doctest: +SKIP
        ...                [tf.zeros((2, 4, 8))], [(2, 3)], expected_num_trainable_weights=4)
    """
    call_kwargs = call_kwargs or {}

    def args_for(dtype: str) -> Sequence[Any]:
        if inputs_for is not None:
            return inputs_for(dtype)
        return [tf.cast(a, dtype) if tf.is_tensor(a) and a.dtype.is_floating else a for a in call_args]

    # config round trip
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    assert layer_cls.from_config(config).get_config() == config
    for name, value in init_kwargs.items():
        assert config[name] == value, f"get_config()[{name!r}] is {config[name]!r}, built with {value!r}"

    # build on the first call; output shapes
    assert not layer.built
    outputs = _outputs(layer(*args_for("float32"), **call_kwargs))
    assert layer.built
    assert len(layer.trainable_weights) == expected_num_trainable_weights
    assert [tuple(o.shape) for o in outputs] == [tuple(s) for s in expected_output_shapes]
    assert all(o.dtype == tf.float32 for o in outputs if o.dtype.is_floating)

    # serialisation round trip: same class by its registered name, same outputs with the same weights
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"] == f"tf_longformer>{layer_cls.__name__}"
    restored = keras.saving.deserialize_keras_object(serialized)
    assert type(restored) is layer_cls and restored.get_config() == config
    restored(*args_for("float32"), **call_kwargs)
    restored.set_weights(layer.get_weights())
    for ours, theirs in zip(outputs, _outputs(restored(*args_for("float32"), **call_kwargs)), strict=True):
        np.testing.assert_allclose(theirs, ours, rtol=1e-6, atol=1e-6)

    # mixed precision: float16 compute, float32 variables, close to float32
    mixed = layer_cls(**init_kwargs, dtype="mixed_float16")
    mixed(*args_for("float16"), **call_kwargs)
    assert all(w.dtype == "float32" for w in mixed.weights)
    mixed.set_weights(layer.get_weights())
    mixed_outputs = _outputs(mixed(*args_for("float16"), **call_kwargs))
    for ours, half in zip(outputs, mixed_outputs, strict=True):
        if ours.dtype.is_floating:
            assert half.dtype == tf.float16
            np.testing.assert_allclose(tf.cast(half, tf.float32), ours, atol=FP16_TOLERANCE, rtol=FP16_TOLERANCE)
