"""`save_pretrained`: config.json + model.safetensors in PyTorch naming, so transformers loads it too."""

from __future__ import annotations

import os

import numpy as np

from converters.safetensors_shards import write_safetensors_checkpoint

from .atomic import atomic_write_text


def hf_state_dict(model) -> dict[str, np.ndarray]:
    """The model's variables as PyTorch-named, PyTorch-layout float arrays (a quantized model is refused)."""
    from .quantization import refuse_quantized_export

    refuse_quantized_export(model)
    out = {}
    for name, (variable, transpose) in model.hf_weights().items():
        value = np.asarray(variable.numpy())
        out[name] = np.ascontiguousarray(value.T if transpose else value)
    return out


def save_pretrained(model, save_directory: str | os.PathLike, max_shard_size: int | str = "5GB") -> None:
    """Write `config.json` and `model.safetensors` into `save_directory`, each file atomically.

    A model larger than `max_shard_size` is written as shards with `model.safetensors.index.json`.

    The weights are written before the config, so an interrupted save never pairs a new config with
    old weights of another shape.
    """
    os.makedirs(save_directory, exist_ok=True)
    config = model.config.to_dict()
    config["architectures"] = [type(model).__name__.removeprefix("TF")]
    write_safetensors_checkpoint(hf_state_dict(model), save_directory, max_shard_size, metadata={"format": "pt"})
    import json

    atomic_write_text(os.path.join(save_directory, "config.json"), json.dumps(config, indent=2) + "\n")
