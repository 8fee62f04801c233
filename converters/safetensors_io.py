"""Read and (atomically) write ``.safetensors`` files as ``dict[str, np.ndarray]``.

bfloat16: numpy has no native bfloat16, so :func:`read_safetensors` decodes every ``BF16`` tensor
itself, straight from the file bytes, into **float32** (exact: a bfloat16 is the top half of a
float32). No ``ml_dtypes`` import is needed. All other dtypes are returned as stored.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Mapping

import numpy as np

from converters.atomic import atomic_write_with
from converters.errors import REDOWNLOAD, CheckpointError, checkpoint_error

_HEADER_LEN_BYTES = 8
#: safetensors dtypes numpy holds (BF16 is widened to float32); float8 / float4 / complex ones are refused
READABLE_DTYPES = ("F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U64", "U32", "U16", "U8", "BOOL")


def _open(path: str):
    """Open ``path`` with ``safe_open`` (numpy framework), mapping failures to CheckpointError."""
    from safetensors import safe_open

    if not os.path.isfile(path):
        raise checkpoint_error(path, "file not found (or not a regular file)", "Check the path.")
    try:
        return safe_open(path, framework="np")
    except Exception as exc:  # SafetensorError, OSError from the Rust side
        raise checkpoint_error(path, f"is not a readable safetensors file ({exc})", REDOWNLOAD) from exc


def _read_header(path: str) -> tuple[dict, int]:
    """Parse a safetensors header.

    Args:
        path: The safetensors file (already validated by ``safe_open``).

    Returns:
        ``(header, data_start)``: the JSON header and the byte offset where tensor data begins.
    """
    with open(path, "rb") as fh:
        (header_len,) = struct.unpack("<Q", fh.read(_HEADER_LEN_BYTES))
        return json.loads(fh.read(header_len)), _HEADER_LEN_BYTES + header_len


def _read_bf16_as_float32(path: str, name: str, header: dict, data_start: int) -> np.ndarray:
    """Decode one BF16 tensor to float32 without ``ml_dtypes`` (bit-exact widening).

    Args:
        path: The safetensors file.
        name: The tensor name inside it.
        header: The parsed header (see :func:`_read_header`).
        data_start: Offset of the data section.

    Returns:
        The tensor as a float32 array.
    """
    info = header[name]
    begin, end = info["data_offsets"]
    shape = tuple(info["shape"])
    with open(path, "rb") as fh:
        fh.seek(data_start + begin)
        raw = np.frombuffer(fh.read(end - begin), dtype="<u2")
    if raw.size != int(np.prod(shape, dtype=np.int64)):
        raise checkpoint_error(path, f"tensor {name!r} is truncated", REDOWNLOAD)
    return (raw.astype(np.uint32) << 16).view(np.float32).reshape(shape)


def read_safetensors(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read every tensor of a safetensors file.

    Args:
        path: The ``.safetensors`` file.

    Returns:
        Tensor name -> numpy array, names exactly as stored. ``BF16`` tensors come back as float32.

    Raises:
        CheckpointError: The file is missing, truncated, not safetensors, or holds a dtype outside
            ``READABLE_DTYPES`` (e.g. ``F8_E4M3``; the message names the tensor and its dtype).
    """
    path = os.fspath(path)
    handle = _open(path)
    out: dict[str, np.ndarray] = {}
    header: tuple[dict, int] | None = None
    try:
        with handle as f:
            for name in f.keys():
                dtype = f.get_slice(name).get_dtype()
                if dtype not in READABLE_DTYPES:
                    raise checkpoint_error(
                        path, f"tensor {name!r} has dtype {dtype}, which tf-longformer cannot read "
                        f"(it reads {', '.join(READABLE_DTYPES)})",
                        "Convert the checkpoint to float32, float16 or bfloat16 first.",
                    )
                if dtype == "BF16":
                    header = header or _read_header(path)
                    out[name] = _read_bf16_as_float32(path, name, *header)
                else:
                    out[name] = f.get_tensor(name)
    except CheckpointError:
        raise
    except Exception as exc:
        raise checkpoint_error(path, f"could not be read ({exc})", REDOWNLOAD) from exc
    return out


def read_safetensors_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read the text metadata of a safetensors header (e.g. ``{"format": "pt"}``).

    Args:
        path: The ``.safetensors`` file.

    Returns:
        The metadata dict (empty if the file has none).

    Raises:
        CheckpointError: The file is missing or not a valid safetensors file.
    """
    path = os.fspath(path)
    with _open(path) as f:
        return dict(f.metadata() or {})


def _check_tensors(tensors: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Validate names and convert values to C-contiguous numpy arrays."""
    clean: dict[str, np.ndarray] = {}
    for name, value in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"Tensor names must be str, got {name!r}.")
        arr = np.asarray(value)
        # not np.ascontiguousarray: it turns 0-d scalars into shape (1,)
        clean[name] = arr if arr.flags.c_contiguous else arr.copy(order="C")
    return clean


def save_safetensors(
    tensors: Mapping[str, np.ndarray],
    path: str | os.PathLike[str],
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Write tensors to a safetensors file at ``path`` as is (see :func:`write_safetensors` for atomic).

    Args:
        tensors: Name -> array (anything ``np.asarray`` accepts; ml_dtypes bfloat16 is kept).
        path: Destination ``.safetensors`` file.
        metadata: Optional text metadata stored in the header (e.g. ``{"format": "pt"}``).

    Raises:
        TypeError / ValueError / safetensors' error: A tensor cannot be serialized.
    """
    from safetensors.numpy import save_file

    meta = None if metadata is None else {str(k): str(v) for k, v in metadata.items()}
    save_file(_check_tensors(tensors), os.fspath(path), metadata=meta)


def write_safetensors(
    tensors: Mapping[str, np.ndarray],
    path: str | os.PathLike[str],
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Write tensors to a safetensors file atomically (:func:`converters.atomic.atomic_path`).

    If anything fails, an existing ``path`` is left untouched and the temporary file is removed.

    Args:
        tensors: Name -> array (anything ``np.asarray`` accepts; ml_dtypes bfloat16 is kept).
        path: Destination ``.safetensors`` file.
        metadata: Optional text metadata stored in the header (e.g. ``{"format": "pt"}``).

    Raises:
        TypeError / ValueError / safetensors' error: A tensor cannot be serialized (the old file
            stays as it was).
    """
    atomic_write_with(path, lambda tmp: save_safetensors(tensors, tmp, metadata))
