"""Longformer / RoBERTa byte-level BPE tokenizer with the Hugging Face API, built on `tokenizers` only."""

from .batch_encoding import BatchEncoding, CharSpan, TokenSpan
from .longformer import LongformerTokenizer, LongformerTokenizerFast
from .training import build_tokenizer_files, train_byte_level_bpe

__all__ = [
    "BatchEncoding",
    "CharSpan",
    "LongformerTokenizer",
    "LongformerTokenizerFast",
    "TokenSpan",
    "build_tokenizer_files",
    "train_byte_level_bpe",
]
