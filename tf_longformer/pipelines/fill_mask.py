"""`fill-mask`: the most likely tokens for each `<mask>` of a text (transformers' `FillMaskPipeline`)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from .base import Pipeline, reject_unknown, softmax

logger = logging.getLogger("tf_longformer")


class FillMaskPipeline(Pipeline):
    """Predict the masked tokens of texts with a `TFLongformerForMaskedLM`.

    Call parameters (also accepted by `pipeline(...)` as defaults):
        top_k: predictions per mask (default 5).
        targets: a token or list of tokens; only these are scored. A target that is not a vocabulary token is
            tokenized and its first token used (with a warning), as in transformers.
        tokenizer_kwargs: extra tokenizer arguments (e.g. `{"truncation": True}`).

    Returns:
        For a text with one mask, a list of `top_k` dicts `{"score", "token", "token_str", "sequence"}`, best
        first; with several masks, one such list per mask (in text order). A list of texts gives a list of
        those (a list of one text gives the result of that text, as in transformers).

    Example:
        >>> from tf_longformer import pipeline
        >>> fill = pipeline("fill-mask")                      # the demo model shipped with the package
        >>> fill("Open the <mask> for reading.", top_k=2)   # doctest: +SKIP
    """

    task = "fill-mask"
    per_token_outputs = ("logits",)

    def __call__(self, inputs: Any, **kwargs: Any) -> Any:
        outputs = super().__call__(inputs, **kwargs)
        if isinstance(inputs, (list, tuple)) and len(inputs) == 1:
            return outputs[0]
        return outputs

    def _sanitize(self, top_k: int = 5, targets: Any = None, tokenizer_kwargs: dict | None = None,
                  **unknown: Any) -> tuple[dict, dict]:
        reject_unknown(self.task, unknown)
        if self.tokenizer.mask_token_id is None:
            raise ValueError("The tokenizer does not define a mask token; fill-mask needs one.")
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"top_k must be a positive int, got {top_k!r}")
        target_ids = self._target_ids(targets) if targets is not None else None
        return {"tokenizer_kwargs": dict(tokenizer_kwargs or {})}, {"top_k": top_k, "target_ids": target_ids}

    def _target_ids(self, targets: Any) -> np.ndarray:
        if isinstance(targets, str):
            targets = [targets]
        vocab = self.tokenizer.get_vocab()
        ids = []
        for target in targets:
            token_id = vocab.get(target)
            if token_id is None:
                pieces = self.tokenizer(target, add_special_tokens=False, return_attention_mask=False,
                                        max_length=1, truncation=True)["input_ids"]
                if not pieces:
                    logger.warning("The target %r is not in the model vocabulary and gives no token; ignored.", target)
                    continue
                token_id = pieces[0]
                logger.warning("The target %r is not in the model vocabulary; using %r instead.", target,
                               self.tokenizer.convert_ids_to_tokens(token_id))
            ids.append(token_id)
        ids = list(set(ids))
        if not ids:
            raise ValueError("At least one target must be provided when passed.")
        return np.array(ids)

    def preprocess(self, item: Any, tokenizer_kwargs: dict) -> list[dict[str, Any]]:
        if not isinstance(item, str):
            raise ValueError(f"fill-mask takes a text (str) or a list of texts, got {type(item).__name__}")
        enc = self.tokenizer(item, **tokenizer_kwargs)
        if self.tokenizer.mask_token_id not in enc["input_ids"]:
            raise ValueError(f"No mask_token ({self.tokenizer.mask_token}) found on the input: {_short(item)!r}")
        return [{"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}]

    def forward_outputs(self, output) -> dict[str, Any]:
        return {"logits": output.logits}

    def postprocess(self, item, features, outputs, top_k: int, target_ids: np.ndarray | None) -> Any:
        input_ids = np.asarray(features[0]["input_ids"])
        masked_index = np.nonzero(input_ids == self.tokenizer.mask_token_id)[0]
        probs = softmax(outputs[0]["logits"][masked_index].astype(np.float32))
        if target_ids is not None:
            probs = probs[..., target_ids]
        top_k = min(top_k, probs.shape[-1])
        order = np.argsort(-probs, axis=-1, kind="stable")[:, :top_k]
        single_mask = len(masked_index) == 1
        pad_id = self.tokenizer.pad_token_id
        result = []
        for i, row in enumerate(order):
            predictions = []
            for column in row:
                token = int(target_ids[column]) if target_ids is not None else int(column)
                tokens = input_ids.copy()
                tokens[masked_index[i]] = token
                tokens = tokens[tokens != pad_id]
                predictions.append({
                    "score": float(probs[i, column]),
                    "token": token,
                    "token_str": self.tokenizer.decode([token]),
                    # the other masks stay visible in the sequence when there are several
                    "sequence": self.tokenizer.decode(tokens.tolist(), skip_special_tokens=single_mask),
                })
            result.append(predictions)
        return result[0] if single_mask else result


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
