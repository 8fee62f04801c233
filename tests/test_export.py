"""SavedModel export for TF Serving: served without tf_longformer, with the PyTorch reference's numbers.

Every export is a real SavedModel (`tests/export_fixtures.py`: every task on the real-shaped config, one
window for all layers and dropout 0.1, plus per-layer windows, int8 / int4 and per-layer outputs, built once
per test run); the checks run them in a fresh Python process where tf_longformer, converters and Keras
cannot be imported, through the real `saved_model_cli`, and with TF Serving's REST request bodies
(translated to signature tensors by a small pure-Python translator written from TF Serving's documented
rules: no TF Serving binary is reachable here, so that translation is our reading of those rules).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

import tf_longformer
from tests.conftest import TINY_CONFIG
from tests.export_fixtures import VOCAB, cases, keras_outputs, load_saved_models, max_diff, torch_outputs
from tf_longformer.cli import main as tf_longformer_cli
from tf_longformer.export import export_saved_model, next_version

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOL = 1e-4  # a SavedModel against the PyTorch reference
KERAS_TOL = 1e-5  # a SavedModel against our own Keras model (quantized models: no PyTorch counterpart)
MAX_TOKENS = TINY_CONFIG["max_position_embeddings"] - TINY_CONFIG["pad_token_id"] - 1
# the serving process: XLA at its default optimisation level (the tests' XLA_FLAGS, conftest.py, left out)
CLEAN_ENV = {**{k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}, "TF_CPP_MIN_LOG_LEVEL": "3",
             "CUDA_VISIBLE_DEVICES": ""}
# with `--dist loadgroup`, the tests that serve the exports run on one xdist worker (the exports are built
# once per run in any case; the group keeps the other worker from waiting for them)
pytestmark = pytest.mark.xdist_group("exports")


@pytest.fixture(scope="session")
def saved_models(tmp_path_factory):
    return load_saved_models(tmp_path_factory)


# --- served without us -------------------------------------------------------------------------------

SERVE_SCRIPT = textwrap.dedent("""
    import json, sys
    for blocked in ("tf_longformer", "converters", "keras"):
        sys.modules[blocked] = None  # importing them now raises ImportError
    import numpy as np
    import tensorflow as tf

    manifest = json.load(open(sys.argv[1]))
    inputs = np.load(sys.argv[2])
    results, loaded = {}, {}
    for key, (path, signature, names, dtype) in manifest.items():
        if path not in loaded:
            loaded[path] = tf.saved_model.load(path)
        fn = loaded[path].signatures[signature]
        out = fn(**{n: tf.constant(inputs[f"{key}/{n}"].astype(dtype)) for n in names})
        results.update({f"{key}/{k}": v.numpy() for k, v in out.items()})
    np.savez(sys.argv[3], **results)
    ours = sorted(m for m in sys.modules if m.split(".")[0] in ("tf_longformer", "converters", "keras")
                  and sys.modules[m] is not None)
    try:
        import tf_longformer  # noqa: F401
        importable = True
    except ImportError:
        importable = False
    print(json.dumps({"loaded_modules_of_ours": ours, "tf_longformer_importable": importable}))
""")


def expected_outputs(exported, arrays, with_global, models) -> tuple[dict, float]:
    """What the export must serve for `arrays`, and the tolerance: the PyTorch reference's outputs, or for a
    quantized model (whose weights PyTorch does not have) our own quantized Keras model's."""
    spec = exported.spec
    if "quantization" in spec.load:
        if exported.name not in models:
            models[exported.name] = exported.keras_model()
        return keras_outputs(models[exported.name], spec.task, arrays, with_global), KERAS_TOL
    if exported.name not in models:
        models[exported.name] = exported.torch_model()
    all_outputs = spec.include_attentions or spec.include_hidden_states
    return torch_outputs(models[exported.name], spec.task, arrays, with_global, all_outputs), TOL


@pytest.mark.slow
def test_served_in_fresh_process_without_tf_longformer(saved_models, tmp_path):
    """Every export, both signatures, three batches each: the reference's numbers, served without us."""
    manifest, inputs, expected, tolerance, models = {}, {}, {}, {}, {}
    for name, exported in saved_models.items():
        spec = exported.spec
        for case, arrays in cases(spec.task, seed=len(name)).items():
            for signature, with_global in (("serving_default", False), ("with_global_attention", True)):
                key = f"{name}/{case}/{signature}"
                names = ["input_ids", "attention_mask"] + (["global_attention_mask"] if with_global else [])
                manifest[key] = (exported.path, signature, names, spec.int_dtype)
                inputs.update({f"{key}/{n}": arrays[n] for n in names})
                values, tol = expected_outputs(exported, arrays, with_global, models)
                expected.update({f"{key}/{k}": v for k, v in values.items()})
                tolerance.update({f"{key}/{k}": tol for k in values})
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    np.savez(tmp_path / "inputs.npz", **inputs)
    proc = subprocess.run(
        [sys.executable, "-c", SERVE_SCRIPT, "manifest.json", "inputs.npz", "outputs.npz"],
        cwd=tmp_path, env=CLEAN_ENV, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report == {"loaded_modules_of_ours": [], "tf_longformer_importable": False}
    served = dict(np.load(tmp_path / "outputs.npz"))
    # with no global token (serving_default of feature extraction) transformers returns no global
    # attentions; the SavedModel returns them with zero columns
    no_global = [k for k in served if k not in expected and re.search(r"/global_attentions_\d+$", k)]
    assert all(served.pop(k).shape[-1] == 0 for k in no_global)
    assert sorted(served) == sorted(expected)
    diffs = {key: max_diff(served[key], value) for key, value in expected.items()}
    assert all(diffs[k] <= tolerance[k] for k in diffs), {k: v for k, v in diffs.items() if v > tolerance[k]}
    assert any("/attentions_2" in k for k in diffs) and any("/hidden_states_3" in k for k in diffs)
    # the default and explicit global attention really differ (the signatures are not the same function)
    qa = "question-answering/len13_batch3"
    assert not np.allclose(served[f"{qa}/serving_default/start_logits"],
                           served[f"{qa}/with_global_attention/start_logits"])
    # the quantized exports serve quantized weights, not the float ones
    reference = saved_models["int8"].torch_model()
    int8 = "int8/len13_batch3/with_global_attention"
    arrays = {n[len(int8) + 1:]: v for n, v in inputs.items() if n.startswith(int8 + "/")}
    float_logits = torch_outputs(reference, "question-answering", arrays, with_global=True)["start_logits"]
    assert max_diff(served[f"{int8}/start_logits"], float_logits) > 1e-3
    worst = max(v for k, v in diffs.items() if tolerance[k] == TOL)
    print(f"SavedModel (fresh process) vs PyTorch: max abs diff {worst:.3g} over {len(diffs)} outputs")


def test_users_own_saved_model_and_keras_export(saved_models, tmp_path):
    """A user's own `tf.saved_model.save(model, ...)` and Keras 3's `model.export(...)` of the real-shaped
    model (one window for every layer, dropout 0.1: the layer loop) save, load and give the reference's
    numbers (they failed with "references an 'untracked' resource ... seed_generator_state")."""
    exported = saved_models["question-answering"]
    model = exported.keras_model()
    spec = tf.TensorSpec([None, None], tf.int32)

    @tf.function(input_signature=[spec, spec, spec])
    def serve(input_ids, attention_mask, global_attention_mask):
        out = model(input_ids=input_ids, attention_mask=attention_mask, global_attention_mask=global_attention_mask)
        return {"start_logits": out.start_logits, "end_logits": out.end_logits}

    tf.saved_model.save(model, str(tmp_path / "own"), signatures={"serving_default": serve})
    model.export(str(tmp_path / "keras"), input_signature=[tf.TensorSpec([None, None], tf.int32, name=n)
                                                           for n in ("input_ids", "attention_mask")])
    own = tf.saved_model.load(str(tmp_path / "own")).signatures["serving_default"]
    keras_export = tf.saved_model.load(str(tmp_path / "keras")).signatures["serve"]
    arrays = cases("question-answering", seed=2)["len21_batch2"]
    reference = exported.torch_model()
    tensors = {k: tf.constant(v, tf.int32) for k, v in arrays.items()}
    for served, with_global in ((own(**tensors), True),
                                (keras_export(**{k: tensors[k] for k in ("input_ids", "attention_mask")}), False)):
        expected = torch_outputs(reference, "question-answering", arrays, with_global)
        for name, value in expected.items():
            assert max_diff(served[name].numpy(), value) <= TOL, name


# --- saved_model_cli ---------------------------------------------------------------------------------

def saved_model_cli(*args):
    return subprocess.run([sys.executable, "-m", "tensorflow.python.tools.saved_model_cli", *args],
                          env=CLEAN_ENV, capture_output=True, text=True, timeout=180)


@pytest.mark.slow
def test_saved_model_cli_show_and_run(saved_models, tmp_path):
    path = saved_models["question-answering"].path
    show = saved_model_cli("show", "--dir", path, "--all")
    assert show.returncode == 0, show.stderr[-2000:]
    text = show.stdout
    for signature, inputs in (("serving_default", ["attention_mask", "input_ids"]),
                              ("with_global_attention", ["attention_mask", "global_attention_mask", "input_ids"])):
        block = text.split(f"signature_def['{signature}']:")[1].split("signature_def[")[0]
        assert re.findall(r"inputs\['(\w+)'\] tensor_info:\s+dtype: DT_INT32\s+shape: \(-1, -1\)", block) == inputs
        assert re.findall(r"outputs\['(\w+)'\] tensor_info:\s+dtype: DT_FLOAT\s+shape: \(-1, -1\)", block) == [
            "end_logits", "start_logits"]
        assert "Method name is: tensorflow/serving/predict" in block

    arrays = cases("question-answering", seed=3)["len13_batch3"]
    np.save(tmp_path / "ids.npy", arrays["input_ids"].astype(np.int32))
    np.save(tmp_path / "mask.npy", arrays["attention_mask"].astype(np.int32))
    run = saved_model_cli("run", "--dir", path, "--tag_set", "serve", "--signature_def", "serving_default",
                          "--inputs", f"input_ids={tmp_path / 'ids.npy'};attention_mask={tmp_path / 'mask.npy'}",
                          "--outdir", str(tmp_path / "out"))
    assert run.returncode == 0, run.stderr[-2000:]
    reference = saved_models["question-answering"].torch_model()
    expected = torch_outputs(reference, "question-answering", arrays, with_global=False)
    for name, value in expected.items():
        assert max_diff(np.load(tmp_path / "out" / f"{name}.npy"), value) <= TOL


# --- TF Serving REST bodies --------------------------------------------------------------------------

def rest_request_to_tensors(body: dict, signature) -> dict:
    """Translate a TF Serving REST `:predict` body to the signature's input tensors.

    Our reading of TF Serving's rules, not TF Serving itself (no TF Serving binary is reachable here). Its
    semantics (RESTful API guide): row format `{"instances": [{name: value, ...}, ...]}` stacks
    each named input of every instance along a new batch axis (every instance names the same inputs,
    with the same shape); columnar format `{"inputs": {name: value, ...}}` gives each input whole, batch
    axis included. JSON numbers become the signature's dtype; a non-integer for an integer input is an
    error. Every signature input must be given, and no other.
    """
    specs = signature.structured_input_signature[1]
    if ("instances" in body) == ("inputs" in body):
        raise ValueError("JSON body must have exactly one of 'instances' (row format) or 'inputs' (columnar format)")
    if "instances" in body:
        instances = body["instances"]
        if not instances or not all(isinstance(i, dict) for i in instances):
            raise ValueError("'instances' must be a non-empty list of objects for a multi-input signature")
        names = set(instances[0])
        if any(set(i) != names for i in instances):
            raise ValueError("every instance must have the same named inputs")
        columns = {n: [i[n] for i in instances] for n in names}
    else:
        columns = body["inputs"]
        if not isinstance(columns, dict):
            raise ValueError("'inputs' must be an object of named inputs for a multi-input signature")
    if set(columns) != set(specs):
        raise ValueError(f"inputs {sorted(columns)} do not match the signature's {sorted(specs)}")
    tensors = {}
    for name, value in columns.items():
        array = np.array(value)
        if array.dtype == object:
            raise ValueError(f"{name}: ragged list; every row must have the same length")
        dtype = specs[name].dtype.as_numpy_dtype
        if np.issubdtype(dtype, np.integer) and not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"{name}: JSON value is not an integer, the signature wants {specs[name].dtype.name}")
        tensors[name] = tf.constant(array.astype(dtype))
    return tensors


def rest_response(body: dict, outputs: dict) -> dict:
    """The JSON TF Serving answers: `predictions` (one entry per row) for row requests, else `outputs`.

    With several outputs, each row is an object (row format) and `outputs` an object of named values; with
    a single output, its name is omitted.
    """
    values = {k: v.numpy().tolist() for k, v in outputs.items()}
    if "instances" in body:
        rows = len(next(iter(values.values())))
        predictions = [{k: v[i] for k, v in values.items()} for i in range(rows)]
        return {"predictions": [next(iter(p.values())) for p in predictions] if len(values) == 1 else predictions}
    return {"outputs": next(iter(values.values())) if len(values) == 1 else values}


def rest_bodies_in_docs() -> list[dict]:
    """The request bodies shown in docs/serving.md (its ```json blocks with 'instances' or 'inputs')."""
    with open(os.path.join(REPO, "docs", "serving.md"), encoding="utf-8") as f:
        blocks = re.findall(r"```json\n(.*?)```", f.read(), flags=re.S)
    bodies = [json.loads(b) for b in blocks]
    # (the text signature's bodies are tests/test_text_serving.py's)
    return [b for b in bodies if ("instances" in b or "inputs" in b) and b.get("signature_name") != "text"]


def test_rest_request_bodies_row_and_columnar(saved_models):
    """Row and columnar REST bodies (ours and those of docs/serving.md) through our reading of TF Serving's
    JSON rules (no TF Serving binary is reachable here) give the reference's numbers."""
    loaded = tf.saved_model.load(saved_models["question-answering"].path)
    reference = saved_models["question-answering"].torch_model()
    arrays = cases("question-answering", seed=5)["len13_batch3"]
    rows = [{n: arrays[n][i].tolist() for n in ("input_ids", "attention_mask")} for i in range(3)]
    bodies = [
        ({"instances": rows}, False),
        ({"signature_name": "serving_default",
          "inputs": {n: arrays[n].tolist() for n in ("input_ids", "attention_mask")}}, False),
        ({"signature_name": "with_global_attention",
          "instances": [{**r, "global_attention_mask": arrays["global_attention_mask"][i].tolist()}
                        for i, r in enumerate(rows)]}, True),
        ({"signature_name": "with_global_attention", "inputs": {n: a.tolist() for n, a in arrays.items()}}, True),
    ]
    docs_bodies = rest_bodies_in_docs()
    assert len(docs_bodies) >= 3
    for doc_body in docs_bodies:  # the documented requests, verbatim
        as_arrays = rest_request_to_tensors(doc_body, loaded.signatures[doc_body.get("signature_name",
                                                                                     "serving_default")])
        bodies.append((doc_body, "global_attention_mask" in as_arrays))
    for body, with_global in bodies:
        body = json.loads(json.dumps(body))  # exactly what travels over HTTP
        signature = loaded.signatures[body.get("signature_name", "serving_default")]
        tensors = rest_request_to_tensors(body, signature)
        response = json.loads(json.dumps(rest_response(body, signature(**tensors))))
        expected = torch_outputs(reference, "question-answering", {k: v.numpy() for k, v in tensors.items()},
                                 with_global)
        got = ({k: np.array([p[k] for p in response["predictions"]]) for k in expected} if "instances" in body
               else {k: np.array(response["outputs"][k]) for k in expected})
        for name, value in expected.items():
            assert max_diff(got[name], value) <= TOL, (name, body)

    with pytest.raises(ValueError, match="not an integer"):
        rest_request_to_tensors({"instances": [{"input_ids": [0, 5.5, 2], "attention_mask": [1, 1, 1]}]},
                                loaded.signatures["serving_default"])
    with pytest.raises(ValueError, match="do not match the signature"):  # TF Serving: "input size does not match"
        rest_request_to_tensors({"inputs": {n: arrays[n].tolist() for n in arrays}}, loaded.signatures["serving_default"])


def test_rest_single_output_task(saved_models):
    """Text classification has one output, `logits`: TF Serving then leaves out its name."""
    exported = saved_models["text-classification"]
    signature = tf.saved_model.load(exported.path).signatures["serving_default"]
    arrays = cases("text-classification", seed=6)["len13_batch3"]
    rows = {"instances": [{n: arrays[n][i].tolist() for n in ("input_ids", "attention_mask")} for i in range(3)]}
    columns = {"inputs": {n: arrays[n].tolist() for n in ("input_ids", "attention_mask")}}
    expected = torch_outputs(exported.torch_model(), "text-classification", arrays, False)["logits"]
    for body, key in ((rows, "predictions"), (columns, "outputs")):
        response = json.loads(json.dumps(rest_response(body, signature(**rest_request_to_tensors(body, signature)))))
        assert np.array(response[key]).shape == expected.shape
        assert max_diff(np.array(response[key]), expected) <= TOL


# --- bad requests ------------------------------------------------------------------------------------

def test_bad_requests_fail_clearly(saved_models):
    """Through the loaded SavedModel (graph assertions), never garbage numbers."""
    qa = tf.saved_model.load(saved_models["question-answering"].path).signatures
    tc64 = tf.saved_model.load(saved_models["token-classification"].path).signatures["serving_default"]
    mc = tf.saved_model.load(saved_models["multiple-choice"].path).signatures["serving_default"]
    ok = np.array([[0, 5, 6, 2, 2, 7, 8, 9, 2, 1]], np.int32)
    mask = (ok != 1).astype(np.int32)
    f = qa["serving_default"]

    def call(fn=f, **kw):
        return fn(**{k: tf.constant(v) for k, v in kw.items()})

    call(input_ids=ok, attention_mask=mask)  # the good request works
    longest = np.array([[0, 5, 2, 2, *[7] * (MAX_TOKENS - 5), 2]], np.int32)  # the model's maximum
    assert call(input_ids=longest, attention_mask=np.ones_like(longest))["start_logits"].shape == (1, MAX_TOKENS)
    bad = [
        (dict(input_ids=ok.astype(np.float32), attention_mask=mask), "expected to be a int32 tensor"),
        (dict(input_ids=ok.astype(np.int64), attention_mask=mask), "expected to be a int32 tensor"),
        (dict(input_ids=ok[None], attention_mask=mask[None]), r"not compatible with expected shape \[\?,\?\]"),
        (dict(input_ids=ok, attention_mask=mask[:, :6]), "attention_mask must have the same shape as input_ids"),
        (dict(input_ids=ok + 55, attention_mask=mask), rf"input_ids contains \d+ value\(s\) outside \[0, {VOCAB}\)"),
        (dict(input_ids=ok - 1, attention_mask=mask), rf"input_ids contains \d+ value\(s\) outside \[0, {VOCAB}\)"),
        (dict(input_ids=ok, attention_mask=mask * 3), r"attention_mask contains 9 value\(s\) other than 0, 1 and 2"),
        (dict(input_ids=np.full((1, MAX_TOKENS + 1), 5, np.int32), attention_mask=np.ones((1, MAX_TOKENS + 1), np.int32)),
         f"sequences may have at most {MAX_TOKENS} tokens"),
        (dict(input_ids=np.zeros((1, 0), np.int32), attention_mask=np.zeros((1, 0), np.int32)),
         "at least one token"),
        (dict(input_ids=np.where(ok == 2, 5, ok), attention_mask=mask), "exactly three separator tokens"),
        (dict(fn=qa["with_global_attention"], input_ids=ok, attention_mask=mask, global_attention_mask=mask[:, :4]),
         "global_attention_mask must have the same shape as input_ids"),
        (dict(fn=qa["with_global_attention"], input_ids=ok, attention_mask=mask, global_attention_mask=-mask),
         r"global_attention_mask contains 9 value\(s\) other than 0 and 1 \(e.g. \[-1"),
        # int64 ids beyond int32 must not wrap around into the vocabulary
        (dict(fn=tc64, input_ids=ok.astype(np.int64) + 2**32, attention_mask=mask.astype(np.int64)),
         rf"input_ids contains \d+ value\(s\) outside \[0, {VOCAB}\)"),
        (dict(fn=tc64, input_ids=ok, attention_mask=mask), "expected to be a int64 tensor"),
        # (batch, choices) swapped between ids and mask: same number of elements, still refused
        (dict(fn=mc, input_ids=np.tile(ok, (2, 3, 1)), attention_mask=np.tile(mask, (3, 2, 1))),
         r"attention_mask must have the same shape as input_ids \(batch, num_choices, sequence_length\)"),
        (dict(fn=mc, input_ids=ok, attention_mask=mask), r"not compatible with expected shape \[\?,\?,\?\]"),
    ]
    for kwargs, message in bad:
        with pytest.raises((tf.errors.InvalidArgumentError, TypeError, ValueError), match=message):
            call(**kwargs)


# --- layout, versions, atomicity ---------------------------------------------------------------------

def test_versions_layout_and_atomic_write(tmp_path, monkeypatch):
    model = tf_longformer.TFLongformerForSequenceClassification(tf_longformer.LongformerConfig(
        vocab_size=VOCAB, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8,
        attention_window=4, max_position_embeddings=40))  # one small layer: four exports below
    base = tmp_path / "cls"
    assert next_version(base) == 1
    first = export_saved_model(model, base)
    second = export_saved_model(model, base)
    assert (first, second) == (str(base / "1"), str(base / "2"))
    assert export_saved_model(model, base, version=10) == str(base / "10")
    assert next_version(base) == 11
    info = json.loads((base / "1" / "assets.extra" / "tf_longformer_export.json").read_text())
    assert info["task"] == "text-classification" and info["input_dtype"] == "int32"
    assert info["signatures"]["serving_default"]["outputs"] == ["logits"]
    umask = os.umask(0o022)
    os.umask(umask)
    assert os.stat(base / "1").st_mode & 0o777 == 0o777 & ~umask  # not mkdtemp's 0o700: a server may be another user

    before = {p: p.stat().st_mtime_ns for p in (base / "2").rglob("*")}
    with pytest.raises(FileExistsError, match="already exists"):
        export_saved_model(model, base, version=2)
    assert {p: p.stat().st_mtime_ns for p in (base / "2").rglob("*")} == before
    for bad in (0, -3, "4", True):
        with pytest.raises(ValueError, match="positive integer"):
            export_saved_model(model, base, version=bad)
    with pytest.raises(ValueError, match="does not match the model"):
        export_saved_model(model, base, task="question-answering")
    with pytest.raises(ValueError, match="int32 or int64"):
        export_saved_model(model, base, int_dtype="float32")

    # a failure in the middle of writing leaves neither a version folder nor a temporary one behind
    import tf_longformer.export.saved_model as saved_model_module

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(saved_model_module, "_write_export_info", crash)
    with pytest.raises(OSError, match="disk full"):
        export_saved_model(model, base)
    assert sorted(os.listdir(base)) == ["1", "10", "2"]


# --- command line ------------------------------------------------------------------------------------

def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tf_longformer.cli", "export", *args], cwd=cwd, env=CLEAN_ENV,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_cli_export_infers_task_and_fails_in_one_line(saved_models, reference_factory, tmp_path, capsys):
    exported = saved_models["token-classification"]
    done = cli("--model", exported.folder, str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr[-2000:]
    path = done.stdout.strip().splitlines()[-1]
    assert path == str(tmp_path / "out" / "1")
    assert "tensorflow_model_server --rest_api_port=8501" in done.stderr
    fn = tf.saved_model.load(path).signatures["serving_default"]
    arrays = cases("token-classification", seed=11)["len21_batch2"]
    served = fn(input_ids=tf.constant(arrays["input_ids"], tf.int32),
                attention_mask=tf.constant(arrays["attention_mask"], tf.int32))
    expected = torch_outputs(exported.torch_model(), "token-classification", arrays, with_global=False)
    assert max_diff(served["logits"].numpy(), expected["logits"]) <= TOL

    _, base_folder = reference_factory("TFLongformerModel", num_hidden_layers=1)
    capsys.readouterr()  # the reference's loading messages
    for args, message in (
        (("--model", base_folder, "--task", "question-answering", str(tmp_path / "qa")), "has no weights for 2"),
        (("--model", exported.folder, "--version", "1", str(tmp_path / "out")), "already exists"),
    ):
        assert tf_longformer_cli(["export", *args]) == 2  # in this process: the subprocess above showed the wiring
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("tf-longformer export: error:") and message in lines[0], lines
    assert not os.path.exists(tmp_path / "qa" / "1")
