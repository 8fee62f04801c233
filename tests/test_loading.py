"""from_pretrained / save_pretrained: every checkpoint format in, PyTorch-loadable safetensors out."""

from __future__ import annotations

import json
import logging
import os
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf
import torch
import transformers

import tf_longformer
from converters.errors import CheckpointError
from tests.conftest import FIXTURES, max_abs_diff
from tests.test_parity import padded_batch, torch_run

TOL = 1e-5


def _logits(model, batch):
    out = model(**{k: tf.constant(v) for k, v in batch.items()})
    return out.logits if "logits" in out.keys() else out.last_hidden_state


def _save_bin(torch_model, folder, out_dir) -> None:
    """A legacy `pytorch_model.bin` folder (transformers 5 no longer writes them)."""
    os.makedirs(out_dir)
    shutil.copy(os.path.join(folder, "config.json"), out_dir)
    torch.save(torch_model.state_dict(), os.path.join(out_dir, "pytorch_model.bin"))


def test_bin_and_sharded_checkpoints_load_the_same_numbers(reference_factory, tmp_path):
    ref_model, folder = reference_factory("TFLongformerForMaskedLM")
    batch = padded_batch()
    expected = torch_run(ref_model, **batch).logits
    bin_dir, shard_dir = tmp_path / "bin", tmp_path / "sharded"
    _save_bin(ref_model, folder, bin_dir)
    ref_model.save_pretrained(shard_dir, max_shard_size="20KB")
    assert os.path.exists(bin_dir / "pytorch_model.bin")
    assert os.path.exists(shard_dir / "model.safetensors.index.json")
    for source in (folder, bin_dir, shard_dir):
        model = tf_longformer.TFLongformerForMaskedLM.from_pretrained(source)
        assert max_abs_diff(_logits(model, batch), expected) <= TOL, source


def test_transformers4_tf_h5_checkpoint():
    """A `tf_model.h5` written by transformers 4.57 (fixture + script in scripts/) gives its own outputs."""
    for name, cls, field in (("tiny_longformer_mlm_tf", tf_longformer.TFLongformerForMaskedLM, "logits"),
                             ("tiny_longformer_base_tf", tf_longformer.TFLongformerModel, "last_hidden_state")):
        folder = os.path.join(FIXTURES, name)
        ref = np.load(os.path.join(folder, "reference_outputs.npz"))
        model = cls.from_pretrained(folder)
        out = model(input_ids=ref["input_ids"], attention_mask=ref["attention_mask"],
                    global_attention_mask=ref["global_attention_mask"])
        assert max_abs_diff(out[field], ref[field]) <= 1e-5
        # and the same numbers as transformers 5 PyTorch on the paired PyTorch folder
        pt_cls = transformers.LongformerForMaskedLM if field == "logits" else transformers.LongformerModel
        pt = pt_cls.from_pretrained(os.path.join(FIXTURES, name.replace("_tf", "_pt"))).eval()
        expected = torch_run(pt, input_ids=ref["input_ids"], attention_mask=ref["attention_mask"],
                             global_attention_mask=ref["global_attention_mask"])[field]
        assert max_abs_diff(out[field], expected) <= 1e-5


@pytest.mark.parametrize("name", ["TFLongformerForMaskedLM", "TFLongformerForSequenceClassification",
                                  "TFLongformerForQuestionAnswering", "TFLongformerModel"])
def test_save_pretrained_loads_in_transformers_pytorch(reference_factory, tmp_path, name):
    ref_model, folder = reference_factory(name)
    model = getattr(tf_longformer, name).from_pretrained(folder)
    out_dir = tmp_path / "saved"
    model.save_pretrained(out_dir)
    assert sorted(os.listdir(out_dir)) == ["config.json", "model.safetensors"]
    pt = getattr(transformers, name.removeprefix("TF")).from_pretrained(out_dir).eval()
    batch = padded_batch(seed=7)
    if name == "TFLongformerForQuestionAnswering":
        batch.pop("global_attention_mask")
        batch["input_ids"][:, 2:4] = 2
        batch["input_ids"][:, -1] = 2
        batch["attention_mask"][:] = 1
    ours = model(**{k: tf.constant(v) for k, v in batch.items()})
    theirs = torch_run(pt, **batch)
    for field in theirs.keys():
        assert max_abs_diff(ours[field], theirs[field]) <= TOL, field
    # and our own loader reads it back identically
    again = getattr(tf_longformer, name).from_pretrained(out_dir)
    for (n1, (v1, _)), (n2, (v2, _)) in zip(model.hf_weights().items(), again.hf_weights().items(), strict=True):
        assert n1 == n2 and np.array_equal(v1.numpy(), v2.numpy())


def test_config_json_round_trip_keeps_unknown_keys(reference_factory, tmp_path):
    _, folder = reference_factory("TFLongformerForSequenceClassification", num_labels=3)
    with open(os.path.join(folder, "config.json")) as f:
        raw = json.load(f)
    raw["my_custom_key"] = {"nested": [1, 2]}
    raw["id2label"] = {"0": "neg", "1": "neutral", "2": "pos"}
    raw["label2id"] = {"neg": 0, "neutral": 1, "pos": 2}
    src = tmp_path / "src"
    shutil.copytree(folder, src)
    with open(src / "config.json", "w") as f:
        json.dump(raw, f)
    model = tf_longformer.TFLongformerForSequenceClassification.from_pretrained(src)
    assert model.config.id2label == {0: "neg", 1: "neutral", 2: "pos"} and model.config.num_labels == 3
    model.save_pretrained(tmp_path / "out")
    with open(tmp_path / "out" / "config.json") as f:
        written = json.load(f)
    assert written["my_custom_key"] == {"nested": [1, 2]}
    assert written["label2id"] == {"neg": 0, "neutral": 1, "pos": 2}
    assert transformers.LongformerConfig.from_pretrained(tmp_path / "out").num_labels == 3


def test_base_checkpoint_into_head_and_head_into_base(reference_factory, caplog):
    base_ref, base_folder = reference_factory("TFLongformerModel")
    with caplog.at_level(logging.WARNING, logger="tf_longformer"):
        clf, info = tf_longformer.TFLongformerForSequenceClassification.from_pretrained(
            base_folder, output_loading_info=True)
    assert sorted(info["missing_keys"]) == sorted(
        f"classifier.{n}" for n in ("dense.weight", "dense.bias", "out_proj.weight", "out_proj.bias"))
    assert info["unexpected_keys"] == ["longformer.pooler.dense.bias", "longformer.pooler.dense.weight"]
    assert "newly initialised" in caplog.text and "classifier.dense.weight" in caplog.text
    np.testing.assert_array_equal(clf.longformer.word_embeddings.numpy(),
                                  base_ref.embeddings.word_embeddings.weight.detach().numpy())

    mlm_ref, mlm_folder = reference_factory("TFLongformerForMaskedLM")
    base, info = tf_longformer.TFLongformerModel.from_pretrained(mlm_folder, output_loading_info=True)
    assert info["missing_keys"] == ["pooler.dense.weight", "pooler.dense.bias"]
    assert all(k.startswith("lm_head.") for k in info["unexpected_keys"])
    batch = padded_batch()
    expected = torch_run(mlm_ref.longformer, **batch).last_hidden_state
    assert max_abs_diff(base(**batch).last_hidden_state, expected) <= TOL


def test_strict_loading_and_missing_encoder_weights(reference_factory, tmp_path):
    _, base_folder = reference_factory("TFLongformerModel")
    with pytest.raises(tf_longformer.WeightsMismatchError, match="missing 4 tensor"):
        tf_longformer.TFLongformerForSequenceClassification.from_pretrained(base_folder, strict=True)
    from converters.safetensors_io import read_safetensors, write_safetensors

    tensors = read_safetensors(os.path.join(base_folder, "model.safetensors"))
    del tensors["encoder.layer.1.attention.self.query.weight"]
    broken = tmp_path / "broken"
    shutil.copytree(base_folder, broken)
    write_safetensors(tensors, broken / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(tf_longformer.WeightsMismatchError, match=r"encoder\.layer\.1\.attention\.self\.query"):
        tf_longformer.TFLongformerModel.from_pretrained(broken)


def test_shape_mismatch_names_tensor_and_both_shapes(reference_factory):
    _, folder = reference_factory("TFLongformerModel")
    with pytest.raises(tf_longformer.WeightsMismatchError) as err:
        tf_longformer.TFLongformerModel.from_pretrained(folder, vocab_size=61)
    assert "embeddings.word_embeddings.weight" in str(err.value)
    assert "(60, 16)" in str(err.value) and "(61, 16)" in str(err.value)


def test_corrupt_and_truncated_files_name_the_file(reference_factory, tmp_path):
    _, folder = reference_factory("TFLongformerModel")
    bad = tmp_path / "truncated"
    shutil.copytree(folder, bad)
    data = (bad / "model.safetensors").read_bytes()
    (bad / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="model.safetensors"):
        tf_longformer.TFLongformerModel.from_pretrained(bad)
    (bad / "model.safetensors").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="model.safetensors"):
        tf_longformer.TFLongformerModel.from_pretrained(bad)
    (bad / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="config.json"):
        tf_longformer.TFLongformerModel.from_pretrained(bad)


def test_hub_id_offline_without_cache_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True, raising=False)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "empty-cache"), raising=False)
    with pytest.raises(OSError, match="HF_HUB_OFFLINE"):
        tf_longformer.TFLongformerModel.from_pretrained("allenai/longformer-base-4096")
    with pytest.raises(OSError, match="No such model folder"):
        tf_longformer.TFLongformerModel.from_pretrained("./does/not/exist")


def test_transformers_offline_alone_keeps_models_and_tokenizers_off_the_network(tmp_path, monkeypatch):
    """One resolver for both: `TRANSFORMERS_OFFLINE=1` without `HF_HUB_OFFLINE` means the cache only."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False, raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    for load in (tf_longformer.TFLongformerModel.from_pretrained,
                 tf_longformer.LongformerTokenizerFast.from_pretrained):
        with pytest.raises(OSError, match="TRANSFORMERS_OFFLINE is set") as info:
            load("allenai/longformer-base-4096")
        assert "not in the Hugging Face cache" in str(info.value)


def test_hub_id_from_local_cache(reference_factory, tmp_path, monkeypatch):
    """A hub id resolves through the Hugging Face cache layout with no network (HF_HUB_OFFLINE=1)."""
    ref_model, folder = reference_factory("TFLongformerModel")
    cache = tmp_path / "hub"
    snapshot = cache / "models--someone--tiny-longformer" / "snapshots" / ("0" * 40)
    shutil.copytree(folder, snapshot)
    (cache / "models--someone--tiny-longformer" / "refs").mkdir()
    (cache / "models--someone--tiny-longformer" / "refs" / "main").write_text("0" * 40)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(cache), raising=False)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True, raising=False)
    model = tf_longformer.TFLongformerModel.from_pretrained("someone/tiny-longformer")
    batch = padded_batch()
    expected = torch_run(ref_model, **batch)
    out = model(**{k: tf.constant(v) for k, v in batch.items()})
    assert max_abs_diff(out.last_hidden_state, expected.last_hidden_state) <= TOL
    assert max_abs_diff(out.pooler_output, expected.pooler_output) <= TOL


def test_save_pretrained_is_atomic(reference_factory, tmp_path, monkeypatch):
    """A failure while writing leaves the previous checkpoint complete and loadable."""
    _, folder = reference_factory("TFLongformerModel")
    model = tf_longformer.TFLongformerModel.from_pretrained(folder)
    out = tmp_path / "out"
    model.save_pretrained(out)
    before = {name: (out / name).read_bytes() for name in os.listdir(out)}
    other = tf_longformer.TFLongformerModel(model.config)

    import safetensors.numpy as st

    real_save = st.save_file

    def failing_save(tensors, path, metadata=None):
        real_save(dict(list(tensors.items())[:3]), path, metadata)
        raise OSError("disk full")

    monkeypatch.setattr(st, "save_file", failing_save)
    with pytest.raises(OSError, match="disk full"):
        other.save_pretrained(out)
    assert {name: (out / name).read_bytes() for name in os.listdir(out)} == before
    tf_longformer.TFLongformerModel.from_pretrained(out)


@pytest.mark.parametrize("name", ["TFLongformerForMaskedLM", "TFLongformerForMultipleChoice"])
def test_keras_native_round_trip(reference_factory, tmp_path, name):
    _, folder = reference_factory(name)
    model = getattr(tf_longformer, name).from_pretrained(folder)
    if name == "TFLongformerForMultipleChoice":
        batch = {"input_ids": np.array([[[0, 5, 2, 2, 6, 7, 2], [0, 5, 2, 2, 8, 9, 2]]])}
    else:
        batch = padded_batch()
    expected = _logits(model, batch)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert type(loaded) is type(model) and loaded.config == model.config
    assert max_abs_diff(_logits(loaded, batch), expected.numpy()) == 0.0
    again = getattr(tf_longformer, name).from_pretrained(tmp_path / "m.keras")
    assert max_abs_diff(_logits(again, batch), expected.numpy()) == 0.0
    model.save_weights(tmp_path / "m.weights.h5")
    fresh = getattr(tf_longformer, name)(model.config)
    fresh.load_weights(tmp_path / "m.weights.h5")
    assert max_abs_diff(_logits(fresh, batch), expected.numpy()) == 0.0


def test_missing_torch_gives_the_extra_name(reference_factory, tmp_path, monkeypatch):
    ref_model, _ = reference_factory("TFLongformerModel")
    bin_dir = tmp_path / "bin"
    _save_bin(ref_model, _, bin_dir)
    monkeypatch.setitem(__import__("sys").modules, "torch", None)
    with pytest.raises(ImportError, match=r"tf-longformer\[torch\]"):
        tf_longformer.TFLongformerModel.from_pretrained(bin_dir)


def test_output_classes_behave_like_hugging_face():
    out = tf_longformer.TFLongformerMaskedLMOutput(logits=tf.ones((1, 2)), hidden_states=(tf.zeros(1),))
    assert list(out.keys()) == ["logits", "hidden_states"]
    assert out[0] is out["logits"] is out.logits and out.loss is None
    assert len(out.to_tuple()) == 2
    with_loss = tf_longformer.TFLongformerMaskedLMOutput(loss=tf.constant(1.0), logits=tf.ones((1, 2)))
    assert float(with_loss[0]) == 1.0
    traced = tf.function(lambda: tf_longformer.TFLongformerMaskedLMOutput(logits=tf.ones((1, 2))))()
    assert isinstance(traced, tf_longformer.TFLongformerMaskedLMOutput) and traced.loss is None


def test_return_dict_false_and_dict_input(reference_factory):
    ref_model, folder = reference_factory("TFLongformerForMaskedLM")
    model = tf_longformer.TFLongformerForMaskedLM.from_pretrained(folder)
    batch = padded_batch()
    labels = np.where(batch["attention_mask"] == 1, batch["input_ids"], -100)
    as_tuple = model(**batch, labels=labels, return_dict=False)
    as_dict_input = model({**batch, "labels": labels})
    expected = torch_run(ref_model, **batch, labels=labels)
    assert isinstance(as_tuple, tuple) and len(as_tuple) == 2  # (loss, logits), as transformers orders them
    assert max_abs_diff(as_tuple[1], expected.logits) <= TOL and abs(float(as_tuple[0]) - float(expected.loss)) <= TOL
    np.testing.assert_array_equal(as_tuple[1].numpy(), as_dict_input.logits.numpy())
    np.testing.assert_array_equal(as_tuple[0].numpy(), as_dict_input.loss.numpy())
