"""What every pipeline shares: finding the model and tokenizer, device placement, batching, padding.

A pipeline turns each input into one or more *features* (token id rows; question answering and chunked token
classification make several per input), runs the model on batches of features padded to the longest one, cuts
every output back to its own length and hands the outputs of each input to the task's `postprocess`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

#: The small masked-LM checkpoint shipped with the package (see docs/demo_model.md).
#: model calls a pipeline makes eagerly before it traces a `tf.function` (with `graph=None`)
GRAPH_AFTER_CALLS = 3

DEMO_MODEL_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "demo_model")


def resolve_device(device: Any) -> str | None:
    """A TensorFlow device name for `device`.

    Args:
        device: None (TensorFlow's choice), "cpu", "gpu", "gpu:1", "/GPU:0", or an int as in transformers
            (-1 = CPU, n >= 0 = GPU n).

    Returns:
        A device string for `tf.device`, or None.

    Raises:
        ValueError: an unknown device, or a GPU that TensorFlow does not see.
    """
    if device is None:
        return None
    if isinstance(device, bool) or not isinstance(device, (int, str)):
        raise ValueError(f"device must be 'cpu', 'gpu', 'gpu:N' or an int, got {device!r}")
    if isinstance(device, int):
        kind, index = ("CPU", 0) if device < 0 else ("GPU", device)
    else:
        text = device.strip().lstrip("/").upper().replace("DEVICE:", "")
        kind, _, number = text.partition(":")
        if kind not in ("CPU", "GPU") or (number and not number.isdigit()):
            raise ValueError(f"Unknown device {device!r}; use 'cpu', 'gpu' or 'gpu:N'.")
        index = int(number or 0)
    if kind == "GPU":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if index >= len(gpus):
            raise ValueError(
                f"device {device!r} asked for GPU {index}, but TensorFlow sees {len(gpus)} GPU(s) "
                "(install a CUDA build of TensorFlow or use --device cpu)."
            )
    return f"/{kind}:{index}"


class DeviceScope:
    """`with tf.device(name)` when a device was asked for, nothing otherwise."""

    def __init__(self, device: str | None) -> None:
        self.device, self._scope = device, None

    def __enter__(self):
        if self.device is not None:
            import tensorflow as tf

            self._scope = tf.device(self.device)
            self._scope.__enter__()
        return self

    def __exit__(self, *exc):
        if self._scope is not None:
            return self._scope.__exit__(*exc)
        return False


def load_tokenizer(tokenizer: Any, fallback: Any = None):
    """A `LongformerTokenizerFast` from an object, a folder, a hub id, or (when None) from `fallback`."""
    from ..tokenizer import LongformerTokenizerFast

    source = tokenizer if tokenizer is not None else fallback
    if source is None:
        raise ValueError(
            "No tokenizer: pass tokenizer= (a LongformerTokenizerFast, a folder or a hub id) when model= is a "
            "model object."
        )
    if isinstance(source, (str, os.PathLike)):
        try:
            return LongformerTokenizerFast.from_pretrained(source)
        except OSError as err:
            where = "the model folder" if tokenizer is None else "tokenizer="
            raise OSError(f"Could not load a tokenizer from {where} {os.fspath(source)!r}: {err}") from None
    if not hasattr(source, "convert_ids_to_tokens"):
        raise TypeError(f"tokenizer must be a LongformerTokenizerFast, a folder or a hub id, got {type(source).__name__}")
    return source


def load_model(model_class: type, model: Any, task: str, model_kwargs: dict | None = None):
    """A model of `model_class` from an object (returned as is), a folder / checkpoint / hub id, or None (demo)."""
    from ..loading import caller_reports_weights
    from ..models.pretrained_model import TFLongformerPreTrainedModel

    if model is None:
        raise ValueError(f"The {task!r} pipeline has no default model; pass model= (a folder, a hub id or a model).")
    if isinstance(model, TFLongformerPreTrainedModel):
        if task != "feature-extraction" and not isinstance(model, model_class):
            raise TypeError(f"The {task} pipeline needs a {model_class.__name__}, got a {type(model).__name__}.")
        return model
    if not isinstance(model, (str, os.PathLike)):
        raise TypeError(f"model must be a TFLongformer model, a folder or a hub id, got {type(model).__name__}")
    if task != "feature-extraction":
        return model_class.from_pretrained(model, **(model_kwargs or {}))
    # features are the last hidden state: a missing pooler or an unused task head does not matter here
    with caller_reports_weights():
        loaded, info = model_class.from_pretrained(model, output_loading_info=True, **(model_kwargs or {}))
    missing = [k for k in info["missing_keys"] if not k.startswith("pooler.")]
    if missing:
        logging.getLogger("tf_longformer").warning(
            "Some weights of %s were not in the checkpoint and are newly initialised: %s.", model_class.__name__, missing)
    return loaded


class Pipeline:
    """Base class of the task pipelines (call `tf_longformer.pipeline(task, ...)` rather than this).

    Args:
        model: a TFLongformer model of the task's class.
        tokenizer: a `LongformerTokenizerFast`.
        batch_size: features per model call (inputs are padded to the longest of the batch).
        device: where to run the model (see `resolve_device`).
        graph: run the model through a `tf.function` (True), eagerly (False), or eagerly for the first
            `GRAPH_AFTER_CALLS` model calls and then as a `tf.function` (None, the default).
        **kwargs: default call parameters of the task (e.g. `top_k=3`).
    """

    task = ""

    def __init__(self, model, tokenizer, *, batch_size: int = 1, device: Any = None, graph: bool | None = None,
                 **kwargs: Any) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.model = model
        self.graph = graph
        self._calls, self._graph_forward = 0, None
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.device = resolve_device(device)
        self._sanitize(**kwargs)  # reject bad defaults now rather than at the first call
        self._defaults = dict(kwargs)

    # --- what a task defines --------------------------------------------------------------------------

    def _sanitize(self, **kwargs: Any) -> tuple[dict, dict]:
        """Split call parameters into (preprocess parameters, postprocess parameters); reject unknown ones."""
        raise NotImplementedError

    def preprocess(self, item: Any, **params: Any) -> list[dict[str, Any]]:
        """One input → its features: dicts holding at least `input_ids` (a 1-D list / array)."""
        raise NotImplementedError

    def forward_outputs(self, output) -> dict[str, Any]:
        """The model output → {name: batch-first array}; names listed in `per_token_outputs` are cut per row."""
        raise NotImplementedError

    per_token_outputs: tuple[str, ...] = ()

    def postprocess(self, item: Any, features: list[dict[str, Any]], outputs: list[dict[str, np.ndarray]],
                    **params: Any) -> Any:
        """An input, its features and their model outputs → the task's result."""
        raise NotImplementedError

    # --- running --------------------------------------------------------------------------------------

    def _normalize_inputs(self, inputs: Any) -> tuple[list[Any], bool]:
        """(items, came_as_batch)."""
        if isinstance(inputs, (list, tuple)):
            if not inputs:
                raise ValueError(f"The {self.task} pipeline got an empty list of inputs.")
            return list(inputs), True
        return [inputs], False

    def __call__(self, inputs: Any, **kwargs: Any) -> Any:
        """Run the task on one input or a list of inputs (see the task class for the input forms).

        Args:
            inputs: one input (e.g. a str) or a list of them.
            **kwargs: call parameters overriding the pipeline's defaults (`batch_size` too).

        Returns:
            The result for one input, or a list of results for a list.
        """
        batch_size = kwargs.pop("batch_size", self.batch_size)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        pre, post = self._sanitize(**{**self._defaults, **kwargs})
        items, batched = self._normalize_inputs(inputs)
        results = self.run(items, pre, post, batch_size)
        return results if batched else results[0]

    def run(self, items: Sequence[Any], pre: dict, post: dict, batch_size: int) -> list[Any]:
        """Preprocess every item, run all features in batches, postprocess item by item."""
        features = [self.preprocess(item, **pre) for item in items]
        flat = [f for feats in features for f in feats]
        outputs = self._forward_all(flat, batch_size)
        results, start = [], 0
        for item, feats in zip(items, features, strict=True):
            results.append(self.postprocess(item, feats, outputs[start:start + len(feats)], **post))
            start += len(feats)
        return results

    def _check_length(self, length: int) -> None:
        limit = self.model.config.max_sequence_length
        if length > limit:
            raise ValueError(
                f"The input has {length} tokens but the model takes at most {limit} "
                f"(max_position_embeddings={self.model.config.max_position_embeddings}); shorten the text"
                f"{' or pass truncation=True' if self.task in ('text-classification', 'feature-extraction') else ''}."
            )

    def _forward_all(self, features: list[dict[str, Any]], batch_size: int) -> list[dict[str, np.ndarray]]:
        """Model outputs of every feature, each cut back to its own length."""
        import tensorflow as tf

        out: list[dict[str, np.ndarray]] = []
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        for start in range(0, len(features), batch_size):
            chunk = features[start:start + batch_size]
            lengths = [len(f["input_ids"]) for f in chunk]
            for n in lengths:
                self._check_length(n)
            width = max(lengths)
            ids = np.full((len(chunk), width), pad_id, dtype=np.int32)
            mask = np.zeros((len(chunk), width), dtype=np.int32)
            for row, (feature, n) in enumerate(zip(chunk, lengths, strict=True)):
                ids[row, :n] = feature["input_ids"]
                mask[row, :n] = feature.get("attention_mask", [1] * n)
            with DeviceScope(self.device):
                arrays = {k: np.asarray(v) for k, v in self._forward(tf.constant(ids), tf.constant(mask)).items()}
            for row, n in enumerate(lengths):
                out.append({k: (v[row, :n] if k in self.per_token_outputs else v[row]) for k, v in arrays.items()})
        return out

    def _forward(self, ids, mask) -> dict[str, Any]:
        """One model call: eager for the first few, then through one `tf.function` traced for any shape (a
        pipeline that keeps running pays the tracing once and then runs much faster)."""
        self._calls += 1
        if self.graph is False or (self.graph is None and self._calls <= GRAPH_AFTER_CALLS):
            return self.forward_outputs(self.model(input_ids=ids, attention_mask=mask, training=False))
        if self._graph_forward is None:
            import tensorflow as tf

            spec = tf.TensorSpec([None, None], tf.int32)

            @tf.function(input_signature=[spec, spec], autograph=False)
            def forward(ids, mask):
                return self.forward_outputs(self.model(input_ids=ids, attention_mask=mask, training=False))

            self._graph_forward = forward
        return self._graph_forward(ids, mask)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(task={self.task!r}, model={type(self.model).__name__}, batch_size={self.batch_size})"


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, in the input's float type (as transformers' pipelines compute it)."""
    shifted = np.exp(logits - np.max(logits, axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits))


def reject_unknown(task: str, unknown: dict) -> None:
    """TypeError naming the parameters a pipeline does not know."""
    if unknown:
        raise TypeError(f"The {task} pipeline got unknown parameter(s): {', '.join(sorted(unknown))}")
