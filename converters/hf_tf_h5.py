"""Read a transformers-4.x TensorFlow ``tf_model.h5`` into PyTorch-named numpy arrays.

Two h5 layouts are understood (both written by transformers 4 ``TFPreTrainedModel.save_pretrained``):

* the Keras-2 ``save_weights`` layout (``tf_model.h5``): root attribute ``layer_names``, one group
  per top-level layer with a ``weight_names`` attribute, datasets stored under the full variable
  name (``<layer>/<model_scope>/longformer/.../kernel:0``);
* a shard of a sharded checkpoint (``tf_model-00001-of-00002.h5``): root attribute ``layer_names``
  lists the (model-scope-stripped) variable names, each a dataset at that path.

Keras-3 ``.weights.h5`` files are a different format and are rejected with a clear error.
See :mod:`converters.tf_names` for the name/layout rules.
"""

from __future__ import annotations

import os

import h5py
import numpy as np

from converters.errors import REDOWNLOAD, CheckpointError, checkpoint_error
from converters.tf_names import tf_to_pt_state_dict


def _load_attr(group: h5py.Group, name: str) -> list[str]:
    """Read a (possibly chunked: ``name0``, ``name1``, ...) string-list attribute."""
    if name in group.attrs:
        raw = list(group.attrs[name])
    else:
        raw, chunk = [], 0
        while f"{name}{chunk}" in group.attrs:
            raw.extend(group.attrs[f"{name}{chunk}"])
            chunk += 1
    return [n.decode("utf8") if isinstance(n, bytes) else str(n) for n in raw]


def _read_raw(f: h5py.File, path: str) -> tuple[dict[str, np.ndarray], list[str]]:
    """Return TF name -> array in file order, and the top-level layer names."""
    layer_names = _load_attr(f, "layer_names")
    if not layer_names:
        raise checkpoint_error(
            path,
            "is not a transformers-4 / Keras-2 TF weights file (no 'layer_names' attribute)",
            "Keras-3 '.weights.h5' files are not supported; export the model with transformers 4.x "
            "'save_pretrained' or convert it to safetensors.",
        )
    tensors: dict[str, np.ndarray] = {}
    top_level: list[str] = []
    for layer_name in layer_names:
        obj = f.get(layer_name)
        if isinstance(obj, h5py.Dataset):  # shard layout: the "layer" is a variable
            tensors.setdefault(layer_name, obj[()])
            continue
        if obj is None:
            raise checkpoint_error(path, f"lists layer {layer_name!r} but has no such group", REDOWNLOAD)
        top_level.append(layer_name)
        for weight_name in _load_attr(obj, "weight_names"):
            if weight_name not in tensors:
                tensors[weight_name] = obj[weight_name][()]
    return tensors, top_level


def read_hf_tf_h5(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a transformers-4 TF h5 checkpoint with PyTorch names and layouts.

    Args:
        path: A ``tf_model.h5`` (or one shard ``tf_model-0000k-of-0000n.h5``).

    Returns:
        PyTorch parameter name -> array, e.g. ``longformer.encoder.layer.0.attention.self.query.weight``
        of shape ``(out, in)``. For MLM models ``lm_head.bias`` and ``lm_head.decoder.bias`` are
        both present; the decoder weight (tied to the word embeddings) is not.

    Raises:
        CheckpointError: The file is missing, truncated, corrupt, or not in a supported layout.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise checkpoint_error(path, "file not found (or not a regular file)", "Check the path.")
    try:
        with h5py.File(path, "r") as f:
            tensors, top_level = _read_raw(f, path)
    except CheckpointError:
        raise
    except Exception as exc:  # OSError for truncated / non-HDF5 files, KeyError for broken links
        raise checkpoint_error(path, f"is not a readable HDF5 weights file ({exc})", REDOWNLOAD) from exc
    return tf_to_pt_state_dict(tensors, top_level)
