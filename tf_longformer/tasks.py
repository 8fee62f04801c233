"""The tasks: task name ↔ model class ↔ config.json architecture ↔ the outputs a served model returns.

The one table that export, pipelines and the command line read. Task names follow the Hugging Face
pipeline names; `base` is an alias of `feature-extraction`. Free of TensorFlow, so the CLI can build its
argument parser from it without loading TensorFlow.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    """What one export task serves.

    Attributes:
        name: pipeline-style task name (`question-answering`, ...).
        model_class: name of the `tf_longformer` model class.
        outputs: the output fields served, in Hugging Face naming.
        choices: inputs are `(batch, num_choices, seq)` instead of `(batch, seq)`.
        default_global: the global attention used when the client sends no `global_attention_mask`.
    """

    name: str
    model_class: str
    outputs: tuple[str, ...]
    choices: bool = False
    default_global: str = "none (local attention only)"

    @property
    def input_rank(self) -> int:
        return 3 if self.choices else 2


TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task("feature-extraction", "TFLongformerModel", ("last_hidden_state", "pooler_output")),
        Task("fill-mask", "TFLongformerForMaskedLM", ("logits",)),
        Task("text-classification", "TFLongformerForSequenceClassification", ("logits",),
             default_global="the first token (`<s>`, CLS)"),
        Task("token-classification", "TFLongformerForTokenClassification", ("logits",)),
        Task("question-answering", "TFLongformerForQuestionAnswering", ("start_logits", "end_logits"),
             default_global="the question: tokens before the first `</s>` (exactly three `</s>` per row)"),
        Task("multiple-choice", "TFLongformerForMultipleChoice", ("logits",), choices=True,
             default_global="tokens after the second `</s>` of each choice (exactly three `</s>` per choice)"),
    )
}
TASK_ALIASES = {"base": "feature-extraction"}
TASK_NAMES = tuple(TASKS) + tuple(TASK_ALIASES)

# config.json `architectures` entries (PyTorch and transformers-4 TF names) → task
_ARCHITECTURES = {
    "LongformerModel": "feature-extraction",
    "LongformerForMaskedLM": "fill-mask",
    "LongformerForSequenceClassification": "text-classification",
    "LongformerForTokenClassification": "token-classification",
    "LongformerForQuestionAnswering": "question-answering",
    "LongformerForMultipleChoice": "multiple-choice",
}


def get_task(name: str) -> Task:
    """The `Task` called `name` (or an alias); `ValueError` listing the known names."""
    key = TASK_ALIASES.get(name, name)
    if key not in TASKS:
        raise ValueError(f"Unknown task {name!r}; choose one of {', '.join(TASK_NAMES)}.")
    return TASKS[key]


def task_of_model(model) -> Task:
    """The task a `tf_longformer` model instance serves (by its class, subclasses included)."""
    import tf_longformer

    for task in TASKS.values():
        if isinstance(model, getattr(tf_longformer, task.model_class)):
            return task
    raise TypeError(f"Cannot export a {type(model).__name__}: give a TFLongformer* model from tf_longformer.")


def task_of_architecture(architecture: str) -> Task | None:
    """The task of a config.json `architectures` entry (PyTorch or transformers-4 TF name), else None."""
    name = _ARCHITECTURES.get(architecture.removeprefix("TF"))
    return None if name is None else TASKS[name]


def task_from_config(config: dict, source: str | os.PathLike = "the checkpoint") -> Task:
    """The task named by config.json's `architectures` (e.g. `LongformerForQuestionAnswering`).

    Raises:
        ValueError: no or several Longformer architectures, or an unknown one; the message asks for `--task`.
    """
    names = config.get("architectures") or []
    found = {task.name for task in map(task_of_architecture, names) if task is not None}
    if len(found) != 1:
        listed = f"lists {names}" if names else "has no `architectures` entry"
        raise ValueError(
            f"Cannot infer the task: config.json of {os.fspath(source)} {listed}; "
            f"pass the task explicitly (one of {', '.join(TASK_NAMES)})."
        )
    return TASKS[found.pop()]
