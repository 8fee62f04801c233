"""`TFLongformerPreTrainedModel`: what every Longformer model shares (config, arguments, load and save)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import keras

from ..configuration import LongformerConfig
from ..modeling_outputs import ModelOutput
from ..training import (
    first_replica_batch,
    hf_style_loss,
    logs_for_strategy,
    main_output,
    metric_targets,
    model_loss,
    move_y_into_inputs,
    prediction_outputs,
)

# Arguments that may arrive inside a single dict (Keras `fit` / HF style `model(batch)`).
MODEL_INPUT_NAMES = (
    "input_ids", "attention_mask", "global_attention_mask", "token_type_ids", "position_ids", "inputs_embeds",
    "labels", "start_positions", "end_positions",
)
_TARGET_NAMES = ("labels", "start_positions", "end_positions")


class TFLongformerPreTrainedModel(keras.Model):
    """Base class: holds the `LongformerConfig`, normalises call arguments, loads and saves checkpoints.

    Subclasses set `base_model_prefix`-style PyTorch names through `hf_weights()` and implement `call`.

    Args:
        config: LongformerConfig (or its dict).
    """

    config_class = LongformerConfig
    base_model_prefix = "longformer"

    def __init__(self, config: LongformerConfig | Mapping, *args, **kwargs) -> None:
        if isinstance(config, Mapping):
            config = LongformerConfig(**config)
        if not isinstance(config, LongformerConfig):
            raise TypeError(f"config must be a LongformerConfig, got {type(config).__name__}.")
        kwargs.setdefault("name", _snake_case(type(self).__name__))
        super().__init__(*args, **kwargs)
        self.config = config

    # --- arguments --------------------------------------------------------------------------------

    def _gather_inputs(self, input_ids: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Merge a dict passed as first argument into the keyword arguments (explicit ones win)."""
        if isinstance(input_ids, Mapping):
            merged = {k: v for k, v in input_ids.items()}
            unknown = set(merged) - set(MODEL_INPUT_NAMES)
            if unknown:
                raise ValueError(
                    f"Unknown input(s) {sorted(unknown)}; this model takes {list(MODEL_INPUT_NAMES)}."
                )
            for key, value in kwargs.items():
                if value is not None or key not in merged:
                    merged[key] = value
            return merged
        kwargs["input_ids"] = input_ids
        return kwargs

    def _split_inputs(self, input_ids: Any, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """The inputs of a `call` (keyword arguments and/or a dict as first argument) → `(backbone inputs,
        targets)`, targets being `labels` / `start_positions` / `end_positions` (None when absent)."""
        inputs = self._gather_inputs(input_ids, kwargs)
        targets = {name: inputs.pop(name, None) for name in _TARGET_NAMES}
        return inputs, targets

    def _run_backbone(self, inputs: dict[str, Any], output_attentions, output_hidden_states, return_dict,
                      training, default_global_attention: Callable | None = None):
        """Run `self.longformer` with the output flags resolved against the config.

        Args:
            inputs: backbone inputs from `_split_inputs`.
            default_global_attention: `input_ids -> global_attention_mask`, the head's default (as in
                transformers) when the caller gives none.

        Returns:
            `(backbone output, return_dict)`.
        """
        if (default_global_attention is not None and inputs.get("global_attention_mask") is None
                and inputs.get("input_ids") is not None):
            inputs = {**inputs, "global_attention_mask": default_global_attention(inputs["input_ids"])}
        c = self.config
        out = self.longformer(
            **inputs,
            output_attentions=bool(c.output_attentions if output_attentions is None else output_attentions),
            output_hidden_states=bool(c.output_hidden_states if output_hidden_states is None
                                      else output_hidden_states),
            training=training,
        )
        return out, bool(c.return_dict if return_dict is None else return_dict)

    @staticmethod
    def _finish(output: ModelOutput, return_dict: bool):
        return output if return_dict else output.to_tuple()

    # --- Keras training: fit / evaluate / predict (see `tf_longformer/training.py`) ---------------------

    def train_step(self, data):
        """Keras `train_step`; `(x, y)` without a compiled loss trains on the model's own loss."""
        return logs_for_strategy(super().train_step(move_y_into_inputs(self, data)))

    def test_step(self, data):
        """Keras `test_step`, with the same two loss styles as `train_step`."""
        return logs_for_strategy(super().test_step(move_y_into_inputs(self, data)))

    def predict_step(self, data):
        """Keras `predict_step`: a dict of the output tensors (the scalar loss left out)."""
        return prediction_outputs(super().predict_step(data))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The model's own loss when the labels are in the inputs (Hugging Face style), else the compiled
        loss on the main output (`logits`, `(start_logits, end_logits)` or `last_hidden_state`)."""
        if y is None and model_loss(y_pred) is not None:
            return hf_style_loss(self, y_pred, sample_weight)
        if self._compile_loss is None:
            raise ValueError(
                "No loss to train on: put the labels in the input dict (`labels`, or `start_positions` and "
                "`end_positions`) to use the model's own loss, or compile(loss=...) and give (x, y) batches."
            )
        return super().compute_loss(x, y, main_output(y_pred), sample_weight, training)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Compiled metrics on the main output against `y`, or against the labels inside `x`."""
        y_true, predictions, sample_weight = metric_targets(x, y, y_pred, sample_weight)
        if y_true is None:
            return self.get_metrics_result()
        return super().compute_metrics(x, y_true, predictions, sample_weight)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Keras' build step under tf.distribute, fed one replica's part of a batch (see
        `training.first_replica_batch`: Keras' own cross-replica mean fails under MultiWorkerMirroredStrategy)."""
        if iterator is not None and self._distribute_strategy is not None:
            with self._distribute_strategy.scope():
                data_batch = first_replica_batch(iterator)
            iterator = None
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    # --- gradient checkpointing (Hugging Face names) ------------------------------------------------

    @property
    def is_gradient_checkpointing(self) -> bool:
        """Whether layer activations are recomputed in the backward pass (`config.gradient_checkpointing`)."""
        return bool(self.config.gradient_checkpointing)

    def gradient_checkpointing_enable(self, gradient_checkpointing_kwargs: dict | None = None) -> None:
        """Recompute each layer's activations in the backward pass (less memory, one more forward pass).

        Sets `config.gradient_checkpointing`; takes effect in training calls (`training=True`, `fit`).
        Compiled Keras step functions are rebuilt on their next use.

        Args:
            gradient_checkpointing_kwargs: accepted for Hugging Face compatibility; ignored.
        """
        self._set_gradient_checkpointing(True)

    def gradient_checkpointing_disable(self) -> None:
        """Keep layer activations for the backward pass again (the default)."""
        self._set_gradient_checkpointing(False)

    def _set_gradient_checkpointing(self, value: bool) -> None:
        self.config.gradient_checkpointing = value
        for layer in self._flatten_layers():
            layer_config = getattr(layer, "config", None)
            if layer_config is not None and layer_config is not self.config:
                layer_config.gradient_checkpointing = value
        self.train_function = self.test_function = self.predict_function = None

    # --- weights in PyTorch naming ----------------------------------------------------------------

    def hf_weights(self) -> dict:
        """Every variable under its Hugging Face PyTorch parameter name → `(variable, transpose)`."""
        raise NotImplementedError

    # --- Keras serialisation ----------------------------------------------------------------------

    def get_config(self) -> dict:
        from ..quantization import dtype_policy_for_config  # a quantized model records each layer's policy

        return {"config": self.config.to_dict(), "name": self.name, "trainable": self.trainable,
                "dtype": keras.saving.serialize_keras_object(dtype_policy_for_config(self))}

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        model_config = LongformerConfig(**config.pop("config"))
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.saving.deserialize_keras_object(config["dtype"])
        from ..quantization import restore_weight_only  # quantized models: weight-only as when saved

        return restore_weight_only(cls(model_config, **config))

    # --- Hugging Face loading and saving ----------------------------------------------------------

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, *, config: LongformerConfig | None = None,
                        strict: bool = False, output_loading_info: bool = False, quantization: str | None = None,
                        **config_overrides):
        """Load a checkpoint: HF PyTorch folder (safetensors / bin / sharded), transformers-4 `tf_model.h5`,
        a hub id (through the local Hugging Face cache; honours `HF_HUB_OFFLINE`), or our own save.

        A base checkpoint loads into any head (the head is initialised and listed in a warning) and a
        head checkpoint into the base model (`longformer.` prefix handled).

        Args:
            pretrained_model_name_or_path: folder, checkpoint file, or hub id.
            config: use this config instead of the checkpoint's `config.json`.
            strict: raise on any missing or unexpected weight instead of warning.
            output_loading_info: also return `{"missing_keys", "unexpected_keys"}`.
            quantization: `"int8"` or `"int4"`: quantize the weights after loading (weight-only, Keras 3
                quantized Dense / Embedding layers; see `tf_longformer/quantization.py`).
            **config_overrides: config fields to override (e.g. `num_labels=3`, `gradient_checkpointing=True`).

        Returns:
            The model (and the loading info when asked).

        Example:
            >>> model = TFLongformerForMaskedLM.from_pretrained("allenai/longformer-base-4096")  # doctest: +SKIP
        """
        from ..loading import load_pretrained

        return load_pretrained(cls, pretrained_model_name_or_path, config=config, strict=strict,
                               output_loading_info=output_loading_info, quantization=quantization,
                               **config_overrides)

    def quantize(self, mode=None, config=None, filters=None, **kwargs) -> None:
        """Quantize the weights in place, weight-only: `"int8"` or `"int4"` (see `tf_longformer/quantization.py`).

        Args:
            mode: `"int8"` or `"int4"`.
            config: only its mode is used (Keras fills in a default config before this method runs, so a
                custom one cannot be told apart: use `quantization.quantize_model(model, mode, config=...)`).
            filters: `layer -> bool` choosing which Dense / Embedding layers to quantize.
            **kwargs: `block_size` (int4 group size, default 128; None = one scale per output unit).

        Raises:
            QuantizationError: unsupported mode, or the model is already quantized.
        """
        from ..quantization import quantize_model

        if mode is None and config is not None:
            mode = config.mode
        quantize_model(self, mode, filters=filters, **kwargs)

    def save_pretrained(self, save_directory: str | os.PathLike) -> None:
        """Write `config.json` + `model.safetensors` in PyTorch naming and layout (atomically).

        `transformers.LongformerFor*.from_pretrained(save_directory)` loads the result.

        Args:
            save_directory: target folder (created if needed).
        """
        from ..saving import save_pretrained

        save_pretrained(self, save_directory)


def _snake_case(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and not name[i - 1].isupper():
            out.append("_")
        out.append(ch.lower())
    return "".join(out)
