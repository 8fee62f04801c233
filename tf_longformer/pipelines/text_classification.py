"""`text-classification` (alias `sentiment-analysis`): labels of whole texts (transformers'
`TextClassificationPipeline`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Pipeline, reject_unknown, sigmoid, softmax

_FUNCTIONS = ("sigmoid", "softmax", "none")
_NO_TOP_K = object()  # `top_k` not given (None means "all labels", as in transformers)


def default_function(config) -> str:
    """What turns a model's logits into scores: none for regression, sigmoid for multi-label or single-output
    models, softmax otherwise (transformers' choice; the exported text signature uses it too)."""
    if config.problem_type == "regression":
        return "none"
    if config.problem_type == "multi_label_classification" or config.num_labels == 1:
        return "sigmoid"
    return "softmax"


class TextClassificationPipeline(Pipeline):
    """Classify texts (or text pairs) with a `TFLongformerForSequenceClassification`.

    Inputs: a text, a dict `{"text": ..., "text_pair": ...}`, or a list of those. The first token gets global
    attention (the model's default).

    Call parameters:
        top_k: number of labels per text, best first (None = all). When not given, each text gives only its
            best label `{"label", "score"}`, and a single text gives a one-element list, as in transformers.
        function_to_apply: "softmax", "sigmoid" or "none". Default: none for `problem_type="regression"`,
            sigmoid for multi-label or single-output models, softmax otherwise.
        **tokenizer_kwargs: passed to the tokenizer (e.g. `truncation=True`).

    Example:
        >>> clf = pipeline("text-classification", model="path/to/classifier")   # doctest: +SKIP
        >>> clf("A long review ...", top_k=None)                                # doctest: +SKIP
        [{'label': 'POSITIVE', 'score': 0.93}, {'label': 'NEGATIVE', 'score': 0.07}]
    """

    task = "text-classification"

    def __call__(self, inputs: Any, **kwargs: Any) -> Any:
        result = super().__call__(inputs, **kwargs)
        legacy = "top_k" not in kwargs
        if isinstance(inputs, str) and legacy:
            return [result]
        return result

    def _sanitize(self, function_to_apply: str | None = None, top_k: Any = _NO_TOP_K, **tokenizer_kwargs: Any):
        allowed = {"truncation", "max_length", "padding", "stride", "add_special_tokens"}
        reject_unknown(self.task, {k: v for k, v in tokenizer_kwargs.items() if k not in allowed})
        post: dict[str, Any] = {}
        if top_k is not _NO_TOP_K:
            if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
                raise ValueError(f"top_k must be a positive int or None, got {top_k!r}")
            post.update(top_k=top_k, legacy=False)
        if function_to_apply is not None and function_to_apply != "default":
            if str(function_to_apply).lower() not in _FUNCTIONS:
                raise ValueError(f"function_to_apply must be one of {_FUNCTIONS}, got {function_to_apply!r}")
            post["function_to_apply"] = str(function_to_apply).lower()
        return tokenizer_kwargs, post

    def preprocess(self, item: Any, **tokenizer_kwargs: Any) -> list[dict[str, Any]]:
        if isinstance(item, dict):
            unknown = set(item) - {"text", "text_pair"}
            if "text" not in item or unknown:
                raise ValueError('A text pair must be a dict {"text": ..., "text_pair": ...}.')
            enc = self.tokenizer(item["text"], item.get("text_pair"), **tokenizer_kwargs)
        elif isinstance(item, str):
            enc = self.tokenizer(item, **tokenizer_kwargs)
        else:
            raise ValueError(
                "text-classification takes a text, a dict {\"text\": ..., \"text_pair\": ...} or a list of those; "
                f"got {type(item).__name__}"
            )
        return [{"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}]

    def forward_outputs(self, output) -> dict[str, Any]:
        return {"logits": output.logits}

    def _default_function(self) -> str:
        return default_function(self.model.config)

    def postprocess(self, item, features, outputs, function_to_apply: str | None = None, top_k: int | None = 1,
                    legacy: bool = True) -> Any:
        logits = np.asarray(outputs[0]["logits"], dtype=np.float32)
        function = function_to_apply or self._default_function()
        scores = sigmoid(logits) if function == "sigmoid" else softmax(logits) if function == "softmax" else logits
        id2label = self.model.config.id2label
        if top_k == 1 and legacy:
            return {"label": id2label[int(scores.argmax())], "score": float(scores.max())}
        ranked = [{"label": id2label[i], "score": float(score)} for i, score in enumerate(scores)]
        if not legacy:
            ranked.sort(key=lambda x: x["score"], reverse=True)
            if top_k is not None:
                ranked = ranked[:top_k]
        return ranked
