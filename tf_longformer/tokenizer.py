"""Public entry point of the tokenizer: `from tf_longformer.tokenizer import LongformerTokenizerFast`.

The implementation lives in `tf_longformer.tokenization` (one concern per module).

Example:
    >>> from tf_longformer.tokenizer import LongformerTokenizerFast          # doctest: +SKIP
    >>> tok = LongformerTokenizerFast.from_pretrained("allenai/longformer-base-4096")
    >>> tok("Hello <mask>.", return_tensors="tf")["input_ids"]
"""

from . import tokenization as _tokenization
from .tokenization import *  # noqa: F403  (the names listed in tokenization.__all__)

__all__ = list(_tokenization.__all__)
