"""Serving signatures: `tf.function`s with fixed names, dtypes and dynamic shapes around a model.

Every task gets two signatures (TF Serving signatures cannot have optional inputs):

* `serving_default(input_ids, attention_mask)`: the task's default global attention, as the Python model
  applies it when `global_attention_mask` is omitted (CLS for classification, the question for QA and
  multiple choice, none for the others);
* `with_global_attention(input_ids, attention_mask, global_attention_mask)`: the client chooses.

Inputs are `(batch, seq)` (`(batch, num_choices, seq)` for multiple choice) with any batch size and any
length up to the model's maximum; all three have the same integer dtype (int32 by default). Every
request is checked in the graph; a bad one fails with `InvalidArgumentError` naming the problem.
"""

from __future__ import annotations

import tensorflow as tf

from ..input_checks import MASK_HINTS, mask_values_ok, values_message, vocabulary_hint
from ..models.default_global_attention import cls_global_attention_mask, question_global_attention_mask
from ..tasks import Task

DEFAULT_SIGNATURE = "serving_default"
GLOBAL_SIGNATURE = "with_global_attention"
INPUT_NAMES = ("input_ids", "attention_mask", "global_attention_mask")


def as_int_dtype(int_dtype) -> tf.DType:
    """`tf.int32` / `tf.int64` from a dtype or its name; `ValueError` otherwise."""
    try:
        dtype = tf.as_dtype(int_dtype)
    except TypeError:
        dtype = None
    if dtype not in (tf.int32, tf.int64):
        raise ValueError(f"int_dtype must be int32 or int64, got {int_dtype!r}.")
    return dtype


def _assert(condition: tf.Tensor, message: str) -> tf.Operation:
    return tf.debugging.Assert(condition, [message], name="request_check")


def _request_checks(task: Task, config, tensors: dict[str, tf.Tensor]) -> list[tf.Operation]:
    """Graph assertions on one request, each with a message a client can act on (the model's own words)."""
    input_ids = tensors["input_ids"]
    shape = tf.shape(input_ids)
    layout = "(batch, num_choices, sequence_length)" if task.choices else "(batch, sequence_length)"
    in_vocabulary = (input_ids >= 0) & (input_ids < config.vocab_size)
    checks = [
        _assert(tf.reduce_prod(shape) > 0,
                "input_ids is empty (no examples or no tokens); give at least one example of at least one token "
                f"(shape {layout})."),
        _assert(shape[-1] <= config.max_sequence_length,
                f"sequences may have at most {config.max_sequence_length} tokens "
                "(max_position_embeddings - pad_token_id - 1); truncate the input"),
        _assert(tf.reduce_all(in_vocabulary),
                values_message(input_ids, in_vocabulary, "input_ids", f"outside [0, {config.vocab_size})",
                               vocabulary_hint(config.vocab_size))),
    ]
    for name, mask in tensors.items():
        if name == "input_ids":
            continue
        same = tf.reduce_all(tf.equal(tf.shape(mask), shape))
        checks.append(_assert(same, f"{name} must have the same shape as input_ids {layout}"))
        ok, what = mask_values_ok(mask, name)
        checks.append(_assert(tf.reduce_all(ok), values_message(mask, ok, name, what, MASK_HINTS[name])))
    return checks


def default_global_attention_mask(task: Task, config, input_ids: tf.Tensor) -> tf.Tensor:
    """The global attention the task's model applies when `global_attention_mask` is omitted (int32)."""
    if task.name == "text-classification":
        return cls_global_attention_mask(input_ids)
    if task.name == "question-answering":
        return question_global_attention_mask(input_ids, config.sep_token_id, before_sep_token=True)
    if task.name == "multiple-choice":
        flat = tf.reshape(input_ids, tf.stack([-1, tf.shape(input_ids)[-1]]))
        mask = question_global_attention_mask(flat, config.sep_token_id, before_sep_token=False)
        return tf.reshape(mask, tf.shape(input_ids))
    return tf.zeros_like(input_ids, tf.int32)


def _outputs(task: Task, out, include_attentions: bool, include_hidden_states: bool) -> dict[str, tf.Tensor]:
    """The served outputs: the task's fields, then per-layer attentions / hidden states if asked."""
    result = {name: out[name] for name in task.outputs}
    if include_hidden_states:
        result.update({f"hidden_states_{i}": h for i, h in enumerate(out["hidden_states"])})
    if include_attentions:
        result.update({f"attentions_{i}": a for i, a in enumerate(out["attentions"])})
        result.update({f"global_attentions_{i}": a for i, a in enumerate(out["global_attentions"])})
    return {k: tf.cast(v, tf.float32) if v.dtype.is_floating else v for k, v in result.items()}


def build_signatures(model, task: Task, int_dtype=tf.int32, include_attentions: bool = False,
                     include_hidden_states: bool = False,
                     jit_compile: bool = False) -> dict[str, tf.types.experimental.ConcreteFunction]:
    """Trace the serving signatures of `model`.

    Args:
        model: a `TFLongformer*` model of `task`.
        task: the export `Task`.
        int_dtype: dtype of all three inputs, `tf.int32` (default) or `tf.int64`.
        include_attentions: also return `attentions_<layer>` and `global_attentions_<layer>`.
        include_hidden_states: also return `hidden_states_<i>` (embeddings, then each layer).
        jit_compile: run the model (not the request checks) as an XLA-compiled function, compiled by the
            loading runtime (TF Serving too) once per input shape.

    Returns:
        `{"serving_default": ..., "with_global_attention": ...}` concrete functions for
        `tf.saved_model.save(..., signatures=...)`.

    Example:
        >>> sigs = build_signatures(model, get_task("question-answering"))  # doctest: +SKIP
    """
    dtype = as_int_dtype(int_dtype)
    shape = [None] * task.input_rank
    specs = [tf.TensorSpec(shape, dtype, name=name) for name in INPUT_NAMES]

    def run_model(tensors):
        out = model(**tensors, output_attentions=include_attentions, output_hidden_states=include_hidden_states,
                    return_dict=True, training=False)
        return _outputs(task, out, include_attentions, include_hidden_states)

    if jit_compile:  # the request checks stay outside XLA, which compiles assertions away
        run_model = tf.function(run_model, jit_compile=True, autograph=False)

    @tf.function(input_signature=specs, autograph=False)
    def with_global_attention(input_ids, attention_mask, global_attention_mask):
        # The signature's shapes are not enforced when a SavedModel runs: check the rank at run time.
        tensors = {k: tf.ensure_shape(v, shape) for k, v in (
            ("input_ids", input_ids), ("attention_mask", attention_mask),
            ("global_attention_mask", global_attention_mask))}
        with tf.control_dependencies(_request_checks(task, model.config, tensors)):
            tensors = {k: tf.identity(v) for k, v in tensors.items()}
        return run_model(tensors)

    @tf.function(input_signature=specs[:2], autograph=False)
    def serving_default(input_ids, attention_mask):
        # The model is traced once: the default global attention is computed here, as the model would,
        # from a request that passed its checks (graph ops run in no fixed order: without the dependency a
        # malformed request could fail inside the default mask with a message about something else).
        tensors = {"input_ids": tf.ensure_shape(input_ids, shape), "attention_mask": attention_mask}
        with tf.control_dependencies(_request_checks(task, model.config, tensors)):
            input_ids = tf.identity(tensors["input_ids"])
        global_attention_mask = tf.cast(default_global_attention_mask(task, model.config, input_ids), dtype)
        return with_global_attention(input_ids, attention_mask, global_attention_mask)

    return {
        DEFAULT_SIGNATURE: serving_default.get_concrete_function(),
        GLOBAL_SIGNATURE: with_global_attention.get_concrete_function(),
    }
