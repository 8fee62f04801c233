"""transformers 4's `TFPreTrainedModel` surface on our models: embeddings and resizing, sizes, serving hooks,
`from_config`, the loading and saving arguments, the hub (through a recorder of `HfApi`, the one
stand-in: the hub cannot be reached from tests) and `pipeline(framework="tf")`.

transformers 5 (PyTorch) is the oracle wherever a number can be compared: parameter counts, checkpoints
saved after a resize or in shards, pushed folders.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import types

import keras
import numpy as np
import pytest
import tensorflow as tf
import torch
import transformers

import tf_longformer
from tests.conftest import FIXTURES
from tests.test_hf4_calls import HEADS, REAL_SHAPE, batch_for
from tf_longformer.loading import WeightsMismatchError

TOKENIZER_DIR = os.path.join(FIXTURES, "tiny_longformer_qa")  # a 420-id RoBERTa-style tokenizer


def _torch_logits(folder, class_name, batch):
    model = getattr(transformers, class_name).from_pretrained(folder).eval()
    with torch.no_grad():
        return model(**{k: torch.tensor(np.asarray(v), dtype=torch.long) for k, v in batch.items()}).logits.numpy()


# --- the model's own surface ------------------------------------------------------------------------

@pytest.mark.parametrize("name", HEADS)
def test_surface_of_every_model(reference_factory, name):
    torch_model, folder = reference_factory(name, **REAL_SHAPE)
    cls = getattr(tf_longformer, name)
    model = cls.from_pretrained(folder)
    assert model.main_input_name == "input_ids" and model.framework == "tf" and not cls.can_generate()
    # the tied decoder counted once, as PyTorch counts it
    assert model.num_parameters() == torch_model.num_parameters()
    assert model.num_parameters(only_trainable=True) == torch_model.num_parameters(only_trainable=True)

    embeddings = model.get_input_embeddings()
    assert isinstance(embeddings, keras.layers.Embedding)
    assert tuple(embeddings.embeddings.shape) == (model.config.vocab_size, model.config.hidden_size)
    assert (model.get_output_embeddings() is embeddings) == (name == "TFLongformerForMaskedLM")
    if name != "TFLongformerForMaskedLM":
        assert model.get_output_embeddings() is None

    rank = 3 if name == "TFLongformerForMultipleChoice" else 2
    assert all(spec.dtype == tf.int32 and len(spec.shape) == rank for spec in model.input_signature.values())
    assert {"input_ids", "attention_mask", "global_attention_mask"} <= set(model.input_signature)
    dummy = model.dummy_inputs
    assert set(dummy) == set(model.input_signature)
    assert np.isfinite(np.asarray(model(dummy)[0])).all()

    for config in (model.config, model.config.to_dict()):  # LongformerConfig, or a config.json dict
        fresh = cls.from_config(config)
        assert type(fresh) is cls and fresh.config == model.config


def test_serving_and_serving_output(reference_factory):
    _, folder = reference_factory("TFLongformerForMaskedLM", **REAL_SHAPE)
    model = tf_longformer.TFLongformerForMaskedLM.from_pretrained(folder)
    batch = batch_for("TFLongformerForMaskedLM")
    inputs = {**batch, "token_type_ids": np.zeros_like(batch["input_ids"])}
    served = model.serving(inputs)
    assert set(served) == {"logits"}  # hidden states and attentions only when the config asks
    np.testing.assert_allclose(served["logits"].numpy(), model(**batch).logits.numpy(), atol=1e-5)
    full = model(**batch, output_hidden_states=True, output_attentions=True)
    model.config.output_hidden_states = True
    shown = model.serving_output(full)
    model.config.output_hidden_states = False
    assert "attentions" not in shown
    assert shown["hidden_states"].shape == (REAL_SHAPE["num_hidden_layers"] + 1,) + full.logits.shape[:2] + (16,)


def test_resize_token_embeddings_after_add_tokens(reference_factory, tmp_path):
    """After `tokenizer.add_tokens` + resize: old rows kept, the tied decoder and its bias follow, the model
    runs on the new ids, and its save loads in transformers with the same numbers."""
    tokenizer = tf_longformer.LongformerTokenizerFast.from_pretrained(TOKENIZER_DIR)
    _, folder = reference_factory("TFLongformerForMaskedLM", vocab_size=len(tokenizer), **REAL_SHAPE)
    model = tf_longformer.TFLongformerForMaskedLM.from_pretrained(folder)
    old_table = model.get_input_embeddings().embeddings.numpy().copy()
    old_bias = model.lm_head.bias.numpy().copy()
    model.compile(optimizer="sgd")

    tokenizer.add_tokens(["<ent>", "<rel>"])
    table = model.resize_token_embeddings(len(tokenizer))
    new_size = len(tokenizer)
    assert model.config.vocab_size == table.input_dim == new_size == old_table.shape[0] + 2
    np.testing.assert_array_equal(table.embeddings.numpy()[:-2], old_table)
    assert np.abs(table.embeddings.numpy()[-2:]).max() > 0  # fresh rows drawn from the initializer
    np.testing.assert_array_equal(model.lm_head.bias.numpy(), np.concatenate([old_bias, [0.0, 0.0]]))
    assert model.get_output_embeddings() is table

    encoded = tokenizer(["an <ent> and a <rel>", "plain text"], padding=True, return_tensors="np")
    assert (encoded["input_ids"] >= old_table.shape[0]).any()
    logits = model(encoded).logits.numpy()
    assert logits.shape[-1] == new_size and np.isfinite(logits).all()
    # a training step after compiling again (the optimizer held the old variables): the new rows learn
    new_rows = table.embeddings.numpy()[-2:].copy()
    model.compile(optimizer=keras.optimizers.SGD(1.0))
    model.fit({**dict(encoded), "labels": encoded["input_ids"]}, epochs=1, verbose=0)
    assert not np.allclose(table.embeddings.numpy()[-2:], new_rows)
    logits = model(encoded).logits.numpy()

    out = tmp_path / "resized"
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    reloaded = tf_longformer.TFLongformerForMaskedLM.from_pretrained(out)
    np.testing.assert_allclose(reloaded(encoded).logits.numpy(), logits, atol=1e-6)
    assert np.abs(_torch_logits(out, "LongformerForMaskedLM", dict(encoded)) - logits).max() <= 1e-5
    assert len(transformers.AutoTokenizer.from_pretrained(out)) == new_size

    shrunk = model.resize_token_embeddings(new_size - 5)
    assert model.config.vocab_size == shrunk.input_dim == model.lm_head.bias.shape[0] == new_size - 5
    assert model.resize_token_embeddings(None) is shrunk  # None: no change


def test_set_input_embeddings_takes_a_table_or_a_layer(reference_factory):
    _, folder = reference_factory("TFLongformerForSequenceClassification", **REAL_SHAPE)
    model = tf_longformer.TFLongformerForSequenceClassification.from_pretrained(folder)
    table = np.random.default_rng(0).normal(size=(70, model.config.hidden_size)).astype(np.float32)
    model.set_input_embeddings(table)
    assert model.config.vocab_size == 70
    np.testing.assert_array_equal(model.get_input_embeddings().embeddings.numpy(), table)
    layer = keras.layers.Embedding(64, model.config.hidden_size)
    layer.build((None, None))
    model.set_input_embeddings(layer)
    assert model.get_input_embeddings() is layer and model.config.vocab_size == 64
    with pytest.raises(ValueError, match=r"\(vocab_size, 16\)"):
        model.set_input_embeddings(np.zeros((10, 3), np.float32))


# --- loading and saving arguments --------------------------------------------------------------------

def test_ignore_mismatched_sizes_reinitialises_and_lists_the_head(reference_factory, caplog):
    """The start of every fine-tune with another label count."""
    _, folder = reference_factory("TFLongformerForSequenceClassification", **REAL_SHAPE)
    cls = tf_longformer.TFLongformerForSequenceClassification
    with pytest.raises(WeightsMismatchError, match="out_proj"):
        cls.from_pretrained(folder, num_labels=5)
    with caplog.at_level(logging.WARNING, logger="tf_longformer"):
        model, info = cls.from_pretrained(folder, num_labels=5, ignore_mismatched_sizes=True,
                                          output_loading_info=True)
    assert sorted(info["mismatched_keys"]) == ["classifier.out_proj.bias", "classifier.out_proj.weight"]
    assert "classifier.out_proj.weight" in caplog.text and "newly initialised" in caplog.text
    assert model(**batch_for("TFLongformerForSequenceClassification")).logits.shape[-1] == 5
    same = cls.from_pretrained(folder)  # the encoder and the rest of the head did load
    for name, (variable, _) in same.hf_weights().items():
        if "out_proj" not in name:
            np.testing.assert_array_equal(model.hf_weights()[name][0].numpy(), variable.numpy(), err_msg=name)


def _cache_with_two_revisions(cache, first, second):
    """A Hugging Face cache holding `someone/tiny` at main (first) and at tag v2 (second, in subfolder `sub`)."""
    repo = cache / "models--someone--tiny"
    shutil.copytree(first, repo / "snapshots" / ("a" * 40))
    shutil.copytree(second, repo / "snapshots" / ("b" * 40) / "sub")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    (repo / "refs" / "v2").write_text("b" * 40)


def test_hub_arguments_revision_subfolder_cache_dir(reference_factory, tmp_path):
    _, first = reference_factory("TFLongformerModel", **REAL_SHAPE)
    _, second = reference_factory("TFLongformerModel", seed=1, **REAL_SHAPE)
    cache = tmp_path / "cache"
    _cache_with_two_revisions(cache, first, second)
    cls = tf_longformer.TFLongformerModel
    batch = batch_for("TFLongformerModel")

    def output(model):
        return model(**batch).last_hidden_state.numpy()

    expected_first, expected_second = output(cls.from_pretrained(first)), output(cls.from_pretrained(second))
    assert np.abs(expected_first - expected_second).max() > 1e-3
    main = cls.from_pretrained("someone/tiny", cache_dir=str(cache), local_files_only=True, token="hf_unused")
    np.testing.assert_array_equal(output(main), expected_first)
    for revision in ("v2", "b" * 40):
        tagged = cls.from_pretrained("someone/tiny", cache_dir=cache, revision=revision, subfolder="sub")
        np.testing.assert_array_equal(output(tagged), expected_second)
    local = cls.from_pretrained(cache / "models--someone--tiny" / "snapshots" / ("b" * 40), subfolder="sub")
    np.testing.assert_array_equal(output(local), expected_second)
    with pytest.raises(OSError, match="revision 'v3'"):
        cls.from_pretrained("someone/tiny", cache_dir=cache, revision="v3")
    with pytest.raises(OSError, match="no subfolder 'nope'"):
        cls.from_pretrained("someone/tiny", cache_dir=cache, subfolder="nope")
    config = tf_longformer.LongformerConfig.from_pretrained("someone/tiny", cache_dir=cache, revision="v2",
                                                            subfolder="sub", local_files_only=True)
    assert config == tf_longformer.LongformerConfig.from_pretrained(second)
    # config given as a folder, transformers-4 arguments accepted
    model = cls.from_pretrained(second, config=first, from_pt=True, use_safetensors=True)
    np.testing.assert_array_equal(output(model), expected_second)


def test_config_json_files(tmp_path):
    config = tf_longformer.LongformerConfig(vocab_size=60, hidden_size=16, num_hidden_layers=2,
                                            num_attention_heads=2, num_labels=4, **{
                                                k: v for k, v in REAL_SHAPE.items() if k != "num_hidden_layers"})
    path = tmp_path / "my_config.json"
    config.to_json_file(path)
    assert json.loads(path.read_text()) == json.loads(config.to_json_string())
    assert tf_longformer.LongformerConfig.from_json_file(path) == config
    theirs = transformers.LongformerConfig.from_json_file(str(path))
    assert (theirs.attention_window, theirs.num_labels, theirs.layer_norm_eps) == (8, 4, 1e-5)


SERVE_SCRIPT = """
import json, sys, numpy as np, tensorflow as tf
out = {}
for job in json.loads(sys.argv[1]):  # {"name", "dir": SavedModel folder, "inputs": .npz, "signatures": [...]}
    loaded = tf.saved_model.load(job["dir"])
    inputs = dict(np.load(job["inputs"]))
    for name in job["signatures"]:
        fn = loaded.signatures[name]
        dtype = fn.structured_input_signature[1]["input_ids"].dtype
        result = fn(**{k: tf.constant(v, dtype) for k, v in inputs.items()})
        out[job["name"] + "." + name] = result["logits"].numpy()
np.savez(sys.argv[2], **out)
"""


@pytest.mark.slow
def test_save_pretrained_saved_model_version_and_signatures(reference_factory, tmp_path):
    """`save_pretrained(d, saved_model=True, version=N)` writes d/saved_model/N, served in a fresh process."""
    _, folder = reference_factory("TFLongformerForMaskedLM", **REAL_SHAPE)
    model = tf_longformer.TFLongformerForMaskedLM.from_pretrained(folder)
    batch = batch_for("TFLongformerForMaskedLM")
    inputs = {**batch, "token_type_ids": np.zeros_like(batch["input_ids"])}
    np.savez(tmp_path / "inputs.npz", **inputs)
    out = tmp_path / "out"
    model.save_pretrained(out, saved_model=True, version=3)
    custom = {"only_ids": model.serving.get_concrete_function(
        {"input_ids": tf.TensorSpec((None, None), tf.int32, name="input_ids")})}
    model.save_pretrained(out, saved_model=True, version=4, signatures=custom)
    assert sorted(os.listdir(out / "saved_model")) == ["3", "4"]
    assert {"config.json", "model.safetensors"} <= set(os.listdir(out))

    # both versions served by one fresh process
    np.savez(tmp_path / "ids.npz", input_ids=batch["input_ids"])
    jobs = [{"name": "v3", "dir": str(out / "saved_model" / "3"), "inputs": str(tmp_path / "inputs.npz"),
             "signatures": ["serving_default", "int64_serving"]},
            {"name": "v4", "dir": str(out / "saved_model" / "4"), "inputs": str(tmp_path / "ids.npz"),
             "signatures": ["only_ids"]}]
    proc = subprocess.run([sys.executable, "-c", SERVE_SCRIPT, json.dumps(jobs), str(tmp_path / "served.npz")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    served = dict(np.load(tmp_path / "served.npz"))
    assert len(served) == 3, sorted(served)
    expected = model(**batch).logits.numpy()
    for name in ("serving_default", "int64_serving"):
        np.testing.assert_allclose(served[f"v3.{name}"], expected, atol=1e-5, err_msg=name)
    np.testing.assert_allclose(served["v4.only_ids"], model(input_ids=batch["input_ids"]).logits.numpy(),
                               atol=1e-5)


def test_max_shard_size_writes_an_index_transformers_loads(reference_factory, tmp_path):
    _, folder = reference_factory("TFLongformerForMaskedLM", **REAL_SHAPE)
    model = tf_longformer.TFLongformerForMaskedLM.from_pretrained(folder)
    batch = batch_for("TFLongformerForMaskedLM")
    expected = model(**batch).logits.numpy()
    out = tmp_path / "sharded"
    model.save_pretrained(out)  # a single file first: the sharded save must replace it
    model.save_pretrained(out, max_shard_size="10KB")
    files = sorted(os.listdir(out))
    shards = [f for f in files if f.startswith("model-")]
    assert len(shards) > 2 and "model.safetensors" not in files and "model.safetensors.index.json" in files
    index = json.loads((out / "model.safetensors.index.json").read_text())
    assert set(index["weight_map"].values()) == set(shards)
    for shard in shards:  # at most 10 kB of data, or one tensor larger than that alone
        tensors = [name for name, file in index["weight_map"].items() if file == shard]
        assert len(tensors) == 1 or os.path.getsize(out / shard) < 10_000 + 2_000, (shard, tensors)
    assert np.abs(_torch_logits(out, "LongformerForMaskedLM", batch) - expected).max() <= 1e-5
    np.testing.assert_array_equal(
        tf_longformer.TFLongformerForMaskedLM.from_pretrained(out)(**batch).logits.numpy(), expected)
    model.save_pretrained(out)  # back to one file: the shards and index go
    assert sorted(os.listdir(out)) == ["config.json", "model.safetensors"]
    with pytest.raises(ValueError, match="max_shard_size"):
        model.save_pretrained(tmp_path / "bad", max_shard_size="lots")


# --- the hub --------------------------------------------------------------------------------------------

@pytest.fixture
def hub_recorder(monkeypatch, tmp_path):
    """Record what `huggingface_hub.HfApi` is asked to create and upload (a copy of each uploaded folder)."""
    import huggingface_hub

    calls = []

    def create_repo(self, repo_id, **kwargs):
        calls.append(("create_repo", repo_id, kwargs))
        return types.SimpleNamespace(repo_id=repo_id if "/" in repo_id else f"me/{repo_id}")

    def upload_folder(self, *, repo_id, folder_path, **kwargs):
        copy = tmp_path / "uploads" / str(len(calls))
        shutil.copytree(folder_path, copy)
        calls.append(("upload_folder", repo_id, {**kwargs, "files": sorted(os.listdir(copy)), "copy": copy,
                                                 "token": self.token}))
        return types.SimpleNamespace(commit_url=f"https://huggingface.co/{repo_id}/commit/0")

    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", create_repo)
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", upload_folder)
    return calls


def test_push_to_hub_model_tokenizer_and_save_pretrained(reference_factory, hub_recorder, tmp_path):
    _, folder = reference_factory("TFLongformerForTokenClassification", **REAL_SHAPE)
    model = tf_longformer.TFLongformerForTokenClassification.from_pretrained(folder)
    batch = batch_for("TFLongformerForTokenClassification")
    model.push_to_hub("me/tagger", commit_message="first", private=True, token="hf_secret")
    (_, repo, create), (_, target, upload) = hub_recorder[:2]
    assert (repo, create["private"], create["exist_ok"], target) == ("me/tagger", True, True, "me/tagger")
    assert upload["files"] == ["config.json", "model.safetensors"] and upload["commit_message"] == "first"
    assert upload["token"] == "hf_secret"
    assert np.abs(_torch_logits(upload["copy"], "LongformerForTokenClassification", batch)
                  - model(**batch).logits.numpy()).max() <= 1e-5

    tokenizer = tf_longformer.LongformerTokenizerFast.from_pretrained(TOKENIZER_DIR)
    tokenizer.push_to_hub("tagger")
    (_, repo, _), (_, target, upload) = hub_recorder[2:4]
    assert (repo, target) == ("tagger", "me/tagger")  # the user's namespace, as the hub answers
    assert {"tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt"} <= set(upload["files"])
    assert len(transformers.AutoTokenizer.from_pretrained(upload["copy"])) == len(tokenizer)

    model.save_pretrained(tmp_path / "local", push_to_hub=True, repo_id="me/local-copy")
    assert hub_recorder[-1][1] == "me/local-copy" and (tmp_path / "local" / "config.json").exists()


def test_push_to_hub_offline_is_a_clear_error(reference_factory):
    _, folder = reference_factory("TFLongformerModel", **REAL_SHAPE)
    model = tf_longformer.TFLongformerModel.from_pretrained(folder)
    with pytest.raises(OSError, match="HF_HUB_OFFLINE"):
        model.push_to_hub("me/anything")


# --- pipelines ------------------------------------------------------------------------------------------

def test_pipeline_accepts_framework_tf_and_device():
    fill = tf_longformer.pipeline("fill-mask", framework="tf", device=-1)
    assert fill("Open the <mask> for reading.", top_k=2)[0]["sequence"].startswith("Open the")
    assert tf_longformer.pipeline("fill-mask", framework="tf", device="cpu").model is not None
    with pytest.raises(ValueError, match="framework='pt'"):
        tf_longformer.pipeline("fill-mask", framework="pt")
