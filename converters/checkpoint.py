"""Find and read a Hugging Face checkpoint folder (or single file) in any supported format.

Formats, in order of preference inside a folder:

1. ``model.safetensors``               -> ``"safetensors"``
2. ``model.safetensors.index.json``    -> ``"safetensors"`` (sharded)
3. ``pytorch_model.bin``               -> ``"bin"``
4. ``pytorch_model.bin.index.json``    -> ``"bin"`` (sharded)
5. ``tf_model.h5``                     -> ``"tf_h5"``
6. ``tf_model.h5.index.json``          -> ``"tf_h5"`` (sharded)

Everything is returned with PyTorch names and layouts. Safetensors written by transformers-4 *TF*
models (header metadata ``format: tf``, names like ``longformer/.../kernel:0``) are converted too.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from converters.errors import REDOWNLOAD, checkpoint_error
from converters.hf_tf_h5 import read_hf_tf_h5
from converters.safetensors_io import read_safetensors, read_safetensors_metadata
from converters.tf_names import looks_like_tf_names, tf_name_to_pt, tf_to_pt_state_dict
from converters.torch_bin import read_torch_bin

CANDIDATES: tuple[tuple[str, str], ...] = (
    ("safetensors", "model.safetensors"),
    ("safetensors", "model.safetensors.index.json"),
    ("bin", "pytorch_model.bin"),
    ("bin", "pytorch_model.bin.index.json"),
    ("tf_h5", "tf_model.h5"),
    ("tf_h5", "tf_model.h5.index.json"),
)
_INDEX_SUFFIX = ".index.json"
_SAFETENSORS_WEIGHTS = re.compile(r"^model(-\d{5}-of-\d{5})?\.safetensors(\.index\.json)?$")


def is_safetensors_weights(name: str) -> bool:
    """Whether a folder entry is Hugging Face safetensors weights: `model.safetensors`, a shard or the index."""
    return _SAFETENSORS_WEIGHTS.match(name) is not None


def _read_any_safetensors(path: str) -> dict[str, np.ndarray]:
    """Read a safetensors file, converting TF-named (``format: tf``) files to PyTorch names."""
    tensors = read_safetensors(path)
    if read_safetensors_metadata(path).get("format") == "tf" or looks_like_tf_names(tensors):
        return tf_to_pt_state_dict(tensors)
    return tensors


READERS: dict[str, Callable[[str], dict[str, np.ndarray]]] = {
    "safetensors": _read_any_safetensors,
    "bin": read_torch_bin,
    "tf_h5": read_hf_tf_h5,
}


def _format_of(path: str) -> str:
    """Checkpoint format from a file name (``.safetensors``, ``.bin``/``.pt``/``.pth``, ``.h5``)."""
    name = os.path.basename(path).removesuffix(_INDEX_SUFFIX)
    for suffix, fmt in (
        (".safetensors", "safetensors"),
        (".bin", "bin"),
        (".pt", "bin"),
        (".pth", "bin"),
        (".h5", "tf_h5"),
    ):
        if name.endswith(suffix):
            return fmt
    raise checkpoint_error(
        path,
        "has an unknown checkpoint extension",
        "Pass a .safetensors, .bin, .h5 or *.index.json file, or the checkpoint folder.",
    )


def _load_json(path: str) -> Any:
    """Parse a JSON file, raising CheckpointError (naming the file) when missing or invalid."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError as exc:
        raise checkpoint_error(path, "file not found", "Check the path.") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise checkpoint_error(path, f"is not valid JSON ({exc})", REDOWNLOAD) from exc


def _read_index(index_path: str) -> dict[str, str]:
    """Return the ``weight_map`` (tensor name -> shard file name) of a sharded-checkpoint index."""
    index = _load_json(index_path)
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise checkpoint_error(index_path, "has no 'weight_map' (not a sharded-checkpoint index)", REDOWNLOAD)
    for shard in set(weight_map.values()):
        if not isinstance(shard, str) or os.path.basename(shard) != shard or shard in ("", ".", ".."):
            raise checkpoint_error(index_path, f"names an invalid shard file {shard!r}", REDOWNLOAD)
    return weight_map


def _shard_paths(index_path: str, weight_map: dict[str, str]) -> list[str]:
    """Shard files of an index, each once, in first-use order; CheckpointError if one is missing."""
    folder = os.path.dirname(index_path)
    paths = [os.path.join(folder, s) for s in dict.fromkeys(weight_map.values())]
    for path in paths:
        if not os.path.isfile(path):
            raise checkpoint_error(
                path,
                f"shard listed in {os.path.basename(index_path)} is missing",
                "Download all shard files of the checkpoint into the same folder.",
            )
    return paths


def _resolve_folder(folder: str) -> tuple[str, list[str], str | None]:
    """Return ``(format, paths, index_path_or_None)`` for the preferred checkpoint in ``folder``."""
    if not os.path.isdir(folder):
        raise checkpoint_error(folder, "is not a folder", "Pass the folder that holds the checkpoint files.")
    for fmt, name in CANDIDATES:
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            continue
        if name.endswith(_INDEX_SUFFIX):
            return fmt, _shard_paths(path, _read_index(path)), path
        return fmt, [path], None
    present = sorted(os.listdir(folder))
    shown = ", ".join(present[:30]) + (" ..." if len(present) > 30 else "") if present else "(empty)"
    raise checkpoint_error(
        folder,
        f"holds no checkpoint: looked for {', '.join(n for _, n in CANDIDATES)}; found: {shown}",
        "Download or save the model weights into this folder.",
    )


def find_checkpoint_files(folder: str | os.PathLike[str]) -> tuple[str, list[str]]:
    """Locate the weights of a checkpoint folder.

    Args:
        folder: A Hugging Face model folder.

    Returns:
        ``(format, paths)``: format is ``"safetensors"``, ``"bin"`` or ``"tf_h5"``; paths are the
        weight files to read (several for a sharded checkpoint, each shard once).

    Raises:
        CheckpointError: Not a folder, no weights found (lists what was looked for and what is
            there), invalid index JSON, or a shard named by the index is missing.
    """
    fmt, paths, _ = _resolve_folder(os.fspath(folder))
    return fmt, paths


def _expected_names(weight_map: dict[str, str], shard: str) -> set[str]:
    """PyTorch names the index says ``shard`` holds (TF names converted)."""
    names = [k for k, v in weight_map.items() if v == shard]
    if looks_like_tf_names(names):
        return {tf_name_to_pt(n)[0] for n in names}
    return set(names)


def _read_files(fmt: str, paths: list[str], index_path: str | None) -> dict[str, np.ndarray]:
    """Read and merge weight files; check each shard holds what the index promises."""
    weight_map = _read_index(index_path) if index_path else None
    merged: dict[str, np.ndarray] = {}
    for path in paths:
        tensors = READERS[fmt](path)
        if weight_map is not None:
            missing = _expected_names(weight_map, os.path.basename(path)) - tensors.keys()
            if missing:
                raise checkpoint_error(
                    path,
                    f"lacks {len(missing)} tensor(s) its index lists, e.g. {sorted(missing)[:3]}",
                    REDOWNLOAD,
                )
        for name, value in tensors.items():
            merged.setdefault(name, value)
    return merged


def read_checkpoint(folder_or_file: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read all weights of a checkpoint folder or of one weight / index file.

    Args:
        folder_or_file: A model folder (see the module docstring for the preference order), a
            single ``.safetensors`` / ``.bin`` / ``.h5`` file, or a ``*.index.json`` file.

    Returns:
        PyTorch parameter name -> numpy array, names as stored (a base-model checkpoint has no
        ``longformer.`` prefix; TF h5 files keep theirs).

    Raises:
        CheckpointError: Anything wrong with the files (message names the file).
        ImportError: A ``.bin`` checkpoint and torch is not installed.
    """
    path = os.fspath(folder_or_file)
    if os.path.isdir(path):
        return _read_files(*_resolve_folder(path))
    if not os.path.isfile(path):
        raise checkpoint_error(path, "does not exist", "Check the path (a checkpoint folder or weight file).")
    fmt = _format_of(path)
    if path.endswith(_INDEX_SUFFIX):
        return _read_files(fmt, _shard_paths(path, _read_index(path)), path)
    return _read_files(fmt, [path], None)


def read_config_json(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """Read ``config.json`` of a checkpoint folder.

    Args:
        folder: The model folder, or the path of a JSON config file itself.

    Returns:
        The parsed config dict.

    Raises:
        CheckpointError: The file is missing, not valid JSON, or not a JSON object.
    """
    path = os.fspath(folder)
    if os.path.isdir(path):
        path = os.path.join(path, "config.json")
    config = _load_json(path)
    if not isinstance(config, dict):
        raise checkpoint_error(path, f"holds a JSON {type(config).__name__}, not an object", REDOWNLOAD)
    return config
