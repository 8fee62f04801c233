"""Every private Keras / TensorFlow API the package uses, in one place, checked against `TESTED_VERSIONS`.

Keras 3 and TensorFlow give no public way to do these few things (scale a loss the way a compiled loss is
scaled under `tf.distribute`, tell whether a graph is compiled by XLA, swap a variable of a built layer,
feed the symbolic build step a batch of our choosing). Each use goes through a function or mixin here, so
a new Keras or TensorFlow release is checked in one module: `tests/test_private_apis.py` fails when the
installed versions differ from `TESTED_VERSIONS` (which match the upper bounds in `pyproject.toml`) or when
one of the attributes below is gone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import keras
import tensorflow as tf
from keras.src.losses.loss import scale_loss_for_distribution
from keras.src.trainers.data_adapters.data_adapter_utils import (
    pack_x_y_sample_weight,
    unpack_x_y_sample_weight,
)
from tensorflow.python.framework import ops
from tensorflow.python.ops import control_flow_util

#: major.minor of the releases these private APIs were checked against (pyproject.toml allows no newer).
TESTED_VERSIONS = {"tensorflow": "2.21", "keras": "3.15"}

__all__ = [
    "TESTED_VERSIONS",
    "SymbolicBuildMixin",
    "additional_loss",
    "compiled_loss",
    "graph_is_xla_compiled",
    "in_multi_worker_mode",
    "layers_of",
    "pack_x_y_sample_weight",
    "scale_loss_for_distribution",
    "seed_states",
    "tracking_unlocked",
    "unpack_x_y_sample_weight",
]


def graph_is_xla_compiled() -> bool:
    """True when the current (non-eager) graph, or a graph it is nested in, is compiled by XLA."""
    return bool(control_flow_util.GraphOrParentsInXlaContext(ops.get_default_graph()))


def compiled_loss(model: keras.Model) -> Any | None:
    """The loss given to `model.compile(loss=...)` (Keras' `CompileLoss`), or None when none was given."""
    return getattr(model, "_compile_loss", None)


def additional_loss(model: keras.Model, loss: Any) -> Any:
    """One of `model.losses` (e.g. an activity regulariser) scaled as Keras' own `compute_loss` adds it."""
    return model._aggregate_additional_loss(loss)


def layers_of(layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    """`layer` (a model too) and every layer inside it, however deeply nested."""
    return layer._flatten_layers(include_self=True)


def seed_states(layer: keras.layers.Layer) -> list[keras.Variable]:
    """The state variables of the seed generators (dropout randomness) of `layer` and its sub-layers."""
    return [generator.state for sub in layers_of(layer) for generator in getattr(sub, "_seed_generators", ())]


def in_multi_worker_mode(strategy: Any) -> bool:
    """True for a `MultiWorkerMirroredStrategy` that spans more than one worker."""
    return bool(strategy.extended._in_multi_worker_mode())


@contextlib.contextmanager
def tracking_unlocked(layer: keras.layers.Layer) -> Iterator[Any]:
    """Within this block a built layer accepts new variables and sub-layers (Keras locks them after build).

    Yields the layer's tracker, whose `untrack(value)` drops a variable or layer being replaced.

    Example:
        >>> with tracking_unlocked(layer) as tracker:          # doctest: +SKIP
        ...     tracker.untrack(layer.decoder)
        ...     layer.decoder = new_decoder
    """
    tracker = layer._tracker
    tracker.unlock()
    try:
        yield tracker
    finally:
        tracker.lock()


class SymbolicBuildMixin:
    """Mixin of a `keras.Model` whose step functions are traced once: Keras' symbolic build step (the model's,
    optimizer's, compiled metrics' and loss's variables, created before the first step) runs always, on a
    batch of the subclass's choosing.

    Keras runs that step only under a `tf.distribute` strategy; without one, the variables are created
    inside the first trace of the step function, and a `tf.function` that creates variables is traced twice.
    The subclass gives `symbolic_build_batch(iterator, data_batch)`: one batch, with plain tensors, in the
    form its step functions pass to Keras (e.g. under `MultiWorkerMirroredStrategy` one replica's part, as
    Keras' own average over the replicas with `strategy.reduce` fails there for a dict of inputs).
    """

    def symbolic_build_batch(self, iterator: Any, data_batch: Any) -> Any:
        raise NotImplementedError

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras reads a batch only when something is left to build; ours is made then, so a later `fit` or
        # `evaluate` (each epoch's validation) reads nothing from its dataset
        def batch_on_demand():
            yield self.symbolic_build_batch(iterator, data_batch)

        with (self._distribute_strategy or tf.distribute.get_strategy()).scope():
            self._symbolic_build(iterator=[(None, None, batch_on_demand())])
