"""The model classes; importing this package registers all of them with Keras serialisation."""

from .feature_extraction import TFLongformerModel
from .masked_lm import TFLongformerForMaskedLM
from .multiple_choice import TFLongformerForMultipleChoice
from .pretrained_model import TFLongformerPreTrainedModel
from .question_answering import TFLongformerForQuestionAnswering
from .sequence_classification import TFLongformerForSequenceClassification
from .token_classification import TFLongformerForTokenClassification

__all__ = [
    "TFLongformerForMaskedLM",
    "TFLongformerForMultipleChoice",
    "TFLongformerForQuestionAnswering",
    "TFLongformerForSequenceClassification",
    "TFLongformerForTokenClassification",
    "TFLongformerModel",
    "TFLongformerPreTrainedModel",
]
