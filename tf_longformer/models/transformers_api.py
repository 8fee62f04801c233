"""The parts of transformers 4's `TFPreTrainedModel` beyond calling, loading and saving.

Embeddings (`get_input_embeddings`, `resize_token_embeddings`, ...), sizes (`num_parameters`), the
serving hooks (`input_signature`, `dummy_inputs`, `serving`, `serving_output`) and `prepare_tf_dataset`,
with transformers 4's names and meanings, mixed into `TFLongformerPreTrainedModel`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ..modeling_outputs import ModelOutput


class TransformersModelMixin:
    """transformers 4's model helpers; needs `self.config` and the backbone `self.longformer`."""

    @property
    def framework(self) -> str:
        """`"tf"`, as transformers 4's TF models (pipelines read it)."""
        return "tf"

    @classmethod
    def can_generate(cls) -> bool:
        """False: Longformer is an encoder, it has no `generate`."""
        return False

    # --- embeddings -------------------------------------------------------------------------------

    def get_input_embeddings(self) -> keras.layers.Embedding:
        """The word-embedding layer (a `keras.layers.Embedding`; its table is `.embeddings`)."""
        return self.longformer.embeddings.word_embeddings

    def set_input_embeddings(self, value: Any) -> None:
        """Replace the word embeddings by `value`: an `Embedding` layer or a `(vocab, hidden)` table.

        The vocabulary size follows the new table (the MLM head's bias is resized to match).
        """
        from ..embedding_resize import set_word_embeddings

        set_word_embeddings(self, value)

    def get_output_embeddings(self) -> keras.layers.Layer | None:
        """The MLM decoder: the word-embedding layer itself when tied (the default), else the decoder
        `Dense`; None for the other models."""
        lm_head = getattr(self, "lm_head", None)
        if lm_head is None:
            return None
        return self.get_input_embeddings() if lm_head.decoder is None else lm_head.decoder

    def resize_token_embeddings(self, new_num_tokens: int | None = None) -> keras.layers.Embedding:
        """Give the vocabulary `new_num_tokens` ids (e.g. after `tokenizer.add_tokens`).

        Existing rows are kept; new rows are drawn from the config's initializer and the MLM head's bias
        grows with zeros (the tied decoder follows the embeddings). `config.vocab_size` is updated. A
        compiled model must be compiled again before `fit` (the optimizer holds the old variables).

        Args:
            new_num_tokens: the new vocabulary size; None returns the embeddings unchanged.

        Returns:
            The word-embedding layer.

        Example:
            >>> tokenizer.add_tokens(["<new>"])                    # doctest: +SKIP
            >>> model.resize_token_embeddings(len(tokenizer))     # doctest: +SKIP
        """
        from ..embedding_resize import resize_word_embeddings

        if new_num_tokens is not None and new_num_tokens != self.config.vocab_size:
            resize_word_embeddings(self, new_num_tokens)
        return self.get_input_embeddings()

    def num_parameters(self, only_trainable: bool = False) -> int:
        """Number of parameters (the tied decoder counted once), or of trainable ones only."""
        variables = self.trainable_weights if only_trainable else self.weights  # not the dropout seeds
        return int(sum(np.prod(v.shape) for v in variables))

    # --- serving ----------------------------------------------------------------------------------

    @property
    def input_signature(self) -> dict[str, tf.TensorSpec]:
        """`TensorSpec`s of the serving inputs, as transformers 4: int32 ids, masks (and token types)."""
        rank = 3 if type(self).__name__.endswith("MultipleChoice") else 2
        names = ("input_ids", "attention_mask") + (("token_type_ids",) if rank == 2 else ()) + (
            "global_attention_mask",)
        return {name: tf.TensorSpec([None] * rank, tf.int32, name=name) for name in names}

    @property
    def dummy_inputs(self) -> dict[str, tf.Tensor]:
        """Small inputs of the `input_signature` (batch 1, length 2; token types 0), as transformers 4."""
        dummies = {}
        for name, spec in self.input_signature.items():
            shape = [1] + [2] * (len(spec.shape) - 1)
            dummies[name] = (tf.zeros if name == "token_type_ids" else tf.ones)(shape, spec.dtype)
        return dummies

    @tf.function(autograph=False)
    def serving(self, inputs: dict[str, tf.Tensor]):
        """The model as a `tf.function` on a dict of inputs, through `serving_output`; its concrete functions
        on `input_signature` are the SavedModel signatures of `save_pretrained(saved_model=True)`."""
        return self.serving_output(self(inputs))

    def serving_output(self, output: Any) -> Any:
        """`output` for serving: hidden states / attentions only when the config asks for them, per-layer
        tuples stacked into one tensor."""
        if not isinstance(output, ModelOutput):
            return output
        kept = {}
        for key, value in output.items():
            if key.endswith("hidden_states") and not self.config.output_hidden_states:
                continue
            if key.endswith("attentions") and not self.config.output_attentions:
                continue
            if isinstance(value, (tuple, list)):
                try:
                    value = tf.convert_to_tensor(value)
                except (ValueError, tf.errors.InvalidArgumentError):
                    pass  # layers of different shapes stay a tuple
            kept[key] = value
        return type(output)(**kept)

    # --- data -------------------------------------------------------------------------------------

    def prepare_tf_dataset(self, dataset, batch_size: int = 8, shuffle: bool = True, tokenizer=None,
                           collate_fn: Callable | None = None, collate_fn_args: dict | None = None,
                           drop_remainder: bool | None = None, prefetch: bool = True) -> tf.data.Dataset:
        """A `datasets.Dataset` as a `tf.data.Dataset` of `(inputs, labels)` batches ready for `fit`.

        See `tf_longformer/tf_dataset.py`.
        """
        from ..tf_dataset import prepare_tf_dataset

        return prepare_tf_dataset(self, dataset, batch_size=batch_size, shuffle=shuffle, tokenizer=tokenizer,
                                  collate_fn=collate_fn, collate_fn_args=collate_fn_args,
                                  drop_remainder=drop_remainder, prefetch=prefetch)
