"""`question-answering`: extractive answers with character offsets (transformers 4's
`QuestionAnsweringPipeline`, which transformers 5 no longer has).

Each question/context pair is tokenized as `<s> question </s></s> context </s>`; a context too long for
`max_seq_len` is cut into overlapping windows (`doc_stride` tokens of overlap), every window is scored, and the
best spans over all windows are returned with offsets into the original context. The question tokens get global
attention (the model's default).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .base import Pipeline, reject_unknown


class QuestionAnsweringPipeline(Pipeline):
    """Answer questions from contexts with a `TFLongformerForQuestionAnswering`.

    Inputs: `qa(question=..., context=...)` (strs, or lists of the same length, or a list of questions and one
    context), `qa({"question": ..., "context": ...})`, a list of such dicts, or `qa(question, context)`.

    Call parameters:
        top_k: answers per question (default 1); fewer when the context has fewer candidate spans.
        max_answer_len: longest answer in tokens (default 15).
        max_seq_len: tokens per window, question included (default: the model maximum, e.g. 4096, capped by
            the tokenizer's `model_max_length`; transformers' pipeline uses 384).
        doc_stride: tokens of overlap between windows (default `min(max_seq_len // 2, 128)`).
        handle_impossible_answer: also consider the empty answer (scored by `<s>`).
        align_to_words: widen answers to whole words (default True).

    Returns:
        `{"score", "start", "end", "answer"}` (`context[start:end] == answer`), or a list of them when `top_k`
        > 1; a list of such results for several questions.

    Example:
        >>> qa = pipeline("question-answering", model="path/to/longformer-squad")            # doctest: +SKIP
        >>> qa(question="Who wrote it?", context="It was written by Ada Lovelace in 1843.")  # doctest: +SKIP
        {'score': 0.97, 'start': 18, 'end': 30, 'answer': 'Ada Lovelace'}
    """

    task = "question-answering"
    per_token_outputs = ("start", "end")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        examples, kwargs = _parse_examples(args, kwargs)
        if len(examples) == 1:
            return super().__call__(examples[0], **kwargs)
        return super().__call__(examples, **kwargs)

    def _normalize_inputs(self, inputs: Any) -> tuple[list[Any], bool]:
        # an example is a (question, context) tuple; only a list means several
        return (list(inputs), True) if isinstance(inputs, list) else ([inputs], False)

    def _sanitize(self, top_k: int = 1, max_answer_len: int = 15, max_seq_len: int | None = None,
                  doc_stride: int | None = None, handle_impossible_answer: bool = False,
                  align_to_words: bool = True, padding: Any = None, max_question_len: Any = None,
                  **unknown: Any) -> tuple[dict, dict]:
        reject_unknown(self.task, unknown)
        for name, value in (("top_k", top_k), ("max_answer_len", max_answer_len)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} parameter should be >= 1 (got {value!r})")
        if max_seq_len is None:
            max_seq_len = min(self.tokenizer.model_max_length, self.model.config.max_sequence_length)
        if doc_stride is None:
            doc_stride = min(max_seq_len // 2, 128)
        if doc_stride > max_seq_len:
            raise ValueError(f"`doc_stride` ({doc_stride}) is larger than `max_seq_len` ({max_seq_len})")
        pre = {"max_seq_len": int(max_seq_len), "doc_stride": int(doc_stride)}
        post = {"top_k": top_k, "max_answer_len": max_answer_len,
                "handle_impossible_answer": bool(handle_impossible_answer), "align_to_words": bool(align_to_words)}
        return pre, post

    def preprocess(self, item: tuple[str, str], max_seq_len: int, doc_stride: int) -> list[dict[str, Any]]:
        question, context = item
        enc = self.tokenizer(question, context, padding=False, truncation="only_second", max_length=max_seq_len,
                             stride=doc_stride, return_overflowing_tokens=True, return_offsets_mapping=True,
                             return_special_tokens_mask=True)
        features = []
        for span in range(len(enc["input_ids"])):
            ids = enc["input_ids"][span]
            # p_mask: 1 where a token cannot be part of the answer (question, specials), 0 on the context and <s>
            p_mask = [int(s != 1) for s in enc.sequence_ids(span)]
            if self.tokenizer.cls_token_id is not None:
                for i in np.nonzero(np.array(ids) == self.tokenizer.cls_token_id)[0]:
                    p_mask[i] = 0
            features.append({"input_ids": ids, "attention_mask": enc["attention_mask"][span], "p_mask": p_mask,
                             "encoding": enc.encodings[span]})
        return features

    def forward_outputs(self, output) -> dict[str, Any]:
        return {"start": output.start_logits, "end": output.end_logits}

    def postprocess(self, item, features, outputs, top_k: int, max_answer_len: int,
                    handle_impossible_answer: bool, align_to_words: bool) -> Any:
        context = item[1]
        min_null_score = 1000000.0  # large and positive
        answers: list[dict] = []
        pre_topk = top_k * 2 + 10 if align_to_words else top_k  # aligning to words may merge candidates
        for feature, output in zip(features, outputs, strict=True):
            starts, ends, scores, min_null_score = select_starts_ends(
                output["start"][None], output["end"][None], np.array(feature["p_mask"]),
                np.array(feature["attention_mask"])[None], min_null_score, pre_topk, handle_impossible_answer,
                max_answer_len)
            enc = feature["encoding"]
            for s, e, score in zip(starts, ends, scores, strict=True):
                start_index, end_index = _char_span(enc, int(s), int(e), align_to_words)
                text = context[start_index:end_index]
                same = next((a for a in answers if a["answer"].lower() == text.lower()), None)
                if same is not None:
                    same["score"] += float(score)
                else:
                    answers.append({"score": float(score), "start": start_index, "end": end_index, "answer": text})
        if handle_impossible_answer:
            answers.append({"score": float(min_null_score), "start": 0, "end": 0, "answer": ""})
        answers = sorted(answers, key=lambda x: x["score"], reverse=True)[:top_k]
        return answers[0] if len(answers) == 1 else answers


def _char_span(enc, s: int, e: int, align_to_words: bool) -> tuple[int, int]:
    """Character span of tokens s..e in the context, widened to whole words when asked."""
    if align_to_words:
        try:
            start_word, end_word = enc.token_to_word(s), enc.token_to_word(e)
            return enc.word_to_chars(start_word, 1)[0], enc.word_to_chars(end_word, 1)[1]
        except Exception:  # noqa: BLE001 - tokens without a word (e.g. <s>) keep their own offsets
            pass
    return enc.offsets[s][0], enc.offsets[e][1]


def decode_spans(start: np.ndarray, end: np.ndarray, topk: int, max_answer_len: int,
                 undesired_tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The `topk` best (start, end) token pairs by `p(start) * p(end)`, with `start <= end <
    start + max_answer_len`, both allowed by `undesired_tokens` (1 = allowed) — transformers' `decode_spans`."""
    if start.ndim == 1:
        start = start[None]
    if end.ndim == 1:
        end = end[None]
    outer = np.matmul(np.expand_dims(start, -1), np.expand_dims(end, 1))
    candidates = np.tril(np.triu(outer), max_answer_len - 1)
    scores_flat = candidates.flatten()
    if topk == 1:
        idx_sort = [np.argmax(scores_flat)]
    elif len(scores_flat) < topk:
        idx_sort = np.argsort(-scores_flat)
    else:
        idx = np.argpartition(-scores_flat, topk)[0:topk]
        idx_sort = idx[np.argsort(-scores_flat[idx])]
    starts, ends = np.unravel_index(idx_sort, candidates.shape)[1:]
    # transformers tests membership against `nonzero()` of the [1, tokens] mask (row indices included)
    allowed = undesired_tokens.nonzero()
    desired = np.isin(starts, allowed) & np.isin(ends, allowed)
    starts, ends = starts[desired], ends[desired]
    return starts, ends, candidates[0, starts, ends]


def select_starts_ends(start, end, p_mask, attention_mask, min_null_score=1000000, top_k=1,
                       handle_impossible_answer=False, max_answer_len=15):
    """Softmax the start / end logits over the allowed tokens, then `decode_spans` (transformers'
    `select_starts_ends`). Returns (starts, ends, scores, min_null_score)."""
    undesired_tokens = np.abs(np.array(p_mask) - 1)
    if attention_mask is not None:
        undesired_tokens = undesired_tokens & attention_mask
    undesired_tokens_mask = undesired_tokens == 0.0
    start = np.where(undesired_tokens_mask, -10000.0, start)
    end = np.where(undesired_tokens_mask, -10000.0, end)
    start = np.exp(start - start.max(axis=-1, keepdims=True))
    start = start / start.sum()
    end = np.exp(end - end.max(axis=-1, keepdims=True))
    end = end / end.sum()
    if handle_impossible_answer:
        min_null_score = min(min_null_score, (start[0, 0] * end[0, 0]).item())
    start[0, 0] = end[0, 0] = 0.0
    starts, ends, scores = decode_spans(start, end, top_k, max_answer_len, undesired_tokens)
    return starts, ends, scores, min_null_score


def _example(question: Any, context: Any) -> tuple[str, str]:
    for name, value in (("question", question), ("context", context)):
        if value is None:
            raise ValueError(f"`{name}` cannot be None")
        if not isinstance(value, str):
            raise ValueError(f"`{name}` must be a str, got {type(value).__name__}")
        if not value:
            raise ValueError(f"`{name}` cannot be empty")
    return question, context


def _from_item(item: Any) -> tuple[str, str]:
    if isinstance(item, dict):
        missing = [k for k in ("question", "context") if k not in item]
        if missing:
            raise ValueError('A question-answering input must be a dict {"question": ..., "context": ...}; '
                             f"missing {', '.join(missing)}")
        return _example(item["question"], item["context"])
    if isinstance(item, tuple) and len(item) == 2:
        return _example(*item)
    raise ValueError(f'A question-answering input must be a dict {{"question": ..., "context": ...}}, got {item!r}')


def _parse_examples(args: tuple, kwargs: dict) -> tuple[list[tuple[str, str]], dict]:
    """The (question, context) pairs of a call, in transformers' accepted forms; returns the other kwargs too."""
    kwargs = dict(kwargs)
    if args:
        if len(args) == 2 and all(isinstance(a, str) for a in args):
            inputs: Any = [{"question": args[0], "context": args[1]}]
        elif len(args) == 1:
            inputs = args[0]
        else:
            inputs = list(args)
    elif "question" in kwargs and "context" in kwargs:
        question, context = kwargs.pop("question"), kwargs.pop("context")
        if isinstance(question, list) and isinstance(context, str):
            inputs = [{"question": q, "context": context} for q in question]
        elif isinstance(question, list) and isinstance(context, list):
            if len(question) != len(context):
                raise ValueError("Questions and contexts don't have the same lengths")
            inputs = [{"question": q, "context": c} for q, c in zip(question, context, strict=True)]
        elif isinstance(question, str) and isinstance(context, str):
            inputs = [{"question": question, "context": context}]
        else:
            raise ValueError("question must be a str or a list of str, and context a str or a list of str")
    else:
        raise ValueError("question-answering needs question= and context= (or a dict / list of dicts)")
    if isinstance(inputs, dict):
        inputs = [inputs]
    elif not isinstance(inputs, Iterable) or isinstance(inputs, str):
        raise ValueError(f'A question-answering input must be a dict {{"question": ..., "context": ...}}, got {inputs!r}')
    examples = [_from_item(item) for item in inputs]
    if not examples:
        raise ValueError("The question-answering pipeline got an empty list of inputs.")
    return examples, kwargs
