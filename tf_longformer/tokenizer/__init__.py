"""Longformer / RoBERTa byte-level BPE tokenizer with the Hugging Face API, built on `tokenizers` only.

The one public import path: `from tf_longformer.tokenizer import LongformerTokenizerFast` (also exported
by `tf_longformer`). One concern per module: `longformer.py` the class, `vocabulary.py` tokens and ids,
`padding.py` padding and truncation, `serialization.py` `from_pretrained` / `save_pretrained`,
`bpe_training.py` BPE training, `build_files.py` a new tokenizer folder from a corpus.

Example:
    >>> from tf_longformer.tokenizer import LongformerTokenizerFast          # doctest: +SKIP
    >>> tok = LongformerTokenizerFast.from_pretrained("allenai/longformer-base-4096")
    >>> tok("Hello <mask>.", return_tensors="tf")["input_ids"]
"""

from .batch_encoding import BatchEncoding, CharSpan, TokenSpan
from .bpe_training import train_byte_level_bpe
from .build_files import build_tokenizer_files
from .longformer import LongformerTokenizer, LongformerTokenizerFast

__all__ = [
    "BatchEncoding",
    "CharSpan",
    "LongformerTokenizer",
    "LongformerTokenizerFast",
    "TokenSpan",
    "build_tokenizer_files",
    "train_byte_level_bpe",
]
