"""Padding / truncation strategy names and python-side padding of already encoded inputs (HF semantics)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

PADDING_STRATEGIES = ("longest", "max_length", "do_not_pad")
TRUNCATION_STRATEGIES = ("longest_first", "only_first", "only_second", "do_not_truncate")
#: transformers' "no limit" value of `model_max_length`, and the bound above which it counts as unset.
VERY_LARGE_INTEGER = int(1e30)
LARGE_INTEGER = int(1e20)


def _name(value: Any, allowed: tuple[str, ...], what: str) -> str:
    name = getattr(value, "value", value)  # accepts transformers' PaddingStrategy / TruncationStrategy enums
    if name not in allowed:
        raise ValueError(f"{value!r} is not a valid {what}; use one of {allowed} (or True / False).")
    return name


def resolve_strategies(
    padding: bool | str,
    truncation: bool | str | None,
    max_length: int | None,
    pad_to_multiple_of: int | None,
    model_max_length: int,
    has_pad_token: bool,
    verbose: bool = True,
) -> tuple[str, str, int | None]:
    """Turn the `padding` / `truncation` / `max_length` arguments into strategies, exactly as transformers does.

    Args:
        padding: False / "do_not_pad", True / "longest", or "max_length".
        truncation: None / False / "do_not_truncate", True / "longest_first", "only_first" or "only_second".
            `max_length` given with padding=False and truncation=None turns truncation on ("longest_first").
        max_length: The length limit; defaults to `model_max_length` when a strategy needs one.
        pad_to_multiple_of: Checked against `max_length` when both truncating and padding.
        model_max_length: The tokenizer's `model_max_length` (above 1e20 means "no limit").
        has_pad_token: Whether the tokenizer has a pad token (padding needs one).
        verbose: Warn about ignored arguments.

    Returns:
        `(padding_strategy, truncation_strategy, max_length)` with strategy names from `PADDING_STRATEGIES` and
        `TRUNCATION_STRATEGIES`.

    Example:
        >>> resolve_strategies(True, None, None, None, 4096, True)
        ('longest', 'do_not_truncate', None)
    """
    if max_length is not None and padding is False and truncation is None:
        truncation = "longest_first"
    if padding is True:
        if verbose and max_length is not None and truncation in (None, False, "do_not_truncate"):
            warnings.warn(
                "`max_length` is ignored when `padding`=`True` and there is no truncation strategy. "
                "To pad to max length, use `padding='max_length'`.",
                stacklevel=3,
            )
        padding_strategy = "longest"
    elif padding is False or padding is None:
        padding_strategy = "do_not_pad"
    else:
        padding_strategy = _name(padding, PADDING_STRATEGIES, "padding strategy")

    if truncation is True:
        truncation_strategy = "longest_first"
    elif truncation is False or truncation is None:
        truncation_strategy = "do_not_truncate"
    else:
        truncation_strategy = _name(truncation, TRUNCATION_STRATEGIES, "truncation strategy")

    if max_length is None:
        if padding_strategy == "max_length":
            if model_max_length > LARGE_INTEGER:
                padding_strategy = "do_not_pad"
            else:
                max_length = model_max_length
        if truncation_strategy != "do_not_truncate":
            if model_max_length > LARGE_INTEGER:
                truncation_strategy = "do_not_truncate"
            else:
                max_length = model_max_length

    if padding_strategy != "do_not_pad" and not has_pad_token:
        raise ValueError("Asking to pad but the tokenizer does not have a padding token (set `pad_token`).")
    if (
        truncation_strategy != "do_not_truncate"
        and padding_strategy != "do_not_pad"
        and pad_to_multiple_of is not None
        and max_length is not None
        and max_length % pad_to_multiple_of != 0
    ):
        raise ValueError(
            "Truncation and padding are both activated but "
            f"truncation length ({max_length}) is not a multiple of pad_to_multiple_of ({pad_to_multiple_of})."
        )
    return padding_strategy, truncation_strategy, max_length


def to_python(value: Any) -> Any:
    """numpy arrays and TF / torch tensors → (nested) python lists; other values unchanged."""
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [to_python(v) for v in value]
    return value


def detect_tensor_type(value: Any) -> str | None:
    """`"np"` / `"tf"` when `value` (or its first row) is a numpy array / TF tensor, else None."""
    probe = value[0] if isinstance(value, (list, tuple)) and value else value
    if isinstance(probe, np.ndarray):
        return "np"
    if type(probe).__module__.startswith("tensorflow"):
        return "tf"
    return None


def pad_rows(
    encoded: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    *,
    pad_token_id: int,
    pad_token_type_id: int = 0,
    padding_strategy: str = "longest",
    max_length: int | None = None,
    pad_to_multiple_of: int | None = None,
    padding_side: str = "right",
    return_attention_mask: bool = True,
) -> tuple[dict[str, Any], bool]:
    """Pad encoded inputs given as python lists (transformers' `tokenizer.pad` minus tensor handling).

    `input_ids` is padded with `pad_token_id`, `attention_mask` with 0, `token_type_ids` with
    `pad_token_type_id`, `special_tokens_mask` with 1; other keys (e.g. `labels`) are left as they are.

    Args:
        encoded: A dict of lists (one row or a batch of rows) or a list of dicts (one per row).
        pad_token_id: Id used to pad `input_ids`.
        pad_token_type_id: Id used to pad `token_type_ids`.
        padding_strategy: "longest", "max_length" or "do_not_pad".
        max_length: Target length for "max_length".
        pad_to_multiple_of: Round the target length up to a multiple of this.
        padding_side: "right" or "left".
        return_attention_mask: Add / pad an `attention_mask`.

    Returns:
        `(padded dict, batched)` where `batched` tells whether rows were given (vs. a single sequence).

    Example:
        >>> pad_rows({"input_ids": [[0, 2], [0, 9, 2]]}, pad_token_id=1)[0]["input_ids"]
        [[0, 2, 1], [0, 9, 2]]
    """
    if padding_side not in ("right", "left"):
        raise ValueError(f"padding_side must be 'right' or 'left', got {padding_side!r}")
    if isinstance(encoded, Sequence) and not isinstance(encoded, Mapping):
        encoded = {key: [row[key] for row in encoded] for key in encoded[0]} if encoded else {"input_ids": []}
    data = {key: to_python(value) for key, value in encoded.items()}
    if "input_ids" not in data:
        raise ValueError(f"pad() needs `input_ids`, got keys {sorted(data)}")
    ids = data["input_ids"]
    batched = bool(ids) and isinstance(ids[0], list)
    rows = [{key: value[i] for key, value in data.items()} for i in range(len(ids))] if batched else [data]
    if padding_strategy == "longest":
        max_length = max((len(row["input_ids"]) for row in rows), default=0)
    for row in rows:
        _pad_row(
            row,
            pad_token_id,
            pad_token_type_id,
            padding_strategy,
            max_length,
            pad_to_multiple_of,
            padding_side,
            return_attention_mask,
        )
    if not batched:
        return rows[0], False
    keys = rows[0].keys() if rows else data.keys()
    return {key: [row[key] for row in rows] for key in keys}, True


def _pad_row(
    row: dict[str, Any],
    pad_token_id: int,
    pad_token_type_id: int,
    padding_strategy: str,
    max_length: int | None,
    pad_to_multiple_of: int | None,
    padding_side: str,
    return_attention_mask: bool,
) -> None:
    length = len(row["input_ids"])
    if return_attention_mask and "attention_mask" not in row:
        row["attention_mask"] = [1] * length
    if padding_strategy == "do_not_pad" or max_length is None:
        return
    if pad_to_multiple_of is not None and max_length % pad_to_multiple_of != 0:
        max_length = (max_length // pad_to_multiple_of + 1) * pad_to_multiple_of
    difference = max_length - length
    if difference <= 0:
        return
    fills = {"input_ids": pad_token_id, "token_type_ids": pad_token_type_id, "special_tokens_mask": 1}
    if return_attention_mask:
        fills["attention_mask"] = 0
    for key, fill in fills.items():
        if key in row:
            pad = [fill] * difference
            row[key] = row[key] + pad if padding_side == "right" else pad + row[key]
