"""Turn a model name into a local folder: a folder as is, a hub id through the Hugging Face cache."""

from __future__ import annotations

import os
from typing import Any

# Files a model or tokenizer folder may need; only these are fetched from the hub.
MODEL_FILE_PATTERNS = (
    "config.json", "*.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
    "pytorch_model.bin.index.json", "pytorch_model-*.bin", "tf_model.h5", "tf_model*.h5", "tf_model.h5.index.json",
    "tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json",
    "added_tokens.json", "vocab.txt",
)


def is_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").upper() in ("1", "ON", "YES", "TRUE")


# transformers-4 `from_pretrained` arguments with no effect here (every format is read; no proxies
# are needed offline; remote code is never run)
_ACCEPTED_AND_IGNORED = ("from_pt", "from_tf", "use_safetensors", "mirror", "trust_remote_code",
                         "resume_download", "_commit_hash", "load_weight_prefix", "from_flax")


_HUB_ARGUMENTS = ("cache_dir", "force_download", "local_files_only", "token", "revision", "subfolder", "proxies")


def split_hub_options(kwargs: dict[str, Any], **named: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split `from_pretrained`'s `**kwargs` into hub options and config overrides.

    Args:
        kwargs: the remaining keyword arguments: hub arguments (`cache_dir`, `revision`, `token`,
            `local_files_only`, `force_download`, `subfolder`, `proxies`, the old `use_auth_token`) and the
            accepted-and-ignored transformers-4 arguments are taken out; the rest are config fields.
        **named: hub arguments a caller took by name.

    Returns:
        `(hub options for resolve_model_folder, config overrides)`.
    """
    overrides = dict(kwargs)
    given = {**{k: overrides.pop(k) for k in _HUB_ARGUMENTS if k in overrides}, **named}
    legacy_token = overrides.pop("use_auth_token", None)
    if given.get("token") is None and legacy_token is not None:
        given["token"] = legacy_token
    for name in _ACCEPTED_AND_IGNORED:
        overrides.pop(name, None)
    options = {k: v for k, v in given.items() if v not in (None, False, "") and not (k == "revision" and v == "main")}
    return options, overrides


def resolve_model_folder(name_or_path: str | os.PathLike, need: tuple[str, ...] = (), *, subfolder: str = "",
                         revision: str | None = None, cache_dir: str | os.PathLike | None = None,
                         token: str | bool | None = None, local_files_only: bool = False,
                         force_download: bool = False, proxies: dict | None = None) -> str:
    """Local folder holding the model `name_or_path`.

    Args:
        name_or_path: a local folder, or a hub id such as `allenai/longformer-base-4096`.
        need: file names the caller will read (for the error message only).
        subfolder: the model's folder inside the folder / repository.
        revision: branch, tag or commit of a hub id (default the main branch).
        cache_dir: the Hugging Face cache to use (default `HF_HUB_CACHE`).
        token: hub token for private repositories.
        local_files_only: only the cache, never the network (as `HF_HUB_OFFLINE=1`).
        force_download: fetch again even if cached.
        proxies: passed to `huggingface_hub`.

    Returns:
        Path of a local folder (the hub snapshot in the Hugging Face cache for a hub id).

    Raises:
        OSError: the folder does not exist, or the hub id is neither cached nor downloadable (the
            message says whether `HF_HUB_OFFLINE` is set and where the cache is).
    """
    path = os.fspath(name_or_path)
    if os.path.isdir(path):
        folder = os.path.join(path, subfolder) if subfolder else path
        if not os.path.isdir(folder):
            raise OSError(f"No subfolder {subfolder!r} in {path!r}.")
        return folder
    looks_local = path.startswith((".", "/", "~")) or path.count("/") > 1 or "\\" in path
    if looks_local or not path:
        raise OSError(f"No such model folder: {path!r}. Give a folder with config.json and weights, or a hub id.")
    import huggingface_hub
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    patterns = [f"{subfolder}/{p}" if subfolder else p for p in MODEL_FILE_PATTERNS]
    where = f"{path!r}" + (f" (revision {revision!r})" if revision else "")
    cache = os.fspath(cache_dir) if cache_dir is not None else huggingface_hub.constants.HF_HUB_CACHE
    try:
        snapshot = huggingface_hub.snapshot_download(
            path, allow_patterns=patterns, revision=revision, cache_dir=cache_dir, token=token,
            local_files_only=local_files_only, force_download=force_download, proxies=proxies)
    except HFValidationError as err:
        raise OSError(f"{path!r} is neither a local folder nor a valid hub id ({err}).") from None
    except LocalEntryNotFoundError:
        if is_offline() or local_files_only:
            reason = "local_files_only=True" if local_files_only else "HF_HUB_OFFLINE is set"
            raise OSError(
                f"{where} is not a local folder and is not in the Hugging Face cache ({cache}), and "
                f"{reason}. Download it on a connected machine (e.g. `hf download "
                f"{path}`) and copy the cache, or pass a local folder."
            ) from None
        raise OSError(f"Could not download {where} from the Hugging Face hub and it is not cached in {cache}.") from None
    except Exception as err:  # noqa: BLE001 - network and repository errors all mean the same to a user
        raise OSError(f"Could not get {where} from the Hugging Face hub: {type(err).__name__}: {err}") from None
    folder = os.path.join(snapshot, subfolder) if subfolder else snapshot
    if not os.path.isdir(folder):
        raise OSError(f"{where} has no subfolder {subfolder!r}.")
    return folder
