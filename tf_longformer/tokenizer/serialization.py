"""Loading (`from_pretrained`), saving (`save_pretrained`) and re-training of the Longformer tokenizer.

The saved folder holds `tokenizer.json`, `vocab.json`, `merges.txt`, `tokenizer_config.json` and
`special_tokens_map.json`, so both this package and transformers (4 and 5) load it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

from tokenizers import AddedToken, Tokenizer

from ..hub import TOKENIZER_FILE_PATTERNS, resolve_model_folder, split_hub_options
from .bpe_training import train_byte_level_bpe
from .files import (
    MERGES_FILE,
    SPECIAL_TOKENS_MAP_FILE,
    TOKENIZER_CONFIG_FILE,
    TOKENIZER_FILE,
    VOCAB_FILE,
    read_tokenizer_config,
)

T = TypeVar("T", bound="TokenizerFilesMixin")

#: `tokenizer_config.json` keys passed on to the constructor (anything else, e.g. file paths, is ignored).
CONFIG_KEYS = frozenset(
    {
        "errors",
        "bos_token",
        "eos_token",
        "sep_token",
        "cls_token",
        "unk_token",
        "pad_token",
        "mask_token",
        "add_prefix_space",
        "trim_offsets",
        "model_max_length",
        "padding_side",
        "truncation_side",
        "model_input_names",
        "clean_up_tokenization_spaces",
        "split_special_tokens",
        "additional_special_tokens",
        "extra_special_tokens",
        "added_tokens_decoder",
        "_added_tokens_file",
    }
)

#: Input sizes of the original Longformer checkpoints (transformers 4 used them when no config gave one).
MAX_MODEL_INPUT_SIZES = {
    "allenai/longformer-base-4096": 4096,
    "allenai/longformer-large-4096": 4096,
    "allenai/longformer-large-4096-finetuned-triviaqa": 4096,
    "allenai/longformer-base-4096-extra.pos.embd.only": 4096,
    "allenai/longformer-large-4096-extra.pos.embd.only": 4096,
}


def _token_state(token: Any) -> dict[str, Any]:
    state = dict(token.__getstate__())
    return {
        key: state[key] for key in ("content", "single_word", "lstrip", "rstrip", "normalized", "special")
    }


class TokenizerFilesMixin:
    """`from_pretrained` / `save_pretrained` / `train_new_from_iterator` for `LongformerTokenizerFast`."""

    # Provided by the tokenizer class.
    _backend: Tokenizer
    _special_tokens: dict[str, AddedToken | None]
    errors: str
    add_prefix_space: bool
    trim_offsets: bool
    model_max_length: int
    padding_side: str
    truncation_side: str
    model_input_names: list[str]
    clean_up_tokenization_spaces: bool
    split_special_tokens: bool
    additional_special_tokens: list[str]

    @classmethod
    def from_pretrained(
        cls: type[T],
        pretrained_model_name_or_path: str | os.PathLike,
        *,
        cache_dir: str | os.PathLike | None = None,
        force_download: bool = False,
        local_files_only: bool = False,
        token: str | bool | None = None,
        revision: str | None = None,
        subfolder: str = "",
        **kwargs: Any,
    ) -> T:
        """Load a tokenizer from a local folder or a Hugging Face Hub repo id.

        Reads `tokenizer.json` (preferred) or `vocab.json` + `merges.txt`, and `tokenizer_config.json` /
        `special_tokens_map.json` when present (`model_max_length`, `add_prefix_space`, special tokens, ...).
        Hub ids are resolved by `tf_longformer.hub` as for models (tokenizer files only); with
        `HF_HUB_OFFLINE=1` or `TRANSFORMERS_OFFLINE=1` only the cache is used, and a repo that is not cached
        raises a clear `OSError`.

        Args:
            pretrained_model_name_or_path: Folder or repo id (e.g. `"allenai/longformer-base-4096"`).
            cache_dir: Hub cache folder (default from `HF_HUB_CACHE` / `HF_HOME`).
            force_download: Download again even if cached.
            local_files_only: Never use the network.
            token: Hub token for private / gated repos.
            revision: Branch, tag or commit.
            subfolder: Folder inside the repo.
            **kwargs: `proxies` and the old `use_auth_token` go to the hub as for models; transformers-4
                arguments with no effect here (`trust_remote_code`, ...) are ignored; the rest are constructor arguments overriding the config (e.g. `model_max_length=1024`,
                `add_prefix_space=True`, `padding_side="left"`).

        Returns:
            The tokenizer.

        Raises:
            OSError: The folder / repo cannot be found or holds no tokenizer files.

        Example:
            >>> tok = LongformerTokenizerFast.from_pretrained("allenai/longformer-base-4096")  # doctest: +SKIP
            >>> tok.model_max_length                                                          # doctest: +SKIP
            4096
        """
        hub_options, kwargs = split_hub_options(
            kwargs, cache_dir=cache_dir, force_download=force_download, local_files_only=local_files_only,
            token=token, revision=revision, subfolder=subfolder)
        folder = Path(resolve_model_folder(pretrained_model_name_or_path, patterns=TOKENIZER_FILE_PATTERNS,
                                           what="tokenizer", **hub_options))
        config = read_tokenizer_config(folder)
        init_kwargs: dict[str, Any] = {key: value for key, value in config.items() if key in CONFIG_KEYS}
        init_kwargs.update(kwargs)
        name = str(pretrained_model_name_or_path)
        if init_kwargs.get("model_max_length") is None and name in MAX_MODEL_INPUT_SIZES:
            init_kwargs["model_max_length"] = MAX_MODEL_INPUT_SIZES[name]
        if (folder / TOKENIZER_FILE).is_file():
            files = {"tokenizer_file": str(folder / TOKENIZER_FILE)}
        elif (folder / VOCAB_FILE).is_file() and (folder / MERGES_FILE).is_file():
            files = {"vocab_file": str(folder / VOCAB_FILE), "merges_file": str(folder / MERGES_FILE)}
        else:
            raise OSError(
                f"No tokenizer files in {str(folder)!r}: expected {TOKENIZER_FILE}, or {VOCAB_FILE} and {MERGES_FILE}."
            )
        init_kwargs.setdefault("name_or_path", name)
        return cls(**files, **init_kwargs)

    def save_pretrained(
        self, save_directory: str | os.PathLike, filename_prefix: str | None = None
    ) -> tuple[str, ...]:
        """Write the tokenizer so that this package and transformers' `LongformerTokenizerFast` can load it.

        Writes `tokenizer.json`, `vocab.json`, `merges.txt`, `tokenizer_config.json` (with
        `added_tokens_decoder`, so `<mask>` keeps `lstrip=True`) and `special_tokens_map.json`.

        Args:
            save_directory: Folder to write into (created if needed).
            filename_prefix: Optional prefix for every file name (`prefix-vocab.json`, ...).

        Returns:
            The paths written.

        Example:
            >>> tok.save_pretrained("out/tokenizer")   # doctest: +SKIP
            ('out/tokenizer/tokenizer_config.json', ...)
        """
        directory = Path(save_directory)
        if directory.is_file():
            raise OSError(f"{str(directory)!r} is a file, not a folder")
        directory.mkdir(parents=True, exist_ok=True)
        prefix = f"{filename_prefix}-" if filename_prefix else ""
        backend = self._backend
        backend.no_truncation()
        backend.no_padding()

        special_states = {
            name: _token_state(token) for name, token in self._special_tokens.items() if token is not None
        }
        config: dict[str, Any] = {
            "tokenizer_class": "LongformerTokenizer",
            "errors": self.errors,
            "add_prefix_space": self.add_prefix_space,
            "trim_offsets": self.trim_offsets,
            "model_max_length": self.model_max_length,
            "padding_side": self.padding_side,
            "truncation_side": self.truncation_side,
            "model_input_names": list(self.model_input_names),
            "clean_up_tokenization_spaces": self.clean_up_tokenization_spaces,
            **{name: state["content"] for name, state in special_states.items()},
            "added_tokens_decoder": {
                str(index): _token_state(token)
                for index, token in sorted(backend.get_added_tokens_decoder().items())
            },
        }
        if self.split_special_tokens:
            config["split_special_tokens"] = True
        additional = self.additional_special_tokens
        if additional:
            config["additional_special_tokens"] = additional
        special_map: dict[str, Any] = {
            name: {k: v for k, v in state.items() if k != "special"} for name, state in special_states.items()
        }
        if additional:
            special_map["additional_special_tokens"] = additional

        written = []
        for file_name, content in ((TOKENIZER_CONFIG_FILE, config), (SPECIAL_TOKENS_MAP_FILE, special_map)):
            path = directory / (prefix + file_name)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(content, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
            written.append(str(path))
        tokenizer_path = directory / (prefix + TOKENIZER_FILE)
        backend.save(str(tokenizer_path))
        written.append(str(tokenizer_path))
        written.extend(backend.model.save(str(directory), filename_prefix or None))
        return tuple(written)

    def train_new_from_iterator(
        self: T,
        text_iterator: Iterable[str],
        vocab_size: int,
        length: int | None = None,
        *,
        min_frequency: int = 2,
        show_progress: bool = False,
        **kwargs: Any,
    ) -> T:
        """Train a new byte-level BPE with this tokenizer's settings and special tokens (RoBERTa id layout).

        Args:
            text_iterator: Training texts.
            vocab_size: Size of the new vocabulary (special tokens included, at least 261).
            length: Number of texts (progress bar only).
            min_frequency: Minimum count of a merge.
            show_progress: Show the progress bar.
            **kwargs: Constructor overrides for the new tokenizer.

        Returns:
            A new tokenizer of the same class.

        Example:
            >>> small = tok.train_new_from_iterator(texts, vocab_size=1000)   # doctest: +SKIP
        """
        specials = self._special_tokens
        leading = list(
            dict.fromkeys(
                str(specials[name])
                for name in ("cls_token", "pad_token", "sep_token", "unk_token")
                if specials[name]
            )
        )
        mask = str(specials["mask_token"]) if specials["mask_token"] is not None else "<mask>"
        backend = train_byte_level_bpe(
            text_iterator,
            vocab_size,
            min_frequency=min_frequency,
            add_prefix_space=self.add_prefix_space,
            leading_special_tokens=leading,
            mask_token=mask,
            length=length,
            show_progress=show_progress,
        )
        init: dict[str, Any] = {
            **{name: token for name, token in specials.items()},
            "add_prefix_space": self.add_prefix_space,
            "trim_offsets": self.trim_offsets,
            "model_max_length": self.model_max_length,
            "padding_side": self.padding_side,
            "truncation_side": self.truncation_side,
            "model_input_names": self.model_input_names,
            "clean_up_tokenization_spaces": self.clean_up_tokenization_spaces,
        }
        init.update(kwargs)
        return type(self)(tokenizer_object=backend, **init)
