"""Deployment: TensorFlow SavedModel for TF Serving (no tf_longformer needed to serve), and ONNX.

Example:
    >>> from tf_longformer.export import export_saved_model
    >>> export_saved_model(model, "/models/longformer_qa")  # doctest: +SKIP
    '/models/longformer_qa/1'
"""

from __future__ import annotations

from ..tasks import TASK_NAMES, TASKS, Task, get_task, task_from_config, task_of_model
from .saved_model import existing_versions, export_saved_model, load_for_export, next_version
from .signatures import DEFAULT_SIGNATURE, GLOBAL_SIGNATURE, INPUT_NAMES, build_signatures
from .text_signature import TEXT_SIGNATURE, TEXT_TASKS, TextSignature
from .text_tokenizer_spec import TextExportError

__all__ = [
    "DEFAULT_SIGNATURE", "GLOBAL_SIGNATURE", "INPUT_NAMES", "TASKS", "TASK_NAMES", "TEXT_SIGNATURE", "TEXT_TASKS",
    "Task", "TextExportError", "TextSignature", "build_signatures", "existing_versions", "export_saved_model",
    "get_task", "load_for_export", "next_version", "task_from_config", "task_of_model",
]
