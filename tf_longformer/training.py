"""How `model.fit` / `evaluate` / `predict` see a Longformer: losses, metrics and outputs of both styles.

Two ways to train, as in transformers' TF models:

* Hugging Face style: the labels travel inside the input dict (`labels`, or `start_positions` and
  `end_positions` for question answering), no `loss=` is compiled and the model's own loss (the
  `.loss` of its output, exactly transformers' loss) is minimised. Compiled metrics get the labels from
  the dict and the main output of the model (tokens labelled -100 get sample weight 0).
* Keras style: batches are `(x, y)` and `compile(loss=...)` is applied to the model's *main output*:
  `logits`, the pair `(start_logits, end_logits)` for question answering, or `last_hidden_state` for
  the bare encoder.

With `(x, y)` batches but no compiled loss, `y` is moved into the input dict under the label name, so
the model's own loss is used (as transformers' TF `fit` does). `y` may be a dict by label name
(`{"labels": y}`, `{"start_positions": s, "end_positions": e}`) or by output name (`{"logits": y}`), as
transformers 4 took it; with a compiled loss such a dict is applied to the matching outputs.

Question answering has two outputs: metrics see them as `start_logits` and `end_logits` (their names
prefix the logged values), and a flat metrics list is applied to both, as Keras 2 did.

The functions here are used by the `train_step` / `test_step` / `predict_step` / `compute_loss` /
`compute_metrics` overrides of `TFLongformerPreTrainedModel`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import tensorflow as tf
from keras.src.losses.loss import scale_loss_for_distribution
from keras.src.trainers.data_adapters import data_adapter_utils

SPAN_LABELS = ("start_positions", "end_positions")
SPAN_OUTPUTS = ("start_logits", "end_logits")
IGNORE_INDEX = -100
# transformers 4's label ↔ output names (a y dict may use either)
OUTPUT_OF_LABEL = {"labels": "logits", "start_positions": "start_logits", "end_positions": "end_logits"}
# `compile(loss=...)` values of transformers 4 meaning "the model's own loss"
HF_OWN_LOSS = ("auto", "auto_with_warning", "passthrough")


def main_output(y_pred: Any) -> Any:
    """The output a Keras loss or metric is applied to.

    Args:
        y_pred: a model output (mapping of fields) or anything else (returned unchanged).

    Returns:
        `logits`; `(start_logits, end_logits)` for question answering; `last_hidden_state` for the encoder.
    """
    if not isinstance(y_pred, Mapping):
        return y_pred
    if "logits" in y_pred:
        return y_pred["logits"]
    if "start_logits" in y_pred and "end_logits" in y_pred:
        return (y_pred["start_logits"], y_pred["end_logits"])
    if "last_hidden_state" in y_pred:
        return y_pred["last_hidden_state"]
    raise ValueError(f"Cannot find the main output among {list(y_pred)}.")


def labels_in_inputs(x: Any) -> Any:
    """The labels carried inside an input dict (Hugging Face style), or `None`."""
    if not isinstance(x, Mapping):
        return None
    if x.get("labels") is not None:
        return x["labels"]
    if all(x.get(name) is not None for name in SPAN_LABELS):
        return tuple(x[name] for name in SPAN_LABELS)
    return None


def label_names(model: Any) -> tuple[str, ...]:
    """Input names of the labels of `model`: `("labels",)` or the two span positions for QA."""
    return SPAN_LABELS if type(model).__name__.endswith("QuestionAnswering") else ("labels",)


def _label_dict(model: Any, y: Mapping) -> dict[str, Any]:
    """A `y` dict keyed by label names (output names such as `logits` translated)."""
    label_of_output = {v: k for k, v in OUTPUT_OF_LABEL.items()}
    names = label_names(model)
    out = {}
    for key, value in y.items():
        name = label_of_output.get(key, key)
        if name not in names:
            raise ValueError(f"Unknown label {key!r} in y; {type(model).__name__} takes {list(names)} "
                             f"(or the output names {[OUTPUT_OF_LABEL[n] for n in names]}).")
        out[name] = value
    return out


def targets_as_outputs(model: Any, y: Any) -> Any:
    """`y` in the structure of `main_output`: a dict by label / output name becomes the tensor (or the QA
    pair); anything else is returned unchanged."""
    if not isinstance(y, Mapping):
        return y
    labels = _label_dict(model, y)
    names = label_names(model)
    missing = [n for n in names if n not in labels]
    if missing:
        raise ValueError(f"y lacks {missing}: {type(model).__name__} needs {list(names)}.")
    return labels[names[0]] if len(names) == 1 else tuple(labels[n] for n in names)


def move_y_into_inputs(model: Any, data: Any) -> Any:
    """`(x, y[, sample_weight])` → `(x + labels,)` when no loss is compiled, so the model's own loss is used.

    Args:
        model: the model being trained.
        data: one batch as `fit` / `evaluate` receive it.

    Returns:
        The batch with `y` moved into `x`; with a compiled loss, the batch with a `y` dict in the structure
        of the main output (see `targets_as_outputs`).
    """
    x, y, sample_weight = data_adapter_utils.unpack_x_y_sample_weight(data)
    if y is None:
        return data
    if getattr(model, "_compile_loss", None) is not None:
        if not isinstance(y, Mapping):
            return data
        return data_adapter_utils.pack_x_y_sample_weight(x, targets_as_outputs(model, y), sample_weight)
    names = label_names(model)
    if not isinstance(x, Mapping):
        x = {"input_ids": x}
    x = dict(x)
    if isinstance(y, Mapping):
        y = _label_dict(model, y)
    elif len(names) == 2:
        if not isinstance(y, (tuple, list)) or len(y) != 2:
            raise ValueError(
                "A question-answering model trained without a compiled loss needs y = (start_positions, "
                "end_positions) or {'start_positions': ..., 'end_positions': ...}."
            )
        y = dict(zip(names, y, strict=True))
    else:
        y = {names[0]: y}
    for name, value in y.items():
        x.setdefault(name, value)
    return data_adapter_utils.pack_x_y_sample_weight(x, None, sample_weight)


def model_loss(y_pred: Any) -> tf.Tensor | None:
    """The loss the model computed itself (`y_pred.loss`), or `None`."""
    if isinstance(y_pred, Mapping) and y_pred.get("loss") is not None:
        return y_pred["loss"]
    return None


def hf_style_loss(model: Any, y_pred: Any, sample_weight: Any) -> tf.Tensor:
    """The model's own loss, scaled for `tf.distribute` like a Keras loss, plus `model.losses`."""
    if sample_weight is not None:
        raise ValueError(
            "sample_weight needs a compiled loss (Keras style: compile(loss=...) with (x, y, sample_weight) "
            "batches); the model's own loss (labels inside the inputs) is an unweighted mean, as in transformers."
        )
    loss = scale_loss_for_distribution(tf.cast(model_loss(y_pred), tf.float32))
    for extra in model.losses:
        loss += model._aggregate_additional_loss(extra)
    return loss


def metric_targets(x: Any, y: Any, y_pred: Any, sample_weight: Any) -> tuple[Any, Any, Any]:
    """`(y_true, y_pred, sample_weight)` for compiled metrics.

    Keras style: `y` against the main output. Hugging Face style (`y` is None): the labels inside `x`;
    integer labels of -100 (ignored tokens) get sample weight 0 and are replaced by 0. Question answering:
    both as `{"start_logits": ..., "end_logits": ...}`.
    """
    predictions = main_output(y_pred)
    labels = y if y is not None else labels_in_inputs(x)
    if isinstance(predictions, tuple) and isinstance(labels, (tuple, list)):
        return (OrderedDict(zip(SPAN_OUTPUTS, labels, strict=True)),
                OrderedDict(zip(SPAN_OUTPUTS, predictions, strict=True)), sample_weight)
    if y is not None or labels is None:
        return labels, predictions, sample_weight
    labels = tf.convert_to_tensor(labels)
    if labels.dtype.is_integer and sample_weight is None:
        keep = tf.not_equal(labels, IGNORE_INDEX)
        sample_weight = tf.cast(keep, tf.float32)
        labels = tf.where(keep, labels, tf.zeros_like(labels))
    return labels, predictions, sample_weight


def per_output_metrics(model: Any, metrics: Any) -> Any:
    """`compile(metrics=...)` for `model`: for question answering, a flat list (transformers 4 / Keras 2
    style, e.g. `["accuracy"]`) becomes one list per output (`start_logits`, `end_logits`)."""
    if (label_names(model) != SPAN_LABELS or not isinstance(metrics, (list, tuple)) or not metrics
            or all(isinstance(m, (list, tuple, dict)) for m in metrics)):
        return metrics

    def copy(metric):
        return metric if isinstance(metric, str) else type(metric).from_config(metric.get_config())

    return {name: [copy(m) for m in metrics] for name in SPAN_OUTPUTS}


def prediction_outputs(y_pred: Any) -> Any:
    """What `predict` returns per batch: a plain dict of the output tensors (no scalar loss)."""
    if isinstance(y_pred, Mapping):  # ModelOutput included
        return {k: v for k, v in y_pred.items() if k != "loss" and v is not None}
    return y_pred  # return_dict=False: the tuple as the model returned it


def first_replica_batch(iterator: Any) -> Any:
    """One batch of a (distributed) Keras epoch iterator, each distributed value replaced by its first
    replica's part: enough for Keras' symbolic build, which needs only shapes and dtypes.

    Keras averages the replicas' parts with `strategy.reduce`, which `MultiWorkerMirroredStrategy` cannot
    do for a dict of inputs (it fails on the first `fit`); this avoids that reduction.
    """
    for _, _, data_iterator in iterator:
        batch = next(data_iterator)
        break
    else:  # pragma: no cover - Keras never builds from an empty iterator
        return None

    def local(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return tf.distribute.get_strategy().experimental_local_results(value)[0]
        return value

    return tf.nest.map_structure(local, batch)


def logs_for_strategy(logs: Any) -> Any:
    """Step logs in a form Keras can reduce across workers.

    Under `MultiWorkerMirroredStrategy` Keras 3 averages each logged value with
    `strategy.reduce("MEAN", value, axis=0)`, which fails for the scalar metrics every step returns
    (tensorflow/tensorflow#72388). Scalars are given a length-1 axis there; the reduction then returns the
    (already synchronised) scalar. Elsewhere the logs are returned unchanged.
    """
    strategy = tf.distribute.get_strategy()
    if not (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and strategy.extended._in_multi_worker_mode()):
        return logs
    return tf.nest.map_structure(lambda v: tf.reshape(v, [1]) if tf.is_tensor(v) and v.shape.rank == 0 else v, logs)
