"""A new tokenizer folder trained on a corpus: `build_tokenizer_files` (for tests and demo models)."""

from __future__ import annotations

import os
from collections.abc import Iterable

from .bpe_training import train_byte_level_bpe
from .longformer import LongformerTokenizerFast


def build_tokenizer_files(
    texts: Iterable[str],
    vocab_size: int,
    out_dir: str | os.PathLike,
    *,
    min_frequency: int = 2,
    model_max_length: int | None = None,
    add_prefix_space: bool = False,
    show_progress: bool = False,
) -> tuple[str, ...]:
    """Train a RoBERTa-style byte-level BPE on `texts` and save a complete tokenizer folder.

    Ids: `<s>`=0, `<pad>`=1, `</s>`=2, `<unk>`=3, bytes and merges, then `<mask>` last (with `lstrip=True`).
    The folder (`tokenizer.json`, `vocab.json`, `merges.txt`, `tokenizer_config.json`,
    `special_tokens_map.json`) loads with `LongformerTokenizerFast.from_pretrained(out_dir)` and with
    transformers' `LongformerTokenizerFast.from_pretrained(out_dir)`.

    Args:
        texts: Training texts (read once).
        vocab_size: Largest vocabulary size (at least 261: 256 bytes + 5 special tokens); a small corpus may
            give fewer merges, hence a smaller vocabulary (`<mask>` is still the last id).
        out_dir: Folder to write (created if needed).
        min_frequency: Minimum count for a merge.
        model_max_length: Saved as the tokenizer's `model_max_length` (e.g. the model's position limit).
        add_prefix_space: Tokenizer option, used for training and saved.
        show_progress: Show the `tokenizers` progress bar.

    Returns:
        The paths written.

    Example:
        >>> build_tokenizer_files(["some text", "more text"] * 100, 300, "/tmp/tok")   # doctest: +SKIP
    """
    backend = train_byte_level_bpe(
        texts,
        vocab_size,
        min_frequency=min_frequency,
        add_prefix_space=add_prefix_space,
        show_progress=show_progress,
    )
    tokenizer = LongformerTokenizerFast(
        tokenizer_object=backend, add_prefix_space=add_prefix_space, model_max_length=model_max_length
    )
    return tokenizer.save_pretrained(out_dir)
