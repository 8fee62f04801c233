"""`TFLongformerForSequenceClassification`: a label (or score) per document from the first token."""

from __future__ import annotations

import keras

from ..layers.heads import LongformerClassificationHead
from ..losses import sequence_classification_loss
from ..modeling_outputs import TFLongformerSequenceClassifierOutput
from .default_global_attention import cls_global_attention_mask
from .pretrained_model import TFLongformerPreTrainedModel, prefixed


@keras.saving.register_keras_serializable(package="tf_longformer")
class TFLongformerForSequenceClassification(TFLongformerPreTrainedModel):
    """Longformer with a classification/regression head (transformers' `LongformerForSequenceClassification`).

    Without `global_attention_mask` the first token (`<s>`) gets global attention, as in transformers.
    The loss follows `config.problem_type` (regression / single-label / multi-label).

    Args:
        config: LongformerConfig (`num_labels`, `problem_type`).

    Example:
        >>> from tf_longformer import LongformerConfig, TFLongformerForSequenceClassification
        >>> config = LongformerConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2,
        ...                           num_attention_heads=2, intermediate_size=32, attention_window=4, num_labels=3)
        >>> out = TFLongformerForSequenceClassification(config)(input_ids=[[0, 5, 6, 2]], labels=[2])
        >>> tuple(out.logits.shape)
        (1, 3)
    """

    output_class = TFLongformerSequenceClassifierOutput

    def __init__(self, config, **kwargs) -> None:
        super().__init__(config, **kwargs)
        c = self.config
        # === Layers ===
        self.classifier = LongformerClassificationHead(c.hidden_size, c.num_labels, c.hidden_dropout_prob,
                                                       c.initializer_range, name="classifier", dtype=self.dtype_policy)
        self.classifier.build()

    def head_weights(self) -> dict:
        return prefixed("classifier", self.classifier.hf_weights())

    def default_global_attention(self, input_ids):
        return cls_global_attention_mask(input_ids)

    def task_outputs(self, backbone_output, inputs, training) -> dict:
        return {"logits": self.classifier(backbone_output.last_hidden_state, training=training)}

    def task_loss(self, outputs, targets):
        return sequence_classification_loss(outputs["logits"], targets["labels"], self.config.num_labels,
                                            self.config.problem_type)
