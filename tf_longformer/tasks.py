"""The tasks: task name ↔ model class ↔ config.json architecture ↔ the outputs a served model returns.

The one table that export, pipelines and the command line read. Task names follow the Hugging Face
pipeline names (with transformers' aliases, and `base` for `feature-extraction`); the heads and their
config.json names come from `converters.architectures`. Free of TensorFlow, so the CLI can build its
argument parser from it without loading TensorFlow.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from converters.architectures import HEAD_OF_ARCHITECTURE, HEADS


@dataclass(frozen=True)
class Task:
    """What one task serves.

    Attributes:
        name: pipeline-style task name (`question-answering`, ...).
        head: the head it runs, a key of `converters.architectures.HEADS` (`masked-lm`, ...).
        outputs: the output fields served, in Hugging Face naming.
        choices: inputs are `(batch, num_choices, seq)` instead of `(batch, seq)`.
        default_global: the global attention used when the client sends no `global_attention_mask`.
    """

    name: str
    head: str
    outputs: tuple[str, ...]
    choices: bool = False
    default_global: str = "none (local attention only)"

    @property
    def architecture(self) -> str:
        """The config.json `architectures` entry (PyTorch class name), e.g. `LongformerForMaskedLM`."""
        return HEADS[self.head]

    @property
    def model_class(self) -> str:
        """Name of the `tf_longformer` model class (transformers 4's TF name), e.g. `TFLongformerForMaskedLM`."""
        return "TF" + self.architecture

    @property
    def input_rank(self) -> int:
        return 3 if self.choices else 2


TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task("feature-extraction", "base", ("last_hidden_state", "pooler_output")),
        Task("fill-mask", "masked-lm", ("logits",)),
        Task("text-classification", "sequence-classification", ("logits",),
             default_global="the first token (`<s>`, CLS)"),
        Task("token-classification", "token-classification", ("logits",)),
        Task("question-answering", "question-answering", ("start_logits", "end_logits"),
             default_global="the question: tokens before the first `</s>` (exactly three `</s>` per row)"),
        Task("multiple-choice", "multiple-choice", ("logits",), choices=True,
             default_global="tokens after the second `</s>` of each choice (exactly three `</s>` per choice)"),
    )
}
# other names accepted wherever a task is named (export, pipelines, the command line)
TASK_ALIASES = {
    "base": "feature-extraction",
    "sentiment-analysis": "text-classification",
    "ner": "token-classification",
    "qa": "question-answering",
}
TASK_NAMES = tuple(TASKS) + tuple(TASK_ALIASES)
_TASK_OF_HEAD = {task.head: task for task in TASKS.values()}


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
    head = HEAD_OF_ARCHITECTURE.get(architecture.removeprefix("TF"))
    return None if head is None else _TASK_OF_HEAD[head]


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
