"""`TFLongformerModel`: the bare encoder (last hidden state and pooled first token)."""

from __future__ import annotations

import keras

from ..modeling_outputs import TFLongformerBaseModelOutputWithPooling
from .backbone import TFLongformerMainLayer
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

    def __init__(self, config, add_pooling_layer: bool = True, **kwargs) -> None:
        super().__init__(config, **kwargs)
        self.add_pooling_layer = add_pooling_layer
        self.longformer = TFLongformerMainLayer(self.config, add_pooling_layer, name="longformer",
                                                dtype=self.dtype_policy)
        self.longformer.build()
        self.built = True

    def hf_weights(self) -> dict:
        return self.longformer.hf_weights()

    def call(self, input_ids=None, attention_mask=None, global_attention_mask=None, token_type_ids=None,
             position_ids=None, inputs_embeds=None, output_attentions=None, output_hidden_states=None,
             return_dict=None, training=False) -> TFLongformerBaseModelOutputWithPooling:
        """Encode.

        Args:
            input_ids: `(batch, seq)` int ids (or a dict holding all inputs).
            attention_mask: `(batch, seq)` 1 for tokens, 0 for padding.
            global_attention_mask: `(batch, seq)` 1 for tokens with global attention.
            token_type_ids, position_ids: `(batch, seq)`; defaults as RoBERTa.
            inputs_embeds: `(batch, seq, hidden)` instead of `input_ids`.
            output_attentions, output_hidden_states, return_dict: as in transformers.
            training: dropout on.

        Returns:
            TFLongformerBaseModelOutputWithPooling (or its tuple).
        """
        inputs, _ = self._split_inputs(input_ids, attention_mask=attention_mask, global_attention_mask=global_attention_mask,
            token_type_ids=token_type_ids, position_ids=position_ids, inputs_embeds=inputs_embeds)
        out, return_dict = self._run_backbone(inputs, output_attentions, output_hidden_states, return_dict, training)
        return self._finish(out, return_dict)

    def get_config(self) -> dict:
        return {**super().get_config(), "add_pooling_layer": self.add_pooling_layer}
