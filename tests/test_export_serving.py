"""Deployment extras: the model converted to ONNX and run in onnxruntime; the export notebook runs.

The ONNX tests reuse the checkpoints of the export tests (`tests/export_fixtures.py`, built once per run)
and convert each model once. They are skipped only when tf2onnx or onnxruntime is not installed; the
notebook test only when nbclient / nbformat / ipykernel are not.
"""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from tests.export_fixtures import load_saved_models, max_diff, torch_outputs

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = os.path.join(REPO, "notebooks", "03_export_and_serve.ipynb")
TOL = 1e-4  # onnxruntime against the PyTorch reference


@pytest.fixture(scope="session")
def saved_models(tmp_path_factory):
    return load_saved_models(tmp_path_factory)


def onnx_batches():
    """Padded batches of `<s> q </s></s> c </s>` rows, lengths that are not multiples of the windows (the
    longer ones run the chunk loops), with zero, one and several global tokens per row."""
    rng = np.random.default_rng(13)
    batches = []
    for length, globals_per_row in ((7, (0, 0)), (13, (1, 0, 1)), (21, (4, 1)), (30, (0, 0)), (30, (9, 2, 5))):
        rows = len(globals_per_row)
        ids = np.ones((rows, length), np.int64)
        glob = np.zeros_like(ids)
        for r, count in enumerate(globals_per_row):
            n = length if r == 0 else int(rng.integers(6, length))  # the other rows are padded
            q = int(rng.integers(1, n - 4))
            ids[r, :n] = [0, *rng.integers(3, 60, q), 2, 2, *rng.integers(3, 60, n - q - 4), 2]
            glob[r, rng.choice(n, size=count, replace=False)] = 1
        batches.append({"input_ids": ids, "attention_mask": (ids != 1).astype(np.int64), "global_attention_mask": glob})
    return batches


@pytest.mark.slow
@pytest.mark.xdist_group("exports")  # beside the tests of the exports whose checkpoints it converts
@pytest.mark.parametrize("name", ["question-answering", "per-layer-windows"])
def test_onnx_matches_pytorch(saved_models, name, tmp_path):
    """One window for every layer (the SavedModel's layer loop, unrolled for ONNX) and per-layer windows:
    onnxruntime gives the reference's numbers."""
    pytest.importorskip("tf2onnx")
    ort = pytest.importorskip("onnxruntime")
    from tf_longformer.export.onnx import export_onnx

    exported = saved_models[name]
    with pytest.raises(ValueError, match="is an exported SavedModel"):
        export_onnx(exported.path, tmp_path / "from_saved_model.onnx")
    if name == "per-layer-windows":  # a checkpoint folder, loaded by export_onnx (with the same small chunks)
        source = shutil.copytree(exported.folder, tmp_path / "checkpoint")
        config = json.loads((source / "config.json").read_text())
        (source / "config.json").write_text(json.dumps({**config, **exported.spec.load}))
    else:
        source = exported.keras_model()
    onnx_path = export_onnx(source, tmp_path / "qa.onnx", signature="with_global_attention")
    session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    inputs = {i.name: i for i in session.get_inputs()}
    assert sorted(inputs) == ["attention_mask", "global_attention_mask", "input_ids"]
    assert all(i.type == "tensor(int32)" and len(i.shape) == 2 and not any(isinstance(d, int) for d in i.shape)
               for i in inputs.values())  # dynamic batch and length
    names = [o.name for o in session.get_outputs()]
    assert sorted(names) == ["end_logits", "start_logits"]

    reference = exported.torch_model()
    worst = 0.0
    for arrays in onnx_batches():
        got = dict(zip(names, session.run(None, {k: arrays[k].astype(np.int32) for k in inputs}), strict=True))
        for key, value in torch_outputs(reference, "question-answering", arrays, with_global=True).items():
            worst = max(worst, max_diff(got[key], value))
    assert worst <= TOL, worst
    print(f"ONNX ({name}) vs PyTorch: max abs diff {worst:.3g}")

    # tf2onnx drops TensorFlow's Assert ops; an out-of-vocabulary id or a bad mask value still makes its row
    # NaN, not numbers
    for name, value in (("input_ids", 75), ("global_attention_mask", 3)):
        feed = {k: arrays[k].astype(np.int32) for k in inputs}
        feed[name][1, 1] = value
        got = dict(zip(names, session.run(None, feed), strict=True))
        assert np.isnan(got["start_logits"][1]).all() and not np.isnan(got["start_logits"][0]).any(), name


@pytest.mark.slow
def test_notebook_export_and_serve_runs(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    work = tmp_path / "notebook"
    work.mkdir()
    shutil.copy(NOTEBOOK, work)
    notebook = nbformat.read(str(work / os.path.basename(NOTEBOOK)), as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(work)}})
    client.execute()  # raises CellExecutionError on any failing cell
    text = "\n".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "signature_def['serving_default']" in text and "signature_def['with_global_attention']" in text
    assert "max |SavedModel - Keras| =" in text
    assert "text signature == pipeline:" in text  # the text signature's fill-mask answer
    assert sorted(os.listdir(work / "models" / "longformer_qa")) == ["1", "2"]
