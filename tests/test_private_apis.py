"""The private Keras / TensorFlow APIs of `tf_longformer.private_apis`, pinned to the versions they were
checked against: a new release fails here first, naming the module to re-check."""

from __future__ import annotations

import inspect
import os
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_longformer import private_apis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECHECK = ("tf_longformer/private_apis.py was checked against {tested}; check each function there against "
           "{name} {installed}, then update TESTED_VERSIONS and the upper bound in pyproject.toml.")


@pytest.mark.parametrize("name, module", [("tensorflow", tf), ("keras", keras)])
def test_installed_versions_are_the_tested_ones(name, module):
    installed = ".".join(module.__version__.split(".")[:2])
    tested = private_apis.TESTED_VERSIONS[name]
    assert installed == tested, RECHECK.format(tested=tested, name=name, installed=module.__version__)


@pytest.mark.parametrize("name", ["tensorflow", "keras"])
def test_pyproject_allows_no_untested_release(name):
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as handle:
        pyproject = handle.read()
    bound = re.search(rf'"{name}>=[^"]*,<(\d+)\.(\d+)"', pyproject)
    assert bound is not None, f"pyproject.toml gives {name} no upper bound"
    major, minor = private_apis.TESTED_VERSIONS[name].split(".")
    assert (bound.group(1), bound.group(2)) == (major, str(int(minor) + 1))


def test_xla_graph_is_told_apart():
    seen = {}

    def record(name):
        def trace(x):
            seen[name] = private_apis.graph_is_xla_compiled()
            return x + 1
        return trace

    tf.function(record("xla"), jit_compile=True)(tf.constant(1.0))
    tf.function(record("graph"))(tf.constant(1.0))
    assert seen == {"xla": True, "graph": False}


def test_compiled_loss_and_additional_loss():
    inputs = keras.Input((2,))
    outputs = keras.layers.Dense(1, activity_regularizer=keras.regularizers.L2(0.5))(inputs)
    model = keras.Model(inputs, outputs)
    assert private_apis.compiled_loss(model) is None
    model.compile(loss="mse")
    assert private_apis.compiled_loss(model) is not None
    model(np.ones((1, 2), np.float32))
    (extra,) = model.losses
    np.testing.assert_allclose(private_apis.additional_loss(model, extra), extra, rtol=1e-6)


def test_layers_of_and_seed_states_reach_nested_layers():
    inner = keras.Sequential([keras.layers.Dense(2), keras.layers.Dropout(0.1, seed=1)])
    outer = keras.Sequential([keras.Input((2,)), inner])
    assert inner in private_apis.layers_of(outer) and outer in private_apis.layers_of(outer)
    (state,) = private_apis.seed_states(outer)
    assert isinstance(state, keras.Variable)


def test_tracking_unlocked_lets_a_built_layer_take_new_state():
    layer = keras.layers.Dense(2)
    layer.build((None, 3))
    with pytest.raises(ValueError):
        layer.extra = layer.add_weight(shape=(1,), name="extra")  # locked after build
    with private_apis.tracking_unlocked(layer) as tracker:
        tracker.untrack(layer.kernel)
        layer.extra = layer.add_weight(shape=(1,), name="extra")
    assert [w.name for w in layer.weights] == ["bias", "extra"]


def test_symbolic_build_hook_and_strategy_check_exist():
    hook = inspect.signature(keras.Model._maybe_symbolic_build)  # overridden by SymbolicBuildMixin
    assert list(hook.parameters) == ["self", "iterator", "data_batch"]
    assert {"iterator", "data_batch"} <= set(inspect.signature(keras.Model._symbolic_build).parameters)
    assert keras.Model()._distribute_strategy is None  # set only for a model created in a strategy's scope
    assert private_apis.in_multi_worker_mode(tf.distribute.get_strategy()) is False
    loss = private_apis.scale_loss_for_distribution(tf.constant(2.0))
    assert float(loss) == 2.0  # one replica: unscaled
    x, y, weight = private_apis.unpack_x_y_sample_weight((1, 2, 3))
    assert (x, y, weight) == (1, 2, 3) and private_apis.pack_x_y_sample_weight(1, 2, None) == (1, 2)
