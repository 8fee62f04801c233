"""Write a checkpoint as one `model.safetensors` or as shards with an index, as transformers does.

Shards are `model-00001-of-0000N.safetensors`, filled in name order up to `max_shard_size` bytes each (a
tensor larger than that gets a shard of its own), with `model.safetensors.index.json`:
`{"metadata": {"total_size": bytes}, "weight_map": {tensor name: shard file}}`. transformers and
`read_checkpoint` load either layout.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping

import numpy as np

from .safetensors_io import write_safetensors

SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
_SHARD = re.compile(r"^model-\d{5}-of-\d{5}\.safetensors$")
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


def write_safetensors_checkpoint(tensors: Mapping[str, np.ndarray], folder: str | os.PathLike,
                                 max_shard_size: int | str = "5GB",
                                 metadata: Mapping[str, str] | None = None) -> list[str]:
    """Write `tensors` into `folder` as `model.safetensors`, or as shards + index when larger than
    `max_shard_size`; weight files of an earlier save in the other layout are removed.

    Each file is written atomically; the index last, so it never names a shard not yet written.

    Args:
        tensors: name → array.
        folder: target folder (exists).
        max_shard_size: bytes, or a string like `"5GB"`.
        metadata: safetensors header metadata of every file (e.g. `{"format": "pt"}`).

    Returns:
        The file names written.
    """
    folder = os.fspath(folder)
    shards = plan_shards(tensors, parse_size(max_shard_size))
    if len(shards) == 1:
        names = [SINGLE_FILE]
    else:
        names = [f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors" for i in range(len(shards))]
    for file_name, shard in zip(names, shards, strict=True):
        write_safetensors({k: tensors[k] for k in shard}, os.path.join(folder, file_name), metadata=metadata)
    stale = [n for n in os.listdir(folder) if (n == SINGLE_FILE or _SHARD.match(n)) and n not in names]
    if len(shards) > 1:
        index = {"metadata": {"total_size": int(sum(np.asarray(t).nbytes for t in tensors.values()))},
                 "weight_map": {k: file_name for file_name, shard in zip(names, shards, strict=True) for k in shard}}
        tmp = os.path.join(folder, f".{INDEX_FILE}.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(index, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, os.path.join(folder, INDEX_FILE))
        names.append(INDEX_FILE)
    elif os.path.exists(os.path.join(folder, INDEX_FILE)):
        stale.append(INDEX_FILE)
    for name in stale:
        os.remove(os.path.join(folder, name))
    return names
