"""`TFLongformerForMaskedLM`: masked-token prediction with the decoder tied to the word embeddings."""

from __future__ import annotations

import keras

from ..layers.heads import LongformerLMHead
from ..losses import cross_entropy
from ..modeling_outputs import TFLongformerMaskedLMOutput
from .pretrained import TFLongformerPreTrainedModel, prefixed


@keras.saving.register_keras_serializable(package="tf_longformer")
class TFLongformerForMaskedLM(TFLongformerPreTrainedModel):
    """Longformer with a language-modelling head (transformers' `LongformerForMaskedLM`).

    With `labels` (`-100` = ignored) the output also holds the mean cross-entropy.

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

    output_class = TFLongformerMaskedLMOutput

    def __init__(self, config, **kwargs) -> None:
        super().__init__(config, **kwargs)
        c = self.config
        # === Layers ===
        self.lm_head = LongformerLMHead(c.hidden_size, c.vocab_size, c.layer_norm_eps, c.tie_word_embeddings,
                                        c.initializer_range, name="lm_head", dtype=self.dtype_policy)
        self.lm_head.build()

    def head_weights(self) -> dict:
        return prefixed("lm_head", self.lm_head.hf_weights())

    def task_outputs(self, backbone_output, inputs, training) -> dict:
        return {"logits": self.lm_head(backbone_output.last_hidden_state, self.longformer.word_embeddings)}

    def task_loss(self, outputs, targets):
        return cross_entropy(outputs["logits"], targets["labels"])
