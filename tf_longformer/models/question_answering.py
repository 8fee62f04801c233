"""`TFLongformerForQuestionAnswering`: answer-span start and end logits over the context."""

from __future__ import annotations

import keras
import tensorflow as tf

from ..losses import span_loss
from ..modeling_outputs import TFLongformerQuestionAnsweringModelOutput
from .default_global_attention import question_global_attention_mask
from .pretrained_model import TFLongformerPreTrainedModel, dense_weights


@keras.saving.register_keras_serializable(package="tf_longformer")
class TFLongformerForQuestionAnswering(TFLongformerPreTrainedModel):
    """Longformer with a span head (transformers' `LongformerForQuestionAnswering`).

    Inputs are `<s> question </s></s> context </s>`; without `global_attention_mask` the question tokens
    (before the first `</s>`) get global attention, as in transformers. With `start_positions` and
    `end_positions` the output also holds the mean span loss.

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

    output_class = TFLongformerQuestionAnsweringModelOutput
    target_names = ("start_positions", "end_positions")

    def __init__(self, config, **kwargs) -> None:
        super().__init__(config, **kwargs)
        c = self.config
        # === Layers ===
        self.qa_outputs = keras.layers.Dense(
            c.num_labels, kernel_initializer=keras.initializers.TruncatedNormal(stddev=c.initializer_range),
            name="qa_outputs", dtype=self.dtype_policy)
        self.qa_outputs.build((None, None, c.hidden_size))

    # transformers 4's signature: the two span targets take the place of `labels`
    def call(self, input_ids=None, attention_mask=None, head_mask=None, global_attention_mask=None,
             token_type_ids=None, position_ids=None, inputs_embeds=None, output_attentions=None,
             output_hidden_states=None, return_dict=None, start_positions=None, end_positions=None,
             training=False):
        """See `TFLongformerPreTrainedModel.call`; `start_positions` / `end_positions`: `(batch,)` answer span."""
        inputs = dict(input_ids=input_ids, attention_mask=attention_mask, head_mask=head_mask,
                      global_attention_mask=global_attention_mask, token_type_ids=token_type_ids,
                      position_ids=position_ids, inputs_embeds=inputs_embeds)
        return self._forward(inputs, {"start_positions": start_positions, "end_positions": end_positions},
                            output_attentions, output_hidden_states, return_dict, training)

    def head_weights(self) -> dict:
        return dense_weights("qa_outputs", self.qa_outputs)

    def default_global_attention(self, input_ids):
        return question_global_attention_mask(input_ids, self.config.sep_token_id)

    def task_outputs(self, backbone_output, inputs, training) -> dict:
        start_logits, end_logits = tf.unstack(self.qa_outputs(backbone_output.last_hidden_state), num=2, axis=-1)
        return {"start_logits": start_logits, "end_logits": end_logits}

    def task_loss(self, outputs, targets):
        return span_loss(outputs["start_logits"], outputs["end_logits"], targets["start_positions"],
                         targets["end_positions"])
