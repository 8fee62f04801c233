"""Weight-only int8 / int4 quantization: numbers, memory, `.keras` round trip, SavedModel export, bad requests."""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import tf_longformer
from tests.conftest import TINY_CONFIG
from tf_longformer.cli import main as cli_main
from tf_longformer.layers.layer_loop import runs_of_identical_layers
from tf_longformer.quantization import (
    QuantizationError,
    quantizable_layers,
    quantization_mode,
    quantize_model,
    weight_bytes,
)

IDS = np.array([[0, 5, 6, 7, 8, 9, 10, 11, 2], [0, 12, 13, 14, 2, 1, 1, 1, 1]], np.int32)
MASK = (IDS != 1).astype(np.int32)
GLOBAL = np.zeros_like(IDS)
GLOBAL[:, 0] = 1
WIDE = dict(hidden_size=64, intermediate_size=128, num_attention_heads=4)  # wide enough for real int4 groups


@pytest.fixture(scope="module")
def mlm_folder(reference_factory):
    return reference_factory("TFLongformerForMaskedLM", **WIDE)[1]


def _logits(model, global_mask=GLOBAL):
    return np.asarray(model(input_ids=IDS, attention_mask=MASK, global_attention_mask=global_mask).logits)


def _dequantized(layer, float_layer) -> np.ndarray:
    """The float weights a quantized Dense / Embedding layer computes with."""
    if layer.quantization_mode == "int8":  # one scale per output unit (Dense) / per row (Embedding)
        if isinstance(layer, keras.layers.Dense):
            return layer._kernel.numpy().astype(np.float32) / layer.kernel_scale.numpy()[None, :]
        return layer._embeddings.numpy().astype(np.float32) / layer.embeddings_scale.numpy()[:, None]
    # int4 (two values a byte, groups with a scale and a zero point): read back through the layer itself
    if isinstance(layer, keras.layers.Embedding):
        return layer(tf.range(layer.input_dim)).numpy()
    activation, layer.activation = layer.activation, keras.activations.linear
    try:
        kernel = layer(tf.eye(float_layer.kernel.shape[0])).numpy()
    finally:
        layer.activation = activation
    return kernel - layer.bias.numpy() if layer.use_bias else kernel


def _dequantized_float_model(quantized, folder):
    """A float model whose weights are the quantized model's weights dequantized; checks that each is the
    float weight rounded to the mode's grid (at most half a step of 1/127 resp. 1/15 of the weights' range)."""
    model = type(quantized).from_pretrained(folder)
    float_layers = {layer.path: layer for layer in quantizable_layers(model)}
    steps = {"int8": 127, "int4": 15}
    for layer in quantizable_layers(quantized):
        target = float_layers[layer.path]
        variable = target._kernel if isinstance(layer, keras.layers.Dense) else target._embeddings
        value, original = _dequantized(layer, target), variable.numpy()
        assert value.shape == original.shape, layer.path
        error = np.abs(value - original).max()
        assert 0 < error <= 1.01 * np.ptp(original) / steps[layer.quantization_mode], (layer.path, error)
        variable.assign(value)
    return model


@pytest.mark.parametrize("mode", ["int8", "int4"])
def test_quantization_is_weight_only_and_keeps_the_attention_math(mlm_folder, mode):
    """The quantized model == the float model run on the dequantized weights: only weights are rounded."""
    quantized = tf_longformer.TFLongformerForMaskedLM.from_pretrained(mlm_folder, quantization=mode)
    layers = quantizable_layers(quantized)
    assert len(layers) == 3 * 9 + 3 + 1  # 9 Dense per layer, 3 embedding tables, LM head dense
    assert all(layer.quantization_mode == mode for layer in layers)
    assert all(layer.inputs_quantizer is None for layer in layers if isinstance(layer, keras.layers.Dense))
    reference = _dequantized_float_model(quantized, mlm_folder)
    keep = MASK.astype(bool)
    np.testing.assert_allclose(_logits(quantized)[keep], _logits(reference)[keep], atol=2e-5)
    no_global = np.zeros_like(IDS)  # no global token at all: empty global projections
    np.testing.assert_allclose(_logits(quantized, no_global)[keep], _logits(reference, no_global)[keep], atol=2e-5)


def test_quantized_logits_and_memory_on_the_demo_model():
    """On trained weights (the demo model) both modes predict the float model's tokens, int4's coarser grid
    costing more accuracy than int8's and saving more memory. (Random weights amplify rounding: the exact
    checks are test_quantization_is_weight_only_and_keeps_the_attention_math.)"""
    from tests.test_demo_model import HELD_OUT
    from tf_longformer.pipelines import DEMO_MODEL_DIR

    tok = tf_longformer.LongformerTokenizerFast.from_pretrained(DEMO_MODEL_DIR)
    enc = tok([sentence for _, sentence, _ in HELD_OUT] + ["Open the <mask> for reading."], padding=True,
              return_tensors="np")
    keep = enc["attention_mask"].astype(bool)

    def logits(model):
        return np.asarray(model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits)[keep]

    full = tf_longformer.TFLongformerForMaskedLM.from_pretrained(DEMO_MODEL_DIR)
    expected = logits(full)
    errors, agreement, ratios = {}, {}, {}
    for mode in ("int8", "int4"):
        quantized = tf_longformer.TFLongformerForMaskedLM.from_pretrained(DEMO_MODEL_DIR, quantization=mode)
        got = logits(quantized)
        errors[mode] = np.abs(got - expected).max() / np.abs(expected).max()
        agreement[mode] = (got.argmax(-1) == expected.argmax(-1)).mean()
        ratios[mode] = weight_bytes(quantized) / weight_bytes(full)
    print("relative logit error", errors, "top-1 agreement", agreement, "weight bytes", ratios)
    assert 0 < errors["int8"] < errors["int4"], errors
    assert agreement["int8"] >= 0.95 and agreement["int4"] >= 0.75, agreement  # measured 0.98 / 0.86
    assert ratios["int4"] < ratios["int8"] < 0.35, ratios


@pytest.mark.parametrize("mode", ["int8", "int4"])
def test_keras_round_trip(mlm_folder, tmp_path, mode):
    model = tf_longformer.TFLongformerForMaskedLM.from_pretrained(mlm_folder)
    model.quantize(mode)
    expected = _logits(model)
    model.save(tmp_path / "q.keras")
    loaded = keras.saving.load_model(tmp_path / "q.keras")
    assert quantization_mode(loaded) == mode
    np.testing.assert_array_equal(_logits(loaded), expected)
    again = tf_longformer.TFLongformerForMaskedLM.from_pretrained(tmp_path / "q.keras", quantization=mode)
    np.testing.assert_array_equal(_logits(again), expected)
    tf_longformer.TFLongformerForMaskedLM.from_pretrained(mlm_folder).save(tmp_path / "float.keras")
    assert os.path.getsize(tmp_path / "q.keras") < 0.6 * os.path.getsize(tmp_path / "float.keras")


@pytest.mark.parametrize("mode", ["int8", "int4"])
def test_saved_model_export(reference_factory, tmp_path, mode):
    """The export module's SavedModel of a quantized model serves the quantized model's numbers."""
    from tf_longformer.export import export_saved_model

    _, folder = reference_factory("TFLongformerForMaskedLM", num_hidden_layers=1, attention_window=[8], **WIDE)
    model = tf_longformer.TFLongformerForMaskedLM.from_pretrained(folder, quantization=mode)
    expected = _logits(model)
    path = export_saved_model(model, tmp_path / "serving")
    served = tf.saved_model.load(path).signatures["with_global_attention"]
    out = served(input_ids=tf.constant(IDS), attention_mask=tf.constant(MASK),
                 global_attention_mask=tf.constant(GLOBAL))
    keep = MASK.astype(bool)
    np.testing.assert_allclose(out["logits"].numpy()[keep], expected[keep], atol=1e-5)


def test_bad_requests(mlm_folder, tmp_path):
    assert tf_longformer.QuantizationError is QuantizationError
    with pytest.raises(QuantizationError, match="Unknown quantization mode 'int3'"):
        tf_longformer.TFLongformerForMaskedLM.from_pretrained(mlm_folder, quantization="int3")
    model = tf_longformer.TFLongformerModel.from_pretrained(mlm_folder, quantization="int4")
    with pytest.raises(QuantizationError, match="already quantized"):
        model.quantize("int8")
    with pytest.raises(QuantizationError, match="already quantized"):
        quantize_model(model, "int4")
    with pytest.raises(QuantizationError, match="Unknown quantization mode 'float8'"):
        quantize_model(tf_longformer.TFLongformerModel.from_pretrained(mlm_folder), "float8")
    with pytest.raises(QuantizationError, match="int4-quantized"):
        model.save_pretrained(tmp_path / "hf")
    assert not os.path.exists(tmp_path / "hf" / "model.safetensors")


def test_other_heads_and_cli(reference_factory, tmp_path, capsys):
    _, folder = reference_factory("TFLongformerForSequenceClassification", **WIDE)
    quantized = tf_longformer.TFLongformerForSequenceClassification.from_pretrained(folder, quantization="int8")
    reference = _dequantized_float_model(quantized, folder)
    np.testing.assert_allclose(quantized(input_ids=IDS).logits, reference(input_ids=IDS).logits, atol=2e-5)
    assert cli_main(["quantize", folder, str(tmp_path / "q.keras"), "--mode", "int4"]) == 0
    assert "int4" in capsys.readouterr().out
    loaded = keras.saving.load_model(tmp_path / "q.keras")
    assert isinstance(loaded, tf_longformer.TFLongformerForSequenceClassification)
    assert quantization_mode(loaded) == "int4"
    assert cli_main(["quantize", folder, str(tmp_path / "x.keras"), "--mode", "int2"]) == 2
    assert "Unknown quantization mode" in capsys.readouterr().err


def test_benchmark_script_pieces(tmp_path):
    """benchmarks/quantization.py: .keras per mode, the per-process measurement, and its report."""
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "benchmarks", "quantization.py")
    spec = importlib.util.spec_from_file_location("benchmark_quantization", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    files = bench.prepare_models(dict(bench.SMALL, num_hidden_layers=1), str(tmp_path), ["fp32", "int8"])
    runs = {mode: bench.worker(file, 64, 1) for mode, file in files.items()}
    assert all(run["finite"] and run["peak_rss_forward_bytes"] > 0 for run in runs.values())
    assert runs["int8"]["weight_bytes"] < 0.35 * runs["fp32"]["weight_bytes"]
    rows = {mode: {"default_allocator": run, "live_memory": run} for mode, run in runs.items()}
    report = {"machine": "test", "tensorflow": tf.__version__, "keras": keras.__version__, "shape_name": "tiny",
              "seq": 64, "memory_time": rows, "masked_lm_note": "none"}
    assert "| int8 |" in bench.markdown(report)


def test_one_quantized_layer_leaves_the_others_in_one_loop():
    """Layers differing only in their weights share one traced loop; quantizing one layer (int8 kernels and
    scales) splits it off, and the compiled model still gives the eager numbers."""
    model = tf_longformer.TFLongformerModel(tf_longformer.LongformerConfig(**{**TINY_CONFIG, "attention_window": 8}))
    ids = tf.constant(np.random.default_rng(0).integers(3, 60, (2, 11)))
    model(input_ids=ids)
    assert [len(run) for run in runs_of_identical_layers(model.longformer.encoder_layers)] == [3]
    model.quantize("int8", filters=lambda layer: "layer_0" in layer.path)
    assert [len(run) for run in runs_of_identical_layers(model.longformer.encoder_layers)] == [1, 2]
    eager = model(input_ids=ids).last_hidden_state.numpy()
    compiled = tf.function(lambda i: model(input_ids=i).last_hidden_state, jit_compile=True)(ids).numpy()
    assert np.abs(eager - compiled).max() <= 1e-5
