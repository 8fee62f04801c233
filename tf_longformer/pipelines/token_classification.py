"""`token-classification` (alias `ner`): a label per token, optionally grouped into entities (transformers'
`TokenClassificationPipeline`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Pipeline, reject_unknown, softmax

AGGREGATION_STRATEGIES = ("none", "simple", "first", "average", "max")


class TokenClassificationPipeline(Pipeline):
    """Label the tokens of texts with a `TFLongformerForTokenClassification`.

    Inputs: a text or a list of texts (with `is_split_into_words=True`: a list of words, or a list of such lists;
    one list of words gives a list holding its one result, as transformers does).

    Call parameters:
        aggregation_strategy: "none" (one dict per token: `entity`, `score`, `index`, `word`, `start`, `end`),
            "simple" (adjacent tokens with the same B-/I- tag grouped: `entity_group`, `score` = mean, `word`,
            `start`, `end`), or "first" / "average" / "max" (as "simple", but every word first gets one label: that
            of its first token, of its averaged scores, or of its highest-scoring token). Byte-level BPE has no
            word markers, so a token starts a new word when a space precedes it, as in transformers.
        ignore_labels: labels left out of the result (default `["O"]`).
        stride: tokens of overlap when a text longer than `tokenizer.model_max_length` is split into chunks
            (needs an aggregation strategy other than "none"); overlapping entities are resolved as in transformers.
        is_split_into_words, delimiter: pre-split input; words are joined with `delimiter` (default " ") for the
            character offsets.

    `start`/`end` are character offsets into the text.

    Example:
        >>> ner = pipeline("ner", model="path/to/ner-model", aggregation_strategy="simple")   # doctest: +SKIP
        >>> ner("Ada Lovelace was born in London.")                                          # doctest: +SKIP
    """

    task = "token-classification"
    per_token_outputs = ("logits",)

    def __call__(self, inputs: Any, **kwargs: Any) -> Any:
        split = bool({**self._defaults, **kwargs}.get("is_split_into_words", False))
        if split and isinstance(inputs, (list, tuple)) and inputs and \
                not all(isinstance(x, (list, tuple)) for x in inputs):
            return super().__call__([list(inputs)], **kwargs)  # one pre-split text: a list of one result, as in transformers
        return super().__call__(inputs, **kwargs)

    def _sanitize(self, ignore_labels: list[str] | None = None, aggregation_strategy: str | None = None,
                  stride: int | None = None, is_split_into_words: bool = False, delimiter: str | None = None,
                  **unknown: Any) -> tuple[dict, dict]:
        reject_unknown(self.task, unknown)
        strategy = "none" if aggregation_strategy is None else str(aggregation_strategy).lower()
        if strategy not in AGGREGATION_STRATEGIES:
            raise ValueError(f"aggregation_strategy must be one of {AGGREGATION_STRATEGIES}, got {aggregation_strategy!r}")
        pre: dict[str, Any] = {"is_split_into_words": bool(is_split_into_words),
                               "delimiter": " " if delimiter is None else delimiter, "tokenizer_params": {}}
        if stride is not None:
            if stride >= self.tokenizer.model_max_length:
                raise ValueError("`stride` must be less than `tokenizer.model_max_length` (or even lower if the "
                                 "tokenizer adds special tokens)")
            if strategy == "none":
                raise ValueError('`stride` splits long texts into chunks, which needs an aggregation_strategy other '
                                 'than "none".')
            pre["tokenizer_params"] = {"return_overflowing_tokens": True, "stride": stride}
        post = {"aggregation_strategy": strategy, "ignore_labels": ["O"] if ignore_labels is None else ignore_labels}
        return pre, post

    def preprocess(self, item: Any, is_split_into_words: bool, delimiter: str,
                   tokenizer_params: dict) -> list[dict[str, Any]]:
        params = dict(tokenizer_params)
        word_to_chars = None
        if is_split_into_words:
            if not isinstance(item, list) or not all(isinstance(w, str) for w in item):
                raise ValueError("With is_split_into_words=True an input must be a list of words (str).")
            word_to_chars, position = [], 0
            for word in item:
                word_to_chars.append((position, position + len(word)))
                position += len(word) + len(delimiter)
            sentence, to_tokenize = delimiter.join(item), item
            params["is_split_into_words"] = True
        else:
            if not isinstance(item, str):
                raise ValueError(f"token-classification takes a text (str) or a list of texts, got {type(item).__name__}")
            sentence = to_tokenize = item
        truncation = bool(self.tokenizer.model_max_length and self.tokenizer.model_max_length > 0)
        enc = self.tokenizer(to_tokenize, truncation=truncation, return_special_tokens_mask=True,
                             return_offsets_mapping=True, **params)
        rows = enc["input_ids"] if params.get("return_overflowing_tokens") else [enc["input_ids"]]

        def row_of(key: str, i: int):
            return enc[key][i] if params.get("return_overflowing_tokens") else enc[key]

        features = []
        for i in range(len(rows)):
            features.append({
                "input_ids": row_of("input_ids", i), "attention_mask": row_of("attention_mask", i),
                "special_tokens_mask": row_of("special_tokens_mask", i), "offset_mapping": row_of("offset_mapping", i),
                "sentence": sentence, "word_ids": enc.word_ids(i) if word_to_chars is not None else None,
                "word_to_chars": word_to_chars,
            })
        return features

    def forward_outputs(self, output) -> dict[str, Any]:
        return {"logits": output.logits}

    def postprocess(self, item, features, outputs, aggregation_strategy: str, ignore_labels: list[str]) -> list[dict]:
        entities: list[dict] = []
        for feature, output in zip(features, outputs, strict=True):
            scores = softmax(np.asarray(output["logits"], dtype=np.float32))
            pre_entities = self.gather_pre_entities(feature, scores)
            grouped = self.aggregate(pre_entities, aggregation_strategy)
            entities.extend(e for e in grouped if e.get("entity") not in ignore_labels
                            and e.get("entity_group") not in ignore_labels)
        if len(features) > 1:
            entities = aggregate_overlapping_entities(entities)
        return entities

    # --- transformers' postprocessing, step for step ----------------------------------------------------

    def gather_pre_entities(self, feature: dict, scores: np.ndarray) -> list[dict]:
        sentence = feature["sentence"]
        word_ids, word_to_chars = feature["word_ids"], feature["word_to_chars"]
        pre_entities = []
        for idx, token_scores in enumerate(scores):
            if feature["special_tokens_mask"][idx]:
                continue
            token_id = int(feature["input_ids"][idx])
            word = self.tokenizer.convert_ids_to_tokens(token_id)
            start, end = (int(x) for x in feature["offset_mapping"][idx])
            if word_ids is not None and word_to_chars is not None and word_ids[idx] is not None:
                shift = word_to_chars[word_ids[idx]][0]
                start, end = start + shift, end + shift
            word_ref = sentence[start:end]
            # byte-level BPE has no continuing-subword prefix: a token continues a word when no space precedes it
            is_subword = start > 0 and " " not in sentence[start - 1:start + 1]
            if token_id == self.tokenizer.unk_token_id:
                word, is_subword = word_ref, False
            pre_entities.append({"word": word, "scores": token_scores, "start": start, "end": end, "index": idx,
                                 "is_subword": is_subword})
        return pre_entities

    def aggregate(self, pre_entities: list[dict], strategy: str) -> list[dict]:
        id2label = self.model.config.id2label
        if strategy in ("none", "simple"):
            entities = []
            for pre in pre_entities:
                label = int(pre["scores"].argmax())
                entities.append({"entity": id2label[label], "score": float(pre["scores"][label]),
                                 "index": pre["index"], "word": pre["word"], "start": pre["start"], "end": pre["end"]})
        else:
            entities = self.aggregate_words(pre_entities, strategy)
        return entities if strategy == "none" else self.group_entities(entities)

    def aggregate_word(self, entities: list[dict], strategy: str) -> dict:
        id2label = self.model.config.id2label
        word = self.tokenizer.convert_tokens_to_string([e["word"] for e in entities])
        if strategy == "first":
            scores = entities[0]["scores"]
        elif strategy == "max":
            scores = max(entities, key=lambda e: e["scores"].max())["scores"]
        else:  # average
            scores = np.nanmean(np.stack([e["scores"] for e in entities]), axis=0)
        label = int(scores.argmax())
        return {"entity": id2label[label], "score": float(scores[label]), "word": word,
                "start": entities[0]["start"], "end": entities[-1]["end"]}

    def aggregate_words(self, entities: list[dict], strategy: str) -> list[dict]:
        words, group = [], None
        for entity in entities:
            if group is None:
                group = [entity]
            elif entity["is_subword"]:
                group.append(entity)
            else:
                words.append(self.aggregate_word(group, strategy))
                group = [entity]
        if group is not None:
            words.append(self.aggregate_word(group, strategy))
        return words

    def group_sub_entities(self, entities: list[dict]) -> dict:
        return {
            "entity_group": entities[0]["entity"].split("-", 1)[-1],
            "score": float(np.mean(np.nanmean(np.array([e["score"] for e in entities], dtype=np.float32)))),
            "word": self.tokenizer.convert_tokens_to_string([e["word"] for e in entities]),
            "start": entities[0]["start"],
            "end": entities[-1]["end"],
        }

    def group_entities(self, entities: list[dict]) -> list[dict]:
        groups, current = [], []
        for entity in entities:
            if not current:
                current.append(entity)
                continue
            bi, tag = get_tag(entity["entity"])
            _, last_tag = get_tag(current[-1]["entity"])
            if tag == last_tag and bi != "B":
                current.append(entity)
            else:
                groups.append(self.group_sub_entities(current))
                current = [entity]
        if current:
            groups.append(self.group_sub_entities(current))
        return groups


def get_tag(entity_name: str) -> tuple[str, str]:
    """("B" or "I", tag) of a label; labels without a B-/I- prefix count as "I"."""
    if entity_name.startswith("B-"):
        return "B", entity_name[2:]
    if entity_name.startswith("I-"):
        return "I", entity_name[2:]
    return "I", entity_name


def aggregate_overlapping_entities(entities: list[dict]) -> list[dict]:
    """Entities of overlapping chunks: of two that overlap keep the longer (then the higher-scoring) one."""
    if not entities:
        return entities
    entities = sorted(entities, key=lambda x: x["start"])
    kept, previous = [], entities[0]
    for entity in entities:
        if previous["start"] <= entity["start"] < previous["end"]:
            length, previous_length = entity["end"] - entity["start"], previous["end"] - previous["start"]
            if length > previous_length or (length == previous_length and entity["score"] > previous["score"]):
                previous = entity
        else:
            kept.append(previous)
            previous = entity
    kept.append(previous)
    return kept
