"""`tf_longformer.elongate`: the paper's recipe for a Longformer from RoBERTa / BERT (see `converters.elongate`).

The work is done in `converters.elongate` (numpy and json only, no TensorFlow); this module is the public
entry point of the package.

Example:
    >>> import tf_longformer
    >>> tf_longformer.elongate("./roberta-base", "./longformer-base", max_length=4096,
    ...                        attention_window=512)                                  # doctest: +SKIP
    >>> model = tf_longformer.TFLongformerForMaskedLM.from_pretrained("./longformer-base")  # doctest: +SKIP
"""

from __future__ import annotations

from converters.elongate import ElongationError, ElongationResult, elongate

__all__ = ["ElongationError", "ElongationResult", "elongate"]
