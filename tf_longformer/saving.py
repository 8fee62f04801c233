"""`save_pretrained`: config.json + model.safetensors in PyTorch naming, so transformers loads it too.

A save replaces the checkpoint files of the folder in one atomic step (`converters.atomic_folder`): after
a crash at any moment the folder holds the previous checkpoint or the new one, whole, and its other files
(tokenizer, README, ...) stay. Savers that write more files (shards, a tokenizer) add them to
`checkpoint_files(model)` and pass the lot to `replace_in_folder`.
"""

from __future__ import annotations

import json
import os

import numpy as np

from converters.atomic_folder import Writer, replace_in_folder, text_file
from converters.checkpoint import is_safetensors_weights
from converters.safetensors_shards import safetensors_checkpoint_files

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


def hf_state_dict(model) -> dict[str, np.ndarray]:
    """The model's variables as PyTorch-named, PyTorch-layout float arrays (a quantized model is refused)."""
    from .quantization import refuse_quantized_export

    refuse_quantized_export(model)
    out = {}
    for name, (variable, transpose) in model.hf_weights().items():
        value = np.asarray(variable.numpy())
        out[name] = np.ascontiguousarray(value.T if transpose else value)
    return out


def hf_config_dict(model) -> dict:
    """`config.json` of `model`: its config plus `architectures` (the PyTorch class name)."""
    config = model.config.to_dict()
    config["architectures"] = [type(model).__name__.removeprefix("TF")]
    return config


def checkpoint_files(model, max_shard_size: int | str = "5GB") -> dict[str, Writer]:
    """The files of `model`'s Hugging Face checkpoint, name -> writer, for `replace_in_folder`: the weights
    (`model.safetensors`, or shards + index past `max_shard_size`) and `config.json`.

    Raises:
        QuantizationError: the model is quantized (before anything is written).
        ValueError: a `max_shard_size` that is not a positive size.
    """
    tensors = hf_state_dict(model)
    return {
        **safetensors_checkpoint_files(tensors, max_shard_size, metadata={"format": "pt"}),
        CONFIG_NAME: text_file(json.dumps(hf_config_dict(model), indent=2) + "\n"),
    }


def save_pretrained(model, save_directory: str | os.PathLike, max_shard_size: int | str = "5GB") -> None:
    """Write `config.json` + `model.safetensors` into `save_directory` (created if needed), as one atomic step;
    a model larger than `max_shard_size` is written as shards with `model.safetensors.index.json`.

    Weight files of an older save that the new one does not write (e.g. `model-00001-of-00002.safetensors`
    shards and their index) are removed in the same step, so no loader picks them up.
    """
    replace_in_folder(save_directory, checkpoint_files(model, max_shard_size), stale=is_safetensors_weights)
