"""Turn a model or tokenizer name into a local folder: a folder as is, a hub id through the Hugging Face cache.

The one place that reads the offline switches (`HF_HUB_OFFLINE`, `TRANSFORMERS_OFFLINE`) and the cache
location; models, configs, pipelines, export and tokenizers all resolve names here.
"""

from __future__ import annotations

import os
from typing import Any

#: Files of a tokenizer folder: what is fetched from the hub for a tokenizer.
TOKENIZER_FILE_PATTERNS = ("tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json",
                           "special_tokens_map.json", "added_tokens.json")
#: Files a model folder may need (weights in every format read, and its tokenizer, `vocab.txt` for BERT's).
MODEL_FILE_PATTERNS = (
    "config.json", "*.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
    "pytorch_model.bin.index.json", "pytorch_model-*.bin", "tf_model.h5", "tf_model*.h5", "tf_model.h5.index.json",
    *TOKENIZER_FILE_PATTERNS, "vocab.txt",
)

_TRUE = ("1", "ON", "YES", "TRUE")
_OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def offline_reason() -> str | None:
    """Why the hub must not be used now (the variable that is set), or None when online is allowed.

    Read at each call, not at import time, so a variable set after `import huggingface_hub` counts.
    """
    for name in _OFFLINE_VARIABLES:
        if os.environ.get(name, "").strip().upper() in _TRUE:
            return f"offline mode is on ({name} is set)"
    from huggingface_hub import constants

    return "offline mode is on (HF_HUB_OFFLINE)" if constants.HF_HUB_OFFLINE else None


def is_offline() -> bool:
    """True when `HF_HUB_OFFLINE` or `TRANSFORMERS_OFFLINE` is set (see `offline_reason`)."""
    return offline_reason() is not None


def hub_cache_dir() -> str | None:
    """The hub cache from `HF_HUB_CACHE` / `HF_HOME`, read now; None lets huggingface_hub decide."""
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(name):
            return os.environ[name]
    if os.environ.get("HF_HOME"):
        return os.path.join(os.environ["HF_HOME"], "hub")
    return None


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
                         force_download: bool = False, proxies: dict | None = None,
                         patterns: tuple[str, ...] = MODEL_FILE_PATTERNS, what: str = "model") -> str:
    """Local folder holding the model (or tokenizer) `name_or_path`: the one hub resolver of the package.

    Args:
        name_or_path: a local folder, or a hub id such as `allenai/longformer-base-4096`.
        need: file names the caller will read (for the error message only).
        subfolder: the model's folder inside the folder / repository.
        revision: branch, tag or commit of a hub id (default the main branch).
        cache_dir: the Hugging Face cache to use (default `HF_HUB_CACHE`, then `HF_HOME/hub`, read now).
        token: hub token for private repositories.
        local_files_only: only the cache, never the network (as `HF_HUB_OFFLINE=1` or
            `TRANSFORMERS_OFFLINE=1`).
        force_download: fetch again even if cached.
        proxies: passed to `huggingface_hub`.
        patterns: the files fetched from the hub (default: every model and tokenizer file).
        what: `"model"` or `"tokenizer"`, for the error messages.

    Returns:
        Path of a local folder (the hub snapshot in the Hugging Face cache for a hub id).

    Raises:
        OSError: the folder does not exist, or the hub id is neither cached nor downloadable (the
            message says whether offline mode is on and where the cache is).

    Example:
        >>> resolve_model_folder("./longformer-base")                # doctest: +SKIP
        './longformer-base'
    """
    path = os.fspath(name_or_path)
    if os.path.isdir(path):
        folder = os.path.join(path, subfolder) if subfolder else path
        if not os.path.isdir(folder):
            raise OSError(f"No subfolder {subfolder!r} in {path!r}.")
        return folder
    if os.path.isfile(path):
        raise OSError(f"{path!r} is a file; pass the folder that holds the {what} files instead.")
    looks_local = path.startswith((".", "/", "~")) or path.count("/") > 1 or "\\" in path
    if looks_local or not path:
        files = ", ".join(need) if need else f"the {what} files"
        raise OSError(f"No such {what} folder: {path!r} is neither a local folder nor a valid hub id. Give a "
                      f"folder with {files}, or a hub id.")
    import huggingface_hub
    from huggingface_hub.errors import (
        GatedRepoError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    offline = "local_files_only=True" if local_files_only else offline_reason()
    where = f"{path!r}" + (f" (revision {revision!r})" if revision else "")
    cache = os.fspath(cache_dir) if cache_dir is not None else hub_cache_dir()
    cache_name = cache or huggingface_hub.constants.HF_HUB_CACHE
    try:
        snapshot = huggingface_hub.snapshot_download(
            path, allow_patterns=[f"{subfolder}/{p}" if subfolder else p for p in patterns], revision=revision,
            cache_dir=cache, token=token, local_files_only=offline is not None, force_download=force_download,
            proxies=proxies)
    except HFValidationError as err:
        raise OSError(f"{path!r} is neither a local folder nor a valid hub id ({err}).") from None
    except LocalEntryNotFoundError:
        if offline is not None:
            raise OSError(
                f"{where} is not a local folder and is not in the Hugging Face cache ({cache_name}), and "
                f"{offline}. Download it on a connected machine (e.g. `hf download {path}`) and copy the "
                f"cache, or pass a local folder."
            ) from None
        raise OSError(f"Could not download {where} from the Hugging Face hub and it is not cached in "
                      f"{cache_name}. Check your connection, or pass a local folder.") from None
    except (RepositoryNotFoundError, GatedRepoError, RevisionNotFoundError) as err:
        raise OSError(f"The hub repository or revision {where} was not found or is not accessible "
                      f"({type(err).__name__}); for a private or gated repository pass `token=`.") from None
    except Exception as err:  # noqa: BLE001 - network and repository errors all mean the same to a user
        raise OSError(f"Could not get {where} from the Hugging Face hub: {type(err).__name__}: {err}") from None
    folder = os.path.join(snapshot, subfolder) if subfolder else snapshot
    if not os.path.isdir(folder):
        raise OSError(f"{where} has no subfolder {subfolder!r}.")
    return folder
