"""The demo checkpoint shipped in `tf_longformer/demo_model/` (trained by `scripts/train_demo_model.py`): small,
complete, the default of `pipeline("fill-mask")` and of the command line, and read by our pipeline exactly as
transformers' own pipeline reads it, at every length up to its 512 positions. (The documented commands and the
answers the docs quote are run against the same reference in test_documented_commands.py.)"""

from __future__ import annotations

import importlib.util
import json
import os
import sys

import numpy as np
import pytest
import transformers

from tf_longformer import pipeline
from tf_longformer.pipelines import DEMO_MODEL_DIR

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Held-out sentences, each with one word masked, and the word (realistic inputs of one window; what the model
# predicts for them is compared with transformers, not with the word).
# How they were chosen: after training, `scripts/train_demo_model.py`'s held-out split (the docstrings of the
# stdlib modules with zlib.crc32(name) % 10 == 0, minus any text also found in a training module; neither the
# tokenizer nor the model saw them) was split into sentences of 20-100 characters; every single-token word was
# masked in turn and the pipeline's top prediction compared with it. Of the hits, ranked by the margin between the
# first and second prediction, these are the best ones with distinct target words (plus one second "the"
# sentence); the module each comes from is listed and checked to be held out.
HELD_OUT = [
    ("tarfile", "Return <mask> if it is a symbolic link.", "True"),
    ("code", "Base <mask> for InteractiveConsole.", "class"),
    ("modulefinder", "Return a <mask> of modules that appear to be missing.", "list"),
    ("statistics", "Return <mask> low median of numeric data.", "the"),
    ("readline", "Set <mask> word delimiters for completion.", "the"),
]


def _training_script():
    spec = importlib.util.spec_from_file_location("train_demo_model", os.path.join(ROOT, "scripts", "train_demo_model.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_model_files_and_size():
    names = set(os.listdir(DEMO_MODEL_DIR))
    assert {"config.json", "model.safetensors", "tokenizer.json", "vocab.json", "merges.txt",
            "tokenizer_config.json", "special_tokens_map.json"} <= names
    size = sum(os.path.getsize(os.path.join(DEMO_MODEL_DIR, n)) for n in names)
    assert size <= 20 * 2**20, size
    with open(os.path.join(DEMO_MODEL_DIR, "config.json"), encoding="utf-8") as fh:
        config = json.load(fh)
    assert config["architectures"] == ["LongformerForMaskedLM"]
    assert config["max_position_embeddings"] >= 514 and config["attention_window"] == 64
    with open(os.path.join(DEMO_MODEL_DIR, "training_summary.json"), encoding="utf-8") as fh:
        summary = json.load(fh)
    assert summary["held_out_masked_token_accuracy"]["single_docstrings"] > 0.15


def test_held_out_sentences_come_from_held_out_modules():
    trainer = _training_script()
    for module, sentence, word in HELD_OUT:
        assert trainer.is_held_out(module), module
        if sys.version_info[:2] == (3, 11):  # the Python the model was trained with: the text is really there
            __import__(module)
            docs = " ".join(d.replace("\n", " ") for d in trainer.module_docstrings(module))
            assert sentence.replace("<mask>", word) in docs, sentence


@pytest.fixture(scope="module")
def reference_fill():
    """transformers' own fill-mask pipeline (PyTorch) on the demo folder: the oracle of every test below."""
    return transformers.pipeline("fill-mask", model=DEMO_MODEL_DIR)


def _assert_same_predictions(ours, ref, where):
    assert len(ours) == len(ref), where
    for a, b in zip(ours, ref, strict=True):
        assert (a["token"], a["token_str"], a["sequence"]) == (b["token"], b["token_str"], b["sequence"]), (where, a, b)
        assert abs(a["score"] - b["score"]) < 1e-4, (where, a, b)


def _long_masked_texts(tok, max_length):
    """A held-out docstring longer than the attention window, with one of its words masked at a time."""
    import inspect
    import tarfile

    text = inspect.getdoc(tarfile.TarFile.extractall) + " " + inspect.getdoc(tarfile.TarFile.extract)
    words = text.split(" ")
    assert 150 < len(tok(text)["input_ids"]) <= max_length  # several 64-token windows
    positions = [i for i in range(3, len(words), 7) if words[i].isalpha() and len(tok.tokenize(" " + words[i])) == 1]
    return [" ".join(words[:i] + ["<mask>"] + words[i + 1:]) for i in positions], [words[i] for i in positions]


@pytest.mark.parametrize("graph", [False, True], ids=["eager", "traced"])
def test_demo_model_matches_the_transformers_pipeline(reference_fill, graph):
    """Our `pipeline("fill-mask")` on the demo model gives transformers' pipeline on the same folder (PyTorch
    LongformerForMaskedLM): inside one window (held-out sentences, ~14 tokens), over a few windows and near the
    512-position limit; eagerly and through the traced model; one by one and padded into batches."""
    fill = pipeline("fill-mask", graph=graph)  # no model=: the demo model, offline
    tok = fill.tokenizer
    limit = fill.model.config.max_sequence_length
    long_texts, _ = _long_masked_texts(tok, limit)
    filler = " ".join(long_texts[0].replace("<mask>", "file").split(" ") * 4)
    ids = tok(filler, add_special_tokens=False)["input_ids"][: limit - 30]  # decoding and encoding again adds a few
    near_limit = "Return <mask> if the file is a directory. " + tok.decode(ids)
    assert 64 * 6 < len(tok(near_limit)["input_ids"]) <= limit
    texts = [s for _, s, _ in HELD_OUT] + long_texts[:3] + [near_limit]
    for text in texts:
        _assert_same_predictions(fill(text), reference_fill(text), text[:60])
    batched = fill(texts, batch_size=4)  # rows of very different lengths padded together
    for text, predictions in zip(texts, batched, strict=True):
        _assert_same_predictions(predictions, reference_fill(text), text[:60])


def test_demo_model_reads_beyond_its_window(reference_fill):
    """Masked words of a held-out docstring longer than the attention window are predicted far better than
    chance (top-5), by the reference as by us (the predictions are compared in the test above)."""
    fill = pipeline("fill-mask")
    masked, words = _long_masked_texts(fill.tokenizer, fill.model.config.max_sequence_length)
    results = reference_fill(masked, top_k=5)
    top5 = np.mean([w in [p["token_str"].strip() for p in r] for w, r in zip(words, results, strict=True)])
    assert top5 >= 0.2, top5  # 0.25 when the test was written; chance is 5 in 5000
