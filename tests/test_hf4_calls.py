"""transformers-4 TF code calls our models unchanged: every input form, `head_mask`, the Keras functional API.

Each model is compared with itself called by keywords (the form parity tests pin to PyTorch): another
input form must give the very same numbers. `head_mask` is compared with transformers 4.57's own
`TFLongformerForMaskedLM` (tests/fixtures/head_mask_mlm, written by scripts/make_head_mask_fixture.py).
"""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import tf_longformer
from tests.conftest import FIXTURES
from tests.test_parity import mc_batch, padded_batch, qa_batch
from tf_longformer.input_checks import InvalidInputError

# The real checkpoint's shape scaled down (one window, dropout 0.1, type_vocab_size 1, eps 1e-5, a window
# multiple + 2 positions); two layers keep the traced fits short.
REAL_SHAPE = dict(attention_window=8, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
                  type_vocab_size=1, layer_norm_eps=1e-5, max_position_embeddings=82, intermediate_size=64,
                  num_hidden_layers=2)
HEADS = ("TFLongformerModel", "TFLongformerForMaskedLM", "TFLongformerForSequenceClassification",
         "TFLongformerForTokenClassification", "TFLongformerForQuestionAnswering", "TFLongformerForMultipleChoice")
MAIN_OUTPUT = {"TFLongformerModel": "last_hidden_state", "TFLongformerForQuestionAnswering": "start_logits"}
HEAD_MASK_DIR = os.path.join(FIXTURES, "head_mask_mlm")


def batch_for(name: str) -> dict[str, np.ndarray]:
    """Inputs of `name` as int32 arrays: padded rows with global tokens, QA rows, or multiple-choice rows."""
    if name == "TFLongformerForQuestionAnswering":
        batch = qa_batch()
    elif name == "TFLongformerForMultipleChoice":
        batch = mc_batch()
    else:
        batch = padded_batch()
    return {k: v.astype(np.int32) for k, v in batch.items()}


@pytest.fixture(scope="module")
def models(reference_factory):
    return {name: getattr(tf_longformer, name).from_pretrained(reference_factory(name, **REAL_SHAPE)[1])
            for name in HEADS}


def _main(name, out):
    return np.asarray(out[MAIN_OUTPUT.get(name, "logits")])


@pytest.mark.parametrize("name", HEADS)
def test_every_input_form_gives_the_keyword_result(models, name):
    model, batch = models[name], batch_for(name)
    expected = _main(name, model(**batch))
    ids, mask = batch["input_ids"], batch["attention_mask"]
    glob = batch.get("global_attention_mask")
    forms = {
        "positional": model(ids, mask, None, glob),  # transformers 4's order: head_mask third
        "list": model([tf.constant(ids), tf.constant(mask), None, None if glob is None else tf.constant(glob)]),
        "tuple of arrays": model((ids, mask) if glob is None else (ids, mask, None, glob)),
        "dict": model(dict(batch)),
        "BatchEncoding": model(tf_longformer.BatchEncoding(dict(batch), tensor_type="tf")),
    }
    for form, out in forms.items():
        np.testing.assert_array_equal(_main(name, out), expected, err_msg=form)

    # output flags travel inside the dict, as transformers 4 read them there
    flagged = model({**batch, "output_hidden_states": True, "output_attentions": True, "return_dict": False})
    assert isinstance(flagged, tuple)
    np.testing.assert_array_equal(np.asarray(flagged[0]), expected)
    hidden_states, attentions = flagged[-3], flagged[-2]  # (..., hidden_states, attentions, global_attentions)
    assert len(hidden_states) == len(attentions) + 1 == REAL_SHAPE["num_hidden_layers"] + 1



# two layouts of the inputs: (batch, seq) and multiple choice's (batch, choices, seq)
@pytest.mark.parametrize("name", ["TFLongformerForMaskedLM", "TFLongformerForMultipleChoice"])
def test_predict_takes_a_batch_encoding(models, name):
    """The HF course's `model.predict(tokenizer(texts, return_tensors="np"))`."""
    model, batch = models[name], batch_for(name)
    predicted = model.predict(tf_longformer.BatchEncoding(dict(batch), tensor_type="np"), verbose=0)
    np.testing.assert_allclose(predicted["logits"], _main(name, model(**batch)), atol=1e-5)


def test_input_forms_that_cannot_be_read_say_why(models):
    model, batch = models["TFLongformerForMaskedLM"], batch_for("TFLongformerForMaskedLM")
    with pytest.raises(ValueError, match=r"Unknown input\(s\) \['input_idz'\]"):
        model({"input_idz": batch["input_ids"]})
    with pytest.raises(ValueError, match="at most"):
        model([tf.constant(batch["input_ids"])] * 12)
    with pytest.raises(TypeError, match="attention_mask given both"):
        model(batch["input_ids"], batch["attention_mask"], attention_mask=batch["attention_mask"])
    with pytest.raises(ValueError, match="has no loss"):
        models["TFLongformerModel"](**batch, labels=batch["input_ids"])
    # a nested Python list of ids is the ids themselves, not arguments in signature order
    ids = batch["input_ids"][:1].tolist()
    np.testing.assert_array_equal(model(ids).logits.numpy(), model(input_ids=np.array(ids)).logits.numpy())


# --- head_mask ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def head_mask_case():
    reference = dict(np.load(os.path.join(HEAD_MASK_DIR, "reference.npz")))
    model = tf_longformer.TFLongformerForMaskedLM.from_pretrained(HEAD_MASK_DIR)
    batch = {k: reference[k] for k in ("input_ids", "attention_mask", "global_attention_mask")}
    return model, batch, reference


def test_head_mask_matches_transformers_4(head_mask_case):
    """(layers, heads) multipliers of the attention probabilities, as transformers 4.57's TF model applies
    them: logits, every hidden state, local and global attention probabilities."""
    model, batch, ref = head_mask_case
    out = model(batch, head_mask=ref["head_mask_2d"], output_attentions=True, output_hidden_states=True)
    assert np.abs(out.logits.numpy() - ref["tf_logits"]).max() <= 1e-5
    for i in range(model.config.num_hidden_layers):
        assert np.abs(out.hidden_states[i + 1].numpy() - ref[f"tf_hidden_{i + 1}"]).max() <= 1e-5
        assert np.abs(out.attentions[i].numpy() - ref[f"tf_attention_{i}"]).max() <= 1e-5
        assert np.abs(out.global_attentions[i].numpy() - ref[f"tf_global_attention_{i}"]).max() <= 1e-5
    # layer 0 silences head 1: its probabilities are all zero
    assert not out.attentions[0].numpy()[:, 1].any() and out.attentions[0].numpy()[:, 0].any()
    unmasked = model(batch).logits.numpy()
    assert np.abs(unmasked - ref["tf_logits"]).max() > 1e-3  # the mask changes the answer


def test_head_mask_in_every_form_and_in_a_graph(head_mask_case):
    model, batch, ref = head_mask_case
    mask_2d, tol = ref["head_mask_2d"], 1e-5
    ids, attention, glob = batch["input_ids"], batch["attention_mask"], batch["global_attention_mask"]
    for form, out in {
        "positional, third": model(ids, attention, mask_2d, glob),
        "list": model([tf.constant(ids), tf.constant(attention), tf.constant(mask_2d), tf.constant(glob)]),
        "dict": model({**batch, "head_mask": mask_2d}),
    }.items():
        assert np.abs(out.logits.numpy() - ref["tf_logits"]).max() <= tol, form
    graph = tf.function(lambda b, m: model(b, head_mask=m).logits)
    assert np.abs(graph(batch, tf.constant(mask_2d)).numpy() - ref["tf_logits"]).max() <= tol
    # (heads,): the same multipliers in every layer
    one_d = model(batch, head_mask=ref["head_mask_1d"]).logits.numpy()
    assert np.abs(one_d - ref["tf_logits_tiled"]).max() <= tol


def test_head_mask_of_the_wrong_shape_is_refused(head_mask_case):
    model, batch, _ = head_mask_case
    with pytest.raises(InvalidInputError, match=r"\(2,\) or \(2, 2\)"):
        model(batch, head_mask=np.ones((3, 2), np.float32))
    with pytest.raises(InvalidInputError, match="head_mask must have shape"):
        model(batch, head_mask=np.ones((2, 2, 1), np.float32))


@pytest.mark.parametrize("name", HEADS)
def test_every_head_applies_head_mask(models, name):
    model, batch = models[name], batch_for(name)
    plain = _main(name, model(**batch))
    ones = np.ones((REAL_SHAPE["num_hidden_layers"], model.config.num_attention_heads), np.float32)
    np.testing.assert_allclose(_main(name, model(**batch, head_mask=ones)), plain, atol=1e-6)
    silenced = ones.copy()
    silenced[-1, 0] = 0.0
    assert np.abs(_main(name, model(**batch, head_mask=silenced)) - plain).max() > 1e-4


# --- the Keras functional API ---------------------------------------------------------------------------

def _functional(name, model):
    """A `keras.Model` on named Inputs taking the default output by attribute (encoder), index (QA: the
    start logits) or key (the others)."""
    rank = 3 if name == "TFLongformerForMultipleChoice" else 2
    ids = keras.Input(shape=(None,) * (rank - 1), dtype="int32", name="input_ids")
    mask = keras.Input(shape=(None,) * (rank - 1), dtype="int32", name="attention_mask")
    out = model({"input_ids": ids, "attention_mask": mask})
    if name == "TFLongformerModel":
        picked = out.last_hidden_state
    elif name == "TFLongformerForQuestionAnswering":
        picked = out[0]
    else:
        picked = out["logits"]
    assert picked is out[0] and picked is getattr(out, MAIN_OUTPUT.get(name, "logits"))
    return keras.Model({"input_ids": ids, "attention_mask": mask}, picked)


def _inputs(name):
    batch = batch_for(name)
    return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}


@pytest.mark.parametrize("name", HEADS)
def test_functional_model_gives_the_models_output(models, name):
    functional, x = _functional(name, models[name]), _inputs(name)
    np.testing.assert_allclose(functional(x).numpy(), _main(name, models[name](**x)), atol=1e-6)


@pytest.mark.slow
# taking the output by index and by key (every way and head: test_functional_model_gives_the_models_output)
@pytest.mark.parametrize("name", ["TFLongformerForQuestionAnswering", "TFLongformerForSequenceClassification"])
def test_functional_model_trains_and_round_trips(models, name, tmp_path):
    inner = getattr(tf_longformer, name).from_config(models[name].config)
    inner.set_weights(models[name].get_weights())
    functional, x = _functional(name, inner), _inputs(name)
    functional.compile(optimizer=keras.optimizers.SGD(0.1),
                       loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    y = np.zeros((x["input_ids"].shape[0],), np.int32)
    before = [w.numpy().copy() for w in inner.trainable_weights]
    history = functional.fit(x, y, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0])
    assert any(not np.allclose(a, w.numpy()) for a, w in zip(before, inner.trainable_weights, strict=True))

    np.testing.assert_allclose(functional.predict(x, verbose=0), functional(x).numpy(), atol=1e-5)
    path = str(tmp_path / "functional.keras")
    functional.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_allclose(reloaded(x).numpy(), functional(x).numpy(), atol=1e-6)
