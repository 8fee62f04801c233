"""Bad input gets a clear error (eager, graph) or NaN rows (XLA), never plausible numbers; valid input never NaN."""

from __future__ import annotations

import re

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
    message = (f"input_ids contains 1 value(s) outside [0, 60) (e.g. [{bad_id}]); the vocabulary of this model has "
               "60 ids: use the tokenizer that belongs to the model.")
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        model(input_ids=ids)
    with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape(message)):  # the same message
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
        model(input_ids=ids, position_ids=np.full_like(ids, 82))
    out = _xla(model)(tf.constant(ids), position_ids=tf.constant(np.full_like(ids, 82))).numpy()
    assert np.isnan(out).all()


def test_sequence_longer_than_position_table(model):
    too_long = _ids(seq=81)  # max_position_embeddings 82 - pad 1 - 1 = 80
    with pytest.raises(InvalidInputError, match="at most 80"):
        model(input_ids=too_long)
    for fn in (_graph(model), _xla(model)):  # static shapes: caught while tracing
        with pytest.raises(InvalidInputError, match="at most 80"):
            fn(tf.constant(too_long))
    model(input_ids=_ids(seq=80))  # the longest allowed input runs
    dynamic = tf.function(lambda ids: model(input_ids=ids).last_hidden_state,
                          input_signature=[tf.TensorSpec([None, None], tf.int32)])
    with pytest.raises(tf.errors.InvalidArgumentError, match="position table of this model allows at most 80"):
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
    # fields of the wrong type or value, as a hand-edited config.json may hold them
    ({"hidden_size": "12"}, "hidden_size must be an int >= 1, got '12'"),
    ({"hidden_size": 16.0}, "hidden_size must be an int >= 1, got 16.0"),
    ({"num_attention_heads": 0}, "num_attention_heads must be an int >= 1, got 0"),
    ({"num_hidden_layers": True}, "num_hidden_layers must be an int >= 1, got True"),
    ({"layer_norm_eps": "x"}, r"layer_norm_eps must be a number in \(0, inf\), got 'x'"),
    ({"layer_norm_eps": [1e-5]}, r"layer_norm_eps must be a number in \(0, inf\)"),
    ({"layer_norm_eps": 0}, r"layer_norm_eps must be a number in \(0, inf\)"),
    ({"hidden_dropout_prob": True}, r"hidden_dropout_prob must be a number in \[0, 1\)"),
    ({"attention_probs_dropout_prob": 1.0}, r"attention_probs_dropout_prob must be a number in \[0, 1\)"),
    ({"initializer_range": float("nan")}, "initializer_range must be a number"),
    ({"tie_word_embeddings": "no"}, "tie_word_embeddings must be true or false"),
    ({"attention_window": 8.0}, "attention_window must be an int or a list of ints, got 8.0"),
    ({"pad_token_id": "1"}, "pad_token_id"),
    ({"sep_token_id": 2.0}, "sep_token_id must be a token id"),
    ({"hidden_act": ["gelu"]}, "hidden_act must be an activation name"),
    ({"num_labels": "3"}, "num_labels must be an int >= 1"),
    ({"id2label": {"a": "x"}}, "id2label must map label ids"),
    ({"architectures": "LongformerModel"}, "architectures must be a list"),
])
def test_config_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LongformerConfig(**{**TINY_CONFIG, **kwargs})


def test_config_from_other_model_type_is_refused():
    with pytest.raises(ValueError, match="elongate"):
        LongformerConfig.from_dict({"model_type": "roberta", "hidden_size": 16})


# --- values that a cast or a multiplication would have turned into plausible input ------------------------


def test_int64_ids_beyond_int32_are_not_wrapped(model):
    """2**32 + 17 cast to int32 is 17, a valid id: the check runs on the int64 values."""
    ids = _ids().astype(np.int64)
    ids[1, 4] = 2**32 + 17
    message = re.escape("input_ids contains 1 value(s) outside [0, 60) (e.g. [4294967313])")
    with pytest.raises(InvalidInputError, match=message):
        model(input_ids=ids)
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        _graph(model)(tf.constant(ids))
    for name, values in (("token_type_ids", np.zeros((2, 10), np.int64)),
                         ("position_ids", np.tile(np.arange(2, 12, dtype=np.int64), (2, 1)))):
        values[0, 1] = 2**32
        with pytest.raises(InvalidInputError, match=rf"{name} contains 1 value\(s\) outside .*\(e.g. \[4294967296\]\)"):
            model(input_ids=_ids(), **{name: values})
    out = _xla(model)(tf.constant(ids)).numpy()
    assert np.isnan(out[1]).all() and np.isfinite(out[0]).all()


def test_mask_values_are_checked(model):
    """attention_mask takes 0, 1, 2 and global_attention_mask 0, 1 (ints or floats); anything else changed the
    answer silently before. One traced function and one XLA program serve every case (float masks)."""
    ids = tf.constant(_ids())

    def run(ids, attention_mask, global_attention_mask):
        return model(input_ids=ids, attention_mask=attention_mask,
                     global_attention_mask=global_attention_mask).last_hidden_state

    graph, xla = tf.function(run), tf.function(run, jit_compile=True)
    for name, value, allowed in (
            ("attention_mask", 3, "0, 1 and 2"), ("attention_mask", -1, "0, 1 and 2"),
            ("attention_mask", 0.5, "0, 1 and 2"), ("global_attention_mask", 2, "0 and 1"),
            ("global_attention_mask", -1, "0 and 1"), ("global_attention_mask", 0.5, "0 and 1")):
        masks = {"attention_mask": np.ones(ids.shape, np.float32), "global_attention_mask": np.zeros(ids.shape, np.float32)}
        masks[name][1, 3] = value
        message = re.escape(f"{name} contains 1 value(s) other than {allowed} (e.g. [{value}])")
        with pytest.raises(InvalidInputError, match=message):
            model(input_ids=ids, **masks)
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            graph(ids, **masks)
        out = xla(ids, **masks).numpy()
        assert np.isnan(out[1]).all() and np.isfinite(out[0]).all()
    int_mask = np.ones(ids.shape, np.int64)
    int_mask[0, 4] = 3
    with pytest.raises(InvalidInputError, match=re.escape("attention_mask contains 1 value(s) other than 0, 1 and 2 "
                                                          "(e.g. [3])")):
        model(input_ids=ids, attention_mask=int_mask)
    assert graph.experimental_get_tracing_count() == 1 and xla.experimental_get_tracing_count() == 1


def test_attention_mask_2_means_global_as_in_transformers(reference_factory):
    """allenai / transformers: attention_mask 2 marks a global token. With global_attention_mask 1 on the same
    token it stays global here; transformers 5 multiplies the two into 4 and then drops that token's global
    attention, so the reference for that case is the same input without the 2."""
    import torch

    torch_model, folder = reference_factory("TFLongformerModel")
    ours = tf_longformer.TFLongformerModel.from_pretrained(folder)
    ids = _ids(seq=13)
    ids[:, 0] = 0
    glob = np.zeros_like(ids)
    glob[:, [0, 5]] = 1
    mask = np.ones_like(ids) + glob  # 2 where global
    with torch.no_grad():
        expected = torch_model(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask)).last_hidden_state.numpy()
        with_flag = torch_model(input_ids=torch.tensor(ids), attention_mask=torch.tensor(np.ones_like(ids)),
                                global_attention_mask=torch.tensor(glob)).last_hidden_state.numpy()
    np.testing.assert_allclose(with_flag, expected, atol=1e-6)
    for kwargs in (dict(attention_mask=mask), dict(attention_mask=mask, global_attention_mask=glob),
                   dict(global_attention_mask=glob)):
        np.testing.assert_allclose(ours(input_ids=ids, **kwargs).last_hidden_state.numpy(), expected, atol=1e-5)
    traced = _graph(ours)(tf.constant(ids), attention_mask=tf.constant(mask), global_attention_mask=tf.constant(glob))
    np.testing.assert_allclose(traced.numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("shape", [(0, 10), (2, 0)])
def test_empty_inputs(model, shape):
    empty = np.zeros(shape, np.int32)
    with pytest.raises(InvalidInputError, match=rf"input_ids is empty .* Its shape is \({shape[0]}, {shape[1]}\)"):
        model(input_ids=empty)
    with pytest.raises(InvalidInputError, match="input_ids is empty"):  # static shapes: caught while tracing
        _xla(model)(tf.constant(empty))
    dynamic = tf.function(lambda ids: model(input_ids=ids).last_hidden_state,
                          input_signature=[tf.TensorSpec([None, None], tf.int32)])
    with pytest.raises(tf.errors.InvalidArgumentError, match="input_ids is empty"):
        dynamic(tf.constant(empty))
    with pytest.raises(InvalidInputError, match=r"inputs_embeds\[..., 0\] is empty"):
        model(inputs_embeds=np.zeros((*shape, 16), np.float32))


def test_serving_signatures_check_requests_as_the_model_does(model):
    """The SavedModel's request checks (traced here, the export tests load real SavedModels) take the values
    the model takes: attention_mask 2 is global, 3 is refused with the model's message."""
    from tf_longformer.export.signatures import GLOBAL_SIGNATURE, build_signatures
    from tf_longformer.tasks import get_task

    serve = build_signatures(model, get_task("feature-extraction"), int_dtype="int64")[GLOBAL_SIGNATURE]
    ids = _ids().astype(np.int64)
    glob = np.zeros_like(ids)
    glob[:, 0] = 1
    expected = model(input_ids=ids, global_attention_mask=glob).last_hidden_state.numpy()
    out = serve(input_ids=tf.constant(ids), attention_mask=tf.constant(np.ones_like(ids) + glob),
                global_attention_mask=tf.constant(np.zeros_like(ids)))
    np.testing.assert_allclose(out["last_hidden_state"].numpy(), expected, atol=1e-5)
    bad = np.ones_like(ids)
    bad[0, 2] = 3
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=re.escape("attention_mask contains 1 value(s) other than 0, 1 and 2 (e.g. [3])")):
        serve(input_ids=tf.constant(ids), attention_mask=tf.constant(bad), global_attention_mask=tf.constant(glob))
    big = ids.copy()
    big[0, 0] = 2**32 + 17
    with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape("(e.g. [4294967313])")):
        serve(input_ids=tf.constant(big), attention_mask=tf.ones_like(big), global_attention_mask=tf.zeros_like(big))
