"""The files of a tokenizer folder and reading its configuration (finding the folder: `tf_longformer.hub`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: Files a Longformer / RoBERTa tokenizer may be stored in.
TOKENIZER_FILE = "tokenizer.json"
VOCAB_FILE = "vocab.json"
MERGES_FILE = "merges.txt"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
SPECIAL_TOKENS_MAP_FILE = "special_tokens_map.json"
ADDED_TOKENS_FILE = "added_tokens.json"


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
