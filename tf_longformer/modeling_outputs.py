"""Output dataclasses with the Hugging Face fields: attribute, key and index access, `to_tuple()`.

As in transformers, `None` fields are skipped by key/index access and `to_tuple()`, so `out[0]` is the
loss when labels were given and the logits otherwise.

Every output class is a node of Keras' structure tree (`keras.tree`), so a model called on `keras.Input`s
returns an output of `KerasTensor`s: `model(x)[0]`, `model(x).logits` and `model(x)["logits"]` build
functional models.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, fields
from typing import Any

import optree
import tensorflow as tf


class ModelOutput(OrderedDict):
    """Base of every output: a dataclass that is also an ordered mapping of its non-`None` fields.

    Being a `Mapping`, it passes through `tf.nest` (so `tf.function` can return it) and rebuilds itself
    from `(key, value)` pairs. Each subclass is registered with Keras' tree (see `_register_with_keras_tree`).
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _register_with_keras_tree(cls)

    def __post_init__(self) -> None:
        class_fields = fields(self)
        first = getattr(self, class_fields[0].name)
        others_none = all(getattr(self, f.name) is None for f in class_fields[1:])
        # Rebuilt by tf.nest from an iterator of (key, value) pairs.
        pairs = _as_pairs(first) if others_none and first is not None and not tf.is_tensor(first) else None
        if pairs is not None:
            super().__delitem__(class_fields[0].name)
            super().__setattr__(class_fields[0].name, None)
            for key, value in pairs:
                setattr(self, key, value)
            return
        for f in class_fields:
            value = getattr(self, f.name)
            if value is not None:
                super().__setitem__(f.name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        if value is not None and name in {f.name for f in fields(self)}:
            super().__setitem__(name, value)
        super().__setattr__(name, value)

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        super().__setattr__(key, value)

    def __getitem__(self, key: str | int | slice) -> Any:
        if isinstance(key, str):
            return dict(self.items())[key]
        return self.to_tuple()[key]

    def __reduce__(self):  # dataclass + OrderedDict pickle support
        return (self.__class__, tuple(getattr(self, f.name) for f in fields(self)))

    def to_tuple(self) -> tuple[Any, ...]:
        """The non-`None` fields, in declaration order."""
        return tuple(self[k] for k in self.keys())


def _register_with_keras_tree(cls: type) -> None:
    """Make `cls` a node of `keras.tree`: flattened to its non-`None` fields in order, rebuilt by name.

    Keras 3 walks call outputs with optree in the "keras" namespace, where a subclass of `OrderedDict` is
    a leaf unless registered; a leaf output that is not a tensor fails a functional model ("All operation
    outputs must be tensors").
    """
    optree.register_pytree_node(
        cls,
        lambda out: (tuple(out.values()), tuple(out.keys()), tuple(out.keys())),
        lambda keys, values: cls(**dict(zip(keys, values, strict=True))),
        namespace="keras",
    )


def _as_pairs(value: Any) -> list[tuple[str, Any]] | None:
    """`value` as a list of `(name, value)` pairs if it is an iterable of them, else `None`."""
    if isinstance(value, (str, bytes, dict)):
        return None
    try:
        items = list(value)
    except TypeError:
        return None
    if items and all(isinstance(i, tuple) and len(i) == 2 and isinstance(i[0], str) for i in items):
        return items
    return None


_ATTN_DOC = """
    hidden_states: tuple of `(batch, seq_len, hidden)` tensors, the embeddings and each layer's output.
    attentions: tuple (one per layer) of `(batch, heads, seq_len, x + attention_window + 1)`: the first `x`
        columns are the attention to the `x` global tokens, the rest the sliding window. Under XLA, `x` is
        the (padded) sequence length, the only static width that fits every batch (columns past the
        batch's global count are zero).
    global_attentions: tuple (one per layer) of `(batch, heads, padded_seq_len, x)`: the attention of each
        global token to every token (the sequence axis is padded to the window, as in transformers).
        `None` in eager mode when no token is global; zero-width in a graph.
"""


@dataclass(eq=False)
class TFLongformerBaseModelOutput(ModelOutput):
    __doc__ = "Encoder output.\n\nArgs:\n    last_hidden_state: `(batch, seq_len, hidden)`." + _ATTN_DOC
    last_hidden_state: Any = None
    hidden_states: Any = None
    attentions: Any = None
    global_attentions: Any = None


@dataclass(eq=False)
class TFLongformerBaseModelOutputWithPooling(ModelOutput):
    __doc__ = (
        "Encoder output with the pooled first token.\n\nArgs:\n    last_hidden_state: `(batch, seq_len, hidden)`."
        "\n    pooler_output: `(batch, hidden)`, tanh(dense(first token))." + _ATTN_DOC
    )
    last_hidden_state: Any = None
    pooler_output: Any = None
    hidden_states: Any = None
    attentions: Any = None
    global_attentions: Any = None


@dataclass(eq=False)
class TFLongformerMaskedLMOutput(ModelOutput):
    __doc__ = "Masked LM output.\n\nArgs:\n    loss: scalar mean cross-entropy over labels != -100.\n    logits: `(batch, seq_len, vocab)`." + _ATTN_DOC
    loss: Any = None
    logits: Any = None
    hidden_states: Any = None
    attentions: Any = None
    global_attentions: Any = None


@dataclass(eq=False)
class TFLongformerQuestionAnsweringModelOutput(ModelOutput):
    __doc__ = (
        "Extractive QA output.\n\nArgs:\n    loss: scalar, mean of start and end cross-entropy.\n"
        "    start_logits: `(batch, seq_len)`.\n    end_logits: `(batch, seq_len)`." + _ATTN_DOC
    )
    loss: Any = None
    start_logits: Any = None
    end_logits: Any = None
    hidden_states: Any = None
    attentions: Any = None
    global_attentions: Any = None


@dataclass(eq=False)
class TFLongformerSequenceClassifierOutput(ModelOutput):
    __doc__ = "Sequence classification output.\n\nArgs:\n    loss: scalar.\n    logits: `(batch, num_labels)`." + _ATTN_DOC
    loss: Any = None
    logits: Any = None
    hidden_states: Any = None
    attentions: Any = None
    global_attentions: Any = None


@dataclass(eq=False)
class TFLongformerMultipleChoiceModelOutput(ModelOutput):
    __doc__ = "Multiple choice output.\n\nArgs:\n    loss: scalar.\n    logits: `(batch, num_choices)`." + _ATTN_DOC
    loss: Any = None
    logits: Any = None
    hidden_states: Any = None
    attentions: Any = None
    global_attentions: Any = None


@dataclass(eq=False)
class TFLongformerTokenClassifierOutput(ModelOutput):
    __doc__ = "Token classification output.\n\nArgs:\n    loss: scalar mean over labels != -100.\n    logits: `(batch, seq_len, num_labels)`." + _ATTN_DOC
    loss: Any = None
    logits: Any = None
    hidden_states: Any = None
    attentions: Any = None
    global_attentions: Any = None
