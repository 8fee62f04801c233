"""Bad input gets a clear error (eager, graph) or NaN rows (XLA), never plausible numbers; valid input never NaN."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import tf_longformer
from tests.conftest import TINY_CONFIG
from tf_longformer import InvalidInputError, LongformerConfig


@pytest.fixture(scope="module")
def model():
    return tf_longformer.TFLongformerModel(LongformerConfig(**TINY_CONFIG))


def _ids(batch=2, seq=10, seed=0):
    return np.random.default_rng(seed).integers(3, 60, size=(batch, seq)).astype(np.int32)


def _graph(model):
    return tf.function(lambda ids, **kw: model(input_ids=ids, **kw).last_hidden_state)


def _xla(model):
    return tf.function(lambda ids, **kw: model(input_ids=ids, **kw).last_hidden_state, jit_compile=True)


@pytest.mark.parametrize("bad_id", [60, 1000, -1])
def test_ids_outside_vocabulary(model, bad_id):
    ids = _ids()
    ids[1, 4] = bad_id
    with pytest.raises(InvalidInputError, match=r"input_ids contains 1 value\(s\) outside \[0, 60\)"):
        model(input_ids=ids)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"input_ids contains values outside \[0, 60\)"):
        _graph(model)(tf.constant(ids))
    # XLA compiles assertions away and clamps gathers: the bad example must come out as NaN
    out = _xla(model)(tf.constant(ids)).numpy()
    assert np.isnan(out[1]).all()
    expected = model(input_ids=ids[:1]).last_hidden_state.numpy()
    np.testing.assert_allclose(out[:1], expected, atol=1e-5)


def test_position_and_token_type_ids_out_of_range(model):
    ids = _ids()
    with pytest.raises(InvalidInputError, match="token_type_ids"):
        model(input_ids=ids, token_type_ids=np.full_like(ids, 2))
    with pytest.raises(InvalidInputError, match="position_ids"):
        model(input_ids=ids, position_ids=np.full_like(ids, 80))
    out = _xla(model)(tf.constant(ids), position_ids=tf.constant(np.full_like(ids, 80))).numpy()
    assert np.isnan(out).all()


def test_sequence_longer_than_position_table(model):
    too_long = _ids(seq=79)  # max_position_embeddings 80 - pad 1 - 1 = 78
    with pytest.raises(InvalidInputError, match="at most 78"):
        model(input_ids=too_long)
    for fn in (_graph(model), _xla(model)):  # static shapes: caught while tracing
        with pytest.raises(InvalidInputError, match="at most 78"):
            fn(tf.constant(too_long))
    model(input_ids=_ids(seq=78))  # the longest allowed input runs
    dynamic = tf.function(lambda ids: model(input_ids=ids).last_hidden_state,
                          input_signature=[tf.TensorSpec([None, None], tf.int32)])
    with pytest.raises(tf.errors.InvalidArgumentError, match="position table allows at most 78"):
        dynamic(tf.constant(too_long))


@pytest.mark.parametrize("name", ["attention_mask", "global_attention_mask", "token_type_ids", "position_ids"])
def test_masks_of_the_wrong_shape(model, name):
    ids = _ids()
    wrong = np.ones((2, 9), np.int32)
    with pytest.raises(InvalidInputError, match=rf"{name} has shape \[2, 9\] but input_ids has shape \[2, 10\]"):
        model(input_ids=ids, **{name: wrong})
    for fn in (_graph(model), _xla(model)):
        with pytest.raises(InvalidInputError, match=name):
            fn(tf.constant(ids), **{name: tf.constant(wrong)})
    dynamic = tf.function(lambda ids, m: model(input_ids=ids, attention_mask=m).last_hidden_state,
                          input_signature=[tf.TensorSpec([None, None], tf.int32)] * 2)
    with pytest.raises(tf.errors.InvalidArgumentError, match="attention_mask must have the same shape"):
        dynamic(tf.constant(ids), tf.constant(wrong))


def test_ids_and_embeds_both_or_neither(model):
    with pytest.raises(InvalidInputError, match="exactly one of input_ids and inputs_embeds.*both"):
        model(input_ids=_ids(), inputs_embeds=np.zeros((2, 10, 16), np.float32))
    with pytest.raises(InvalidInputError, match="neither"):
        model(attention_mask=np.ones((2, 10), np.int32))
    with pytest.raises(InvalidInputError, match="rank 1"):
        model(input_ids=np.arange(5))
    with pytest.raises(InvalidInputError, match="int32 or int64"):
        model(input_ids=np.ones((1, 4), np.float32))
    with pytest.raises(InvalidInputError, match=r"inputs_embeds must have shape \(batch, sequence_length, 16\)"):
        model(inputs_embeds=np.zeros((1, 4, 7), np.float32))


def test_qa_default_global_attention_needs_three_separators():
    qa = tf_longformer.TFLongformerForQuestionAnswering(LongformerConfig(**TINY_CONFIG))
    with pytest.raises(InvalidInputError, match="exactly three separator tokens"):
        qa(input_ids=np.array([[0, 5, 6, 2, 7, 8]]))
    qa(input_ids=np.array([[0, 5, 6, 2, 7, 8]]), global_attention_mask=np.array([[1, 1, 1, 0, 0, 0]]))


def test_max_global_tokens_no_longer_bounds_xla():
    """`max_global_tokens` (the XLA bound of earlier versions, still in their config.json files) bounds
    nothing: under XLA more global tokens than it, up to all of them, give the eager numbers, not NaN."""
    model = tf_longformer.TFLongformerModel(LongformerConfig(**{**TINY_CONFIG, "max_global_tokens": 2}))
    ids = _ids(seq=12)
    glob = np.zeros_like(ids)
    glob[0, [0, 4, 9]] = 1  # 3 > 2
    glob[1] = 1  # every token
    eager = model(input_ids=ids, global_attention_mask=glob).last_hidden_state.numpy()
    xla = _xla(model)(tf.constant(ids), global_attention_mask=tf.constant(glob)).numpy()
    assert np.isfinite(eager).all()
    np.testing.assert_allclose(xla, eager, atol=1e-5)


def test_changing_global_tokens_does_not_retrace(model):
    ids = tf.constant(_ids(seq=13))
    for jit in (False, True):
        fn = tf.function(lambda i, g: model(input_ids=i, global_attention_mask=g).last_hidden_state,
                         jit_compile=jit)
        outs = []
        for positions in ([], [0], [0, 3, 7], list(range(13))):
            glob = np.zeros((2, 13), np.int32)
            glob[:, positions] = 1
            outs.append(fn(ids, tf.constant(glob)).numpy())
            eager = model(input_ids=ids, global_attention_mask=glob).last_hidden_state.numpy()
            np.testing.assert_allclose(outs[-1], eager, atol=1e-5)
        assert fn.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("kwargs, match", [
    ({"attention_window": 7}, "positive even int"),
    ({"attention_window": 0}, "positive even int"),
    ({"attention_window": [8, 4]}, "has 2 entries but num_hidden_layers is 3"),
    ({"attention_window": [8, 3, 8]}, r"attention_window \(layer 1\)"),
    ({"hidden_size": 15}, "not divisible by num_attention_heads"),
    ({"problem_type": "ranking"}, "problem_type must be one of"),
    ({"pad_token_id": 99}, "pad_token_id"),
    ({"max_global_tokens": -1}, "max_global_tokens must be an int >= 0"),
    ({"attention_query_chunk": -4}, "attention_query_chunk must be an int >= 0"),
    ({"dense_row_chunk": 1.5}, "dense_row_chunk must be an int >= 0"),
    ({"intermediate_size": 0}, "intermediate_size must be an int >= 1"),
])
def test_config_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LongformerConfig(**{**TINY_CONFIG, **kwargs})


def test_config_from_other_model_type_is_refused():
    with pytest.raises(ValueError, match="elongate"):
        LongformerConfig.from_dict({"model_type": "roberta", "hidden_size": 16})
