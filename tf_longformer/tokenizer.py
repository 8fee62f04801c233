"""Public entry point of the tokenizer: `from tf_longformer.tokenizer import LongformerTokenizerFast`.

The implementation lives in `tf_longformer.tokenization` (one concern per module).

Example:
    >>> from tf_longformer.tokenizer import LongformerTokenizerFast          # doctest: +SKIP
    >>> tok = LongformerTokenizerFast.from_pretrained("allenai/longformer-base-4096")
    >>> tok("Hello <mask>.", return_tensors="tf")["input_ids"]
"""

from .tokenization import (
    BatchEncoding,
    CharSpan,
    LongformerTokenizer,
    LongformerTokenizerFast,
    TokenSpan,
    build_tokenizer_files,
    train_byte_level_bpe,
)

__all__ = [
    "BatchEncoding",
    "CharSpan",
    "LongformerTokenizer",
    "LongformerTokenizerFast",
    "TokenSpan",
    "build_tokenizer_files",
    "train_byte_level_bpe",
]
