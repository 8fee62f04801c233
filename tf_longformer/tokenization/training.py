"""Training a small RoBERTa-style byte-level BPE (for tests and demo models)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

#: RoBERTa's special tokens in id order; `<mask>` is always the last id of the vocabulary.
ROBERTA_LEADING_SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>")
ROBERTA_MASK_TOKEN = "<mask>"
_BYTE_ALPHABET_SIZE = 256


def train_byte_level_bpe(
    texts: Iterable[str],
    vocab_size: int,
    *,
    min_frequency: int = 2,
    add_prefix_space: bool = False,
    leading_special_tokens: Iterable[str] = ROBERTA_LEADING_SPECIAL_TOKENS,
    mask_token: str = ROBERTA_MASK_TOKEN,
    length: int | None = None,
    show_progress: bool = False,
) -> Tokenizer:
    """Train a byte-level BPE laid out like RoBERTa's: `<s>`=0, `<pad>`=1, `</s>`=2, `<unk>`=3, then the 256
    byte symbols and the merges, and `<mask>` as the last id.

    The returned backend has the byte-level pre-tokenizer and decoder but no post-processor or added tokens;
    wrap it in `LongformerTokenizerFast(tokenizer_object=...)`.

    Args:
        texts: Training texts (any iterable of strings; read once).
        vocab_size: Largest vocabulary size including the 5 special tokens; at least 261 (no merges). A small
            corpus may yield fewer merges.
        min_frequency: Minimum count for a merge to be learnt.
        add_prefix_space: Pre-tokenizer option used while training.
        leading_special_tokens: Tokens given the first ids.
        mask_token: Token given the last id.
        length: Number of texts, for the progress bar only.
        show_progress: Show the `tokenizers` progress bar.

    Returns:
        A `tokenizers.Tokenizer`.

    Example:
        >>> backend = train_byte_level_bpe(["hello world"] * 10, vocab_size=270)
        >>> backend.token_to_id("<mask>")
        269
    """
    leading = list(leading_special_tokens)
    minimum = _BYTE_ALPHABET_SIZE + len(leading) + 1
    if vocab_size < minimum:
        raise ValueError(
            f"vocab_size must be at least {minimum} (256 bytes + special tokens), got {vocab_size}"
        )
    backend = Tokenizer(
        models.BPE(dropout=None, continuing_subword_prefix="", end_of_word_suffix="", fuse_unk=False)
    )
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - 1,
        min_frequency=min_frequency,
        special_tokens=leading,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=show_progress,
    )
    backend.train_from_iterator(texts, trainer=trainer, length=length)

    state = json.loads(backend.to_str())["model"]
    vocab: dict[str, int] = dict(state["vocab"])
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in state["merges"]]
    if mask_token in vocab:
        raise ValueError(f"{mask_token!r} was learnt as a regular token; it cannot also be the mask token")
    vocab[mask_token] = len(vocab)
    trained = Tokenizer(
        models.BPE(
            vocab=vocab,
            merges=merges,
            dropout=None,
            continuing_subword_prefix="",
            end_of_word_suffix="",
            fuse_unk=False,
        )
    )
    trained.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space)
    trained.decoder = decoders.ByteLevel()
    return trained


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
    from .longformer import LongformerTokenizerFast  # the class imports this module

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
