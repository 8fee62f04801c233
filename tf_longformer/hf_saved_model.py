"""`save_pretrained(saved_model=True)`: a TensorFlow SavedModel in `save_directory/saved_model/<version>`.

The layout and default signatures of transformers 4: `serving_default` (int32 inputs of
`model.input_signature`) and `int64_serving` (the same in int64), both `model.serving`. For TF Serving
with the project's own request checks and default global attention, see `export_saved_model`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

import tensorflow as tf


def default_signatures(model) -> dict[str, Any]:
    """`{"serving_default": int32 serving, "int64_serving": int64 serving}` on `model.input_signature`."""
    spec = model.input_signature
    int64_spec = {k: tf.TensorSpec(s.shape, tf.int64, name=s.name) for k, s in spec.items()}
    return {"serving_default": model.serving.get_concrete_function(spec),
            "int64_serving": model.serving.get_concrete_function(int64_spec)}


def _tf_variable(variable):
    value = getattr(variable, "value", variable)
    return value if isinstance(value, tf.Variable) else variable


def save_versioned_saved_model(model, save_directory: str | os.PathLike, version: int = 1,
                               signatures: Any = None) -> str:
    """Write the SavedModel of `model` to `save_directory/saved_model/<version>` (replacing that version
    as a whole: the new folder is complete before it takes the old one's place).

    Args:
        model: a `TFLongformer*` model.
        save_directory: the `save_pretrained` folder.
        version: version folder name (a non-negative int).
        signatures: a concrete function / `tf.function`, or a dict of them by signature name; default
            `default_signatures(model)`.

    Returns:
        The path of the version folder.
    """
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ValueError(f"version must be a non-negative int (the SavedModel's folder), got {version!r}.")
    base = os.path.join(os.fspath(save_directory), "saved_model")
    os.makedirs(base, exist_ok=True)
    root = tf.Module()
    root.model_variables = [_tf_variable(v) for v in model.variables]  # dropout seeds included
    final = os.path.join(base, str(version))
    staging = tempfile.mkdtemp(prefix=f".{version}-", dir=base)
    try:
        tf.saved_model.save(root, staging, signatures=default_signatures(model) if signatures is None else signatures)
        if os.path.exists(final):
            retired = tempfile.mkdtemp(prefix=f".{version}-old-", dir=base)
            os.rename(final, os.path.join(retired, "old"))
            os.rename(staging, final)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.rename(staging, final)
    finally:
        if os.path.exists(staging):
            shutil.rmtree(staging, ignore_errors=True)
    return final
