"""`TFLongformerForTokenClassification`: a label per token (NER, tagging)."""

from __future__ import annotations

import keras

from ..losses import cross_entropy
from ..modeling_outputs import TFLongformerTokenClassifierOutput
from .pretrained import TFLongformerPreTrainedModel, dense_weights


@keras.saving.register_keras_serializable(package="tf_longformer")
class TFLongformerForTokenClassification(TFLongformerPreTrainedModel):
    """Longformer with a per-token linear classifier (transformers' `LongformerForTokenClassification`).

    With `labels` (`-100` = ignored) the output also holds the mean cross-entropy.

    Args:
        config: LongformerConfig (`num_labels`).

    Example:
        >>> from tf_longformer import LongformerConfig, TFLongformerForTokenClassification
        >>> config = LongformerConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2,
        ...                           num_attention_heads=2, intermediate_size=32, attention_window=4, num_labels=5)
        >>> tuple(TFLongformerForTokenClassification(config)(input_ids=[[0, 5, 6, 2]]).logits.shape)
        (1, 4, 5)
    """

    output_class = TFLongformerTokenClassifierOutput

    def __init__(self, config, **kwargs) -> None:
        super().__init__(config, **kwargs)
        c = self.config
        # === Layers ===
        self.dropout = keras.layers.Dropout(c.hidden_dropout_prob, dtype=self.dtype_policy)
        self.classifier = keras.layers.Dense(
            c.num_labels, kernel_initializer=keras.initializers.TruncatedNormal(stddev=c.initializer_range),
            name="classifier", dtype=self.dtype_policy)
        self.classifier.build((None, None, c.hidden_size))

    def head_weights(self) -> dict:
        return dense_weights("classifier", self.classifier)

    def task_outputs(self, backbone_output, inputs, training) -> dict:
        return {"logits": self.classifier(self.dropout(backbone_output.last_hidden_state, training=training))}

    def task_loss(self, outputs, targets):
        return cross_entropy(outputs["logits"], targets["labels"])
