"""`TFLongformerForMaskedLM`: masked-token prediction with the decoder tied to the word embeddings."""

from __future__ import annotations

import keras

from ..layers.heads import LongformerLMHead
from ..losses import cross_entropy
from ..modeling_outputs import TFLongformerMaskedLMOutput
from .backbone import TFLongformerMainLayer
from .pretrained import TFLongformerPreTrainedModel


@keras.saving.register_keras_serializable(package="tf_longformer")
class TFLongformerForMaskedLM(TFLongformerPreTrainedModel):
    """Longformer with a language-modelling head (transformers' `LongformerForMaskedLM`).

    Args:
        config: LongformerConfig.

    Example:
        >>> from tf_longformer import LongformerConfig, TFLongformerForMaskedLM
        >>> config = LongformerConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2,
        ...                           num_attention_heads=2, intermediate_size=32, attention_window=4)
        >>> model = TFLongformerForMaskedLM(config)
        >>> out = model(input_ids=[[0, 5, 6, 2]], labels=[[-100, 5, -100, -100]])
        >>> tuple(out.logits.shape), out.loss.shape.rank
        ((1, 4, 50), 0)
    """

    def __init__(self, config, **kwargs) -> None:
        super().__init__(config, **kwargs)
        c = self.config
        self.longformer = TFLongformerMainLayer(c, add_pooling_layer=False, name="longformer", dtype=self.dtype_policy)
        self.lm_head = LongformerLMHead(c.hidden_size, c.vocab_size, c.layer_norm_eps, c.tie_word_embeddings,
                                        c.initializer_range, name="lm_head", dtype=self.dtype_policy)
        self.longformer.build()
        self.lm_head.build()
        self.built = True

    def hf_weights(self) -> dict:
        out = {f"longformer.{k}": v for k, v in self.longformer.hf_weights().items()}
        out.update({f"lm_head.{k}": v for k, v in self.lm_head.hf_weights().items()})
        return out

    def call(self, input_ids=None, attention_mask=None, global_attention_mask=None, token_type_ids=None,
             position_ids=None, inputs_embeds=None, output_attentions=None, output_hidden_states=None,
             return_dict=None, labels=None, training=False) -> TFLongformerMaskedLMOutput:
        """Predict tokens; with `labels` (`-100` = ignored) also the mean cross-entropy."""
        inputs, targets = self._split_inputs(input_ids, attention_mask=attention_mask, global_attention_mask=global_attention_mask,
            token_type_ids=token_type_ids, position_ids=position_ids, inputs_embeds=inputs_embeds, labels=labels)
        labels = targets["labels"]
        out, return_dict = self._run_backbone(inputs, output_attentions, output_hidden_states, return_dict, training)
        logits = self.lm_head(out.last_hidden_state, self.longformer.word_embeddings)
        return self._finish(TFLongformerMaskedLMOutput(
            loss=None if labels is None else cross_entropy(logits, labels),
            logits=logits, hidden_states=out.hidden_states, attentions=out.attentions,
            global_attentions=out.global_attentions,
        ), return_dict)
