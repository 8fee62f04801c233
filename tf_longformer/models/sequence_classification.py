"""`TFLongformerForSequenceClassification`: a label (or score) per document from the first token."""

from __future__ import annotations

import keras

from ..default_global_attention import cls_global_attention_mask
from ..layers.heads import LongformerClassificationHead
from ..losses import sequence_classification_loss
from ..modeling_outputs import TFLongformerSequenceClassifierOutput
from .backbone import TFLongformerMainLayer
from .pretrained import TFLongformerPreTrainedModel


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

    def __init__(self, config, **kwargs) -> None:
        super().__init__(config, **kwargs)
        c = self.config
        self.longformer = TFLongformerMainLayer(c, add_pooling_layer=False, name="longformer", dtype=self.dtype_policy)
        self.classifier = LongformerClassificationHead(c.hidden_size, c.num_labels, c.hidden_dropout_prob,
                                                       c.initializer_range, name="classifier", dtype=self.dtype_policy)
        self.longformer.build()
        self.classifier.build()
        self.built = True

    def hf_weights(self) -> dict:
        out = {f"longformer.{k}": v for k, v in self.longformer.hf_weights().items()}
        out.update({f"classifier.{k}": v for k, v in self.classifier.hf_weights().items()})
        return out

    def call(self, input_ids=None, attention_mask=None, global_attention_mask=None, token_type_ids=None,
             position_ids=None, inputs_embeds=None, output_attentions=None, output_hidden_states=None,
             return_dict=None, labels=None, training=False) -> TFLongformerSequenceClassifierOutput:
        """Classify; with `labels` also the loss of `config.problem_type`."""
        inputs, targets = self._split_inputs(input_ids, attention_mask=attention_mask, global_attention_mask=global_attention_mask,
            token_type_ids=token_type_ids, position_ids=position_ids, inputs_embeds=inputs_embeds, labels=labels)
        labels = targets["labels"]
        out, return_dict = self._run_backbone(inputs, output_attentions, output_hidden_states, return_dict, training,
                                              default_global_attention=cls_global_attention_mask)
        logits = self.classifier(out.last_hidden_state, training=training)
        loss = None
        if labels is not None:
            loss = sequence_classification_loss(logits, labels, self.config.num_labels, self.config.problem_type)
        return self._finish(TFLongformerSequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=out.hidden_states, attentions=out.attentions,
            global_attentions=out.global_attentions,
        ), return_dict)
