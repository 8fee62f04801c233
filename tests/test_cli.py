"""`tf-longformer run` and `tf-longformer convert` as real subprocesses: JSON lines out, one-line errors (exit 2,
no traceback), conversions that load back to the same model."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import FIXTURES, make_reference
from tf_longformer import LongformerTokenizerFast, build_tokenizer_files, pipeline

QA_FOLDER = os.path.join(FIXTURES, "tiny_longformer_qa")
# TensorFlow's native start-up logging (absl lines), which the CLI cannot silence
_TF_LOG = re.compile(r"^([IWEF]\d{4} |WARNING: All log messages before absl)")

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def cli(*args: str, stdin: str = "", timeout: int = 300, **env_vars: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "TOKENIZERS_PARALLELISM": "false",
           **env_vars}
    return subprocess.run([sys.executable, "-m", "tf_longformer.cli", *args], input=stdin, capture_output=True,
                          text=True, env=env, timeout=timeout)


def messages(stderr: str) -> list[str]:
    """stderr lines written by tf-longformer (TensorFlow's own start-up log lines left out)."""
    return [line for line in stderr.splitlines() if line.strip() and not _TF_LOG.match(line)]


def assert_user_error(proc: subprocess.CompletedProcess, pattern: str) -> None:
    lines = messages(proc.stderr)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert len(lines) == 1, lines
    assert re.search(pattern, lines[0]), lines[0]


@pytest.fixture(scope="module")
def mlm_folder(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("cli"))
    tok_dir = os.path.join(root, "tok")
    build_tokenizer_files(["Return the number of items in the list.", "The quick brown fox jumps over the dog."] * 30,
                          400, tok_dir, model_max_length=120)
    vocab = len(LongformerTokenizerFast.from_pretrained(tok_dir))
    _, folder = make_reference(root, "TFLongformerForMaskedLM", vocab_size=vocab, max_position_embeddings=124)
    for name in os.listdir(tok_dir):
        shutil.copy(os.path.join(tok_dir, name), folder)
    return folder


def test_help_on_every_command():
    top = cli("--help")
    assert top.returncode == 0 and "run" in top.stdout and "convert" in top.stdout
    for command, words in (("run", ("--task", "--top-k", "--device", "--batch-size", "question<TAB>context")),
                           ("convert", ("SRC", "DST", "--head", "--progress"))):
        proc = cli(command, "--help")
        assert proc.returncode == 0, proc.stderr
        for word in words:
            assert word in proc.stdout, (command, word)


def test_user_mistakes_before_loading_anything():
    assert_user_error(cli("run", "--task", "summarize", stdin="x\n"), r"^tf-longformer run: error: Unknown task 'summarize'")
    assert_user_error(cli("run", stdin="x\n"), r"--task is required")
    assert_user_error(cli("run", "--task", "ner", stdin="x\n"), r"--model is required for token-classification")
    assert_user_error(cli("run", "--task", "ner", "--model", "m", "--top-k", "2"), r"--top-k does not apply")


@pytest.mark.slow
def test_run_fill_mask_json_lines(mlm_folder):
    lines = ["The quick brown <mask> jumps.", "", "Return the <mask> of items in the <mask>."]
    proc = cli("run", "--task", "fill-mask", "--model", mlm_folder, "--top-k", "3", "--batch-size", "2",
               "--device", "cpu", stdin="\n".join(lines) + "\n")
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == 2  # the blank line is skipped
    expected = pipeline("fill-mask", model=mlm_folder, top_k=3)([lines[0], lines[2]])
    for got, want in zip(out, expected, strict=True):
        flat_got = got if isinstance(got[0], dict) else [p for mask in got for p in mask]
        flat_want = want if isinstance(want[0], dict) else [p for mask in want for p in mask]
        assert [(p["token"], p["sequence"]) for p in flat_got] == [(p["token"], p["sequence"]) for p in flat_want]
        np.testing.assert_allclose([p["score"] for p in flat_got], [p["score"] for p in flat_want], atol=1e-5)
    assert len(out[0]) == 3 and len(out[1]) == 2 and len(out[1][0]) == 3  # one mask, then two masks


@pytest.mark.slow
def test_run_question_answering_jsonl_and_tsv(tmp_path):
    context = "Ada Lovelace wrote the first program in 1843 for the Analytical Engine of Charles Babbage."
    rows = [json.dumps({"question": "Who wrote the first program?", "context": context}),
            "What did Babbage build?\t" + context]
    src = tmp_path / "questions.jsonl"
    src.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "answers.jsonl"
    proc = cli("run", "--task", "question-answering", "--model", QA_FOLDER, "--input", str(src), "--output", str(out),
               "--option", "max_answer_len=4", "--batch-size", "2")
    assert proc.returncode == 0, proc.stderr
    answers = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    qa = pipeline("question-answering", model=QA_FOLDER)
    expected = [qa(question="Who wrote the first program?", context=context, max_answer_len=4),
                qa(question="What did Babbage build?", context=context, max_answer_len=4)]
    assert [(a["answer"], a["start"], a["end"]) for a in answers] == [(e["answer"], e["start"], e["end"]) for e in expected]
    for a in answers:
        assert context[a["start"]:a["end"]] == a["answer"]


@pytest.mark.slow
def test_run_errors_name_the_problem(mlm_folder, tmp_path):
    assert_user_error(cli("run", "--task", "fill-mask", "--model", str(tmp_path / "missing")),
                      r"No such model folder")
    assert_user_error(cli("run", "--task", "fill-mask", "--model", mlm_folder, stdin="A <mask>.\nno mask here\n"),
                      r"input line 2: No mask_token \(<mask>\) found")
    assert_user_error(cli("run", "--task", "qa", "--model", QA_FOLDER, stdin="just a question\n"),
                      r"input line 1: question-answering takes")
    assert_user_error(cli("run", "--task", "fill-mask", "--model", mlm_folder, "--input", str(tmp_path / "nope.txt")),
                      r"No such file")


@pytest.mark.slow
def test_convert_pytorch_folder_and_tf_h5(mlm_folder, tmp_path):
    import tensorflow as tf

    from tf_longformer import TFLongformerForMaskedLM

    dst = tmp_path / "converted"
    proc = cli("convert", mlm_folder, str(dst))
    assert proc.returncode == 0, proc.stderr
    summary = proc.stdout
    for expected in ("task head:  TFLongformerForMaskedLM", "tensors:", "parameters:", "dtype:      float32",
                     "tokenizer: merges.txt"):
        assert expected in summary, summary
    assert "converting" not in proc.stderr  # small checkpoint, stderr not a terminal: no progress bar
    assert sorted(os.listdir(dst)) == sorted(["config.json", "model.safetensors", "merges.txt", "special_tokens_map.json",
                                              "tokenizer.json", "tokenizer_config.json", "vocab.json"])
    ids = tf.constant([[0, 5, 6, 7, 8, 2]])
    a = TFLongformerForMaskedLM.from_pretrained(mlm_folder)(input_ids=ids).logits
    b = TFLongformerForMaskedLM.from_pretrained(str(dst))(input_ids=ids).logits
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    params = sum(int(np.prod(v.shape)) for v, _ in TFLongformerForMaskedLM.from_pretrained(str(dst)).hf_weights().values())
    assert f"parameters: {params:,}" in summary

    assert_user_error(cli("convert", mlm_folder, str(dst)), r"already holds a model; pass --overwrite")

    h5 = os.path.join(FIXTURES, "tiny_longformer_mlm_tf")
    proc = cli("convert", h5, str(tmp_path / "from_h5"), "--progress")
    assert proc.returncode == 0, proc.stderr
    assert "converting" in proc.stderr  # the bar, asked for
    assert "source:     h5" in proc.stdout and "no tokenizer in the source" in proc.stdout


@pytest.mark.slow
def test_convert_bad_sources(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text(json.dumps({"model_type": "longformer"}))
    (bad / "model.safetensors").write_bytes(b"this is not a safetensors file")
    assert_user_error(cli("convert", str(bad), str(tmp_path / "out")), r"model\.safetensors")
    assert_user_error(cli("convert", str(tmp_path / "missing"), str(tmp_path / "out")), r"No such model folder")


@pytest.mark.slow
def test_convert_hub_id_from_the_cache(mlm_folder, tmp_path):
    cache = tmp_path / "hub"
    repo = cache / "models--someone--tiny-mlm"
    shutil.copytree(mlm_folder, repo / "snapshots" / ("0" * 40))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    proc = cli("convert", "someone/tiny-mlm", str(tmp_path / "out"), HF_HUB_CACHE=str(cache))
    assert proc.returncode == 0, proc.stderr
    assert "converted someone/tiny-mlm" in proc.stdout and "TFLongformerForMaskedLM" in proc.stdout
    assert os.path.isfile(tmp_path / "out" / "tokenizer.json")
    assert_user_error(cli("convert", "someone/not-cached", str(tmp_path / "out2"), HF_HUB_CACHE=str(cache)),
                      r"HF_HUB_OFFLINE")
