"""tf-longformer: Longformer for TensorFlow 2 / Keras 3 with the Hugging Face API.

Names are imported lazily, so `import tf_longformer` (and the command line) starts without loading
TensorFlow until a model, config or tokenizer is first used.

Example:
    >>> from tf_longformer import LongformerConfig, TFLongformerModel
"""

from __future__ import annotations

import importlib
import os as _os

_os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "LongformerConfig": "configuration",
    "InvalidInputError": "input_checks",
    "ModelOutput": "modeling_outputs",
    "TFLongformerBaseModelOutput": "modeling_outputs",
    "TFLongformerBaseModelOutputWithPooling": "modeling_outputs",
    "TFLongformerMaskedLMOutput": "modeling_outputs",
    "TFLongformerMultipleChoiceModelOutput": "modeling_outputs",
    "TFLongformerQuestionAnsweringModelOutput": "modeling_outputs",
    "TFLongformerSequenceClassifierOutput": "modeling_outputs",
    "TFLongformerTokenClassifierOutput": "modeling_outputs",
    "TFLongformerPreTrainedModel": "models.pretrained",
    "TFLongformerModel": "models.base_model",
    "TFLongformerForMaskedLM": "models.masked_lm",
    "TFLongformerForMultipleChoice": "models.multiple_choice",
    "TFLongformerForQuestionAnswering": "models.question_answering",
    "TFLongformerForSequenceClassification": "models.sequence_classification",
    "TFLongformerForTokenClassification": "models.token_classification",
    "WeightsMismatchError": "loading",
    "CheckpointError": "loading",
    "make_bucketed_dataset": "data",
    "LongformerTokenizerFast": "tokenizer",
    "LongformerTokenizer": "tokenizer",
    "BatchEncoding": "tokenizer",
    "build_tokenizer_files": "tokenizer",
    "export_saved_model": "export.saved_model",
    "elongate": "elongation",
    "ElongationError": "elongation",
    "QuantizationError": "quantization",
    "pipeline": "pipelines",
    "PushToHubCallback": "keras_callbacks",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tf_longformer' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
