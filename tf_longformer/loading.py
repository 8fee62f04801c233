"""`from_pretrained`: any Hugging Face Longformer checkpoint into one of our models.

The checkpoint is read by `converters` into PyTorch-named numpy arrays; each model lists its variables
under the same names (`hf_weights()`), so loading is matching two dicts by name.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

import numpy as np

from converters.atomic_folder import read_consistently
from converters.checkpoint import find_checkpoint_files, read_checkpoint, read_config_json
from converters.errors import CheckpointError

from .configuration import LongformerConfig
from .hub import resolve_model_folder

logger = logging.getLogger("tf_longformer")

PREFIX = "longformer."
# Tensors a checkpoint may hold that no model needs: buffers and tied copies.
_IGNORED_SUFFIXES = ("embeddings.position_ids", "lm_head.decoder.weight", "lm_head.decoder.bias")


class WeightsMismatchError(ValueError):
    """A checkpoint whose tensors do not fit the model (missing encoder weights, wrong shapes)."""


def _align_prefix(tensors: dict[str, np.ndarray], model_keys: set[str]) -> dict[str, np.ndarray]:
    """Add or strip the `longformer.` prefix so a base checkpoint fits a head model and vice versa."""
    model_has_prefix = any(k.startswith(PREFIX) for k in model_keys)
    out = {}
    for name, value in tensors.items():
        if model_has_prefix and not name.startswith(PREFIX) and name.startswith(("embeddings.", "encoder.", "pooler.")):
            name = PREFIX + name
        elif not model_has_prefix and name.startswith(PREFIX):
            name = name[len(PREFIX):]
        out[name] = value
    return out


def assign_hf_weights(model, tensors: dict[str, np.ndarray], strict: bool = False,
                      ignore_mismatched_sizes: bool = False) -> dict[str, list[str]]:
    """Copy PyTorch-named arrays into `model`'s variables.

    Args:
        model: a TFLongformer* model.
        tensors: name → array, in PyTorch naming and layout.
        strict: raise on any missing or unexpected tensor.
        ignore_mismatched_sizes: skip tensors of another shape (the model keeps its initial values; they
            are listed in a warning) instead of raising.

    Returns:
        `{"missing_keys": [...], "unexpected_keys": [...], "mismatched_keys": [...]}`.

    Raises:
        WeightsMismatchError: a tensor of the wrong shape (names the tensor and both shapes), encoder or
            embedding weights missing or left unused (e.g. a config with fewer layers than the checkpoint), or
            (with `strict`) any missing / unexpected tensor.
    """
    targets = model.hf_weights()
    tensors = _align_prefix(tensors, set(targets))
    if "lm_head.bias" in targets and "lm_head.bias" not in tensors and "lm_head.decoder.bias" in tensors:
        tensors["lm_head.bias"] = tensors["lm_head.decoder.bias"]
    missing, mismatched = [], []
    for name, (variable, transpose) in targets.items():
        if name not in tensors:
            missing.append(name)
            continue
        value = np.asarray(tensors[name])
        if transpose:
            value = value.T
        if tuple(value.shape) != tuple(variable.shape):
            shown = tuple(tensors[name].shape)
            expected = tuple(variable.shape)[::-1] if transpose else tuple(variable.shape)
            mismatched.append(f"{name}: checkpoint {shown} vs model {expected}")
            continue
        variable.assign(value.astype(variable.dtype))
    unexpected = sorted(n for n in tensors if n not in targets and not n.endswith(_IGNORED_SUFFIXES))
    _refuse_unused_encoder_weights(model, unexpected)
    if mismatched and ignore_mismatched_sizes:
        logger.warning("Some weights of %s were not loaded because their shapes differ, and are newly "
                       "initialised: %s. Train the model before using it for predictions.",
                       type(model).__name__, mismatched)
    elif mismatched:
        raise WeightsMismatchError(
            "Checkpoint tensors have the wrong shape for this model (is config.json the checkpoint's own?): "
            + "; ".join(mismatched)
        )
    backbone_missing = [n for n in missing if n.removeprefix(PREFIX).startswith(("embeddings.", "encoder."))]
    if backbone_missing or (strict and (missing or unexpected)):
        raise WeightsMismatchError(
            f"Checkpoint does not fit {type(model).__name__}: missing {len(missing)} tensor(s) "
            f"{missing[:8]}{' ...' if len(missing) > 8 else ''}; unexpected {len(unexpected)} "
            f"{unexpected[:8]}{' ...' if len(unexpected) > 8 else ''}. Check that it is a Longformer checkpoint "
            "(a RoBERTa or BERT one must first go through `tf-longformer elongate`)."
        )
    if missing:
        logger.warning("Some weights of %s were not in the checkpoint and are newly initialised: %s. "
                       "Train the model before using it for predictions.", type(model).__name__, missing)
    if unexpected:
        logger.warning("Some checkpoint weights were not used by %s: %s.", type(model).__name__, unexpected)
    return {"missing_keys": missing, "unexpected_keys": unexpected,
            "mismatched_keys": [m.split(":")[0] for m in mismatched]}


def _is_encoder(name: str) -> bool:
    return name.removeprefix(PREFIX).startswith(("embeddings.", "encoder."))


def _refuse_unused_encoder_weights(model, unexpected: list[str]) -> None:
    """Encoder weights the model has no place for mean the config does not describe the checkpoint (e.g. fewer
    layers): loading would give a smaller, different model. Unused head weights only get a warning."""
    unused = [n for n in unexpected if _is_encoder(n)]
    if not unused:
        return
    layers = {int(m[1]) for m in (re.match(r"encoder\.layer\.(\d+)\.", n.removeprefix(PREFIX)) for n in unused) if m}
    hint = ""
    if layers and min(layers) >= model.config.num_hidden_layers:
        hint = (f" The checkpoint has at least {max(layers) + 1} layers, the config num_hidden_layers="
                f"{model.config.num_hidden_layers}.")
    raise WeightsMismatchError(
        f"The checkpoint has {len(unused)} encoder weight(s) that {type(model).__name__} has no place for: "
        f"{unused[:8]}{' ...' if len(unused) > 8 else ''}.{hint} Load it with its own config.json (a config that "
        "describes a smaller encoder would silently drop part of the model)."
    )


def load_pretrained(cls, name_or_path: str | os.PathLike, config: LongformerConfig | None = None,
                    strict: bool = False, output_loading_info: bool = False, quantization: str | None = None,
                    ignore_mismatched_sizes: bool = False, hub_options: dict[str, Any] | None = None,
                    **config_overrides: Any):
    """Implementation of `TFLongformer*.from_pretrained` (see there)."""
    if quantization is not None:
        from .quantization import check_mode

        check_mode(quantization)
    path = os.fspath(name_or_path)
    if path.endswith(".keras") and os.path.isfile(path):
        import keras

        model = keras.saving.load_model(path)
        if not isinstance(model, cls):
            raise TypeError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}.")
        model = _quantized(model, quantization)
        return (model, {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": []}) if output_loading_info \
            else model
    if os.path.isfile(path):
        folder, weights_source = os.path.dirname(path) or ".", path
    else:
        folder = resolve_model_folder(path, need=("config.json", "model.safetensors"), **(hub_options or {}))
        weights_source = folder
    def read():  # config and weights of one version of the folder, even while a save replaces it
        return (read_config_json(folder) if config is None else None), read_checkpoint(weights_source)

    config_dict, tensors = read_consistently(folder, read)
    if config is None:
        config = LongformerConfig.from_dict(config_dict, **config_overrides)
    elif config_overrides:
        config = LongformerConfig.from_dict(config.to_dict(), **config_overrides)
    fmt, files = find_checkpoint_files(folder) if weights_source == folder else ("file", [weights_source])
    logger.info("Loading %s from %s (%s, %d file(s))", cls.__name__, folder, fmt, len(files))
    model = cls(config)
    info = assign_hf_weights(model, tensors, strict=strict, ignore_mismatched_sizes=ignore_mismatched_sizes)
    del tensors
    model = _quantized(model, quantization)
    return (model, info) if output_loading_info else model


def _quantized(model, mode: str | None):
    """`model` quantized to `mode` (weight-only, see `quantization.py`); a model already in `mode` as is."""
    if mode is None:
        return model
    from .quantization import quantization_mode, quantize_model

    return model if quantization_mode(model) == mode else quantize_model(model, mode)


__all__ = ["CheckpointError", "WeightsMismatchError", "assign_hf_weights", "load_pretrained"]
