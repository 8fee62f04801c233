"""tf-longformer: Longformer for TensorFlow 2 / Keras 3 with the Hugging Face API."""

import os as _os

_os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from .configuration import LongformerConfig  # noqa: E402
from .input_checks import InvalidInputError  # noqa: E402
from .modeling_outputs import (  # noqa: E402
    TFLongformerBaseModelOutput,
    TFLongformerBaseModelOutputWithPooling,
    TFLongformerMaskedLMOutput,
    TFLongformerMultipleChoiceModelOutput,
    TFLongformerQuestionAnsweringModelOutput,
    TFLongformerSequenceClassifierOutput,
    TFLongformerTokenClassifierOutput,
)
from .models.base_model import TFLongformerModel  # noqa: E402
from .models.masked_lm import TFLongformerForMaskedLM  # noqa: E402
from .models.multiple_choice import TFLongformerForMultipleChoice  # noqa: E402
from .models.pretrained import TFLongformerPreTrainedModel  # noqa: E402
from .models.question_answering import TFLongformerForQuestionAnswering  # noqa: E402
from .models.sequence_classification import TFLongformerForSequenceClassification  # noqa: E402
from .models.token_classification import TFLongformerForTokenClassification  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "InvalidInputError",
    "LongformerConfig",
    "TFLongformerBaseModelOutput",
    "TFLongformerBaseModelOutputWithPooling",
    "TFLongformerForMaskedLM",
    "TFLongformerForMultipleChoice",
    "TFLongformerForQuestionAnswering",
    "TFLongformerForSequenceClassification",
    "TFLongformerForTokenClassification",
    "TFLongformerMaskedLMOutput",
    "TFLongformerModel",
    "TFLongformerMultipleChoiceModelOutput",
    "TFLongformerPreTrainedModel",
    "TFLongformerQuestionAnsweringModelOutput",
    "TFLongformerSequenceClassifierOutput",
    "TFLongformerTokenClassifierOutput",
]
