"""`TFLongformerPreTrainedModel`: what every Longformer model shares (config, arguments, load and save)."""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ..configuration import LongformerConfig
from ..hub_upload import PushToHubMixin
from ..modeling_outputs import ModelOutput
from ..private_apis import SymbolicBuildMixin, compiled_loss, layers_of
from ..training import (
    HF_OWN_LOSS,
    first_replica_batch,
    hf_style_loss,
    logs_for_strategy,
    main_output,
    metric_targets,
    model_loss,
    move_y_into_inputs,
    per_output_metrics,
    prediction_outputs,
)
from .backbone import TFLongformerMainLayer
from .call_inputs import call_arguments
from .transformers_api import TransformersModelMixin


class TFLongformerPreTrainedModel(TransformersModelMixin, PushToHubMixin, SymbolicBuildMixin, keras.Model):
    """Base class of the six models: the backbone, the shared `call`, training hooks, load and save.

    A task model adds only what is its own (as keras-hub's task models do): its layers (built in
    `__init__`), `task_outputs` (backbone output → output fields), `task_loss`, `head_weights` (its
    variables under their PyTorch names) and, for some heads, `default_global_attention`.

    Args:
        config: LongformerConfig (or its dict).
        add_pooling_layer: build the backbone's pooler (default: the class's `with_pooler`).
    """

    config_class = LongformerConfig
    base_model_prefix = "longformer"
    main_input_name = "input_ids"
    output_class: type[ModelOutput] = ModelOutput
    # call arguments that hold targets; the loss is computed when all of them are given
    target_names: tuple[str, ...] = ("labels",)
    with_pooler = False
    # PyTorch names of the backbone's weights: `longformer.` in the task models, none in the bare encoder
    backbone_weights_prefix = "longformer."

    def __init__(self, config: LongformerConfig | Mapping, *args, add_pooling_layer: bool | None = None,
                 **kwargs) -> None:
        if isinstance(config, Mapping):
            config = LongformerConfig(**config)
        if not isinstance(config, LongformerConfig):
            raise TypeError(f"config must be a LongformerConfig, got {type(config).__name__}.")
        kwargs.setdefault("name", _snake_case(type(self).__name__))
        super().__init__(*args, **kwargs)
        self.config = config
        self._call_signature_for_inputs = inspect.signature(self.call)
        self.add_pooling_layer = self.with_pooler if add_pooling_layer is None else add_pooling_layer
        self.longformer = TFLongformerMainLayer(config, self.add_pooling_layer, name="longformer",
                                                dtype=self.dtype_policy)
        self.longformer.build()
        self.built = True

    # --- the task: what each head defines -----------------------------------------------------------

    def task_outputs(self, backbone_output, inputs: dict[str, Any], training) -> dict[str, Any]:
        """The head's output fields (e.g. `{"logits": ...}`) from the backbone's output."""
        raise NotImplementedError

    def task_loss(self, outputs: dict[str, Any], targets: dict[str, Any]) -> tf.Tensor:
        """The loss transformers' PyTorch head computes (a scalar), given every target."""
        raise NotImplementedError(f"{type(self).__name__} has no loss of its own.")

    def head_weights(self) -> dict:
        """The head's variables under their PyTorch names → `(variable, transpose)`."""
        return {}

    def default_global_attention(self, input_ids: tf.Tensor) -> tf.Tensor | None:
        """The `global_attention_mask` used when none is given (as the PyTorch head), or None."""
        return None

    def backbone_inputs(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """The inputs as the backbone takes them (multiple choice folds the choices into the batch)."""
        return inputs

    def hf_weights(self) -> dict:
        """Every variable under its Hugging Face PyTorch parameter name → `(variable, transpose)`."""
        out = {f"{self.backbone_weights_prefix}{k}": v for k, v in self.longformer.hf_weights().items()}
        out.update(self.head_weights())
        return out

    # --- calling ----------------------------------------------------------------------------------

    def __call__(self, *args, **kwargs):
        """Call the model with inputs in any transformers-4 form (see `models/call_inputs.py`)."""
        return super().__call__(**call_arguments(self._call_signature_for_inputs, args, kwargs))

    def call(self, input_ids=None, attention_mask=None, head_mask=None, global_attention_mask=None,
             token_type_ids=None, position_ids=None, inputs_embeds=None, output_attentions=None,
             output_hidden_states=None, return_dict=None, labels=None, training=False):
        """Run the model, with the arguments (and their order) of transformers 4's TF Longformer.

        Args:
            input_ids: `(batch, seq)` int ids (`(batch, choices, seq)` for multiple choice); or a dict /
                `BatchEncoding` / list of all inputs (see `models/call_inputs.py`).
            attention_mask: 1 for tokens, 0 for padding; same shape as `input_ids`.
            head_mask: `(heads,)` or `(layers, heads)` multipliers of each head's attention probabilities.
            global_attention_mask: 1 for tokens with global attention (default: the head's own, as in
                transformers).
            token_type_ids, position_ids: same shape as `input_ids`; defaults as RoBERTa.
            inputs_embeds: `(..., seq, hidden)` instead of `input_ids`.
            output_attentions, output_hidden_states, return_dict: as in transformers (default: the config's).
            labels: targets of the head's loss (`-100` = ignored where it applies).
            training: dropout on.

        Returns:
            The head's output class (or its tuple when `return_dict=False`).
        """
        inputs = dict(input_ids=input_ids, attention_mask=attention_mask, head_mask=head_mask,
                      global_attention_mask=global_attention_mask, token_type_ids=token_type_ids,
                      position_ids=position_ids, inputs_embeds=inputs_embeds)
        return self._forward(inputs, {"labels": labels}, output_attentions, output_hidden_states, return_dict,
                            training)

    def _forward(self, inputs: dict[str, Any], targets: dict[str, Any], output_attentions=None,
                output_hidden_states=None, return_dict=None, training=False):
        """The body of every `call`: backbone, head, loss, output class."""
        given = {name for name, value in targets.items() if value is not None}
        if given and not self.target_names:
            raise ValueError(f"{type(self).__name__} has no loss: {sorted(given)} belong to a task model "
                             "(e.g. TFLongformerForSequenceClassification).")
        c = self.config
        backbone_inputs = self.backbone_inputs(inputs)
        if backbone_inputs.get("global_attention_mask") is None and backbone_inputs.get("input_ids") is not None:
            default = self.default_global_attention(backbone_inputs["input_ids"])
            if default is not None:
                backbone_inputs = {**backbone_inputs, "global_attention_mask": default}
        out = self.longformer(
            **backbone_inputs,
            output_attentions=bool(c.output_attentions if output_attentions is None else output_attentions),
            output_hidden_states=bool(c.output_hidden_states if output_hidden_states is None
                                      else output_hidden_states),
            training=training,
        )
        fields = self.task_outputs(out, inputs, training)
        if self.target_names and all(targets.get(name) is not None for name in self.target_names):
            fields["loss"] = self.task_loss(fields, targets)
        output = self.output_class(**fields, hidden_states=out.hidden_states, attentions=out.attentions,
                                   global_attentions=out.global_attentions)
        return output if (c.return_dict if return_dict is None else return_dict) else output.to_tuple()

    def _save_for_hub(self, folder: str, max_shard_size: int | str) -> None:
        self.save_pretrained(folder, max_shard_size=max_shard_size)

    # --- Keras training: fit / evaluate / predict (see `tf_longformer/training.py`) ---------------------

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, weighted_metrics=None, **kwargs):
        """Keras `compile`. Without `loss` (or with transformers 4's `"auto"`) the model trains on its own loss;
        question answering takes a flat metrics list for both outputs (see `training.py`)."""
        if isinstance(loss, str) and loss in HF_OWN_LOSS:
            loss = None
        super().compile(optimizer=optimizer, loss=loss, metrics=per_output_metrics(self, metrics),
                        weighted_metrics=per_output_metrics(self, weighted_metrics), **kwargs)

    def compile_from_config(self, config: dict) -> None:
        """Compile as recorded in a `.keras` file (Keras skips this for a model whose `compile` is its own)."""
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.optimizer is not None and self.built:
            self.optimizer.build(self.trainable_variables)

    def fit(self, x=None, y=None, *args, **kwargs):
        """Keras `fit`; `x` may be a `BatchEncoding`. A `fit` that raised leaves the model ready for the next."""
        try:
            return super().fit(keras_inputs(x), keras_inputs(y), *args, **kwargs)
        except BaseException:
            # the step functions traced for this fit may hold half-created state: trace them afresh next time
            self.train_function = self.test_function = None
            raise

    def evaluate(self, x=None, y=None, *args, **kwargs):
        """Keras `evaluate`; `x` may be a `BatchEncoding`."""
        return super().evaluate(keras_inputs(x), keras_inputs(y), *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        """Keras `predict`; `x` may be a `BatchEncoding` (`model.predict(tokenizer(texts, return_tensors="np"))`)."""
        return super().predict(keras_inputs(x), *args, **kwargs)

    def train_on_batch(self, x, y=None, *args, **kwargs):
        return super().train_on_batch(keras_inputs(x), keras_inputs(y), *args, **kwargs)

    def test_on_batch(self, x, y=None, *args, **kwargs):
        return super().test_on_batch(keras_inputs(x), keras_inputs(y), *args, **kwargs)

    def predict_on_batch(self, x):
        return super().predict_on_batch(keras_inputs(x))

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
        if compiled_loss(self) is None:
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

    def symbolic_build_batch(self, iterator, data_batch):
        """The batch Keras' symbolic build step runs on: as `train_step` passes it on (labels moved as there),
        under tf.distribute one replica's part (see `training.first_replica_batch`)."""
        return move_y_into_inputs(self, first_replica_batch(iterator) if iterator is not None else data_batch)

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
        for layer in layers_of(self):
            layer_config = getattr(layer, "config", None)
            if layer_config is not None and layer_config is not self.config:
                layer_config.gradient_checkpointing = value
        self.train_function = self.test_function = self.predict_function = None

    # --- Keras serialisation ----------------------------------------------------------------------

    def get_config(self) -> dict:
        from ..quantization import dtype_policy_for_config  # a quantized model records each layer's policy

        return {"config": self.config.to_dict(), "name": self.name, "trainable": self.trainable,
                "dtype": keras.saving.serialize_keras_object(dtype_policy_for_config(self))}

    @classmethod
    def from_config(cls, config: LongformerConfig | dict, **kwargs):
        """A new model of `config`: a `LongformerConfig`, a `config.json`-style dict (`**kwargs` override its
        fields, as in transformers), or the dict of `get_config` (Keras)."""
        if isinstance(config, LongformerConfig):
            return cls(config, **kwargs)
        if not isinstance(config.get("config"), Mapping):
            return cls(LongformerConfig.from_dict(config, **kwargs))
        config = dict(config)
        model_config = LongformerConfig(**config.pop("config"))
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.saving.deserialize_keras_object(config["dtype"])
        from ..quantization import restore_weight_only  # quantized models: weight-only as when saved

        return restore_weight_only(cls(model_config, **config))

    # --- Hugging Face loading and saving ----------------------------------------------------------

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, *model_args,
                        config: LongformerConfig | str | os.PathLike | None = None, cache_dir: str | None = None,
                        ignore_mismatched_sizes: bool = False, force_download: bool = False,
                        local_files_only: bool = False, token: str | bool | None = None, revision: str = "main",
                        subfolder: str = "", strict: bool = False, output_loading_info: bool = False,
                        quantization: str | None = None, **kwargs):
        """Load a checkpoint: HF PyTorch folder (safetensors / bin / sharded), transformers-4 `tf_model.h5`,
        a hub id (through the local Hugging Face cache; honours `HF_HUB_OFFLINE`), or our own save.

        A base checkpoint loads into any head (the head is initialised and listed in a warning) and a
        head checkpoint into the base model (`longformer.` prefix handled).

        Args:
            pretrained_model_name_or_path: folder, checkpoint file, or hub id.
            *model_args: accepted for transformers-4 compatibility; must be empty.
            config: use this config (or the config.json of this folder / hub id) instead of the checkpoint's.
            cache_dir, force_download, local_files_only, token, revision, subfolder: where and how a hub id is
                fetched, as in transformers (`subfolder` applies to local folders too).
            ignore_mismatched_sizes: tensors whose shape differs from the model's (e.g. another
                `num_labels`) are skipped and the model's fresh weights kept, listed in a warning.
            strict: raise on any missing or unexpected weight instead of warning.
            output_loading_info: also return `{"missing_keys", "unexpected_keys", "mismatched_keys"}`.
            quantization: `"int8"` or `"int4"`: quantize the weights after loading (weight-only, Keras 3
                quantized Dense / Embedding layers; see `tf_longformer/quantization.py`).
            **kwargs: config fields to override (e.g. `num_labels=3`, `gradient_checkpointing=True`); the
                transformers-4 arguments `from_pt`, `use_safetensors`, `proxies`, `mirror`,
                `trust_remote_code`, `resume_download`, `use_auth_token` are accepted too (every checkpoint
                format is read whatever `from_pt` says).

        Returns:
            The model (and the loading info when asked).

        Example:
            >>> model = TFLongformerForMaskedLM.from_pretrained("allenai/longformer-base-4096")  # doctest: +SKIP
        """
        from ..hub import split_hub_options
        from ..loading import load_pretrained

        if model_args:
            raise TypeError(f"{cls.__name__}.from_pretrained takes no extra positional arguments, got {model_args}.")
        hub_options, config_overrides = split_hub_options(
            kwargs, cache_dir=cache_dir, force_download=force_download, local_files_only=local_files_only,
            token=token, revision=revision, subfolder=subfolder)
        if config is not None and not isinstance(config, LongformerConfig):
            config = LongformerConfig.from_pretrained(config, **hub_options)
        return load_pretrained(cls, pretrained_model_name_or_path, config=config, strict=strict,
                               output_loading_info=output_loading_info, quantization=quantization,
                               ignore_mismatched_sizes=ignore_mismatched_sizes, hub_options=hub_options,
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

    def save_pretrained(self, save_directory: str | os.PathLike, saved_model: bool = False, version: int = 1,
                        push_to_hub: bool = False, signatures=None, max_shard_size: int | str = "5GB",
                        create_pr: bool = False, safe_serialization: bool = True, token: str | bool | None = None,
                        **kwargs) -> None:
        """Write `config.json` + safetensors weights in PyTorch naming and layout (atomically).

        `transformers.LongformerFor*.from_pretrained(save_directory)` loads the result.

        Args:
            save_directory: target folder (created if needed).
            saved_model: also write a TensorFlow SavedModel to `save_directory/saved_model/<version>`.
            version: the SavedModel's version folder.
            push_to_hub: then upload the folder to the hub repository `repo_id` (default: the folder's name).
            signatures: the SavedModel's signatures (default: `serving_default` and `int64_serving` from
                `serving` on `input_signature`, as transformers 4).
            max_shard_size: largest weight file (`"5GB"`, `"200MB"` or bytes); a larger model is written as
                `model-0000i-of-0000n.safetensors` shards with `model.safetensors.index.json`.
            create_pr, token, **kwargs: for `push_to_hub` (`repo_id`, `commit_message`, `private`).
            safe_serialization: accepted for compatibility; the weights are always safetensors.
        """
        from ..saving import save_pretrained

        legacy_token = kwargs.pop("use_auth_token", None)
        token = token if token is not None else legacy_token
        save_pretrained(self, save_directory, max_shard_size=max_shard_size)
        if saved_model:
            from ..hf_saved_model import save_versioned_saved_model

            save_versioned_saved_model(self, save_directory, version, signatures)
        if push_to_hub:
            repo_id = kwargs.pop("repo_id", None) or os.path.basename(os.path.abspath(os.fspath(save_directory)))
            self._upload_folder(save_directory, repo_id, token=token, create_pr=create_pr, **kwargs)


def keras_inputs(x: Any) -> Any:
    """`x` in a form Keras' data adapters take: a `BatchEncoding` (or other mapping) as a dict, with
    Python lists as arrays."""
    if isinstance(x, Mapping) and not isinstance(x, dict):
        x = dict(x.items())
    if isinstance(x, dict):
        return {k: np.asarray(v) if isinstance(v, list) else v for k, v in x.items()}
    return x


def prefixed(prefix: str, weights: dict) -> dict:
    """`weights` (PyTorch name → entry) with `prefix.` before every name."""
    return {f"{prefix}.{name}": entry for name, entry in weights.items()}


def dense_weights(name: str, dense: keras.layers.Dense) -> dict:
    """A Dense layer's PyTorch `Linear` parameters: `name.weight` (transposed kernel) and `name.bias`."""
    return {f"{name}.weight": (dense.kernel, True), f"{name}.bias": (dense.bias, False)}


def _snake_case(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and not name[i - 1].isupper():
            out.append("_")
        out.append(ch.lower())
    return "".join(out)
