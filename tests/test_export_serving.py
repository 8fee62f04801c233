"""Deployment extras: the SavedModel converted to ONNX and run in onnxruntime; the export notebook runs.

The ONNX test is skipped only when tf2onnx or onnxruntime is not installed; the notebook test only when
nbclient / nbformat / ipykernel are not.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

import tf_longformer
from tests.test_export import cases, keras_outputs
from tf_longformer.export import export_saved_model

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = os.path.join(REPO, "notebooks", "03_export_and_serve.ipynb")


@pytest.mark.slow
def test_onnx_conversion_matches_keras(reference_factory, tmp_path):
    pytest.importorskip("tf2onnx")
    ort = pytest.importorskip("onnxruntime")
    from tf_longformer.export.onnx import export_onnx

    _, folder = reference_factory("TFLongformerForQuestionAnswering", seed=5, num_hidden_layers=2,
                                  attention_window=[8, 4])
    model = tf_longformer.TFLongformerForQuestionAnswering.from_pretrained(folder)
    onnx_path = export_onnx(export_saved_model(model, tmp_path / "qa"), tmp_path / "qa.onnx")
    session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    inputs = {i.name: i for i in session.get_inputs()}
    assert sorted(inputs) == ["attention_mask", "input_ids"]
    assert all(i.type == "tensor(int32)" and len(i.shape) == 2 and not any(isinstance(d, int) for d in i.shape)
               for i in inputs.values())  # dynamic batch and length
    names = [o.name for o in session.get_outputs()]
    assert sorted(names) == ["end_logits", "start_logits"]

    # a 9-token question gives 10 global tokens: the other formulation of the global rows (a tf.cond branch)
    long_question = np.ones((2, 19), np.int64)
    long_question[0] = [0, *range(10, 19), 2, 2, *range(30, 36), 2]
    long_question[1, :8] = [0, 7, 2, 2, 40, 41, 42, 2]
    batches = [*cases("question-answering", seed=13).values(),
               {"input_ids": long_question, "attention_mask": (long_question != 1).astype(np.int64)}]
    worst = 0.0
    for arrays in batches:
        feed = {k: arrays[k].astype(np.int32) for k in inputs}
        got = dict(zip(names, session.run(None, feed), strict=True))
        for name, value in keras_outputs(model, "question-answering", arrays, with_global=False).items():
            worst = max(worst, float(np.max(np.abs(got[name] - value))))
    assert worst <= 1e-5, worst
    print(f"ONNX vs Keras: max abs diff {worst:.3g}")

    # tf2onnx drops TensorFlow's Assert ops; an out-of-vocabulary row still comes back as NaN, not numbers
    feed = {k: arrays[k].astype(np.int32) for k in inputs}
    feed["input_ids"][1, 1] = 75
    got = dict(zip(names, session.run(None, feed), strict=True))
    assert np.isnan(got["start_logits"][1]).all() and not np.isnan(got["start_logits"][0]).any()


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
