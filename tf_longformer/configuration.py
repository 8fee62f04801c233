"""`LongformerConfig`: the Hugging Face configuration, validated, read from and written to `config.json`."""

from __future__ import annotations

import copy
import json
import math
import os
from typing import Any

from converters.atomic import atomic_write_text

# Every field of transformers' LongformerConfig (and of PreTrainedConfig that a Longformer uses), with
# the Hugging Face default. The order is the order of `to_dict()`.
_DEFAULTS: dict[str, Any] = {
    "vocab_size": 30522,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "initializer_range": 0.02,
    "layer_norm_eps": 1e-12,
    "attention_window": 512,
    "pad_token_id": 1,
    "bos_token_id": 0,
    "eos_token_id": 2,
    "sep_token_id": 2,
    "onnx_export": False,
    "tie_word_embeddings": True,
    "problem_type": None,
    "output_attentions": False,
    "output_hidden_states": False,
    "return_dict": True,
    "chunk_size_feed_forward": 0,
    "architectures": None,
    "torch_dtype": None,
    # tf-longformer's own fields (ignored by transformers, kept in config.json):
    # no longer used: XLA programs handle any number of global tokens (`layers/global_tiers.py`); kept so that
    # config.json files written by earlier versions, which have it, load and round-trip unchanged.
    "max_global_tokens": 64,
    # queries per chunk of the local attention rows (bounds the band-sized buffers; 0: all at once)
    "attention_query_chunk": 512,
    # rows per chunk of the dense layers (projections, feed-forward) in traced inference (0: all at once)
    "dense_row_chunk": 512,
    # recompute each layer's activations in the backward pass (saves memory, costs time).
    "gradient_checkpointing": False,
}

# integer fields and their lowest valid value
_INT_FIELDS = {
    "vocab_size": 1, "hidden_size": 1, "num_hidden_layers": 1, "num_attention_heads": 1, "intermediate_size": 1,
    "max_position_embeddings": 1, "type_vocab_size": 1,
    "max_global_tokens": 0,  # unused (see above), still validated so old files keep their meaning clear
    "attention_query_chunk": 0, "dense_row_chunk": 0,  # 0: no chunk loop
}

# float fields: (lowest, highest, whether the lowest itself is allowed)
_FLOAT_FIELDS = {
    "hidden_dropout_prob": (0.0, 1.0, True), "attention_probs_dropout_prob": (0.0, 1.0, True),
    "initializer_range": (0.0, math.inf, True), "layer_norm_eps": (0.0, math.inf, False),
}
_BOOL_FIELDS = ("onnx_export", "tie_word_embeddings", "output_attentions", "output_hidden_states", "return_dict",
                "gradient_checkpointing")
# token ids that may be absent (None); pad_token_id must be present
_OPTIONAL_TOKEN_IDS = ("bos_token_id", "eos_token_id", "sep_token_id")

_PROBLEM_TYPES = (None, "regression", "single_label_classification", "multi_label_classification")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class LongformerConfig:
    """Configuration of a Longformer model, field for field the Hugging Face `LongformerConfig`.

    Unknown keyword arguments are kept as attributes and written back by `to_dict()` / `save_pretrained`,
    so a `config.json` survives a round trip through this class unchanged.

    Args:
        vocab_size: int. Number of token ids.
        hidden_size: int. Width of the hidden states; must be divisible by `num_attention_heads`.
        num_hidden_layers: int. Number of transformer layers.
        num_attention_heads: int. Heads per attention layer.
        intermediate_size: int. Width of the feed-forward layer.
        hidden_act: str. Feed-forward activation ("gelu", "gelu_new", "relu", "silu", "tanh", ...).
        hidden_dropout_prob: float. Dropout on embeddings and sub-layer outputs.
        attention_probs_dropout_prob: float. Dropout on attention probabilities.
        max_position_embeddings: int. Rows of the position table (inputs may be 2 shorter, RoBERTa offset).
        type_vocab_size: int. Number of token type ids.
        initializer_range: float. Std of the truncated-normal initialiser.
        layer_norm_eps: float. LayerNorm epsilon.
        attention_window: int or list of int. Window (both sides together) per layer; each even and > 0.
        num_labels: int. Outputs of classification heads (default 2, or the size of `id2label`).
        id2label / label2id: dict. Label names, as in Hugging Face.
        problem_type: str or None. "regression", "single_label_classification" or
            "multi_label_classification" for sequence classification losses.
        max_global_tokens: int. No longer used; accepted and written back so that `config.json` files of
            earlier versions (where it bounded the global tokens under XLA) keep working. Under XLA
            (`jit_compile=True`) any number of global tokens, up to every token, now gives the reference's
            numbers: each layer's global part runs on chunks of global slots, as many as the batch's
            largest count needs, in one of five branches chosen per batch (none; one token; up to 16 tokens
            in one chunk of 16; up to `(hidden_size - 1) // num_attention_heads` tokens, 63 for
            longformer-base, in chunks of 32; more, in chunks of 64 through the `*_global` projections of
            every token). What that costs, where a bound used to be set: a batch pays for its largest count
            rounded up to a whole chunk (1 token: one slot; 2 to 16: 16 slots; 17 to 32: 32; 33 to 63: 64;
            from 64 tokens on for longformer-base also the `key_global` / `value_global` projections of
            every token, ~14 % of the model's FLOPs, which the reference always computes); every branch
            is one more copy of the global part in the compiled program, so the first (compiling) call
            takes longer; in training each branch recomputes its chunks in the backward pass instead of
            keeping them. `benchmarks/run_forward.py`'s global-token
            sweep measures the time per count with these defaults.
            `output_attentions=True` under XLA computes one global column per token instead (the only
            static width that fits every batch): quadratic in the length, meant for short inputs.
        attention_query_chunk: int. For inference in `tf.function` / XLA, the local attention rows run in
            chunks of about this many queries (whole blocks of half a window, at least one), so the
            band-sized score buffers stay the size of a chunk whatever the length; 0 runs them all at once
            (as eager mode and training always do). Same results either way. Default 512.
        dense_row_chunk: int. For inference in `tf.function` / XLA, the query/key/value projections and the
            attention output + feed-forward block run on chunks of this many rows, which keeps each
            matmul's output in the CPU cache and the `intermediate_size`-wide activations the size of a
            chunk; 0 runs them on all rows at once (as eager mode and training always do). Unlike
            transformers' `chunk_size_feed_forward` (kept for compatibility, unused) it is on by default.
            Default 512. Both loops are left out of a model whose position table allows no input longer
            than one chunk (`models/backbone.loop_chunk`): they would never iterate.
        gradient_checkpointing: bool. Recompute layer activations in the backward pass.

    Example:
        >>> config = LongformerConfig(hidden_size=64, num_attention_heads=4, attention_window=[8, 16])
        >>> config.attention_window
        [8, 16]
    """

    model_type = "longformer"

    def __init__(self, **kwargs: Any) -> None:
        id2label = kwargs.pop("id2label", None)
        label2id = kwargs.pop("label2id", None)
        num_labels = kwargs.pop("num_labels", None)
        for key, default in _DEFAULTS.items():
            setattr(self, key, kwargs.pop(key, copy.deepcopy(default)))
        kwargs.pop("model_type", None)
        kwargs.pop("transformers_version", None)
        self._extra_keys = list(kwargs)
        for key, value in kwargs.items():
            setattr(self, key, value)
        if num_labels is not None and (not _is_int(num_labels) or num_labels < 1):
            raise ValueError(f"num_labels must be an int >= 1, got {num_labels!r}.")
        if id2label is None:
            id2label = {i: f"LABEL_{i}" for i in range(2 if num_labels is None else num_labels)}
        try:
            self.id2label = {int(k): v for k, v in dict(id2label).items()}
        except (TypeError, ValueError) as err:
            raise ValueError(f"id2label must map label ids (ints) to names, got {id2label!r}.") from err
        if num_labels is not None and num_labels != len(self.id2label):
            self.id2label = {i: f"LABEL_{i}" for i in range(num_labels)}
        try:
            self.label2id = (
                {k: int(v) for k, v in dict(label2id).items()}
                if label2id is not None and len(label2id) == len(self.id2label)
                else {v: k for k, v in self.id2label.items()}
            )
        except (TypeError, ValueError) as err:
            raise ValueError(f"label2id must map label names to ids (ints), got {label2id!r}.") from err
        if isinstance(self.attention_window, tuple):
            self.attention_window = list(self.attention_window)
        self.validate()

    # --- derived values -------------------------------------------------------------------------

    @property
    def num_labels(self) -> int:
        return len(self.id2label)

    @num_labels.setter
    def num_labels(self, value: int) -> None:
        self.id2label = {i: f"LABEL_{i}" for i in range(value)}
        self.label2id = {v: k for k, v in self.id2label.items()}

    @property
    def layer_attention_windows(self) -> list[int]:
        """The attention window of every layer, as a list of `num_hidden_layers` ints."""
        if isinstance(self.attention_window, int):
            return [self.attention_window] * self.num_hidden_layers
        return list(self.attention_window)

    @property
    def padding_multiple(self) -> int:
        """Inputs are padded to a multiple of this length (the largest window), as transformers does."""
        return max(self.layer_attention_windows)

    @property
    def max_sequence_length(self) -> int:
        """Longest input the position table allows (RoBERTa position ids start at `pad_token_id + 1`)."""
        return self.max_position_embeddings - (self.pad_token_id or 0) - 1

    # --- validation -----------------------------------------------------------------------------

    def validate(self) -> None:
        """Raise `ValueError` naming the field and saying how to fix it if the config cannot describe a model."""
        self._validate_types()
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size ({self.hidden_size}) is not divisible by num_attention_heads "
                f"({self.num_attention_heads}); choose a head count that divides the hidden size."
            )
        window = self.attention_window
        if isinstance(window, list):
            if len(window) != self.num_hidden_layers:
                raise ValueError(
                    f"attention_window has {len(window)} entries but num_hidden_layers is "
                    f"{self.num_hidden_layers}; give one window per layer or a single int."
                )
            windows = window
        elif _is_int(window):
            windows = [window]
        else:
            raise ValueError(f"attention_window must be an int or a list of ints, got {window!r}.")
        for i, w in enumerate(windows):
            if not _is_int(w) or w <= 0 or w % 2:
                where = f" (layer {i})" if isinstance(window, list) else ""
                raise ValueError(
                    f"attention_window{where} must be a positive even int (it counts both sides of a "
                    f"token), got {w!r}; for example 512."
                )
        if self.problem_type not in _PROBLEM_TYPES:
            raise ValueError(f"problem_type must be one of {_PROBLEM_TYPES}, got {self.problem_type!r}.")
        if not _is_int(self.pad_token_id) or not 0 <= self.pad_token_id < self.vocab_size:
            raise ValueError(
                f"pad_token_id ({self.pad_token_id!r}) must be a token id in [0, vocab_size={self.vocab_size})."
            )
        if self.max_sequence_length <= 0:
            raise ValueError(
                f"max_position_embeddings ({self.max_position_embeddings}) leaves no room for tokens after "
                f"the RoBERTa offset (pad_token_id + 1 = {self.pad_token_id + 1})."
            )

    def _validate_types(self) -> None:
        """Each field has its type and range (a config.json edited by hand may hold `"12"` or `0`)."""
        for name, lowest in _INT_FIELDS.items():
            value = getattr(self, name)
            if not _is_int(value) or value < lowest:
                raise ValueError(f"{name} must be an int >= {lowest}, got {value!r}.")
        for name, (lowest, highest, closed) in _FLOAT_FIELDS.items():
            value = getattr(self, name)
            if not _is_real(value) or value < lowest or (value == lowest and not closed) or value >= highest:
                bounds = f"{'[' if closed else '('}{lowest:g}, {highest:g})"
                raise ValueError(f"{name} must be a number in {bounds}, got {value!r}.")
        for name in _BOOL_FIELDS:
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}.")
        for name in _OPTIONAL_TOKEN_IDS:
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or value < 0):
                raise ValueError(f"{name} must be a token id (an int >= 0) or null, got {value!r}.")
        if not isinstance(self.hidden_act, str):
            raise ValueError(f"hidden_act must be an activation name such as \"gelu\", got {self.hidden_act!r}.")
        if not _is_int(self.chunk_size_feed_forward) or self.chunk_size_feed_forward < 0:
            raise ValueError(f"chunk_size_feed_forward must be an int >= 0, got {self.chunk_size_feed_forward!r}.")
        if self.architectures is not None and not (
                isinstance(self.architectures, list) and all(isinstance(a, str) for a in self.architectures)):
            raise ValueError(f"architectures must be a list of class names, got {self.architectures!r}.")

    # --- (de)serialisation ----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """All fields as a JSON-ready dict in Hugging Face's `config.json` layout."""
        out: dict[str, Any] = {"model_type": self.model_type}
        for key in _DEFAULTS:
            out[key] = copy.deepcopy(getattr(self, key))
        out["id2label"] = {str(k): v for k, v in self.id2label.items()}
        out["label2id"] = dict(self.label2id)
        for key in self._extra_keys:
            out[key] = copy.deepcopy(getattr(self, key))
        return out

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **overrides: Any) -> LongformerConfig:
        """Build from a `config.json`-style dict; `overrides` win over its entries."""
        merged = dict(config_dict)
        model_type = merged.get("model_type", "longformer")
        if model_type != "longformer":
            raise ValueError(
                f"config.json describes a {model_type!r} model, not 'longformer'. To turn a RoBERTa or BERT "
                "checkpoint into a Longformer use `tf-longformer elongate`."
            )
        merged.update(overrides)
        return cls(**merged)

    def to_json_string(self, use_diff: bool = True) -> str:
        """The config as `config.json` text (every field; `use_diff` is accepted for transformers
        compatibility, a full file loads the same)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"

    def to_json_file(self, json_file_path: str | os.PathLike, use_diff: bool = True) -> None:
        """Write the config to `json_file_path` (atomically)."""
        atomic_write_text(json_file_path, self.to_json_string(use_diff))

    @classmethod
    def from_json_file(cls, json_file: str | os.PathLike) -> LongformerConfig:
        """Read a config from a JSON file (e.g. a `config.json`)."""
        return cls.from_pretrained(json_file)

    def save_pretrained(self, save_directory: str | os.PathLike) -> None:
        """Write `config.json` (atomically) into `save_directory`."""
        os.makedirs(save_directory, exist_ok=True)
        atomic_write_text(os.path.join(save_directory, "config.json"), self.to_json_string())

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, **kwargs: Any) -> LongformerConfig:
        """Read `config.json` from a folder, a file, or a Hugging Face hub id (cache first).

        Args:
            name_or_path: folder holding `config.json`, the file itself, or a hub id.
            **kwargs: fields that replace those in the file, and the hub arguments of transformers
                (`cache_dir`, `revision`, `subfolder`, `token`, `local_files_only`, `force_download`).

        Returns:
            LongformerConfig.
        """
        # late import: hub access only when asked for
        from .hub import resolve_model_folder, split_hub_options

        hub_options, overrides = split_hub_options(kwargs)
        path = os.fspath(name_or_path)
        if os.path.isfile(path):
            config_file = path
        else:
            config_file = os.path.join(resolve_model_folder(path, need=("config.json",), **hub_options), "config.json")
        try:
            with open(config_file, encoding="utf-8") as f:
                config_dict = json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f"{config_file} is not valid JSON ({err}); re-download or re-save the config.") from err
        return cls.from_dict(config_dict, **overrides)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LongformerConfig) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"LongformerConfig {self.to_json_string()}"
