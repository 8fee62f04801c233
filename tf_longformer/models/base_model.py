"""`TFLongformerModel`: the bare encoder (last hidden state and pooled first token)."""

from __future__ import annotations

import keras

from ..modeling_outputs import TFLongformerBaseModelOutputWithPooling
from .pretrained import TFLongformerPreTrainedModel


@keras.saving.register_keras_serializable(package="tf_longformer")
class TFLongformerModel(TFLongformerPreTrainedModel):
    """The Longformer encoder, transformers' `LongformerModel`.

    Args:
        config: LongformerConfig.
        add_pooling_layer: bool. Build the pooler (default True).

    Example:
        >>> from tf_longformer import LongformerConfig, TFLongformerModel
        >>> config = LongformerConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2,
        ...                           num_attention_heads=2, intermediate_size=32, attention_window=4)
        >>> model = TFLongformerModel(config)
        >>> out = model(input_ids=[[0, 5, 6, 7, 2]], global_attention_mask=[[1, 0, 0, 0, 0]])
        >>> tuple(out.last_hidden_state.shape), tuple(out.pooler_output.shape)
        ((1, 5, 16), (1, 16))
    """

    output_class = TFLongformerBaseModelOutputWithPooling
    target_names = ()
    with_pooler = True
    backbone_weights_prefix = ""

    def __init__(self, config, add_pooling_layer: bool = True, **kwargs) -> None:
        super().__init__(config, add_pooling_layer=add_pooling_layer, **kwargs)

    def task_outputs(self, backbone_output, inputs, training) -> dict:
        return {"last_hidden_state": backbone_output.last_hidden_state,
                "pooler_output": backbone_output.pooler_output}

    def get_config(self) -> dict:
        return {**super().get_config(), "add_pooling_layer": self.add_pooling_layer}
