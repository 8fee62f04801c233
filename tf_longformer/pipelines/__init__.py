"""Task pipelines with transformers' interface and outputs: `pipeline(task, model=..., tokenizer=...)`.

Tasks: "fill-mask", "question-answering", "text-classification" (alias "sentiment-analysis"),
"token-classification" (alias "ner") and "feature-extraction". See docs/pipelines.md.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from ..tasks import TASK_ALIASES, get_task, task_of_architecture
from .base import DEMO_MODEL_DIR, DeviceScope, Pipeline, load_model, load_tokenizer, resolve_device

# task -> (module, pipeline class, uses the demo model when model=None); names, aliases and model classes
# of the tasks are in tf_longformer.tasks, shared with export and the command line
PIPELINES: dict[str, tuple[str, str, bool]] = {
    "fill-mask": ("fill_mask", "FillMaskPipeline", True),
    "question-answering": ("question_answering", "QuestionAnsweringPipeline", False),
    "text-classification": ("text_classification", "TextClassificationPipeline", False),
    "token-classification": ("token_classification", "TokenClassificationPipeline", False),
    "feature-extraction": ("feature_extraction", "FeatureExtractionPipeline", True),
}


def normalize_task(task: str) -> str:
    """The canonical name of a pipeline task or alias; ValueError listing the pipeline tasks otherwise."""
    name = TASK_ALIASES.get(task, task)
    if name not in PIPELINES:
        known = sorted(set(PIPELINES) | {alias for alias, name in TASK_ALIASES.items() if name in PIPELINES})
        raise ValueError(f"Unknown task {task!r}; available tasks: {', '.join(known)}")
    return name


def _infer_task(model: Any) -> str:
    if model is None:
        raise ValueError("pipeline() needs a task, a model, or both.")
    if isinstance(model, (str, os.PathLike)):
        from converters.checkpoint import read_config_json

        from ..hub import resolve_model_folder

        folder = model if os.path.isdir(model) else resolve_model_folder(model, need=("config.json",))
        architectures = read_config_json(folder).get("architectures") or []
    else:
        architectures = [type(model).__name__.removeprefix("TF")]
    for architecture in architectures:
        task = task_of_architecture(architecture)
        if task is not None and task.name in PIPELINES:
            return task.name
    raise ValueError(f"Cannot tell the task of this model (architectures: {architectures}); pass task=.")


def pipeline(task: str | None = None, model: Any = None, tokenizer: Any = None, *, framework: str | None = None,
             device: Any = None, batch_size: int = 1, graph: bool | None = None, model_kwargs: dict | None = None,
             **kwargs: Any) -> Pipeline:
    """Build a task pipeline, as `transformers.pipeline` does.

    Args:
        task: "fill-mask", "question-answering", "text-classification" / "sentiment-analysis",
            "token-classification" / "ner" or "feature-extraction". Inferred from the checkpoint's
            `architectures` when None.
        model: a TFLongformer model, a local folder (or checkpoint file), or a hub id. None: the demo model
            shipped with the package (fill-mask and feature-extraction only).
        tokenizer: a `LongformerTokenizerFast`, a folder or a hub id; None: from the model's folder or hub id.
        framework: `"tf"` or None (transformers 4 code passes `framework="tf"`); the models are TensorFlow.
        device: "cpu", "gpu", "gpu:N" (or an int as in transformers: -1 = CPU); None lets TensorFlow choose.
        batch_size: features per model call (default 1); inputs of a batch are padded to the longest one.
        graph: True runs the model as a `tf.function` (traced once for all shapes), False eagerly; None (default)
            runs the first few calls eagerly and then switches to the `tf.function`.
        model_kwargs: passed to `from_pretrained` (e.g. `{"attention_query_chunk": 256}`).
        **kwargs: default call parameters of the task (e.g. `top_k=3`, `aggregation_strategy="simple"`).

    Returns:
        The task's `Pipeline`; call it on a text or a list of texts.

    Raises:
        ValueError: unknown task, a task without a default model and no `model=`, bad parameters.
        OSError: the model or tokenizer cannot be found (offline and not cached, missing folder).

    Example:
        >>> from tf_longformer import pipeline
        >>> fill = pipeline("fill-mask")                 # the offline demo model
        >>> fill("Open the <mask> for reading.")[0]    # doctest: +SKIP
        {'score': ..., 'token': ..., 'token_str': ' ...', 'sequence': 'Open the file for reading.'}
    """
    if framework not in (None, "tf"):
        raise ValueError(f"framework={framework!r}: tf_longformer runs TensorFlow models only; pass framework='tf' "
                         "or leave it out (for PyTorch use transformers.pipeline).")
    task = normalize_task(task) if task is not None else _infer_task(model)
    module_name, pipeline_name, has_demo = PIPELINES[task]
    if model is None and has_demo:
        if not os.path.isfile(os.path.join(DEMO_MODEL_DIR, "model.safetensors")):
            raise OSError(f"The demo model is missing from the installed package ({DEMO_MODEL_DIR}); pass model=.")
        model = DEMO_MODEL_DIR
    model_class = getattr(importlib.import_module("tf_longformer"), get_task(task).model_class)
    with DeviceScope(resolve_device(device)):
        model_object = load_model(model_class, model, task, model_kwargs)
    tok = load_tokenizer(tokenizer, fallback=model if isinstance(model, (str, os.PathLike)) else None)
    pipeline_class = getattr(importlib.import_module(f".{module_name}", __name__), pipeline_name)
    return pipeline_class(model_object, tok, batch_size=batch_size, device=device, graph=graph, **kwargs)


__all__ = ["DEMO_MODEL_DIR", "PIPELINES", "Pipeline", "normalize_task", "pipeline"]
