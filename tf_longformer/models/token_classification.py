"""`TFLongformerForTokenClassification`: a label per token (NER, tagging)."""

from __future__ import annotations

import keras

from ..losses import cross_entropy
from ..modeling_outputs import TFLongformerTokenClassifierOutput
from .backbone import TFLongformerMainLayer
from .pretrained import TFLongformerPreTrainedModel


@keras.saving.register_keras_serializable(package="tf_longformer")
class TFLongformerForTokenClassification(TFLongformerPreTrainedModel):
    """Longformer with a per-token linear classifier (transformers' `LongformerForTokenClassification`).

    Args:
        config: LongformerConfig (`num_labels`).

    Example:
        >>> from tf_longformer import LongformerConfig, TFLongformerForTokenClassification
        >>> config = LongformerConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2,
        ...                           num_attention_heads=2, intermediate_size=32, attention_window=4, num_labels=5)
        >>> tuple(TFLongformerForTokenClassification(config)(input_ids=[[0, 5, 6, 2]]).logits.shape)
        (1, 4, 5)
    """

    def __init__(self, config, **kwargs) -> None:
        super().__init__(config, **kwargs)
        c = self.config
        self.longformer = TFLongformerMainLayer(c, add_pooling_layer=False, name="longformer", dtype=self.dtype_policy)
        self.dropout = keras.layers.Dropout(c.hidden_dropout_prob, dtype=self.dtype_policy)
        self.classifier = keras.layers.Dense(
            c.num_labels, kernel_initializer=keras.initializers.TruncatedNormal(stddev=c.initializer_range),
            name="classifier", dtype=self.dtype_policy)
        self.longformer.build()
        self.classifier.build((None, None, c.hidden_size))
        self.built = True

    def hf_weights(self) -> dict:
        out = {f"longformer.{k}": v for k, v in self.longformer.hf_weights().items()}
        out["classifier.weight"] = (self.classifier.kernel, True)
        out["classifier.bias"] = (self.classifier.bias, False)
        return out

    def call(self, input_ids=None, attention_mask=None, global_attention_mask=None, token_type_ids=None,
             position_ids=None, inputs_embeds=None, output_attentions=None, output_hidden_states=None,
             return_dict=None, labels=None, training=False) -> TFLongformerTokenClassifierOutput:
        """Tag every token; with `labels` (`-100` = ignored) also the mean cross-entropy."""
        inputs, targets = self._split_inputs(input_ids, attention_mask=attention_mask, global_attention_mask=global_attention_mask,
            token_type_ids=token_type_ids, position_ids=position_ids, inputs_embeds=inputs_embeds, labels=labels)
        labels = targets["labels"]
        out, return_dict = self._run_backbone(inputs, output_attentions, output_hidden_states, return_dict, training)
        logits = self.classifier(self.dropout(out.last_hidden_state, training=training))
        return self._finish(TFLongformerTokenClassifierOutput(
            loss=None if labels is None else cross_entropy(logits, labels),
            logits=logits, hidden_states=out.hidden_states, attentions=out.attentions,
            global_attentions=out.global_attentions,
        ), return_dict)
