"""Training a RoBERTa-style byte-level BPE backend (`tokenizers` only; imports nothing of this package)."""

from __future__ import annotations

import json
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
