"""`TFLongformerForQuestionAnswering`: answer-span start and end logits over the context."""

from __future__ import annotations

import keras
import tensorflow as tf

from ..default_global_attention import question_global_attention_mask
from ..losses import span_loss
from ..modeling_outputs import TFLongformerQuestionAnsweringModelOutput
from .backbone import TFLongformerMainLayer
from .pretrained import TFLongformerPreTrainedModel


@keras.saving.register_keras_serializable(package="tf_longformer")
class TFLongformerForQuestionAnswering(TFLongformerPreTrainedModel):
    """Longformer with a span head (transformers' `LongformerForQuestionAnswering`).

    Inputs are `<s> question </s></s> context </s>`; without `global_attention_mask` the question tokens
    (before the first `</s>`) get global attention, as in transformers.

    Args:
        config: LongformerConfig (`num_labels` = 2).

    Example:
        >>> from tf_longformer import LongformerConfig, TFLongformerForQuestionAnswering
        >>> config = LongformerConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2,
        ...                           num_attention_heads=2, intermediate_size=32, attention_window=4)
        >>> out = TFLongformerForQuestionAnswering(config)(input_ids=[[0, 7, 2, 2, 8, 9, 2]])
        >>> tuple(out.start_logits.shape)
        (1, 7)
    """

    def __init__(self, config, **kwargs) -> None:
        super().__init__(config, **kwargs)
        c = self.config
        self.longformer = TFLongformerMainLayer(c, add_pooling_layer=False, name="longformer", dtype=self.dtype_policy)
        self.qa_outputs = keras.layers.Dense(
            c.num_labels, kernel_initializer=keras.initializers.TruncatedNormal(stddev=c.initializer_range),
            name="qa_outputs", dtype=self.dtype_policy)
        self.longformer.build()
        self.qa_outputs.build((None, None, c.hidden_size))
        self.built = True

    def hf_weights(self) -> dict:
        out = {f"longformer.{k}": v for k, v in self.longformer.hf_weights().items()}
        out["qa_outputs.weight"] = (self.qa_outputs.kernel, True)
        out["qa_outputs.bias"] = (self.qa_outputs.bias, False)
        return out

    def call(self, input_ids=None, attention_mask=None, global_attention_mask=None, token_type_ids=None,
             position_ids=None, inputs_embeds=None, output_attentions=None, output_hidden_states=None,
             return_dict=None, start_positions=None, end_positions=None,
             training=False) -> TFLongformerQuestionAnsweringModelOutput:
        """Score spans; with `start_positions` and `end_positions` also the mean span loss."""
        inputs, targets = self._split_inputs(input_ids, attention_mask=attention_mask, global_attention_mask=global_attention_mask,
            token_type_ids=token_type_ids, position_ids=position_ids, inputs_embeds=inputs_embeds,
            start_positions=start_positions, end_positions=end_positions)
        start_positions, end_positions = targets["start_positions"], targets["end_positions"]
        out, return_dict = self._run_backbone(
            inputs, output_attentions, output_hidden_states, return_dict, training,
            default_global_attention=lambda ids: question_global_attention_mask(ids, self.config.sep_token_id))
        logits = self.qa_outputs(out.last_hidden_state)
        start_logits, end_logits = tf.unstack(logits, num=2, axis=-1)
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = span_loss(start_logits, end_logits, start_positions, end_positions)
        return self._finish(TFLongformerQuestionAnsweringModelOutput(
            loss=loss, start_logits=start_logits, end_logits=end_logits, hidden_states=out.hidden_states,
            attentions=out.attentions, global_attentions=out.global_attentions,
        ), return_dict)
