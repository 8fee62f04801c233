"""`feature-extraction`: the encoder's hidden states of texts (transformers' `FeatureExtractionPipeline`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Pipeline, reject_unknown


class FeatureExtractionPipeline(Pipeline):
    """Last hidden states of a `TFLongformerModel` (or the first output of any TFLongformer model).

    Call parameters:
        truncation: cut texts longer than the tokenizer's `model_max_length`.
        tokenize_kwargs: other tokenizer arguments.
        return_tensors: return a `tf.Tensor` of shape `[1, tokens, hidden]` instead of nested lists.

    Returns:
        For each text, nested lists `[1][tokens][hidden]` (as transformers gives): one vector per token,
        `<s>` and `</s>` included. Batching never adds padding rows to the result.

    Example:
        >>> features = pipeline("feature-extraction")("Return the number of items.")   # doctest: +SKIP
        >>> len(features[0][0])                                                         # hidden size
        192
    """

    task = "feature-extraction"
    per_token_outputs = ("features",)

    def _sanitize(self, truncation: bool | None = None, tokenize_kwargs: dict | None = None,
                  return_tensors: bool = False, **unknown: Any) -> tuple[dict, dict]:
        reject_unknown(self.task, unknown)
        tokenize_kwargs = dict(tokenize_kwargs or {})
        if truncation is not None:
            if "truncation" in tokenize_kwargs:
                raise ValueError("truncation given twice (as a keyword argument and in tokenize_kwargs)")
            tokenize_kwargs["truncation"] = truncation
        return {"tokenize_kwargs": tokenize_kwargs}, {"return_tensors": bool(return_tensors)}

    def preprocess(self, item: Any, tokenize_kwargs: dict) -> list[dict[str, Any]]:
        if not isinstance(item, str):
            raise ValueError(f"feature-extraction takes a text (str) or a list of texts, got {type(item).__name__}")
        enc = self.tokenizer(item, **tokenize_kwargs)
        return [{"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}]

    def forward_outputs(self, output) -> dict[str, Any]:
        first = output.to_tuple()[0] if hasattr(output, "to_tuple") else output[0]
        return {"features": first}

    def postprocess(self, item, features, outputs, return_tensors: bool) -> Any:
        values = np.asarray(outputs[0]["features"])[None]
        if return_tensors:
            import tensorflow as tf

            return tf.constant(values)
        return values.tolist()
