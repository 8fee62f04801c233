"""Write a checkpoint as one `model.safetensors` or as shards with an index, as transformers does.

Shards are `model-00001-of-0000N.safetensors`, filled in name order up to `max_shard_size` bytes each (a
tensor larger than that gets a shard of its own), with `model.safetensors.index.json`:
`{"metadata": {"total_size": bytes}, "weight_map": {tensor name: shard file}}`. transformers and
`read_checkpoint` load either layout. The files are written by `atomic_folder.replace_in_folder`, which
also removes the weight files of an earlier save in the other layout.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

import numpy as np

from .atomic_folder import Writer, text_file
from .safetensors_io import save_safetensors

SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def parse_size(size: int | str) -> int:
    """Bytes of `size`: an int, or a string such as `"5GB"` (powers of 10) or `"200MiB"` (powers of 2).

    Raises:
        ValueError: not a positive size.
    """
    if isinstance(size, bool):
        raise ValueError(f"max_shard_size must be bytes or a string like '5GB', got {size!r}.")
    if isinstance(size, (int, np.integer)):
        value = int(size)
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]I?B|B)?\s*", str(size).upper())
        if match is None:
            raise ValueError(f"max_shard_size must be bytes or a string like '5GB' or '200MiB', got {size!r}.")
        value = int(float(match.group(1)) * _UNITS[match.group(2) or ""])
    if value <= 0:
        raise ValueError(f"max_shard_size must be positive, got {size!r}.")
    return value


def plan_shards(tensors: Mapping[str, np.ndarray], max_bytes: int) -> list[list[str]]:
    """Tensor names grouped into shards of at most `max_bytes` (in name order)."""
    shards: list[list[str]] = [[]]
    filled = 0
    for name in sorted(tensors):
        size = np.asarray(tensors[name]).nbytes
        if shards[-1] and filled + size > max_bytes:
            shards.append([])
            filled = 0
        shards[-1].append(name)
        filled += size
    return shards


def safetensors_checkpoint_files(tensors: Mapping[str, np.ndarray], max_shard_size: int | str = "5GB",
                                 metadata: Mapping[str, str] | None = None) -> dict[str, Writer]:
    """The weight files of `tensors`, name -> writer (for `atomic_folder.replace_in_folder`): one
    `model.safetensors`, or shards and `model.safetensors.index.json` when larger than `max_shard_size`.

    Args:
        tensors: name → array.
        max_shard_size: bytes, or a string like `"5GB"`.
        metadata: safetensors header metadata of every file (e.g. `{"format": "pt"}`).

    Returns:
        File name → writer of that file at a given path.

    Raises:
        ValueError: a `max_shard_size` that is not a positive size.
    """
    shards = plan_shards(tensors, parse_size(max_shard_size))
    if len(shards) == 1:
        names = [SINGLE_FILE]
    else:
        names = [f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors" for i in range(len(shards))]

    def shard_writer(shard: list[str]) -> Writer:
        return lambda path: save_safetensors({k: tensors[k] for k in shard}, path, metadata=metadata)

    files = {name: shard_writer(shard) for name, shard in zip(names, shards, strict=True)}
    if len(shards) > 1:
        index = {"metadata": {"total_size": int(sum(np.asarray(t).nbytes for t in tensors.values()))},
                 "weight_map": {k: name for name, shard in zip(names, shards, strict=True) for k in shard}}
        files[INDEX_FILE] = text_file(json.dumps(index, indent=2, sort_keys=True) + "\n")
    return files
