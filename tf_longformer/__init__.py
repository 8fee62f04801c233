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

__version__ = "0.1.0"
