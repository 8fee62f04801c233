"""The `tf-longformer` command line: JSON lines out, one-line errors (exit 2, no traceback), conversions that load
back to the same model.

One real subprocess per command shows the wiring (entry point, stdin/stdout, exit status, a stderr free of
TensorFlow's start-up lines); every other case runs in this process through the CLI's `main`, which is what the
subprocess runs too.
"""

from __future__ import annotations

import io
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
from tf_longformer.cli import main

QA_FOLDER = os.path.join(FIXTURES, "tiny_longformer_qa")

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def cli(*args: str, stdin: str = "", timeout: int = 300, **env_vars: str) -> subprocess.CompletedProcess:
    """The real command, in a fresh process (TensorFlow's log level left at the user's default)."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", **env_vars)
    return subprocess.run([sys.executable, "-m", "tf_longformer.cli", *args], input=stdin, capture_output=True,
                          text=True, env=env, timeout=timeout)


def run_main(capsys, monkeypatch, *args: str, stdin: bytes = b"") -> tuple[int, str, str]:
    """`main(args)` in this process with `stdin` as its standard input: (exit status, stdout, stderr)."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(result: tuple[int, str, str], pattern: str) -> None:
    code, _, err = result
    assert code == 2, (code, err)
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert re.search(pattern, lines[0]), lines[0]


@pytest.fixture(scope="module")
def mlm_folder(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("cli"))
    tok_dir = os.path.join(root, "tok")
    build_tokenizer_files(["Return the number of items in the list.", "The quick brown fox jumps over the dog."] * 30,
                          400, tok_dir, model_max_length=120)
    vocab = len(LongformerTokenizerFast.from_pretrained(tok_dir))
    _, folder = make_reference(root, "TFLongformerForMaskedLM", vocab_size=vocab, max_position_embeddings=122)
    for name in os.listdir(tok_dir):
        shutil.copy(os.path.join(tok_dir, name), folder)
    return folder


# --- one real subprocess per command ------------------------------------------------------------------------


@pytest.mark.slow
def test_run_fill_mask_json_lines(mlm_folder):
    lines = ["The quick brown <mask> jumps.", "", "Return the <mask> of items in the <mask>."]
    proc = cli("run", "--task", "fill-mask", "--model", mlm_folder, "--top-k", "3", "--batch-size", "2",
               "--device", "cpu", stdin="\n".join(lines) + "\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # TensorFlow's start-up log lines (cudart, cuInit, absl) are held back
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
def test_convert_pytorch_folder(mlm_folder, tmp_path):
    import tensorflow as tf

    from tf_longformer import TFLongformerForMaskedLM

    dst = tmp_path / "converted"
    proc = cli("convert", mlm_folder, str(dst))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no progress bar (small checkpoint, stderr not a terminal), no TensorFlow lines
    summary = proc.stdout
    for expected in ("task head:  TFLongformerForMaskedLM", "tensors:", "parameters:", "dtype:      float32",
                     "tokenizer: merges.txt"):
        assert expected in summary, summary
    assert sorted(os.listdir(dst)) == sorted(["config.json", "model.safetensors", "merges.txt", "special_tokens_map.json",
                                              "tokenizer.json", "tokenizer_config.json", "vocab.json"])
    umask = os.umask(0o022)
    os.umask(umask)
    for name in os.listdir(dst):  # readable by a server running as another user, as the umask allows
        assert os.stat(dst / name).st_mode & 0o777 == 0o666 & ~umask, name
    ids = tf.constant([[0, 5, 6, 7, 8, 2]])
    a = TFLongformerForMaskedLM.from_pretrained(mlm_folder)(input_ids=ids).logits
    b = TFLongformerForMaskedLM.from_pretrained(str(dst))(input_ids=ids).logits
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    params = sum(int(np.prod(v.shape)) for v, _ in TFLongformerForMaskedLM.from_pretrained(str(dst)).hf_weights().values())
    assert f"parameters: {params:,}" in summary


# --- everything else in this process ------------------------------------------------------------------------


def test_help_on_every_command(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    top = capsys.readouterr().out
    for command in ("run", "convert", "export", "elongate", "quantize"):
        assert command in top
    for command, words in (("run", ("--task", "--top-k", "--device", "--batch-size", "question<TAB>context", "--debug")),
                           ("convert", ("SRC", "DST", "--head", "--progress", "--debug"))):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        out = capsys.readouterr().out
        for word in words:
            assert word in out, (command, word)


def test_user_mistakes_before_loading_anything(capsys, monkeypatch):
    def run(*args):
        return run_main(capsys, monkeypatch, *args, stdin=b"x\n")

    assert_user_error(run("run", "--task", "summarize"), r"^tf-longformer run: error: Unknown task 'summarize'")
    assert_user_error(run("run"), r"--task is required")
    assert_user_error(run("run", "--task", "ner"), r"--model is required for token-classification")
    assert_user_error(run("run", "--task", "ner", "--model", "m", "--top-k", "2"), r"--top-k does not apply")


def test_debug_before_or_after_the_command(capsys, monkeypatch):
    for args in (["--debug", "run", "--task", "summarize"], ["run", "--task", "summarize", "--debug"]):
        with pytest.raises(ValueError, match="Unknown task 'summarize'"):  # the traceback, not the one line
            run_main(capsys, monkeypatch, *args)


def test_run_question_answering_jsonl_and_tsv(tmp_path, capsys, monkeypatch):
    context = "Ada Lovelace wrote the first program in 1843 for the Analytical Engine of Charles Babbage."
    rows = [json.dumps({"question": "Who wrote the first program?", "context": context}),
            "What did Babbage build?\t" + context]
    src = tmp_path / "questions.jsonl"
    src.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "answers.jsonl"
    code, _, err = run_main(capsys, monkeypatch, "run", "--task", "question-answering", "--model", QA_FOLDER,
                            "--input", str(src), "--output", str(out), "--option", "max_answer_len=4",
                            "--batch-size", "2")
    assert code == 0, err
    answers = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    qa = pipeline("question-answering", model=QA_FOLDER)
    expected = [qa(question="Who wrote the first program?", context=context, max_answer_len=4),
                qa(question="What did Babbage build?", context=context, max_answer_len=4)]
    assert [(a["answer"], a["start"], a["end"]) for a in answers] == [(e["answer"], e["start"], e["end"]) for e in expected]
    for a in answers:
        assert context[a["start"]:a["end"]] == a["answer"]


def test_run_errors_name_the_file_and_line(mlm_folder, tmp_path, capsys, monkeypatch):
    def run(*args, stdin=b""):
        return run_main(capsys, monkeypatch, "run", *args, stdin=stdin)

    assert_user_error(run("--task", "fill-mask", "--model", str(tmp_path / "missing")), r"No such model folder")
    assert_user_error(run("--task", "fill-mask", "--model", mlm_folder, stdin=b"A <mask>.\nno mask here\n"),
                      r"stdin line 2: No mask_token \(<mask>\) found")
    assert_user_error(run("--task", "qa", "--model", QA_FOLDER, stdin=b"just a question\n"),
                      r"stdin line 1: question-answering takes")
    assert_user_error(run("--task", "fill-mask", "--model", mlm_folder, "--input", str(tmp_path / "nope.txt")),
                      r"No such file")
    # not UTF-8: a Latin-1 byte, a lone surrogate encoded as bytes, a lone surrogate as a JSON escape
    assert_user_error(run("--task", "fill-mask", stdin="A <mask>.\ncaf\xe9 <mask>\n".encode("latin-1")),
                      r"stdin line 2: not valid UTF-8 \(byte 0xe9 at byte 4: .*\); save the input as UTF-8")
    bad = tmp_path / "texts.txt"
    bad.write_bytes(b"A <mask>.\n\nB \xed\xa0\x80 <mask>\n")
    assert_user_error(run("--task", "fill-mask", "--input", str(bad)),
                      rf"{re.escape(str(bad))} line 3: not valid UTF-8 \(byte 0xed at byte 3")
    bad.write_bytes(b'"\\ud800 <mask>"\n')
    assert_user_error(run("--task", "fill-mask", "--input", str(bad)),
                      rf"{re.escape(str(bad))} line 1: a lone surrogate \\ud800 at character 1")


def test_run_empty_input_says_so(capsys, monkeypatch):
    code, out, err = run_main(capsys, monkeypatch, "run", "--task", "fill-mask", stdin=b"\n  \n")
    assert code == 0 and out == ""
    assert err.strip() == "tf-longformer run: no input: stdin has no non-blank lines"
    code, out, err = run_main(capsys, monkeypatch, "run", "--task", "fill-mask",
                              stdin="\ufeffThe <mask> is open.\n".encode())  # a BOM is not part of the text
    assert code == 0 and json.loads(out)[0]["sequence"].startswith("The ")


def test_convert_tf_h5_and_mistakes(mlm_folder, tmp_path, capsys, monkeypatch):
    dst = tmp_path / "converted"
    assert main(["convert", mlm_folder, str(dst)]) == 0
    capsys.readouterr()
    assert_user_error(run_main(capsys, monkeypatch, "convert", mlm_folder, str(dst)),
                      r"already holds a model; pass --overwrite")
    h5 = os.path.join(FIXTURES, "tiny_longformer_mlm_tf")
    code, out, err = run_main(capsys, monkeypatch, "convert", h5, str(tmp_path / "from_h5"), "--progress")
    assert code == 0, err
    assert "converting" in err  # the bar, asked for
    assert "source:     h5" in out and "no tokenizer in the source" in out


def test_convert_bad_sources(tmp_path, capsys, monkeypatch):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text(json.dumps({"model_type": "longformer"}))
    (bad / "model.safetensors").write_bytes(b"this is not a safetensors file")
    assert_user_error(run_main(capsys, monkeypatch, "convert", str(bad), str(tmp_path / "out")), r"model\.safetensors")
    assert_user_error(run_main(capsys, monkeypatch, "convert", str(tmp_path / "missing"), str(tmp_path / "out")),
                      r"No such model folder")
    assert not os.path.exists(tmp_path / "out")


def test_convert_hub_id_from_the_cache(mlm_folder, tmp_path, capsys, monkeypatch):
    import huggingface_hub

    cache = tmp_path / "hub"
    repo = cache / "models--someone--tiny-mlm"
    shutil.copytree(mlm_folder, repo / "snapshots" / ("0" * 40))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    code, out, err = run_main(capsys, monkeypatch, "convert", "someone/tiny-mlm", str(tmp_path / "out"))
    assert code == 0, err
    assert "converted someone/tiny-mlm" in out and "TFLongformerForMaskedLM" in out
    assert os.path.isfile(tmp_path / "out" / "tokenizer.json")
    assert_user_error(run_main(capsys, monkeypatch, "convert", "someone/not-cached", str(tmp_path / "out2")),
                      r"HF_HUB_OFFLINE")


def test_quantize_creates_the_output_folder(reference_factory, tmp_path, capsys):
    import keras

    _, folder = reference_factory("TFLongformerForMaskedLM")
    dst = tmp_path / "q" / "m.keras"
    assert main(["quantize", folder, str(dst), "--mode", "int8"]) == 0, capsys.readouterr().err
    assert "saved to" in capsys.readouterr().out
    assert sorted(os.listdir(tmp_path / "q")) == ["m.keras"]  # no temporary left beside it
    assert keras.saving.load_model(dst).config.num_hidden_layers == 3
