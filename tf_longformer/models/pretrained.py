"""`TFLongformerPreTrainedModel`: what every Longformer model shares (config, arguments, load and save)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import keras

from ..configuration import LongformerConfig
from ..modeling_outputs import ModelOutput

# Arguments that may arrive inside a single dict (Keras `fit` / HF style `model(batch)`).
MODEL_INPUT_NAMES = (
    "input_ids", "attention_mask", "global_attention_mask", "token_type_ids", "position_ids", "inputs_embeds",
    "labels", "start_positions", "end_positions",
)


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

    def _output_flags(self, output_attentions, output_hidden_states, return_dict) -> tuple[bool, bool, bool]:
        c = self.config
        return (
            bool(c.output_attentions if output_attentions is None else output_attentions),
            bool(c.output_hidden_states if output_hidden_states is None else output_hidden_states),
            bool(c.return_dict if return_dict is None else return_dict),
        )

    @staticmethod
    def _finish(output: ModelOutput, return_dict: bool):
        return output if return_dict else output.to_tuple()

    # --- weights in PyTorch naming ----------------------------------------------------------------

    def hf_weights(self) -> dict:
        """Every variable under its Hugging Face PyTorch parameter name → `(variable, transpose)`."""
        raise NotImplementedError

    # --- Keras serialisation ----------------------------------------------------------------------

    def get_config(self) -> dict:
        return {"config": self.config.to_dict(), "name": self.name, "trainable": self.trainable,
                "dtype": keras.saving.serialize_keras_object(self.dtype_policy)}

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        model_config = LongformerConfig(**config.pop("config"))
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.saving.deserialize_keras_object(config["dtype"])
        return cls(model_config, **config)

    # --- Hugging Face loading and saving ----------------------------------------------------------

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, *, config: LongformerConfig | None = None,
                        strict: bool = False, output_loading_info: bool = False, **config_overrides):
        """Load a checkpoint: HF PyTorch folder (safetensors / bin / sharded), transformers-4 `tf_model.h5`,
        a hub id (through the local Hugging Face cache; honours `HF_HUB_OFFLINE`), or our own save.

        A base checkpoint loads into any head (the head is initialised and listed in a warning) and a
        head checkpoint into the base model (`longformer.` prefix handled).

        Args:
            pretrained_model_name_or_path: folder, checkpoint file, or hub id.
            config: use this config instead of the checkpoint's `config.json`.
            strict: raise on any missing or unexpected weight instead of warning.
            output_loading_info: also return `{"missing_keys", "unexpected_keys"}`.
            **config_overrides: config fields to override (e.g. `num_labels=3`, `max_global_tokens=128`).

        Returns:
            The model (and the loading info when asked).

        Example:
            >>> model = TFLongformerForMaskedLM.from_pretrained("allenai/longformer-base-4096")  # doctest: +SKIP
        """
        from ..loading import load_pretrained

        return load_pretrained(cls, pretrained_model_name_or_path, config=config, strict=strict,
                               output_loading_info=output_loading_info, **config_overrides)

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
