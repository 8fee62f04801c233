"""Read a PyTorch ``pytorch_model.bin`` state dict into numpy (torch is imported lazily)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from converters.errors import REDOWNLOAD, checkpoint_error

TORCH_EXTRA_HINT = 'Reading PyTorch .bin checkpoints needs torch: pip install "tf-longformer[torch]"'


def _import_torch() -> Any:
    """Import torch or raise an ImportError that names the ``[torch]`` extra."""
    try:
        import torch
    except ImportError as exc:
        raise ImportError(f'{TORCH_EXTRA_HINT} (or pip install "torch>=2.1").') from exc
    return torch


def read_torch_bin(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a flat PyTorch state dict saved with ``torch.save``.

    Loads with ``torch.load(path, map_location="cpu", weights_only=True)`` (no arbitrary pickle
    code runs). bfloat16 tensors are widened to float32 (numpy has no bfloat16); other dtypes are
    kept. Tied tensors stay separate entries (they may share memory).

    Args:
        path: A ``pytorch_model.bin`` (or shard) file.

    Returns:
        Parameter name -> numpy array, names exactly as stored.

    Raises:
        ImportError: torch is not installed (message says ``pip install "tf-longformer[torch]"``).
        CheckpointError: The file is missing, corrupt, truncated, or not a flat tensor dict.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise checkpoint_error(path, "file not found (or not a regular file)", "Check the path.")
    torch = _import_torch()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # RuntimeError (bad zip), UnpicklingError, EOFError, ...
        raise checkpoint_error(path, f"is not a readable PyTorch checkpoint ({exc})", REDOWNLOAD) from exc
    if not isinstance(state, dict):
        raise checkpoint_error(
            path, f"holds a {type(state).__name__}, not a state dict", "Save model.state_dict() instead."
        )
    out: dict[str, np.ndarray] = {}
    for name, tensor in state.items():
        if not isinstance(tensor, torch.Tensor):
            raise checkpoint_error(
                path,
                f"entry {name!r} is a {type(tensor).__name__}, not a tensor (nested or non-flat state dict)",
                "Save a flat model.state_dict() (names -> tensors).",
            )
        tensor = tensor.detach().cpu()
        if tensor.dtype == torch.bfloat16:
            tensor = tensor.float()
        try:
            out[str(name)] = tensor.contiguous().numpy()
        except (TypeError, RuntimeError) as exc:
            raise checkpoint_error(
                path,
                f"tensor {name!r} has dtype {tensor.dtype}, which numpy cannot represent",
                "Convert the checkpoint to float32, float16 or bfloat16 first.",
            ) from exc
    return out
