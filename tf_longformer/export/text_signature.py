"""The `text` serving signature: raw strings in, the task's answers out, all inside the SavedModel.

`TextSignature(model, task, tokenizer)` holds the graph tokenizer (a `tf.Module` with the lookup tables, which
the SavedModel must track) and traces one `tf.function` that tokenizes, runs the model and post-processes as
the Python pipeline of the task does:

| task | inputs (tf.string `(batch,)`) | outputs |
| --- | --- | --- |
| fill-mask | `text` | `token`, `token_str`, `score` `(batch, masks, top_k)` |
| text-classification | `text` | `label`, `score` `(batch,)`, `logits` `(batch, labels)` |
| token-classification | `text` | `label`, `score`, `start`, `end` `(batch, tokens)`, `token_count` `(batch,)` |
| question-answering | `question`, `context` | `answer`, `score`, `start`, `end` `(batch,)` |
| feature-extraction | `text` | `embedding` `(batch, hidden)` |

Texts longer than the model maximum are truncated (contexts are split into windows instead). A row that is
not valid UTF-8, or a question too long to leave room for the context windows, fails the request with an
`InvalidArgumentError` naming the rows.
"""

from __future__ import annotations

import os

import tensorflow as tf

from ..models.default_global_attention import cls_global_attention_mask
from ..pipelines.text_classification import default_function
from ..tasks import Task
from . import text_outputs
from .text_inputs import question_context_windows, single_rows, truncate
from .text_tokenizer import GraphTokenizer
from .text_tokenizer_spec import TextExportError, graph_tokenizer_spec

TEXT_SIGNATURE = "text"
TEXT_TASKS = ("feature-extraction", "fill-mask", "text-classification", "token-classification", "question-answering")
QA_CANDIDATES = 1 * 2 + 10  # spans kept per window: the pipeline's `top_k * 2 + 10` (words may merge) for top_k=1


class TextSignature:
    """The `text` signature of a model (see the module docstring for its inputs and outputs).

    Args:
        model: a `TFLongformer*` model of `task`.
        task: the export `Task` (one of `TEXT_TASKS`).
        tokenizer: the model's `LongformerTokenizerFast`.
        top_k: fill-mask predictions per mask.
        max_answer_len: question answering: longest answer, in tokens (the pipeline's default 15).
        doc_stride: question answering: context tokens shared by consecutive windows (default as the
            pipeline: `min(max_length // 2, 128)`).

    Raises:
        TextExportError: the task has no text signature, or the tokenizer cannot be expressed in the graph
            or does not fit the model.

    Example:
        >>> text = TextSignature(model, get_task("fill-mask"), tokenizer, top_k=3)  # doctest: +SKIP
        >>> text.concrete_function()(text=tf.constant(["Open the <mask>."]))["token_str"]  # doctest: +SKIP
    """

    def __init__(self, model, task: Task, tokenizer, *, top_k: int = 5, max_answer_len: int = 15,
                 doc_stride: int | None = None) -> None:
        if task.name not in TEXT_TASKS:
            raise TextExportError(f"There is no text signature for {task.name!r}; it exists for {', '.join(TEXT_TASKS)}.")
        for name, value in (("top_k", top_k), ("max_answer_len", max_answer_len)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise TextExportError(f"{name} must be a positive integer, got {value!r}.")
        spec = graph_tokenizer_spec(tokenizer)
        config = model.config
        largest = max(int(spec.merge_result.max(initial=0)), int(spec.byte_ids.max()),
                      *(t.id for t in spec.added_tokens))
        if largest >= config.vocab_size:
            raise TextExportError(f"The tokenizer has ids up to {largest}, but the model's vocabulary has "
                                  f"{config.vocab_size} entries: it is not this model's tokenizer.")
        if task.name == "fill-mask" and spec.mask_id is None:
            raise TextExportError("The tokenizer has no mask token; fill-mask needs one.")
        self.tokenizer = GraphTokenizer(spec)  # holds the lookup tables: the SavedModel must track it
        self.task = task
        self.max_length = min(spec.model_max_length, config.max_sequence_length)
        if doc_stride is None:
            doc_stride = min(self.max_length // 2, 128)
        if isinstance(doc_stride, bool) or not isinstance(doc_stride, int) or not 0 <= doc_stride < self.max_length - 4:
            raise TextExportError(f"doc_stride must be an integer in [0, {self.max_length - 4}), got {doc_stride!r}.")
        self.options = {"top_k": top_k, "max_answer_len": max_answer_len, "doc_stride": doc_stride,
                        "max_length": self.max_length}
        self._model, self._spec, self._python_tokenizer = model, spec, tokenizer
        self._function = None

    def concrete_function(self, forward=None) -> tf.types.experimental.ConcreteFunction:
        """The traced signature, for `tf.saved_model.save(..., signatures={"text": ...})` (traced at the first call).

        Args:
            forward: what runs the model: `forward(input_ids=, attention_mask=, global_attention_mask=)` → the
                task's outputs; e.g. the export's traced `with_global_attention` signature, so that the
                SavedModel holds the model's graph once. Default: the model itself.
        """
        if self._function is None:
            run_model = self._model_runner(forward)
            self._function = (self._answer_questions(run_model) if self.task.name == "question-answering"
                              else self._answer_texts(run_model))
        return self._function.get_concrete_function()

    def info(self) -> dict:
        """What the export info JSON records about the signature."""
        inputs = ["question", "context"] if self.task.name == "question-answering" else ["text"]
        return {"inputs": inputs, "outputs": sorted(self.concrete_function().structured_outputs), **self.options,
                "tokenizer": "byte-level BPE (core TensorFlow ops only)"}

    # --- tracing --------------------------------------------------------------------------------------

    def _model_runner(self, forward):
        """`run(rows, global_attention_mask)` -> the model's outputs, through `forward` when given."""
        model = self._model
        if forward is None:
            return lambda rows, global_mask: model(input_ids=rows.input_ids, attention_mask=rows.attention_mask,
                                                   global_attention_mask=global_mask, training=False)
        dtype = tf.nest.flatten(forward.structured_input_signature)[0].dtype

        def run(rows, global_mask):
            return forward(input_ids=tf.cast(rows.input_ids, dtype), attention_mask=tf.cast(rows.attention_mask, dtype),
                           global_attention_mask=tf.cast(global_mask, dtype))

        return run

    def _answer_texts(self, run_model):
        """The signature of the one-text tasks: `text` -> the task's answers."""
        task, spec, options, config = self.task.name, self._spec, self.options, self._model.config
        labels = tf.constant([config.id2label[i] for i in range(config.num_labels)])
        if task == "fill-mask":  # what the pipeline shows for each id
            token_strings = tf.constant([self._python_tokenizer.decode([i]) for i in range(config.vocab_size)])
        function = default_function(config)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")], autograph=False)
        def answer(text):
            encoding = self.tokenizer.encode(tf.ensure_shape(text, [None]))
            check = _rows_check(encoding.valid, "text: row(s)", "are not valid UTF-8; send UTF-8 text")
            encoding = truncate(encoding, options["max_length"] - 2)
            rows = _after([check], single_rows(encoding, spec.cls_id, spec.sep_id, spec.pad_id))
            if task == "text-classification":
                out = run_model(rows, cls_global_attention_mask(rows.input_ids))
                return text_outputs.text_classification(out["logits"], labels, function)
            out = run_model(rows, tf.zeros_like(rows.input_ids))
            if task == "fill-mask":
                return text_outputs.fill_mask(out["logits"], rows.input_ids, spec.mask_id, options["top_k"],
                                              token_strings)
            if task == "token-classification":
                return text_outputs.token_classification(out["logits"], encoding, labels)
            return text_outputs.mean_embedding(out["last_hidden_state"], rows.attention_mask)

        return answer

    def _answer_questions(self, run_model):
        """The question-answering signature: `question`, `context` -> the best span of each context."""
        spec, options = self._spec, self.options
        strings = [tf.TensorSpec([None], tf.string, name=n) for n in ("question", "context")]
        longest_question = options["max_length"] - 5 - options["doc_stride"]

        @tf.function(input_signature=strings, autograph=False)
        def answer(question, context):
            question, context = tf.ensure_shape(question, [None]), tf.ensure_shape(context, [None])
            rows = tf.size(question)
            same = tf.debugging.assert_equal(rows, tf.size(context),
                                             message="question and context must have the same number of rows")
            with tf.control_dependencies([same]):
                both = self.tokenizer.encode(tf.concat([question, context], 0))  # one tokenizer in the graph
            q, c = both.rows(0, rows), both.rows(rows, 2 * rows)
            windows, impossible = question_context_windows(q, c, spec.cls_id, spec.sep_id, spec.pad_id,
                                                           options["max_length"], options["doc_stride"])
            checks = [_rows_check(q.valid, "question: row(s)", "are not valid UTF-8; send UTF-8 text"),
                      _rows_check(c.valid, "context: row(s)", "are not valid UTF-8; send UTF-8 text"),
                      _rows_check(tf.logical_not(impossible), "question: row(s)",
                                  f"leave no room for context windows: a question may have at most "
                                  f"{longest_question} tokens when the context does not fit in "
                                  f"{options['max_length']} tokens with it")]
            out = run_model(_after(checks, windows.rows), _after(checks, windows.global_attention_mask))
            result = text_outputs.question_answering(out["start_logits"], out["end_logits"], windows, c, context,
                                                     options["max_answer_len"], QA_CANDIDATES)
            # an empty question: no answer (the Python pipeline refuses it)
            empty = tf.equal(q.row_lengths(), 0)
            return {k: tf.where(empty, tf.zeros_like(v), v) for k, v in result.items()}

        return answer


def load_text_tokenizer(tokenizer):
    """The tokenizer for the text signature: a `LongformerTokenizerFast` as is, or loaded from a folder / hub id
    (a checkpoint file: from its folder).

    Raises:
        TextExportError: no tokenizer given, or none found where given.
    """
    from ..tokenizer import LongformerTokenizerFast

    if tokenizer is None:
        raise TextExportError("The text signature needs the model's tokenizer: pass tokenizer= (a "
                              "LongformerTokenizerFast or its folder), or export from a folder that has its files.")
    if isinstance(tokenizer, LongformerTokenizerFast):
        return tokenizer
    path = os.fspath(tokenizer)
    source = (os.path.dirname(path) or ".") if os.path.isfile(path) else path
    try:
        return LongformerTokenizerFast.from_pretrained(source)
    except (OSError, ValueError) as error:
        raise TextExportError(
            f"No tokenizer for the text signature in {source}: {error}. The text signature tokenizes inside the "
            "SavedModel, so it needs the tokenizer files (tokenizer.json, or vocab.json + merges.txt); pass "
            "tokenizer= or add them.") from None


def _after(checks: list, tensors):
    """`tensors` (a tensor or a tuple of them) computed only once `checks` passed."""
    with tf.control_dependencies(checks):
        if isinstance(tensors, tuple):
            return type(tensors)(*(tf.identity(t) for t in tensors))
        return tf.identity(tensors)


def _rows_check(ok: tf.Tensor, before: str, after: str) -> tf.Operation:
    """An assertion that every row is `ok`, naming the rows that are not."""
    bad = tf.where(tf.logical_not(ok))[:, 0]
    return tf.debugging.Assert(tf.reduce_all(ok), [before, bad, after], name="text_request_check")
