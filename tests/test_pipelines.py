"""Pipelines against transformers' pipelines on the same tiny checkpoints.

Each checkpoint is a random transformers PyTorch Longformer saved with a byte-level BPE trained here (one Hugging
Face folder); `transformers.pipeline(task, model=folder)` and ours load the same folder and must give the same
tokens, labels, entities and answers, with scores within 1e-4. transformers 5 has no question-answering pipeline,
so that one is compared with outputs of transformers 4.57.1's recorded in `tests/fixtures/tiny_longformer_qa/`
(made by `scripts/make_qa_pipeline_fixture.py`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil

import numpy as np
import pytest
import transformers

from tests.conftest import FIXTURES, make_reference
from tf_longformer import LongformerTokenizerFast, build_tokenizer_files, pipeline

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

CORPUS = [
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Return the number of items in the list, or zero when the list is empty.",
    "Paris is the capital of France and Berlin is the capital of Germany.",
    "Longformer reads long documents with sliding window attention and a few global tokens.",
    "Ada Lovelace wrote the first program for the Analytical Engine of Charles Babbage.",
    "Raise a ValueError if the value is negative; otherwise return the square root.",
] * 20
NER_LABELS = {0: "O", 1: "B-PER", 2: "I-PER", 3: "B-LOC", 4: "I-LOC"}
MAX_POSITIONS = 132  # 130 tokens per input at most
QA_FOLDER = os.path.join(FIXTURES, "tiny_longformer_qa")
SCORE_TOL = 1e-4


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """task -> Hugging Face folder (random PyTorch weights + the tokenizer trained here)."""
    root = str(tmp_path_factory.mktemp("pipelines"))
    tok_dir = os.path.join(root, "tokenizer")
    build_tokenizer_files(CORPUS, 600, tok_dir, model_max_length=MAX_POSITIONS - 2)
    vocab_size = len(LongformerTokenizerFast.from_pretrained(tok_dir))
    out = {}
    for task, cls, extra in (
        ("fill-mask", "TFLongformerForMaskedLM", {}),
        ("text-classification", "TFLongformerForSequenceClassification", {"num_labels": 3}),
        ("token-classification", "TFLongformerForTokenClassification", {"id2label": NER_LABELS}),
        ("feature-extraction", "TFLongformerModel", {}),
    ):
        _, folder = make_reference(root, cls, vocab_size=vocab_size, max_position_embeddings=MAX_POSITIONS, **extra)
        for name in os.listdir(tok_dir):
            shutil.copy(os.path.join(tok_dir, name), folder)
        out[task] = folder
    return out


def assert_same(ours, ref, path="result"):
    """Equal structure and values; floats within SCORE_TOL."""
    if isinstance(ref, dict):
        assert isinstance(ours, dict) and set(ours) == set(ref), f"{path}: keys {sorted(ours)} != {sorted(ref)}"
        for key in ref:
            assert_same(ours[key], ref[key], f"{path}.{key}")
    elif isinstance(ref, (list, tuple)):
        assert isinstance(ours, (list, tuple)) and len(ours) == len(ref), f"{path}: {ours!r} != {ref!r}"
        for i, (a, b) in enumerate(zip(ours, ref, strict=True)):
            assert_same(a, b, f"{path}[{i}]")
    elif isinstance(ref, (float, np.floating)):
        assert abs(float(ours) - float(ref)) <= SCORE_TOL, f"{path}: {ours} vs {ref}"
    else:
        assert ours == ref, f"{path}: {ours!r} != {ref!r}"


# --- fill-mask ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fill_pair(folders):
    return pipeline("fill-mask", model=folders["fill-mask"]), transformers.pipeline("fill-mask", model=folders["fill-mask"])


@pytest.mark.parametrize("inputs, kwargs", [
    ("The quick brown <mask> jumps over the lazy dog.", {}),
    ("Return the <mask> of items in the list.", {"top_k": 3}),
    ("Paris is the <mask> of France and Berlin is the <mask> of Germany.", {"top_k": 2}),  # two masks
    ("Ada Lovelace wrote the first <mask>.", {"targets": [" program", " list", "Paris", "capital"]}),
    (["The <mask> fox.", "Raise a <mask> if the value is negative.", "A <mask> and a <mask>."], {"top_k": 2}),
    (["Return the <mask> root."], {}),  # a list of one gives that text's result, as in transformers
])
def test_fill_mask_matches_transformers(fill_pair, inputs, kwargs):
    ours, ref = fill_pair
    expected = ref(inputs, **kwargs)
    assert_same(ours(inputs, **kwargs), expected)
    if isinstance(inputs, list):
        assert_same(ours(inputs, batch_size=2, **kwargs), expected)  # padded batches give the same


def test_fill_mask_up_to_the_model_maximum(fill_pair, folders):
    ours, ref = fill_pair
    tok = ours.tokenizer
    limit = ours.model.config.max_sequence_length
    words = " ".join(CORPUS)
    ids = tok(words, add_special_tokens=False)["input_ids"][: limit - 3]
    text = tok.decode(ids) + " <mask>"
    n = len(tok(text)["input_ids"])
    assert n == limit, (n, limit)  # the longest input the position table allows, several attention windows
    assert_same(ours(text, top_k=3), ref(text, top_k=3))
    with pytest.raises(ValueError, match=f"takes at most {limit}"):
        ours(tok.decode(ids) + " and more and more <mask>")


@pytest.mark.slow
def test_fill_mask_at_4096_tokens(tmp_path, folders):
    """The length of the real checkpoints: 4096 tokens through 512-token windows, as transformers computes it."""
    tok_dir = os.path.dirname(folders["fill-mask"]) + "/tokenizer"
    tok = LongformerTokenizerFast.from_pretrained(tok_dir)
    _, folder = make_reference(str(tmp_path), "TFLongformerForMaskedLM", vocab_size=len(tok), num_hidden_layers=2,
                               attention_window=512, max_position_embeddings=4098)
    for name in os.listdir(tok_dir):
        shutil.copy(os.path.join(tok_dir, name), folder)
    ids = (tok(" ".join(CORPUS * 8), add_special_tokens=False)["input_ids"] * 2)[:4094]
    ids[100], ids[3000] = tok.mask_token_id, tok.mask_token_id
    text = tok.decode(ids)
    assert len(tok(text)["input_ids"]) == 4096
    ours = pipeline("fill-mask", model=folder)(text, top_k=2)
    ref = transformers.pipeline("fill-mask", model=folder)(text, top_k=2)
    assert_same([[{k: p[k] for k in ("score", "token", "token_str")} for p in mask] for mask in ours],
                [[{k: p[k] for k in ("score", "token", "token_str")} for p in mask] for mask in ref])


def test_fill_mask_needs_a_mask(fill_pair):
    ours, _ = fill_pair
    with pytest.raises(ValueError, match=r"No mask_token \(<mask>\) found on the input"):
        ours("There is nothing to fill here.")
    with pytest.raises(ValueError, match="No mask_token"):
        ours(["A <mask> here.", "but not here"])
    with pytest.raises(TypeError, match="unknown parameter"):
        ours("A <mask>.", topk=3)
    with pytest.raises(ValueError, match="top_k"):
        ours("A <mask>.", top_k=0)


# --- text classification ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def clf_pair(folders):
    f = folders["text-classification"]
    return pipeline("text-classification", model=f), transformers.pipeline("text-classification", model=f)


@pytest.mark.parametrize("inputs, kwargs", [
    ("The quick brown fox jumps.", {}),
    (["Paris is the capital.", "Return the number of items in the list."], {}),
    ("A lazy dog.", {"top_k": None}),
    ("A lazy dog.", {"top_k": 2}),
    (["A lazy dog.", "Ada Lovelace."], {"top_k": 1}),
    ({"text": "Who wrote the program?", "text_pair": "Ada Lovelace wrote it."}, {}),
    ("A lazy dog.", {"function_to_apply": "sigmoid", "top_k": None}),
    ("A lazy dog.", {"function_to_apply": "none", "top_k": None}),
])
def test_text_classification_matches_transformers(clf_pair, inputs, kwargs):
    ours, ref = clf_pair
    assert_same(ours(inputs, **kwargs), ref(inputs, **kwargs))


def test_text_classification_alias_and_pipeline_defaults(folders):
    f = folders["text-classification"]
    ours = pipeline("sentiment-analysis", model=f, top_k=None, batch_size=2)
    ref = transformers.pipeline("sentiment-analysis", model=f, top_k=None)
    texts = ["The quick brown fox.", "Berlin is the capital of Germany.", "Empty."]
    assert_same(ours(texts), ref(texts))
    assert_same(ours(texts[0]), ref(texts[0]))


# --- token classification -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ner_pair(folders):
    f = folders["token-classification"]
    return pipeline("ner", model=f), transformers.pipeline("ner", model=f)


NER_TEXT = "Ada Lovelace wrote programs in London, and Charles Babbage built the Analytical Engine."


@pytest.mark.parametrize("strategy", ["none", "simple", "first", "average", "max"])
def test_token_classification_matches_transformers(ner_pair, strategy):
    ours, ref = ner_pair
    expected = ref(NER_TEXT, aggregation_strategy=strategy)
    assert expected, "the random model should predict some entities"
    assert_same(ours(NER_TEXT, aggregation_strategy=strategy), expected)
    everything = ref(NER_TEXT, aggregation_strategy=strategy, ignore_labels=[])
    assert_same(ours(NER_TEXT, aggregation_strategy=strategy, ignore_labels=[]), everything)


def test_token_classification_batches_split_words_and_strides(ner_pair):
    ours, ref = ner_pair
    texts = [NER_TEXT, "Paris is the capital of France.", "Return the square root."]
    assert_same(ours(texts, aggregation_strategy="simple", batch_size=3), ref(texts, aggregation_strategy="simple"))
    words = ["Ada", "Lovelace", "lived", "in", "London."]
    assert_same(ours(words, is_split_into_words=True, aggregation_strategy="first"),
                ref(words, is_split_into_words=True, aggregation_strategy="first"))
    long_text = " ".join(CORPUS[:12])  # longer than the tokenizer's model_max_length: chunks with overlap
    assert len(ours.tokenizer(long_text)["input_ids"]) > ours.tokenizer.model_max_length
    for strategy in ("simple", "max"):
        assert_same(ours(long_text, aggregation_strategy=strategy, stride=16),
                    ref(long_text, aggregation_strategy=strategy, stride=16))
    with pytest.raises(ValueError, match="aggregation_strategy"):
        ours(long_text, stride=16)


# --- feature extraction -------------------------------------------------------------------------------------

def test_feature_extraction_matches_transformers(folders):
    f = folders["feature-extraction"]
    ours, ref = pipeline("feature-extraction", model=f), transformers.pipeline("feature-extraction", model=f)
    text = "Longformer reads long documents."
    a, b = np.array(ours(text)), np.array(ref(text))
    assert a.shape == b.shape and a.shape[0] == 1
    assert np.max(np.abs(a - b)) < 1e-4
    texts = [text, "A much longer second text about the capital of France and of Germany."]
    batched = ours(texts, batch_size=2)
    for got, want in zip(batched, ref(texts), strict=True):
        got, want = np.array(got), np.array(want)
        assert got.shape == want.shape  # no padding rows
        assert np.max(np.abs(got - want)) < 1e-4
    tensor = ours(text, return_tensors=True)
    assert tuple(tensor.shape) == a.shape and np.allclose(tensor.numpy(), a)


# --- question answering (transformers 4.57.1 reference) -----------------------------------------------------

def _qa_cases():
    with open(os.path.join(QA_FOLDER, "reference_outputs.json"), encoding="utf-8") as fh:
        return json.load(fh)["cases"]


@pytest.fixture(scope="module")
def qa():
    return pipeline("question-answering", model=QA_FOLDER)


@pytest.mark.parametrize("case", _qa_cases(), ids=lambda c: c["name"])
def test_question_answering_matches_transformers_4(qa, case):
    assert_same(qa(**case["kwargs"]), case["output"])
    assert_same(qa(**case["kwargs"], batch_size=4), case["output"])  # windows batched together


def test_question_answering_windows_and_offsets(qa):
    case = {c["name"]: c for c in _qa_cases()}["windows_top_k"]
    kwargs = case["kwargs"]
    enc = qa.tokenizer(kwargs["question"], kwargs["context"], truncation="only_second", max_length=kwargs["max_seq_len"],
                       stride=kwargs["doc_stride"], return_overflowing_tokens=True)
    assert len(enc["input_ids"]) > 3  # really windowed
    for answer in qa(**kwargs):
        assert kwargs["context"][answer["start"]:answer["end"]] == answer["answer"]
    # the input forms transformers accepts give the same answer
    one = {"question": kwargs["question"], "context": kwargs["context"]}
    expected = qa(**one)
    assert_same(qa(one), expected)
    assert_same(qa(kwargs["question"], kwargs["context"]), expected)
    assert_same(qa([one, one]), [expected, expected])


def test_question_answering_errors(qa):
    with pytest.raises(ValueError, match="`question` cannot be empty"):
        qa(question="", context="Some context.")
    with pytest.raises(ValueError, match="doc_stride"):
        qa(question="Who?", context="Ada wrote it.", max_seq_len=32, doc_stride=40)
    with pytest.raises(ValueError, match="question"):
        qa({"context": "no question"})
    with pytest.raises(ValueError, match="max_answer_len"):
        qa(question="Who?", context="Ada wrote it.", max_answer_len=0)


# --- model / tokenizer resolution ---------------------------------------------------------------------------

def test_model_object_folder_and_errors(folders, fill_pair):
    from tf_longformer import TFLongformerForMaskedLM

    folder = folders["fill-mask"]
    model = TFLongformerForMaskedLM.from_pretrained(folder)
    text = "The quick brown <mask> jumps."
    expected = fill_pair[0](text)
    assert_same(pipeline("fill-mask", model=model, tokenizer=folder)(text), expected)
    tok = LongformerTokenizerFast.from_pretrained(folder)
    assert_same(pipeline("fill-mask", model=model, tokenizer=tok)(text), expected)
    assert_same(pipeline(model=folder)(text), expected)  # task from config.json's architectures
    with pytest.raises(ValueError, match="No tokenizer"):
        pipeline("fill-mask", model=model)
    with pytest.raises(ValueError, match="Unknown task 'summarization'"):
        pipeline("summarization", model=folder)
    with pytest.raises(ValueError, match="no default model"):
        pipeline("question-answering")
    with pytest.raises(OSError, match="No such model folder"):
        pipeline("fill-mask", model="./no/such/folder")
    with pytest.raises(TypeError, match="needs a TFLongformerForQuestionAnswering"):
        pipeline("question-answering", model=model, tokenizer=tok)
    with pytest.raises(ValueError, match="device"):
        pipeline("fill-mask", model=model, tokenizer=tok, device="tpu")
    for device in ("cpu", -1, "/CPU:0"):
        assert_same(pipeline("fill-mask", model=model, tokenizer=tok, device=device)(text), expected)
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        with pytest.raises(ValueError, match="TensorFlow sees 0 GPU"):
            pipeline("fill-mask", model=model, tokenizer=tok, device="gpu")


def test_feature_extraction_load_keeps_the_logger_level(folders, caplog, monkeypatch):
    """Features from a masked-LM folder: the missing pooler and the unused LM head are not reported, and
    the package logger's level is left alone (other threads' loads still warn)."""
    from tf_longformer import TFLongformerModel

    logger = logging.getLogger("tf_longformer")
    with caplog.at_level(logging.WARNING, logger="tf_longformer"):
        level_changes = []
        monkeypatch.setattr(logger, "setLevel", level_changes.append)
        pipeline("feature-extraction", model=folders["fill-mask"])
        assert level_changes == [] and caplog.records == []
        TFLongformerModel.from_pretrained(folders["fill-mask"])
        messages = " ".join(record.getMessage() for record in caplog.records)
        assert "pooler" in messages and "lm_head" in messages


def test_hub_ids_resolve_through_the_cache(folders, tmp_path, monkeypatch):
    folder = folders["fill-mask"]
    cache = tmp_path / "hub"
    repo = cache / "models--someone--tiny-mlm"
    shutil.copytree(folder, repo / "snapshots" / ("0" * 40))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(cache), raising=False)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True, raising=False)
    text = "Return the <mask> of items."
    assert_same(pipeline("fill-mask", model="someone/tiny-mlm")(text), pipeline("fill-mask", model=folder)(text))
    with pytest.raises(OSError, match="HF_HUB_OFFLINE"):
        pipeline("fill-mask", model="someone/not-cached")
