"""Tokenized texts → a `tf.data.Dataset` of length-bucketed batches padded to attention-window multiples.

A Longformer pads every input to a multiple of its largest attention window anyway. Padding batches to
a few fixed lengths (each a window multiple) on the data side means every batch of a bucket has the
same shape, so a compiled step (`jit_compile=True`, TPU) is compiled once per bucket instead of once per
batch, and short documents do not pay for the longest one.

Example:
    >>> from tf_longformer.data import make_bucketed_dataset
    >>> ds = make_bucketed_dataset([[0, 5, 6, 2], [0, 7, 2]], labels=[1, 0], batch_size=2,
    ...                            pad_to_multiple_of=8)
    >>> batch = next(iter(ds))
    >>> tuple(batch["input_ids"].shape), batch["labels"].numpy().tolist()
    ((2, 8), [1, 0])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

# Padding value per input name; other names pad with 0.
_LABEL_NAMES = ("labels", "start_positions", "end_positions")


def bucket_lengths(lengths: Sequence[int], pad_to_multiple_of: int, bucket_boundaries: Sequence[int] | None = None,
                   ) -> list[int]:
    """The padded length of each example: the smallest bucket that holds it.

    Args:
        lengths: token count of each example.
        pad_to_multiple_of: every bucket is a multiple of this (the model's largest attention window).
        bucket_boundaries: the bucket lengths; each is rounded up to a multiple of `pad_to_multiple_of`.
            Default: every multiple of `pad_to_multiple_of` up to the longest example.

    Returns:
        One bucket length per example.

    Raises:
        ValueError: an example is longer than the largest bucket.
    """
    if pad_to_multiple_of <= 0:
        raise ValueError(f"pad_to_multiple_of must be positive, got {pad_to_multiple_of}.")
    lengths = np.asarray(lengths, dtype=np.int64)
    m = pad_to_multiple_of
    if bucket_boundaries is None:
        return [int(-(-max(n, 1) // m) * m) for n in lengths.tolist()]
    buckets = np.unique([-(-int(b) // m) * m for b in bucket_boundaries if int(b) > 0])
    if buckets.size == 0:
        raise ValueError("bucket_boundaries needs at least one positive length.")
    too_long = lengths > buckets[-1]
    if too_long.any():
        raise ValueError(
            f"{int(too_long.sum())} example(s) are longer than the largest bucket ({buckets[-1]} tokens; longest "
            f"{int(lengths.max())}); add a larger boundary or truncate (tokenizer(..., truncation=True, max_length=...))."
        )
    return [int(v) for v in buckets[np.searchsorted(buckets, lengths, side="left")]]


def make_bucketed_dataset(
    features: Mapping[str, Sequence] | Sequence[Sequence[int]],
    labels: Sequence | Mapping[str, Sequence] | None = None,
    *,
    batch_size: int,
    pad_to_multiple_of: int | None = None,
    bucket_boundaries: Sequence[int] | None = None,
    pad_token_id: int | None = None,
    config: Any = None,
    label_pad_id: int = -100,
    labels_in_inputs: bool = True,
    shuffle: bool = False,
    seed: int | None = None,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """Group examples by length, pad each group to its bucket length, batch.

    Every batch holds examples of one bucket and has shape `(batch_size, bucket_length)` (the last batch
    of a bucket may be smaller unless `drop_remainder`), so the number of distinct input shapes — and of
    XLA compilations — is the number of buckets.

    Args:
        features: unpadded tokenizer output: a dict of per-example lists (`input_ids`, `attention_mask`,
            `global_attention_mask`, `token_type_ids`, ...; e.g. `tokenizer(texts)` without padding) or
            a list of token-id lists. Multiple-choice examples (`(choices, tokens)` each) pad the last axis.
            A missing `attention_mask` is created (1 on tokens, 0 on padding).
        labels: one label per example (class id, float score, or a per-token list padded with
            `label_pad_id`), or a dict such as `{"start_positions": ..., "end_positions": ...}`.
        batch_size: examples per batch.
        pad_to_multiple_of: bucket lengths are multiples of this; default `config.padding_multiple`.
        bucket_boundaries: bucket lengths (see `bucket_lengths`); default: every multiple.
        pad_token_id: id used to pad `input_ids`; default `config.pad_token_id`.
        config: a `LongformerConfig` to take the defaults from.
        label_pad_id: padding of per-token labels (ignored by the losses).
        labels_in_inputs: True: batches are one dict with the labels inside (Hugging Face style, the
            model's own loss); False: `(inputs, labels)` tuples (Keras style, `compile(loss=...)`).
        shuffle: shuffle examples within buckets and the order of batches (each epoch).
        seed: shuffle seed.
        drop_remainder: drop each bucket's last partial batch (one batch shape per bucket).

    Returns:
        A `tf.data.Dataset` of padded batches.

    Raises:
        ValueError: inconsistent lengths, an example longer than the largest bucket, or no padding info.
    """
    if pad_to_multiple_of is None:
        if config is None:
            raise ValueError("Give pad_to_multiple_of (the model's largest attention window) or config=.")
        pad_to_multiple_of = config.padding_multiple
    if pad_token_id is None:
        pad_token_id = 1 if config is None else config.pad_token_id
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}.")
    if not isinstance(features, Mapping):
        features = {"input_ids": features}
    features = {k: list(v) for k, v in features.items()}
    if "input_ids" not in features:
        raise ValueError(f"features need 'input_ids', got {sorted(features)}.")
    n = len(features["input_ids"])
    if n == 0:
        raise ValueError("No examples.")
    for name, values in features.items():
        if len(values) != n:
            raise ValueError(f"{name} has {len(values)} examples but input_ids has {n}.")
    if "attention_mask" not in features:
        features["attention_mask"] = [_ones_like(x) for x in features["input_ids"]]
    if labels is None:
        label_dict: dict[str, list] = {}
    elif isinstance(labels, Mapping):
        label_dict = {k: list(v) for k, v in labels.items()}
    else:
        label_dict = {"labels": list(labels)}
    for name, values in label_dict.items():
        if len(values) != n:
            raise ValueError(f"{name} has {len(values)} entries for {n} examples.")

    lengths = [np.shape(x)[-1] for x in features["input_ids"]]
    padded_len = bucket_lengths(lengths, pad_to_multiple_of, bucket_boundaries)
    per_token_label = {name: _is_per_token(values, lengths) for name, values in label_dict.items()}

    datasets = []
    for bucket in sorted(set(padded_len)):
        rows = [i for i, p in enumerate(padded_len) if p == bucket]
        inputs = {name: _pad_rows([values[i] for i in rows], bucket, pad_token_id if name == "input_ids" else 0)
                  for name, values in features.items()}
        targets = {
            name: _pad_rows([values[i] for i in rows], bucket, label_pad_id) if per_token_label[name]
            else _as_label_array([values[i] for i in rows])
            for name, values in label_dict.items()
        }
        ds = tf.data.Dataset.from_tensor_slices(_structure(inputs, targets, labels_in_inputs))
        if shuffle:
            ds = ds.shuffle(len(rows), seed=seed, reshuffle_each_iteration=True)
        datasets.append(ds.batch(batch_size, drop_remainder=drop_remainder))
    out = datasets[0]
    for ds in datasets[1:]:
        out = out.concatenate(ds)
    if shuffle:
        num_batches = sum(-(-sum(p == b for p in padded_len) // batch_size) for b in set(padded_len))
        out = out.shuffle(max(num_batches, 1), seed=seed, reshuffle_each_iteration=True)
    return out.prefetch(tf.data.AUTOTUNE)


def _structure(inputs: dict, targets: dict, labels_in_inputs: bool):
    if not targets:
        return inputs
    if labels_in_inputs:
        return {**inputs, **targets}
    if len(targets) == 1:
        return inputs, next(iter(targets.values()))
    return inputs, tuple(targets[name] for name in _LABEL_NAMES if name in targets)


def _ones_like(x) -> np.ndarray:
    return np.ones(np.shape(x), dtype=np.int32)


def _is_per_token(values: Sequence, lengths: Sequence[int]) -> bool:
    """Labels with one entry per token (token classification, MLM) rather than one per example."""
    shapes = [np.shape(v) for v in values]
    if all(len(s) >= 1 and s[-1] == n for s, n in zip(shapes, lengths, strict=True)):
        return True
    if any(s != shapes[0] for s in shapes):
        raise ValueError(
            "Labels must be one value (or one fixed-size vector) per example, or one entry per token; got "
            f"shapes {shapes[0]} and {next(s for s in shapes if s != shapes[0])}."
        )
    return False


def _as_label_array(values: list) -> np.ndarray:
    array = np.asarray(values)
    return array.astype(np.int32) if np.issubdtype(array.dtype, np.integer) else array.astype(np.float32)


def _pad_rows(rows: list, length: int, value: int) -> np.ndarray:
    """Stack `rows` (each `(..., n_i)`) into `(len(rows), ..., length)` filled with `value`."""
    arrays = [np.asarray(r) for r in rows]
    lead = arrays[0].shape[:-1]
    for a in arrays:
        if a.shape[:-1] != lead:
            raise ValueError(f"Examples of different shapes {lead} and {a.shape[:-1]} (apart from length).")
    dtype = np.int32 if all(np.issubdtype(a.dtype, np.integer) for a in arrays) else np.float32
    out = np.full((len(arrays), *lead, length), value, dtype=dtype)
    for i, a in enumerate(arrays):
        out[i, ..., : a.shape[-1]] = a
    return out
