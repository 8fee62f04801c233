"""The forms in which transformers 4's TF models took their inputs, turned into keyword arguments.

transformers 4 accepted (its `input_processing`), and so does every `TFLongformer*` model:

* keyword arguments: `model(input_ids=ids, attention_mask=mask)`;
* a mapping as the first argument (a dict, a `BatchEncoding`, any `Mapping`) whose keys are argument names,
  output flags included: `model(tokenizer(texts, return_tensors="tf"))`,
  `model({"input_ids": ids, "output_attentions": True})`;
* a list or tuple of tensors / arrays as the first argument, in the order of the parameters of `call`:
  `model([input_ids, attention_mask])`; a named `keras.Input` goes to the argument of its name;
* positional arguments in that order: `model(input_ids, attention_mask)`.

A list of Python ints (or of lists of ints) as the first argument is the token ids themselves.
The forms are resolved in the model's `__call__`, before Keras sees them, because Keras 3 takes a
`BatchEncoding` or a list of tensors as one nested input of the first argument.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import numpy as np
import tensorflow as tf

_KERAS_ARGUMENTS = ("training", "mask")


def _is_array(value: Any) -> bool:
    return tf.is_tensor(value) or isinstance(value, np.ndarray) or type(value).__name__ == "KerasTensor"


def _packs_arguments(value: Any) -> bool:
    """A list / tuple whose items are tensors, arrays or None: arguments in signature order (not token ids)."""
    return (isinstance(value, (list, tuple)) and len(value) > 0
            and all(item is None or _is_array(item) for item in value) and any(_is_array(i) for i in value))


def _tensor_name(value: Any) -> str | None:
    name = getattr(value, "name", None)
    return name.split(":")[0] if isinstance(name, str) else None


def call_arguments(signature: inspect.Signature, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of `call` for a model called as `model(*args, **kwargs)`.

    Args:
        signature: the signature of the model's `call`.
        args: positional arguments of the call.
        kwargs: keyword arguments of the call.

    Returns:
        Keyword arguments, by parameter name (only those given).

    Raises:
        ValueError: a mapping or list with names `call` does not take, or more values than parameters.
        TypeError: an argument given twice.
    """
    names = [n for n, p in signature.parameters.items()
             if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    inputs = [n for n in names if n not in _KERAS_ARGUMENTS]
    out = dict(kwargs)
    first_name = names[0]
    if args:
        if first_name in out:
            raise TypeError(f"{first_name} given both positionally and as a keyword argument.")
        if len(args) > len(names):
            raise ValueError(f"Too many positional arguments ({len(args)}); this model takes {names}.")
        out[first_name] = args[0]
        for name, value in zip(names[1:], args[1:], strict=False):
            if name in out:
                raise TypeError(f"{name} given both positionally and as a keyword argument.")
            out[name] = value
    first = out.get(first_name)
    if isinstance(first, Mapping):
        packed = dict(first.items())
        source = f"the {type(first).__name__} given as {first_name}"
    elif _packs_arguments(first):
        if len(first) > len(inputs):
            raise ValueError(f"A list of {len(first)} inputs, but this model takes at most {len(inputs)}: {inputs}.")
        packed = {}
        for position, value in enumerate(first):
            name = _tensor_name(value) if type(value).__name__ == "KerasTensor" else None
            packed[name if name in inputs else inputs[position]] = value
        source = f"the list given as {first_name}"
    else:
        return out
    unknown = sorted(set(packed) - set(inputs))
    if unknown:
        raise ValueError(f"Unknown input(s) {unknown} in {source}; this model takes {inputs}.")
    del out[first_name]
    for name, value in packed.items():
        # an explicit keyword argument wins over the packed value
        if out.get(name) is None:
            out[name] = value
    return out
