"""Training as transformers 4 users wrote it: `prepare_tf_dataset` on a `datasets.Dataset`, `fit(x, {"labels": y})`,
question answering with a dict of positions and `metrics=["accuracy"]`, a `fit` that raised, and
`PushToHubCallback` (uploads recorded, see `hub_recorder`)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import tf_longformer
from tests.conftest import ONE_LAYER
from tests.test_hf4_calls import REAL_SHAPE, batch_for
from tests.test_hf4_model_api import TOKENIZER_DIR, _torch_logits, hub_recorder  # noqa: F401 (fixture)

datasets = pytest.importorskip("datasets")

TEXTS = ["the cat sat on the mat", "a dog", "this sentence is quite a lot longer than the others are",
         "yes", "no way at all", "it is what it is"]


@pytest.fixture(scope="module")
def tokenizer():
    return tf_longformer.LongformerTokenizerFast.from_pretrained(TOKENIZER_DIR)


def _model(name, tokenizer, **overrides):
    # ONE_LAYER: what these tests check (the transformers 4 training API around the model) is the same for any
    # number of layers
    config = tf_longformer.LongformerConfig(vocab_size=len(tokenizer), hidden_size=16, num_attention_heads=2,
                                            **{**REAL_SHAPE, **ONE_LAYER, **overrides})
    keras.utils.set_random_seed(0)
    return getattr(tf_longformer, name)(config)


def _classification_data(tokenizer):
    data = datasets.Dataset.from_dict({"text": TEXTS, "label": [0, 1, 2, 0, 1, 2], "idx": list(range(6))})
    return data.map(lambda rows: tokenizer(rows["text"]), batched=True)


def test_prepare_tf_dataset_pads_each_batch_and_routes_labels(tokenizer):
    model = _model("TFLongformerForSequenceClassification", tokenizer, num_labels=3)
    data = _classification_data(tokenizer)
    batches = list(model.prepare_tf_dataset(data, batch_size=2, shuffle=False, tokenizer=tokenizer))
    lengths = [len(ids) for ids in data["input_ids"]]
    assert len(batches) == 3
    for i, (x, y) in enumerate(batches):
        assert set(x) == {"input_ids", "attention_mask"}  # text / idx dropped, label moved to y
        assert x["input_ids"].shape[1] == max(lengths[2 * i: 2 * i + 2])  # padded to its own longest row
        np.testing.assert_array_equal(y.numpy(), [0, 1, 2, 0, 1, 2][2 * i: 2 * i + 2])
        assert (x["input_ids"].numpy()[x["attention_mask"].numpy() == 0] == tokenizer.pad_token_id).all()
    assert len({int(x["input_ids"].shape[1]) for x, _ in batches}) == 3

    # fit trains on the model's own loss; evaluate gives the mean of the batches' own losses
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    history = model.fit(model.prepare_tf_dataset(data, batch_size=2, shuffle=True, tokenizer=tokenizer),
                        epochs=2, verbose=0).history
    assert np.isfinite(history["loss"]).all()
    own = [float(model(x, labels=y).loss) for x, y in batches]
    result = model.evaluate(model.prepare_tf_dataset(data, batch_size=2, shuffle=False, tokenizer=tokenizer),
                            verbose=0, return_dict=True)
    np.testing.assert_allclose(result["loss"], np.mean(own), rtol=1e-5)

    with pytest.raises(TypeError, match="datasets.Dataset"):
        model.prepare_tf_dataset({"input_ids": [[0, 2]]})


def test_prepare_tf_dataset_token_labels_and_span_labels(tokenizer):
    tagged = _classification_data(tokenizer).map(
        lambda row: {"labels": [i % 3 for i in range(len(row["input_ids"]))]}).remove_columns("label")
    tagger = _model("TFLongformerForTokenClassification", tokenizer, num_labels=3)
    for x, y in tagger.prepare_tf_dataset(tagged, batch_size=3, shuffle=False, tokenizer=tokenizer):
        labels, mask = y.numpy(), x["attention_mask"].numpy()
        assert labels.shape == mask.shape and (labels[mask == 0] == -100).all() and (labels[mask == 1] >= 0).all()

    qa = batch_for("TFLongformerForQuestionAnswering")
    rows = [ids[mask == 1].tolist() for ids, mask in zip(qa["input_ids"], qa["attention_mask"], strict=True)]
    questions = datasets.Dataset.from_dict({"input_ids": rows, "start_positions": [6, 5], "end_positions": [8, 6]})
    reader = _model("TFLongformerForQuestionAnswering", tokenizer)
    (x, y), = list(reader.prepare_tf_dataset(questions, batch_size=2, shuffle=False, tokenizer=tokenizer))
    assert set(y) == {"start_positions", "end_positions"} and set(x) == {"input_ids", "attention_mask"}
    np.testing.assert_array_equal(y["start_positions"].numpy(), [6, 5])
    np.testing.assert_array_equal(x["attention_mask"].numpy(), qa["attention_mask"])


def _initial_weights(model, weights=None):
    if weights is None:
        return [w.numpy() for w in model.weights]
    model.set_weights(weights)
    return weights


@pytest.mark.slow
def test_fit_with_a_dict_of_labels_trains_on_the_models_own_loss(tokenizer):
    """`fit(x, {"labels": y})` (or by output name, `{"logits": y}`) trains exactly as the labels inside `x`."""
    x = {k: v for k, v in batch_for("TFLongformerForSequenceClassification").items()}
    y = np.array([0, 2, 1])
    histories, start = [], None
    for fit_args in (({**x, "labels": y},), (x, {"labels": y}), (x, {"logits": y})):
        model = _model("TFLongformerForSequenceClassification", tokenizer, num_labels=3)
        start = _initial_weights(model, start)
        model.compile(optimizer=keras.optimizers.SGD(0.5))
        histories.append(model.fit(*fit_args, epochs=3, batch_size=3, shuffle=False, verbose=0).history["loss"])
    for history in histories[1:]:
        np.testing.assert_allclose(history, histories[0], rtol=1e-6)
    assert len(set(histories[0])) == 3  # the weights moved between epochs
    with pytest.raises(ValueError, match="Unknown label 'lables'"):
        model.fit(x, {"lables": y}, verbose=0)


@pytest.mark.slow
def test_question_answering_fit_with_positions_dict_and_accuracy(tokenizer):
    x = batch_for("TFLongformerForQuestionAnswering")
    spans = {"start_positions": np.array([6, 5]), "end_positions": np.array([8, 6])}
    model = _model("TFLongformerForQuestionAnswering", tokenizer)
    model.compile(optimizer=keras.optimizers.Adam(0.01), metrics=["accuracy"])
    history = model.fit(x, spans, epochs=3, verbose=0).history
    assert {"loss", "start_logits_accuracy", "end_logits_accuracy"} <= set(history)
    assert history["loss"][-1] < history["loss"][0]
    result = model.evaluate(x, spans, verbose=0, return_dict=True)
    out = model(**x)
    for field, positions in (("start_logits", spans["start_positions"]), ("end_logits", spans["end_positions"])):
        expected = np.mean(np.argmax(out[field].numpy(), -1) == positions)
        np.testing.assert_allclose(result[f"{field}_accuracy"], expected)
    np.testing.assert_allclose(result["loss"], float(model(**x, **spans).loss), rtol=1e-5)
    # with a compiled Keras loss the dict is matched to the two outputs
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    assert np.isfinite(model.fit(x, spans, epochs=1, verbose=0).history["loss"]).all()


@pytest.mark.slow
def test_a_fit_that_raised_leaves_the_model_usable(tokenizer):
    model = _model("TFLongformerForSequenceClassification", tokenizer, num_labels=3)
    x = batch_for("TFLongformerForSequenceClassification")
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match="No loss to train on"):
        model.fit(x, epochs=1, verbose=0)  # no labels and no compiled loss
    history = model.fit(x, np.array([0, 2, 1]), epochs=1, verbose=0).history
    assert np.isfinite(history["loss"]).all()


@pytest.mark.slow
def test_push_to_hub_callback_pushes_each_epoch_and_the_end(tokenizer, hub_recorder, tmp_path):  # noqa: F811
    model = _model("TFLongformerForSequenceClassification", tokenizer, num_labels=3)
    x = batch_for("TFLongformerForSequenceClassification")
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    callback = tf_longformer.PushToHubCallback(tmp_path / "run", tokenizer=tokenizer, hub_model_id="me/classifier",
                                               hub_token="hf_secret", license="apache-2.0")
    model.fit(x, np.array([0, 2, 1]), epochs=2, verbose=0, callbacks=[callback])
    uploads = [call for call in hub_recorder if call[0] == "upload_folder"]
    assert [u[2]["commit_message"] for u in uploads] == [
        "Training in progress epoch 0", "Training in progress epoch 1", "End of training"]
    assert all(u[1] == "me/classifier" and u[2]["token"] == "hf_secret" for u in uploads)
    last = uploads[-1][2]
    assert {"config.json", "model.safetensors", "tokenizer.json", "README.md"} <= set(last["files"])
    assert "license: \"apache-2.0\"" in (last["copy"] / "README.md").read_text()
    ours = model(**x).logits.numpy()
    assert np.abs(_torch_logits(last["copy"], "LongformerForSequenceClassification", x) - ours).max() <= 1e-5
    with pytest.raises(ValueError, match="save_steps"):
        tf_longformer.PushToHubCallback(tmp_path / "run", save_strategy="steps")
