"""`TFLongformerForMultipleChoice`: one score per candidate answer, softmax across the candidates."""

from __future__ import annotations

import keras
import tensorflow as tf

from ..default_global_attention import question_global_attention_mask
from ..input_checks import InvalidInputError
from ..losses import cross_entropy
from ..modeling_outputs import TFLongformerMultipleChoiceModelOutput
from .backbone import TFLongformerMainLayer
from .pretrained import TFLongformerPreTrainedModel


def _flatten_choices(x):
    """`(batch, choices, ...)` → `(batch * choices, ...)`."""
    if x is None:
        return None
    x = tf.convert_to_tensor(x)
    shape = tf.shape(x)
    return tf.reshape(x, tf.concat([[-1], shape[2:]], axis=0))


@keras.saving.register_keras_serializable(package="tf_longformer")
class TFLongformerForMultipleChoice(TFLongformerPreTrainedModel):
    """Longformer scoring each of `num_choices` inputs (transformers' `LongformerForMultipleChoice`).

    Inputs have shape `(batch, num_choices, seq)`. Without `global_attention_mask` the tokens after the
    second `</s>` of each choice get global attention, as in transformers.

    Args:
        config: LongformerConfig.

    Example:
        >>> from tf_longformer import LongformerConfig, TFLongformerForMultipleChoice
        >>> config = LongformerConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2,
        ...                           num_attention_heads=2, intermediate_size=32, attention_window=4)
        >>> ids = [[[0, 7, 2, 2, 8, 2], [0, 7, 2, 2, 9, 2]]]
        >>> tuple(TFLongformerForMultipleChoice(config)(input_ids=ids, labels=[1]).logits.shape)
        (1, 2)
    """

    def __init__(self, config, **kwargs) -> None:
        super().__init__(config, **kwargs)
        c = self.config
        self.longformer = TFLongformerMainLayer(c, add_pooling_layer=True, name="longformer", dtype=self.dtype_policy)
        self.dropout = keras.layers.Dropout(c.hidden_dropout_prob, dtype=self.dtype_policy)
        self.classifier = keras.layers.Dense(
            1, kernel_initializer=keras.initializers.TruncatedNormal(stddev=c.initializer_range),
            name="classifier", dtype=self.dtype_policy)
        self.longformer.build()
        self.classifier.build((None, c.hidden_size))
        self.built = True

    def hf_weights(self) -> dict:
        out = {f"longformer.{k}": v for k, v in self.longformer.hf_weights().items()}
        out["classifier.weight"] = (self.classifier.kernel, True)
        out["classifier.bias"] = (self.classifier.bias, False)
        return out

    def call(self, input_ids=None, attention_mask=None, global_attention_mask=None, token_type_ids=None,
             position_ids=None, inputs_embeds=None, output_attentions=None, output_hidden_states=None,
             return_dict=None, labels=None, training=False) -> TFLongformerMultipleChoiceModelOutput:
        """Score the choices; with `labels` (index of the right choice) also the mean cross-entropy."""
        inputs, targets = self._split_inputs(input_ids, attention_mask=attention_mask, global_attention_mask=global_attention_mask,
            token_type_ids=token_type_ids, position_ids=position_ids, inputs_embeds=inputs_embeds, labels=labels)
        labels = targets["labels"]
        source = inputs.get("input_ids")
        source = tf.convert_to_tensor(source if source is not None else inputs["inputs_embeds"])
        expected_rank = 3 if inputs.get("input_ids") is not None else 4
        if source.shape.rank != expected_rank:
            raise InvalidInputError(
                f"Multiple-choice inputs need shape (batch, num_choices, sequence_length"
                f"{', hidden' if expected_rank == 4 else ''}), got rank {source.shape.rank}."
            )
        num_choices = source.shape[1] if source.shape[1] is not None else tf.shape(source)[1]
        flat = {k: _flatten_choices(v) for k, v in inputs.items()}
        out, return_dict = self._run_backbone(
            flat, output_attentions, output_hidden_states, return_dict, training,
            default_global_attention=lambda ids: question_global_attention_mask(
                ids, self.config.sep_token_id, before_sep_token=False))
        logits = self.classifier(self.dropout(out.pooler_output, training=training))
        logits = tf.reshape(logits, tf.stack([-1, num_choices]))
        return self._finish(TFLongformerMultipleChoiceModelOutput(
            loss=None if labels is None else cross_entropy(logits, labels),
            logits=logits, hidden_states=out.hidden_states, attentions=out.attentions,
            global_attentions=out.global_attentions,
        ), return_dict)
