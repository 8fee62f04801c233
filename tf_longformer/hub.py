"""Turn a model name into a local folder: a folder as is, a hub id through the Hugging Face cache."""

from __future__ import annotations

import os

# Files a model or tokenizer folder may need; only these are fetched from the hub.
MODEL_FILE_PATTERNS = (
    "config.json", "*.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
    "pytorch_model.bin.index.json", "pytorch_model-*.bin", "tf_model.h5", "tf_model*.h5", "tf_model.h5.index.json",
    "tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json",
    "added_tokens.json", "vocab.txt",
)


def is_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").upper() in ("1", "ON", "YES", "TRUE")


def resolve_model_folder(name_or_path: str | os.PathLike, need: tuple[str, ...] = ()) -> str:
    """Local folder holding the model `name_or_path`.

    Args:
        name_or_path: a local folder, or a hub id such as `allenai/longformer-base-4096`.
        need: file names the caller will read (for the error message only).

    Returns:
        Path of a local folder (the hub snapshot in the Hugging Face cache for a hub id).

    Raises:
        OSError: the folder does not exist, or the hub id is neither cached nor downloadable (the
            message says whether `HF_HUB_OFFLINE` is set and where the cache is).
    """
    path = os.fspath(name_or_path)
    if os.path.isdir(path):
        return path
    looks_local = path.startswith((".", "/", "~")) or path.count("/") > 1 or "\\" in path
    if looks_local or not path:
        raise OSError(f"No such model folder: {path!r}. Give a folder with config.json and weights, or a hub id.")
    import huggingface_hub
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    try:
        return huggingface_hub.snapshot_download(path, allow_patterns=list(MODEL_FILE_PATTERNS))
    except HFValidationError as err:
        raise OSError(f"{path!r} is neither a local folder nor a valid hub id ({err}).") from None
    except LocalEntryNotFoundError:
        cache = huggingface_hub.constants.HF_HUB_CACHE
        if is_offline():
            raise OSError(
                f"{path!r} is not a local folder and is not in the Hugging Face cache ({cache}), and "
                "HF_HUB_OFFLINE is set. Download it on a connected machine (e.g. `hf download "
                f"{path}`) and copy the cache, or pass a local folder."
            ) from None
        raise OSError(f"Could not download {path!r} from the Hugging Face hub and it is not cached in {cache}.") from None
    except Exception as err:  # noqa: BLE001 - network and repository errors all mean the same to a user
        raise OSError(f"Could not get {path!r} from the Hugging Face hub: {type(err).__name__}: {err}") from None
