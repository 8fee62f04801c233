"""`model.prepare_tf_dataset`: a Hugging Face `datasets.Dataset` as batches for Keras `fit`.

As transformers 4: the columns that are inputs of the model's `call` become the input dict, its label
columns (`labels`, or `start_positions` / `end_positions` for question answering; a `label` or
`label_ids` column is renamed `labels`) become `y`, every other column is dropped, and each batch is
padded to its own longest example (dynamic padding) when a tokenizer is given. `fit` then moves `y`
into the inputs, so the model's own loss is trained.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import tensorflow as tf

_LABEL_ALIASES = ("label", "label_ids")
_TOKENIZER_KEYS = ("input_ids", "attention_mask", "token_type_ids", "special_tokens_mask")
# per-token columns padded here (the tokenizer pads its own), with their padding value
_PAD_VALUES = {"labels": -100, "global_attention_mask": 0, "position_ids": 1}


def _renamed_labels(example: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(example)
    for alias in _LABEL_ALIASES:
        if alias in out and "labels" not in out:
            out["labels"] = out.pop(alias)
    return out


def stack_examples(examples: list[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Collate examples of equal length into one batch of arrays (`label` / `label_ids` → `labels`)."""
    examples = [_renamed_labels(e) for e in examples]
    return {key: np.stack([np.asarray(e[key]) for e in examples]) for key in examples[0]}


class PaddingCollator:
    """Collate examples into a batch padded to its longest example (transformers' `DataCollatorWithPadding`).

    The tokenizer pads `input_ids` / `attention_mask` (with its pad id and side); per-token `labels` are
    padded with -100 (ignored by the loss) and `global_attention_mask` with 0; other columns are stacked.

    Args:
        tokenizer: a `LongformerTokenizerFast` (anything with transformers' `pad`).
        pad_to_multiple_of: round every batch's length up to a multiple of this (e.g. the attention window).
    """

    def __init__(self, tokenizer, pad_to_multiple_of: int | None = None) -> None:
        self.tokenizer = tokenizer
        self.pad_to_multiple_of = pad_to_multiple_of

    def __call__(self, examples: list[Mapping[str, Any]]) -> dict[str, np.ndarray]:
        examples = [_renamed_labels(e) for e in examples]
        token_part = [{k: np.asarray(e[k]).tolist() for k in _TOKENIZER_KEYS if k in e} for e in examples]
        batch = dict(self.tokenizer.pad(token_part, padding=True, pad_to_multiple_of=self.pad_to_multiple_of,
                                        return_tensors="np").items())
        length = batch["input_ids"].shape[-1]
        left = getattr(self.tokenizer, "padding_side", "right") == "left"
        for key in examples[0]:
            if key in batch:
                continue
            values = [np.asarray(e[key]) for e in examples]
            per_token = all(v.ndim == 1 and v.shape[0] == len(t["input_ids"])
                            for v, t in zip(values, token_part, strict=True))
            if per_token and key in _PAD_VALUES:
                widths = [(length - v.shape[0], 0) if left else (0, length - v.shape[0]) for v in values]
                values = [np.pad(v, w, constant_values=_PAD_VALUES[key]) for v, w in zip(values, widths, strict=True)]
            batch[key] = np.stack(values)
        return batch


def split_columns(model, names: list[str]) -> tuple[list[str], list[str]]:
    """`(input columns, label columns)` among `names` for `model` (other names are dropped)."""
    parameters = [n for n in inspect.signature(model.call).parameters if n != "training"]
    labels = [n for n in names if n in model.target_names]
    inputs = [n for n in names if n in parameters and n not in labels and n not in ("labels",)]
    return inputs, labels


def prepare_tf_dataset(model, dataset, batch_size: int = 8, shuffle: bool = True, tokenizer=None,
                       collate_fn: Callable | None = None, collate_fn_args: dict | None = None,
                       drop_remainder: bool | None = None, prefetch: bool = True) -> tf.data.Dataset:
    """Wrap a `datasets.Dataset` as a `tf.data.Dataset` of `(inputs, labels)` batches for `model.fit`.

    Args:
        model: the `TFLongformer*` model that will train on it.
        dataset: a `datasets.Dataset` of tokenized examples.
        batch_size: examples per batch.
        shuffle: shuffle the examples (each epoch).
        tokenizer: pads each batch to its longest example (`PaddingCollator`); without one the examples
            must have equal lengths (`stack_examples`).
        collate_fn: your own `list of examples -> dict of arrays` (replaces the two above).
        collate_fn_args: keyword arguments of `collate_fn`.
        drop_remainder: drop the last, smaller batch (default: `shuffle`).
        prefetch: prefetch batches.

    Returns:
        `tf.data.Dataset` of `(dict of inputs, labels)`: `labels` is one tensor, or a dict for two label
        columns (question answering).

    Raises:
        TypeError: `dataset` is not a `datasets.Dataset`.
        ValueError: the dataset holds no input column of the model.

    Example:
        >>> data = model.prepare_tf_dataset(tokenized["train"], batch_size=16, tokenizer=tokenizer)  # doctest: +SKIP
        >>> model.compile(optimizer="adam")                 # doctest: +SKIP
        >>> model.fit(data, epochs=3)                       # doctest: +SKIP
    """
    import datasets

    if not isinstance(dataset, datasets.Dataset):
        raise TypeError(f"prepare_tf_dataset takes a datasets.Dataset, got {type(dataset).__name__}; for other "
                        "data build a tf.data.Dataset of (inputs dict, labels) yourself.")
    if collate_fn is None:
        collate_fn = stack_examples if tokenizer is None else PaddingCollator(tokenizer)
    collate_fn_args = collate_fn_args or {}
    retained = set(inspect.signature(model.call).parameters) | set(_LABEL_ALIASES) | {"labels"}
    columns = [c for c in dataset.column_names if c in retained]
    sample = collate_fn([{c: dataset[0][c] for c in columns}], **collate_fn_args) if len(dataset) else {}
    input_cols, label_cols = split_columns(model, list(sample))
    if not input_cols:
        raise ValueError(f"The dataset has no input column of {type(model).__name__} (columns: "
                         f"{dataset.column_names}); tokenize it first (input_ids, attention_mask).")
    return dataset.to_tf_dataset(
        columns=input_cols, label_cols=label_cols[0] if len(label_cols) == 1 else (label_cols or None),
        batch_size=batch_size, shuffle=shuffle, drop_remainder=shuffle if drop_remainder is None else drop_remainder,
        collate_fn=collate_fn, collate_fn_args=collate_fn_args, prefetch=prefetch)
