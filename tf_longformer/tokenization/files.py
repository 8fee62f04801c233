"""Finding tokenizer files: a local folder or a Hugging Face Hub repo id (cache aware, offline aware)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

#: Files a Longformer / RoBERTa tokenizer may be stored in.
TOKENIZER_FILE = "tokenizer.json"
VOCAB_FILE = "vocab.json"
MERGES_FILE = "merges.txt"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_MAP_FILE = "special_tokens_map.json"
ADDED_TOKENS_FILE = "added_tokens.json"
TOKENIZER_FILES = (
    TOKENIZER_FILE,
    VOCAB_FILE,
    MERGES_FILE,
    TOKENIZER_CONFIG_FILE,
    SPECIAL_TOKENS_MAP_FILE,
    ADDED_TOKENS_FILE,
)

_TRUE = {"1", "on", "yes", "true"}


def hub_offline() -> bool:
    """True when `HF_HUB_OFFLINE` (or `TRANSFORMERS_OFFLINE`) is set, read now rather than at import time."""
    if any(
        os.environ.get(name, "").strip().lower() in _TRUE
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    ):
        return True
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def hub_cache_dir() -> str | None:
    """The Hub cache folder from `HF_HUB_CACHE` / `HF_HOME`, read now; None lets huggingface_hub decide."""
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(name):
            return os.environ[name]
    if os.environ.get("HF_HOME"):
        return os.path.join(os.environ["HF_HOME"], "hub")
    return None


def resolve_tokenizer_folder(
    name_or_path: str | os.PathLike,
    *,
    subfolder: str = "",
    cache_dir: str | os.PathLike | None = None,
    revision: str | None = None,
    token: str | bool | None = None,
    local_files_only: bool = False,
    force_download: bool = False,
) -> Path:
    """Return a local folder holding the tokenizer files of `name_or_path`.

    Args:
        name_or_path: A local folder, or a Hub repo id such as `"allenai/longformer-base-4096"`.
        subfolder: Folder inside the repo / local folder.
        cache_dir: Hub cache folder (default: `HF_HUB_CACHE`, `HF_HOME/hub`, then huggingface_hub's default).
        revision: Branch, tag or commit of the Hub repo.
        token: Hub token for private repos.
        local_files_only: Only look in the cache. Also forced by `HF_HUB_OFFLINE=1`.
        force_download: Download again even if cached.

    Returns:
        The folder (a cache snapshot for Hub ids) that holds the files.

    Raises:
        OSError: With a plain explanation when the folder / repo cannot be found, in particular when a Hub id
            is not cached while offline mode is on.

    Example:
        >>> resolve_tokenizer_folder("./my_tokenizer")   # doctest: +SKIP
        PosixPath('my_tokenizer')
    """
    path = Path(name_or_path)
    if path.is_dir():
        return path / subfolder if subfolder else path
    if path.is_file():
        raise OSError(
            f"{str(name_or_path)!r} is a file; pass the folder that holds the tokenizer files instead."
        )

    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    repo_id = str(name_or_path)
    offline = local_files_only or hub_offline()
    prefix = f"{subfolder.strip('/')}/" if subfolder else ""
    cache = cache_dir if cache_dir is not None else hub_cache_dir()
    where = f"the Hugging Face cache ({cache or 'default location'})"
    try:
        snapshot = snapshot_download(
            repo_id,
            revision=revision,
            cache_dir=cache,
            token=token,
            local_files_only=offline,
            force_download=force_download,
            allow_patterns=[prefix + name for name in TOKENIZER_FILES],
        )
    except HFValidationError as error:
        raise OSError(
            f"{repo_id!r} is neither a local folder nor a valid Hugging Face Hub repo id ('owner/name')."
        ) from error
    except LocalEntryNotFoundError as error:
        if offline:
            reason = "local_files_only=True" if local_files_only else "offline mode is on (HF_HUB_OFFLINE=1)"
            raise OSError(
                f"Cannot load the tokenizer {repo_id!r}: it is not a local folder, it is not in {where}, and "
                f"{reason}, so it cannot be downloaded. Download it once while online, or pass a local folder."
            ) from None
        raise OSError(
            f"Cannot load the tokenizer {repo_id!r}: the Hugging Face Hub could not be reached and it is not in "
            f"{where}. Check your connection, or pass a local folder."
        ) from error
    except (RepositoryNotFoundError, GatedRepoError, RevisionNotFoundError) as error:
        raise OSError(
            f"Cannot load the tokenizer {repo_id!r}: the Hub repo or revision was not found or is not accessible "
            f"({type(error).__name__}). For a private or gated repo pass `token=`."
        ) from error
    return Path(snapshot) / subfolder if subfolder else Path(snapshot)


def read_json(path: Path) -> Any | None:
    """The parsed JSON at `path`, or None when the file does not exist."""
    if not path.is_file():
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def read_tokenizer_config(folder: Path) -> dict[str, Any]:
    """Merge `tokenizer_config.json`, `special_tokens_map.json` and `added_tokens.json` of `folder`.

    As in transformers, `special_tokens_map.json` is only read when `tokenizer_config.json` has no
    `added_tokens_decoder` (older saves), and overrides the special tokens of the config.

    Args:
        folder: The tokenizer folder.

    Returns:
        The configuration dict (possibly empty). Legacy `added_tokens.json` entries are returned under the
        private key `"_added_tokens_file"` as `{token: id}`.

    Example:
        >>> read_tokenizer_config(Path("my_tokenizer")).get("model_max_length")   # doctest: +SKIP
        4096
    """
    config = read_json(folder / TOKENIZER_CONFIG_FILE) or {}
    if not isinstance(config, dict):
        raise OSError(f"{folder / TOKENIZER_CONFIG_FILE} does not hold a JSON object")
    if "added_tokens_decoder" not in config:
        special_map = read_json(folder / SPECIAL_TOKENS_MAP_FILE) or {}
        for key, value in special_map.items():
            if key.endswith("_token") or key in ("additional_special_tokens", "extra_special_tokens"):
                config[key] = value
        added = read_json(folder / ADDED_TOKENS_FILE)
        if added:
            config["_added_tokens_file"] = added
    return config
