"""The Longformer heads as checkpoints name them: the one table of heads (pure Python, no numpy).

`tf_longformer.tasks` builds the task table on it, `tf-longformer convert --head` takes its keys and
`converters.elongate` picks the head of an elongated model with it.

Example:
    >>> from converters.architectures import HEADS, head_of_architecture
    >>> HEADS["masked-lm"]
    'LongformerForMaskedLM'
    >>> head_of_architecture("RobertaForQuestionAnswering")
    'question-answering'
"""

from __future__ import annotations

#: head name -> config.json `architectures` entry (the PyTorch class name; transformers 4's TF class is the
#: same name with a `TF` prefix). `base` is the backbone alone.
HEADS: dict[str, str] = {
    "base": "LongformerModel",
    "masked-lm": "LongformerForMaskedLM",
    "sequence-classification": "LongformerForSequenceClassification",
    "token-classification": "LongformerForTokenClassification",
    "question-answering": "LongformerForQuestionAnswering",
    "multiple-choice": "LongformerForMultipleChoice",
}

#: config.json `architectures` entry -> head name
HEAD_OF_ARCHITECTURE: dict[str, str] = {architecture: head for head, architecture in HEADS.items()}


def head_of_architecture(architecture: str) -> str | None:
    """The head of a class of any family by its suffix (`BertForMaskedLM` -> `masked-lm`).

    Args:
        architecture: a config.json `architectures` entry, e.g. `RobertaForSequenceClassification`.

    Returns:
        The head name (a key of `HEADS`), or None when the class has no task head of Longformer's
        (`RobertaModel`, `BertForPreTraining`, ...).
    """
    for head, longformer_architecture in HEADS.items():
        suffix = longformer_architecture.removeprefix("Longformer")
        if head != "base" and architecture.endswith(suffix):
            return head
    return None
