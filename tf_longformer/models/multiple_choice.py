"""`TFLongformerForMultipleChoice`: one score per candidate answer, softmax across the candidates."""

from __future__ import annotations

import keras
import tensorflow as tf

from ..input_checks import InvalidInputError
from ..layers.shapes import dims
from ..losses import cross_entropy
from ..modeling_outputs import TFLongformerMultipleChoiceModelOutput
from .default_global_attention import question_global_attention_mask
from .pretrained_model import TFLongformerPreTrainedModel, dense_weights

# inputs whose leading axes are (batch, choices); head_mask is per model, not per example
_PER_CHOICE = ("input_ids", "attention_mask", "global_attention_mask", "token_type_ids", "position_ids",
               "inputs_embeds")


def _flatten_choices(x):
    """`(batch, choices, ...)` → `(batch * choices, ...)`."""
    if x is None:
        return None
    x = tf.convert_to_tensor(x)
    return tf.reshape(x, [-1, *dims(x)[2:]])


def _main_input(inputs: dict) -> tf.Tensor:
    source = inputs.get("input_ids")
    return tf.convert_to_tensor(source if source is not None else inputs["inputs_embeds"])


@keras.saving.register_keras_serializable(package="tf_longformer")
class TFLongformerForMultipleChoice(TFLongformerPreTrainedModel):
    """Longformer scoring each of `num_choices` inputs (transformers' `LongformerForMultipleChoice`).

    Inputs have shape `(batch, num_choices, seq)`. Without `global_attention_mask` the tokens after the
    second `</s>` of each choice get global attention, as in transformers. With `labels` (index of the
    right choice) the output also holds the mean cross-entropy.

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

    output_class = TFLongformerMultipleChoiceModelOutput
    with_pooler = True

    def __init__(self, config, **kwargs) -> None:
        super().__init__(config, **kwargs)
        c = self.config
        # === Layers ===
        self.dropout = keras.layers.Dropout(c.hidden_dropout_prob, dtype=self.dtype_policy)
        self.classifier = keras.layers.Dense(
            1, kernel_initializer=keras.initializers.TruncatedNormal(stddev=c.initializer_range),
            name="classifier", dtype=self.dtype_policy)
        self.classifier.build((None, c.hidden_size))

    def head_weights(self) -> dict:
        return dense_weights("classifier", self.classifier)

    def default_global_attention(self, input_ids):
        return question_global_attention_mask(input_ids, self.config.sep_token_id, before_sep_token=False)

    def backbone_inputs(self, inputs: dict) -> dict:
        source = _main_input(inputs)
        expected_rank = 3 if inputs.get("input_ids") is not None else 4
        if source.shape.rank != expected_rank:
            raise InvalidInputError(
                f"Multiple-choice inputs need shape (batch, num_choices, sequence_length"
                f"{', hidden' if expected_rank == 4 else ''}), got rank {source.shape.rank}."
            )
        return {k: _flatten_choices(v) if k in _PER_CHOICE else v for k, v in inputs.items()}

    def task_outputs(self, backbone_output, inputs, training) -> dict:
        source = _main_input(inputs)
        logits = self.classifier(self.dropout(backbone_output.pooler_output, training=training))
        return {"logits": tf.reshape(logits, [-1, dims(source)[1]])}

    def task_loss(self, outputs, targets):
        return cross_entropy(outputs["logits"], targets["labels"])
