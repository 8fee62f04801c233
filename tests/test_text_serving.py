"""The `text` signature: strings in, the pipelines' answers out, served with no Python of ours.

One SavedModel per task is exported once (the demo MLM through the command line, random tiny heads on the
demo tokenizer through `export_saved_model`); one fresh Python process, where tf_longformer, converters,
keras and tensorflow_text cannot be imported, loads them all and answers TF Serving REST bodies (row and
columnar, translated by tests/test_export.py's translator of TF Serving's documented JSON semantics) and bad
requests. The answers are compared here with `tf_longformer.pipeline(task)` on the same models.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tf_longformer
from tests.test_export import CLEAN_ENV, rest_request_to_tensors, rest_response
from tf_longformer import LongformerTokenizerFast
from tf_longformer.cli import main as tf_longformer_cli
from tf_longformer.export import export_saved_model

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(REPO, "tf_longformer", "demo_model")
TOL = 1e-5
MAX_LENGTH = 80  # TINY_CONFIG: max_position_embeddings 82
TOP_K = 3
# task -> (model class, config overrides): random one-layer models (depth scaled down: every export is traced,
# saved, loaded and run once) on the demo tokenizer's vocabulary
HEADS = {
    "text-classification": ("TFLongformerForSequenceClassification",
                            {"id2label": {0: "negative", 1: "neutral", 2: "positive"}}),
    "token-classification": ("TFLongformerForTokenClassification",
                             {"id2label": {0: "O", 1: "B-PER", 2: "I-PER", 3: "B-LOC", 4: "I-LOC"}}),
    "question-answering": ("TFLongformerForQuestionAnswering", {}),
    "feature-extraction": ("TFLongformerModel", {}),
}
WORDS = ("the file is opened for reading and the value returns a list of items when the path exists; "
         "Ada Lovelace wrote it in 1843, café naïve 東京 😀 👨‍👩‍👧 https://example.com/a?b=1").split()


def texts(seed: int, count: int, longest: int) -> list[str]:
    """Mixed-length texts (some longer than the model maximum), `<mask>` here and there."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        words = list(rng.choice(WORDS, size=int(rng.integers(1, longest))))
        for _ in range(int(rng.integers(0, 3))):
            words.insert(int(rng.integers(0, len(words) + 1)), "<mask>")
        out.append(" ".join(words))
    return out


TEXTS = [*texts(1, 6, 12), *texts(2, 2, 120), "", "   ", "Tabs\tand\nnewlines  and  <mask>."]
QUESTIONS = ["Who wrote it?", "What is opened?", "When?", "Which value?", "", "Where is 東京?"]
CONTEXTS = [" ".join(WORDS * 4),  # several windows
            "The file is opened for reading by the function.", "It was written by Ada Lovelace in 1843.",
            "Return the VALUE, the value, the Value!", "A context without a question.", ""]


DOCUMENTED_ORDER = ("fill-mask", "text-classification", "token-classification", "question-answering",
                    "feature-extraction")


def documented() -> dict[str, tuple[dict, dict]]:
    """{task: (request, response)}: the examples of docs/serving.md's text-signature section, in task order."""
    with open(os.path.join(REPO, "docs", "serving.md"), encoding="utf-8") as f:
        section = f.read().split("## Text in, answers out")[1].split("\n## ")[0]
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", section, flags=re.S)]
    pairs = [(a, b) for a, b in zip(blocks[:-1], blocks[1:], strict=True) if a.get("signature_name") == "text"]
    assert len(pairs) == len(DOCUMENTED_ORDER)
    return dict(zip(DOCUMENTED_ORDER, pairs, strict=True))


def bodies(task: str) -> list[dict]:
    """TF Serving REST bodies for the text signature: row format, columnar format, the documented one."""
    if task == "question-answering":
        rows = [{"question": q, "context": c} for q, c in zip(QUESTIONS, CONTEXTS, strict=True)]
        ours = [{"signature_name": "text", "instances": rows},
                {"signature_name": "text", "inputs": {"question": QUESTIONS, "context": CONTEXTS}}]
    else:
        ours = [{"signature_name": "text", "instances": [{"text": t} for t in TEXTS]},
                {"signature_name": "text", "inputs": {"text": TEXTS}}]
    return [*ours, documented()[task][0]]


# --- the exports -------------------------------------------------------------------------------------

# with `--dist loadgroup` the module's tests run on one xdist worker, so its exports (~50 s) are built once per
# run rather than once per worker
pytestmark = pytest.mark.xdist_group("text_serving")


@pytest.fixture(scope="module")
def exported(reference_factory, tmp_path_factory):
    """{task: (model folder, SavedModel version folder)}."""
    root = tmp_path_factory.mktemp("text_exports")
    tokenizer = LongformerTokenizerFast.from_pretrained(DEMO, model_max_length=MAX_LENGTH)
    out = {}
    assert tf_longformer_cli(["export", "--model", DEMO, "--text", "--top-k", str(TOP_K), str(root / "fill-mask")]) == 0
    out["fill-mask"] = (DEMO, str(root / "fill-mask" / "1"))
    for task, (model_class, overrides) in HEADS.items():
        _, reference = reference_factory(model_class, vocab_size=5000, num_hidden_layers=1, **overrides)
        folder = root / f"{task}-model"
        shutil.copytree(reference, folder)
        tokenizer.save_pretrained(folder)
        out[task] = (str(folder), export_saved_model(folder, root / task, text=True))
    return out


SERVE_SCRIPT = textwrap.dedent("""
    import json, sys
    for blocked in ("tf_longformer", "converters", "keras", "tensorflow_text"):
        sys.modules[blocked] = None  # importing them now raises ImportError
    import numpy as np
    import tensorflow as tf

    {translator}

    def json_ready(value):
        # TF Serving writes DT_STRING outputs as JSON strings
        if isinstance(value, bytes):
            return value.decode("utf-8")
        if isinstance(value, list):
            return [json_ready(v) for v in value]
        if isinstance(value, dict):
            return {{k: json_ready(v) for k, v in value.items()}}
        return value

    def refused(fn, **inputs):
        try:
            fn(**{{k: tf.constant(v) for k, v in inputs.items()}})
        except (tf.errors.InvalidArgumentError, ValueError, TypeError) as error:
            return getattr(error, "message", str(error))
        return None

    jobs = json.load(open(sys.argv[1]))
    results, signatures = {{}}, {{}}
    for task, (path, requests) in jobs.items():
        text = signatures[task] = tf.saved_model.load(path).signatures["text"]
        results[task] = [json.loads(json.dumps(json_ready(rest_response(body, text(**rest_request_to_tensors(
            body, text)))))) for body in requests]
    qa, fill = signatures["question-answering"], signatures["fill-mask"]
    long_question = " ".join(["word"] * 90)
    results["bad"] = {{
        "utf8": refused(fill, text=[b"fine <mask>", b"bad \\xff byte", b"cut \\xe2\\x82"]),
        "utf8_question": refused(qa, question=[b"ok?", b"\\xc3("], context=[b"a", b"b"]),
        "rows_differ": refused(qa, question=["a?", "b?"], context=["only one"]),
        "long_question": refused(qa, question=["short?", long_question], context=["x " * 200, "x " * 200]),
        "rank": refused(fill, text=[["nested <mask>"]]),
    }}
    ours = sorted(m for m in sys.modules if m.split(".")[0] in ("tf_longformer", "converters", "keras",
                  "tensorflow_text") and sys.modules[m] is not None)
    results["modules_of_ours"] = ours
    json.dump(results, open(sys.argv[2], "w"))
""")


@pytest.fixture(scope="module")
def served(exported, tmp_path_factory):
    """What the fresh process answered: {task: [response of each REST body]}, plus "bad" and "modules_of_ours"."""
    work = tmp_path_factory.mktemp("text_served")
    jobs = {task: (path, bodies(task)) for task, (_, path) in exported.items()}
    (work / "jobs.json").write_text(json.dumps(jobs))
    translator = "\n".join(inspect.getsource(f) for f in (rest_request_to_tensors, rest_response))
    script = SERVE_SCRIPT.format(translator=textwrap.indent(translator, "").replace("\n", "\n"))
    proc = subprocess.run([sys.executable, "-c", script, "jobs.json", "out.json"], cwd=work, env=CLEAN_ENV,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((work / "out.json").read_text())


@pytest.fixture(scope="module")
def pipelines(exported):
    """The Python pipelines on the same models; one padded batch per call (eager), as fast as they go."""
    logging.getLogger("tf_longformer").setLevel(logging.ERROR)
    return {task: tf_longformer.pipeline(task, model=folder, batch_size=16, graph=False)
            for task, (folder, _) in exported.items()}


def columns(response: dict, body: dict, task: str) -> dict[str, list]:
    """A REST response as {output: one value per row}, for both formats (one output: TF Serving leaves out its
    name)."""
    rows = response.get("predictions")
    if rows is not None:
        return {k: [p[k] for p in rows] for k in rows[0]} if isinstance(rows[0], dict) else {"embedding": rows}
    outputs = response["outputs"]
    return outputs if isinstance(outputs, dict) else {"embedding": outputs}


def each_format(served, task):
    """Our requests' answers (row and columnar format) as columns."""
    for response, body in zip(served[task][:2], bodies(task)[:2], strict=True):
        yield columns(response, body, task)


# --- the answers equal the pipelines' -----------------------------------------------------------------
# (the assert_* helpers are also tests/test_documented_commands.py's, against transformers' pipelines)

def assert_fill_mask_columns(out: dict, texts: list[str], expected: dict, top_k: int, tol: float = TOL) -> None:
    """Served fill-mask columns against a pipeline's predictions, {text: its result} for the texts whose
    `<mask>` survives truncation; the other rows (and masks beyond a row's own) are padding."""
    assert np.array(out["token"]).shape == (len(texts), max(t.count("<mask>") for t in texts), top_k)
    for i, text in enumerate(texts):
        predictions = expected.get(text, [])
        predictions = [predictions] if predictions and isinstance(predictions[0], dict) else predictions
        for m, best in enumerate(predictions):
            assert out["token"][i][m] == [p["token"] for p in best]
            assert out["token_str"][i][m] == [p["token_str"] for p in best]
            assert np.allclose(out["score"][i][m], [p["score"] for p in best], atol=tol, rtol=0)
        for m in range(len(predictions), len(out["token"][i])):  # padding: no mask (or fewer masks)
            assert out["token"][i][m] == [-1] * top_k and out["token_str"][i][m] == [""] * top_k
            assert out["score"][i][m] == [0.0] * top_k


def assert_classification_columns(out: dict, best: list, scored: list, labels: list[str], tol: float = TOL) -> None:
    """Served labels, scores and logits against a pipeline's best label per text (`best`) and its
    `function_to_apply="none", top_k=None` scores (`scored`)."""
    assert out["label"] == [b["label"] for b in best]
    assert np.allclose(out["score"], [b["score"] for b in best], atol=tol, rtol=0)
    expected = [[next(x["score"] for x in row if x["label"] == label) for label in labels] for row in scored]
    assert np.max(np.abs(np.array(out["logits"]) - np.array(expected))) <= tol


def assert_token_columns(out: dict, entities: list, tol: float = TOL) -> None:
    """Served per-token labels against a pipeline's `ignore_labels=[]` entities, one list per text."""
    for i, expected in enumerate(entities):
        n = out["token_count"][i]
        assert n == len(expected)
        assert out["label"][i][:n] == [e["entity"] for e in expected]
        assert np.allclose(out["score"][i][:n], [e["score"] for e in expected], atol=tol, rtol=0)
        assert out["start"][i][:n] == [e["start"] for e in expected]
        assert out["end"][i][:n] == [e["end"] for e in expected]
        assert out["start"][i][n:] == out["end"][i][n:] == [-1] * (len(out["start"][i]) - n)


def assert_qa_columns(out: dict, questions: list[str], contexts: list[str], expected: dict, tol: float = TOL) -> None:
    """Served answers against the pipeline's, {row: its answer} for the rows with a question and a context
    (the others get no answer)."""
    for i, context in enumerate(contexts):
        got = (out["answer"][i], out["start"][i], out["end"][i])
        if i not in expected:  # an empty question or context (the pipeline refuses them): no answer
            assert got == ("", 0, 0) and out["score"][i] == 0.0
            continue
        assert got == (expected[i]["answer"], expected[i]["start"], expected[i]["end"]), (questions[i], context)
        assert abs(out["score"][i] - expected[i]["score"]) <= tol
        assert context[out["start"][i]:out["end"][i]] == out["answer"][i]


def assert_feature_columns(out: dict, features: list, tol: float = TOL) -> None:
    """Served embeddings against the mean of a feature-extraction pipeline's per-token vectors."""
    expected = np.array([np.mean(np.array(f[0]), axis=0) for f in features])
    assert np.max(np.abs(np.array(out["embedding"]) - expected)) <= tol


def test_served_without_any_python_of_ours(served):
    assert served["modules_of_ours"] == []


def test_fill_mask(served, pipelines):
    fill = pipelines["fill-mask"]
    masked = [t for t in TEXTS if fill.tokenizer(t, truncation=True)["input_ids"].count(fill.tokenizer.mask_token_id)]
    expected = dict(zip(masked, fill(masked, top_k=TOP_K, tokenizer_kwargs={"truncation": True}), strict=True))
    assert len(masked) >= 4 and any(isinstance(e[0], list) for e in expected.values())  # several masks in a text
    for out in each_format(served, "fill-mask"):
        assert_fill_mask_columns(out, TEXTS, expected, TOP_K)


def test_text_classification(served, pipelines):
    classify = pipelines["text-classification"]
    best = classify(TEXTS, truncation=True)
    logits = classify(TEXTS, truncation=True, function_to_apply="none", top_k=None)
    for out in each_format(served, "text-classification"):
        assert_classification_columns(out, best, logits, list(classify.model.config.id2label.values()))
    assert np.ptp([b["score"] for b in best]) > 1e-3  # the texts do get different answers


def test_token_classification(served, pipelines):
    entities = pipelines["token-classification"](TEXTS, ignore_labels=[])
    for out in each_format(served, "token-classification"):
        assert_token_columns(out, entities)
        assert max(out["token_count"]) == MAX_LENGTH - 2  # the long texts were truncated
    assert len({e["entity"] for row in entities for e in row}) > 1


def test_question_answering_with_windows(served, pipelines):
    qa = pipelines["question-answering"]
    windows = len(qa.tokenizer(QUESTIONS[0], CONTEXTS[0], truncation="only_second", max_length=MAX_LENGTH,
                               stride=MAX_LENGTH // 2, return_overflowing_tokens=True)["input_ids"])
    assert windows >= 3
    answerable = [i for i, (q, c) in enumerate(zip(QUESTIONS, CONTEXTS, strict=True)) if q and c]
    expected = qa(question=[QUESTIONS[i] for i in answerable], context=[CONTEXTS[i] for i in answerable])
    expected = dict(zip(answerable, expected, strict=True))
    for out in each_format(served, "question-answering"):
        assert_qa_columns(out, QUESTIONS, CONTEXTS, expected)


def test_feature_extraction(served, pipelines):
    features = pipelines["feature-extraction"](TEXTS, truncation=True)
    for out in each_format(served, "feature-extraction"):
        assert_feature_columns(out, features)


def depth(value) -> int:
    return 1 + depth(value[0]) if isinstance(value, list) and value else int(isinstance(value, list))


def test_documented_requests_and_answers(served):
    """docs/serving.md's requests run; its answers have the served answers' form (the fill-mask one, of the
    demo model, its values too)."""
    for task, (_, answer) in documented().items():
        got = served[task][2]
        assert set(got) == set(answer)
        key = next(iter(answer))
        if isinstance(answer[key], dict) or (isinstance(answer[key], list) and isinstance(answer[key][0], dict)):
            shown = answer[key] if isinstance(answer[key], dict) else answer[key][0]
            real = got[key] if isinstance(got[key], dict) else got[key][0]
            assert set(shown) == set(real) and all(depth(shown[k]) == depth(real[k]) for k in shown), task
        else:
            assert depth(answer[key]) == depth(got[key]), task
    shown, real = documented()["fill-mask"][1]["predictions"], served["fill-mask"][2]["predictions"]
    for a, b in zip(shown, real, strict=True):
        assert a["token"] == b["token"] and a["token_str"] == b["token_str"]
        assert np.allclose(a["score"], b["score"], atol=1e-4, rtol=0)


# --- bad requests, saved_model_cli, refusals ----------------------------------------------------------

def test_bad_requests_name_the_rows(served):
    bad = served["bad"]
    assert "[text: row(s)] [1 2] [are not valid UTF-8" in bad["utf8"]
    assert "[question: row(s)] [1] [are not valid UTF-8" in bad["utf8_question"]
    assert "question and context must have the same number of rows" in bad["rows_differ"]
    assert "[question: row(s)] [1] [leave no room for context windows" in bad["long_question"]
    assert bad["rank"] is not None  # a (batch, 1) tensor is refused, whatever TensorFlow calls it


@pytest.mark.slow
def test_saved_model_cli_shows_and_runs_the_text_signature(exported, pipelines, tmp_path):
    path = exported["text-classification"][1]
    cli = [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]
    show = subprocess.run([*cli, "show", "--dir", path, "--tag_set", "serve", "--signature_def", "text"],
                          env=CLEAN_ENV, capture_output=True, text=True, timeout=180)
    assert show.returncode == 0, show.stderr[-2000:]
    assert "inputs['text'] tensor_info:\n      dtype: DT_STRING\n      shape: (-1)" in show.stdout
    for name, dtype, shape in (("label", "DT_STRING", "(-1)"), ("score", "DT_FLOAT", "(-1)"),
                               ("logits", "DT_FLOAT", "(-1, 3)")):
        assert f"outputs['{name}'] tensor_info:\n      dtype: {dtype}\n      shape: {shape}" in show.stdout
    texts = ["A short text.", "Another, longer text about the file that is opened for reading."]
    run = subprocess.run([*cli, "run", "--dir", path, "--tag_set", "serve", "--signature_def", "text",
                          "--input_exprs", f"text={texts!r}", "--outdir", str(tmp_path)],
                         env=CLEAN_ENV, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    expected = pipelines["text-classification"](texts)
    labels = [s.decode() for s in np.load(tmp_path / "label.npy", allow_pickle=True)]
    assert labels == [e["label"] for e in expected]
    assert np.allclose(np.load(tmp_path / "score.npy"), [e["score"] for e in expected], atol=TOL, rtol=0)


def test_export_text_refuses_cleanly(reference_factory, tmp_path, capsys):
    _, no_tokenizer = reference_factory("TFLongformerForMaskedLM")
    _, multiple_choice = reference_factory("TFLongformerForMultipleChoice")
    capsys.readouterr()
    for folder, message in ((no_tokenizer, "No tokenizer for the text signature"),
                            (multiple_choice, "There is no text signature for 'multiple-choice'")):
        if folder == multiple_choice:
            LongformerTokenizerFast.from_pretrained(DEMO).save_pretrained(tmp_path / "mc")
            shutil.copytree(folder, tmp_path / "mc", dirs_exist_ok=True)
            folder = tmp_path / "mc"
            capsys.readouterr()
        assert tf_longformer_cli(["export", "--model", str(folder), "--text", str(tmp_path / "out")]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("tf-longformer export: error:") and message in lines[0], lines
    assert not os.path.exists(tmp_path / "out")  # nothing written
    tokenizer = LongformerTokenizerFast.from_pretrained(DEMO, add_prefix_space=True)
    model = tf_longformer.TFLongformerForMaskedLM.from_pretrained(DEMO)
    with pytest.raises(ValueError, match="add_prefix_space=True"):
        export_saved_model(model, tmp_path / "out", text=True, tokenizer=tokenizer)
    with pytest.raises(ValueError, match="pass tokenizer="):
        export_saved_model(model, tmp_path / "out", text=True)
    assert not os.path.exists(tmp_path / "out")


def test_export_info_records_the_text_signature(exported):
    info = json.load(open(os.path.join(exported["question-answering"][1], "assets.extra", "tf_longformer_export.json")))
    assert info["text_signature"]["inputs"] == ["question", "context"]
    assert info["text_signature"]["doc_stride"] == MAX_LENGTH // 2 and info["text_signature"]["max_length"] == MAX_LENGTH
    assert sorted(info["signatures"]) == ["serving_default", "with_global_attention"]  # the token-id ones
