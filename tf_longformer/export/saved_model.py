"""Write a model as a TensorFlow SavedModel in TF Serving's versioned layout (`OUT/<version>/`).

The SavedModel holds only TensorFlow graphs and variables: loading and serving it needs TensorFlow (or
TF Serving) and nothing of tf_longformer, Keras or Python.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile

import tensorflow as tf

from ..tasks import Task, get_task, task_from_config, task_of_model
from .signatures import DEFAULT_SIGNATURE, GLOBAL_SIGNATURE, INPUT_NAMES, as_int_dtype, build_signatures
from .text_signature import TEXT_SIGNATURE, TextSignature, load_text_tokenizer

EXPORT_INFO = os.path.join("assets.extra", "tf_longformer_export.json")


def existing_versions(export_dir: str | os.PathLike) -> list[int]:
    """The model versions present in `export_dir` (its sub-folders named by an integer), sorted."""
    export_dir = os.fspath(export_dir)
    if not os.path.isdir(export_dir):
        return []
    return sorted(int(n) for n in os.listdir(export_dir)
                  if n.isdigit() and os.path.isdir(os.path.join(export_dir, n)))


def next_version(export_dir: str | os.PathLike) -> int:
    """One more than the largest version in `export_dir`, or 1 when there is none."""
    versions = existing_versions(export_dir)
    return versions[-1] + 1 if versions else 1


def load_for_export(source: str | os.PathLike, task: str | Task | None = None,
                    allow_missing_weights: bool = False):
    """Load a checkpoint for export: the model class of `task` (default: from config.json `architectures`).

    Args:
        source: anything `from_pretrained` reads (Hugging Face folder, checkpoint file, cached hub id).
        task: export task name; inferred from the checkpoint's config.json when None.
        allow_missing_weights: export even if the checkpoint lacks weights of the task head (they would be
            random); by default that is an error, since a served model must not answer with a random head.

    Returns:
        `(model, task)`.
    """
    import tf_longformer
    from converters.checkpoint import read_config_json

    from ..hub import resolve_model_folder

    path = os.fspath(source)
    folder = (os.path.dirname(path) or ".") if os.path.isfile(path) else resolve_model_folder(path, ("config.json",))
    if task is None:
        task = task_from_config(read_config_json(folder), path)
    elif not isinstance(task, Task):
        task = get_task(task)
    model_class = getattr(tf_longformer, task.model_class)
    model, info = model_class.from_pretrained(path, output_loading_info=True)
    if info["missing_keys"] and not allow_missing_weights:
        missing = info["missing_keys"]
        raise ValueError(
            f"{path} has no weights for {len(missing)} variable(s) of the {task.name} model (e.g. {missing[:3]}); "
            "they would be served with random values. Pick the task the checkpoint was trained for, or "
            "allow it explicitly (allow_missing_weights=True / --allow-missing-weights)."
        )
    return model, task


def model_and_task(model, task: str | Task | None = None, allow_missing_weights: bool = False):
    """`(model, Task)` to export: `model` as given (checked against `task`) or, for a path, loaded for `task`.

    Raises:
        ValueError: `task` is not the model's own, or see `load_for_export`.
    """
    if isinstance(model, (str, os.PathLike)):
        return load_for_export(model, task, allow_missing_weights)
    task_obj = task_of_model(model)
    if task is not None and (task if isinstance(task, Task) else get_task(task)) != task_obj:
        name = task.name if isinstance(task, Task) else task
        raise ValueError(f"task {name!r} does not match the model: a {type(model).__name__} serves {task_obj.name!r}.")
    return model, task_obj


def export_saved_model(model, export_dir: str | os.PathLike, *, task: str | None = None, version: int | None = None,
                       include_attentions: bool = False, include_hidden_states: bool = False,
                       int_dtype=tf.int32, allow_missing_weights: bool = False, text: bool = False,
                       tokenizer=None, top_k: int = 5, max_answer_len: int = 15, doc_stride: int | None = None,
                       jit_compile: bool = False) -> str:
    """Export `model` as `export_dir/<version>/`, a SavedModel that TF Serving loads as is.

    The version folder appears atomically: the SavedModel is written into a hidden temporary folder
    beside it (TF Serving ignores names that are not integers) and renamed; an existing version is
    never overwritten.

    Args:
        model: a `TFLongformer*` model, or anything `from_pretrained` reads (then loaded for `task`).
        export_dir: the model base path (`--model_base_path` of TF Serving); created if needed.
        task: export task (`feature-extraction`/`base`, `fill-mask`, `text-classification`,
            `token-classification`, `question-answering`, `multiple-choice`); by default the model's
            own (from its class, or from config.json `architectures` for a path).
        version: positive integer; default one more than the largest existing version (1 at first).
        include_attentions: also serve per-layer `attentions_<i>` and `global_attentions_<i>`.
        include_hidden_states: also serve `hidden_states_<i>`.
        int_dtype: dtype of the inputs, `tf.int32` (default) or `tf.int64` (or their names).
        allow_missing_weights: see `load_for_export` (only used when `model` is a path).
        text: also serve the `text` signature: raw strings in, the task's answers out, tokenized inside the
            graph (see `text_signature.py` and docs/serving.md).
        tokenizer: with `text`: the model's `LongformerTokenizerFast` or its folder (default: the folder of
            `model` when it is a path).
        top_k, max_answer_len, doc_stride: with `text`: fill-mask predictions per mask; question answering's
            longest answer (tokens) and window overlap (default `min(max_length // 2, 128)`).
        jit_compile: serve the model through XLA (`signatures.build_signatures`).

    Returns:
        The path of the written version folder.

    Raises:
        FileExistsError: `version` already exists.
        ValueError: unknown task, a model of another task, or a bad `version` / `int_dtype`.
        TextExportError (a ValueError): with `text`, no tokenizer, or one the graph cannot reproduce.

    Example:
        >>> path = export_saved_model(model, "/models/longformer_qa")  # doctest: +SKIP
        >>> path
        '/models/longformer_qa/1'
    """
    dtype = as_int_dtype(int_dtype)
    if text and tokenizer is None and isinstance(model, (str, os.PathLike)):
        tokenizer = model
    model, task_obj = model_and_task(model, task, allow_missing_weights)
    export_dir = os.path.abspath(os.fspath(export_dir))
    if version is None:
        version = next_version(export_dir)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"version must be a positive integer (TF Serving's version folders), got {version!r}.")
    final = os.path.join(export_dir, str(version))
    if os.path.exists(final):
        raise FileExistsError(f"{final} already exists; pick another version (or omit it to use the next one).")

    text_signature = (TextSignature(model, task_obj, load_text_tokenizer(tokenizer), top_k=top_k,
                                    max_answer_len=max_answer_len, doc_stride=doc_stride) if text else None)
    signatures = build_signatures(model, task_obj, dtype, include_attentions, include_hidden_states, jit_compile)
    root = tf.Module()
    root.model_variables = [_tf_variable(v) for v in model.variables]  # seed generator states too (dropout)
    if text_signature is not None:
        root.text_tokenizer = text_signature.tokenizer  # its lookup tables
        signatures[TEXT_SIGNATURE] = text_signature.concrete_function(forward=signatures[GLOBAL_SIGNATURE])
    os.makedirs(export_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=export_dir)
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; a model server may run as another user
        tf.saved_model.save(root, tmp, signatures=signatures)
        _write_export_info(tmp, model, task_obj, dtype, signatures, text_signature)
        if os.path.exists(final):
            raise FileExistsError(f"{final} appeared while exporting; not overwriting it.")
        os.rename(tmp, final)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _tf_variable(variable):
    """The `tf.Variable` behind a Keras variable (the SavedModel stores those)."""
    value = getattr(variable, "value", variable)
    return value if isinstance(value, tf.Variable) else variable


def _write_export_info(folder: str, model, task: Task, dtype: tf.DType, signatures: dict, text_signature=None) -> None:
    """A small JSON beside the SavedModel describing it (TF Serving ignores `assets.extra`)."""
    from .. import __version__

    info = {
        "task": task.name,
        "model_class": type(model).__name__,
        "input_dtype": dtype.name,
        "input_layout": "(batch, num_choices, sequence_length)" if task.choices else "(batch, sequence_length)",
        "max_sequence_length": model.config.max_sequence_length,
        "vocab_size": model.config.vocab_size,
        "default_global_attention": task.default_global,
        "signatures": {
            name: {"inputs": list(INPUT_NAMES[:3 if name == GLOBAL_SIGNATURE else 2]),
                   "outputs": sorted(fn.structured_outputs)}
            for name, fn in signatures.items() if name in (DEFAULT_SIGNATURE, GLOBAL_SIGNATURE)
        },
        **({"text_signature": text_signature.info()} if text_signature is not None else {}),
        "tf_longformer_version": __version__,
        "tensorflow_version": tf.__version__,
    }
    os.makedirs(os.path.join(folder, "assets.extra"), exist_ok=True)
    with open(os.path.join(folder, EXPORT_INFO), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
