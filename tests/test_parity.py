"""Every head, every output field, equal to transformers' PyTorch Longformer within 1e-5 (fp32).

References are random transformers models saved as Hugging Face folders and loaded only through our
public `from_pretrained`. Each head runs in eager mode, in `tf.function` and under XLA.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import torch

import tf_longformer
from tests.conftest import PER_LAYER_WINDOWS, max_abs_diff
from tf_longformer.layers import chunk_loop, local_attention

TOL = 1e-5
MODES = ("eager", "graph", "xla")


def run(model, mode: str, **inputs):
    """Call `model` with numpy inputs in one of the three execution modes."""
    tensors = {k: tf.constant(v) for k, v in inputs.items() if k not in ("output_attentions", "output_hidden_states")}
    flags = {k: v for k, v in inputs.items() if k in ("output_attentions", "output_hidden_states")}

    def call(t):
        return model(**t, **flags)

    if mode == "graph":
        call = tf.function(call)
    elif mode == "xla":
        call = tf.function(call, jit_compile=True)
    return call(tensors)


def torch_run(model, **inputs):
    with torch.no_grad():
        return model(**{k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in inputs.items()})


def assert_matches(ours, ref, mode: str) -> None:
    """Compare every field the reference returned (and check we return no extra ones)."""
    ref_globals = ref["global_attentions"] if "global_attentions" in ref.keys() else None
    x = 0 if ref_globals is None else ref_globals[0].shape[-1]  # global tokens in the batch
    for field, ref_value in ref.items():
        assert field in ours.keys(), field
        value = ours[field]
        if field in ("hidden_states", "attentions", "global_attentions"):
            assert len(value) == len(ref_value), field
            for layer, (a, r) in enumerate(zip(value, ref_value, strict=True)):
                a = np.asarray(a)
                if mode == "xla" and field != "hidden_states":
                    a = strip_static_global_columns(a, r.shape[-1], x, field)
                assert max_abs_diff(a, r) <= TOL, f"{field}[{layer}] differs by {max_abs_diff(a, r)}"
        else:
            diff = max_abs_diff(value, ref_value)
            assert diff <= TOL, f"{field} differs by {diff}"
    if ref_globals is None and "global_attentions" in ours.keys():
        # no global token: eager returns None as transformers; graphs return all-zero columns
        assert mode != "eager"
        for g in ours["global_attentions"]:
            g = np.asarray(g)
            assert g.shape[-1] == 0 if mode == "graph" else not g.any()


def strip_static_global_columns(ours: np.ndarray, ref_width: int, x: int, field: str) -> np.ndarray:
    """Under XLA the global columns are padded to the static bound: check the padding is zero, drop it."""
    if field == "global_attentions":
        assert not ours[..., x:].any()
        return ours[..., :x]
    bound = ours.shape[-1] - (ref_width - x)  # local attentions: bound + window + 1 columns
    assert not ours[..., x:bound].any()
    return np.concatenate([ours[..., :x], ours[..., bound:]], axis=-1)


# --- inputs ------------------------------------------------------------------------------------------

def padded_batch(seed: int = 0, seq_len: int = 13):
    """3 rows with different padding; 3 / 1 / 0 global tokens, plus a global flag inside padding."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(3, 60, size=(3, seq_len))
    mask = np.ones_like(ids)
    mask[1, seq_len - 3:] = 0
    mask[2, 5:] = 0
    ids[mask == 0] = 1
    ids[:, 0] = 0
    glob = np.zeros_like(ids)
    glob[0, [0, 3, 7]] = 1
    glob[1, 0] = 1
    glob[2, seq_len - 2] = 1  # inside padding: must have no effect
    return {"input_ids": ids, "attention_mask": mask, "global_attention_mask": glob}


def qa_batch(seed: int = 0):
    """`<s> q </s></s> context </s>` rows with 3 separators each, padded differently."""
    rng = np.random.default_rng(seed)
    rows = []
    for q_len, c_len in ((3, 7), (2, 4)):
        row = [0, *rng.integers(3, 60, q_len), 2, 2, *rng.integers(3, 60, c_len), 2]
        rows.append(row)
    width = max(len(r) for r in rows)
    ids = np.full((len(rows), width), 1)
    mask = np.zeros_like(ids)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
        mask[i, : len(row)] = 1
    return {"input_ids": ids, "attention_mask": mask}


def mc_batch(seed: int = 0):
    rng = np.random.default_rng(seed)
    ids = np.ones((2, 3, 11), dtype=np.int64)
    mask = np.zeros_like(ids)
    for b in range(2):
        for c in range(3):
            length = 9 + (b + c) % 3
            row = [0, *rng.integers(3, 60, 3), 2, 2, *rng.integers(3, 60, length - 7), 2]
            ids[b, c, :length] = row
            mask[b, c, :length] = 1
    return {"input_ids": ids, "attention_mask": mask}


# --- the tests ---------------------------------------------------------------------------------------

def _load(name, folder):
    return getattr(tf_longformer, name).from_pretrained(folder)


def check(model, ref_model, mode, tf_inputs, torch_inputs=None):
    ours = run(model, mode, **tf_inputs, output_attentions=True, output_hidden_states=True)
    ref = torch_run(ref_model, **(torch_inputs or tf_inputs), output_attentions=True, output_hidden_states=True)
    assert_matches(ours, ref, mode)


@pytest.mark.parametrize("mode", MODES)
def test_base_model_padding_and_mixed_global_counts(reference_factory, mode):
    ref_model, folder = reference_factory("TFLongformerModel")
    check(_load("TFLongformerModel", folder), ref_model, mode, padded_batch())


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("scenario", ["no_global", "all_global", "inputs_embeds", "window_multiple", "one_token"])
def test_base_model_scenarios(reference_factory, mode, scenario):
    ref_model, folder = reference_factory("TFLongformerModel")
    model = _load("TFLongformerModel", folder)
    batch = padded_batch(seed=1, seq_len=16 if scenario == "window_multiple" else 13)
    torch_inputs = None
    if scenario == "no_global":
        batch.pop("global_attention_mask")
    elif scenario == "all_global":
        batch["global_attention_mask"] = np.ones_like(batch["input_ids"])
    elif scenario == "inputs_embeds":
        ids = batch.pop("input_ids")
        embeds = ref_model.embeddings.word_embeddings.weight.detach().numpy()[ids] + 0.05
        batch["inputs_embeds"] = embeds.astype(np.float32)
    elif scenario == "one_token":
        batch = {"input_ids": batch["input_ids"][:1, :1], "global_attention_mask": np.ones((1, 1), np.int64)}
    check(model, ref_model, mode, batch, torch_inputs)


@pytest.mark.parametrize("mode", MODES)
def test_block_layouts(reference_factory, mode):
    """Windows [6, 12]: half-windows 3 (odd, blocks of 3 queries seeing one block on each side) and 6
    (blocks of 3 seeing two on each side); every output, attentions included, as the reference."""
    ref_model, folder = reference_factory("TFLongformerModel", attention_window=[6, 12, 6])
    check(_load("TFLongformerModel", folder), ref_model, mode, padded_batch(seed=6, seq_len=17))


@pytest.mark.parametrize("mode", MODES)
def test_masked_lm(reference_factory, mode):
    ref_model, folder = reference_factory("TFLongformerForMaskedLM")
    batch = padded_batch(seed=2)
    labels = np.full_like(batch["input_ids"], -100)
    labels[0, [2, 5]] = [7, 9]
    labels[1, 4] = 11
    check(_load("TFLongformerForMaskedLM", folder), ref_model, mode, {**batch, "labels": labels})


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("problem", ["single_label_classification", "regression", "multi_label_classification",
                                     "default_global"])
def test_sequence_classification(reference_factory, mode, problem):
    num_labels = {"regression": 1, "multi_label_classification": 4}.get(problem, 3)
    ref_model, folder = reference_factory("TFLongformerForSequenceClassification", num_labels=num_labels)
    batch = padded_batch(seed=3)
    if problem == "default_global":
        batch.pop("global_attention_mask")  # CLS gets global attention, as in transformers
        batch["labels"] = np.array([0, 2, 1])
    elif problem == "regression":
        batch["labels"] = np.array([0.5, -1.0, 2.0], np.float32)
    elif problem == "multi_label_classification":
        batch["labels"] = np.array([[0, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1]], np.float32)
    else:
        batch["labels"] = np.array([0, 2, 1])
    check(_load("TFLongformerForSequenceClassification", folder), ref_model, mode, batch)


@pytest.mark.parametrize("mode", MODES)
def test_token_classification(reference_factory, mode):
    ref_model, folder = reference_factory("TFLongformerForTokenClassification", num_labels=5)
    batch = padded_batch(seed=4)
    labels = np.random.default_rng(0).integers(0, 5, batch["input_ids"].shape)
    labels[batch["attention_mask"] == 0] = -100
    check(_load("TFLongformerForTokenClassification", folder), ref_model, mode, {**batch, "labels": labels})


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("global_mask", ["default_question", "explicit"])
def test_question_answering(reference_factory, mode, global_mask):
    ref_model, folder = reference_factory("TFLongformerForQuestionAnswering")
    batch = qa_batch()
    if global_mask == "explicit":
        glob = np.zeros_like(batch["input_ids"])
        glob[:, [0, 2]] = 1
        batch["global_attention_mask"] = glob
    # an out-of-range end position is clamped and ignored, as in transformers
    batch["start_positions"] = np.array([6, 5])
    batch["end_positions"] = np.array([8, 40])
    check(_load("TFLongformerForQuestionAnswering", folder), ref_model, mode, batch)


@pytest.mark.parametrize("mode", MODES)
def test_multiple_choice(reference_factory, mode):
    ref_model, folder = reference_factory("TFLongformerForMultipleChoice")
    batch = {**mc_batch(), "labels": np.array([2, 0])}
    check(_load("TFLongformerForMultipleChoice", folder), ref_model, mode, batch)


@pytest.mark.parametrize("mode", ("graph", "xla", "graph_dynamic"))  # eager mode never chunks
@pytest.mark.parametrize("chunks", [
    {"attention_query_chunk": 10}, {"dense_row_chunk": 4}, {"attention_query_chunk": 4, "dense_row_chunk": 10},
], ids=lambda c: "-".join(f"{k.split('_')[0]}{v}" for k, v in c.items()))
def test_rows_in_chunks(reference_factory, mode, chunks):
    """Traced inference (no attention probabilities requested) runs the local rows in a loop over chunks of
    query blocks and the dense layers in a loop over chunks of rows: same outputs as the reference. The 24
    padded rows are 12 query blocks of 2 in the first layer (half-window 4) and 24 of 1 in the second:
    query chunk 4 is 2 and 4 blocks, 10 makes the last chunk overlap the one before it in both layers. They
    are 6 dense chunks of 4, or 3 of 10 with the last overlapping. `graph_dynamic` traces with unknown
    shapes (the SavedModel's case), which chooses between the loop and a single pass at run time. Per-layer
    windows (PER_LAYER_WINDOWS) give both block layouts; the real one-window shape is in
    test_every_head_in_its_default_traced_path."""
    ref_model, folder = reference_factory("TFLongformerModel", **PER_LAYER_WINDOWS)
    model = tf_longformer.TFLongformerModel.from_pretrained(folder, **chunks)
    batch = padded_batch(seed=2, seq_len=21)
    ref = torch_run(ref_model, **batch)
    tensors = {k: tf.constant(v) for k, v in batch.items()}

    def call(input_ids, attention_mask, global_attention_mask):
        out = model(input_ids=input_ids, attention_mask=attention_mask, global_attention_mask=global_attention_mask)
        return out.last_hidden_state, out.pooler_output

    spec = [tf.TensorSpec([None, None], tf.int64)] * 3 if mode == "graph_dynamic" else None
    fn = tf.function(call, jit_compile=mode == "xla", input_signature=spec)
    hidden, pooled = fn(**tensors)
    graph_def = fn.get_concrete_function(**tensors).graph.as_graph_def()
    op_types = {node.op for node in graph_def.node}
    op_types |= {node.op for f in graph_def.library.function for node in f.node_def}  # cond branches
    assert op_types & {"While", "StatelessWhile"}, "the chunk loop is not in the graph"
    assert max_abs_diff(hidden, ref.last_hidden_state) <= TOL
    assert max_abs_diff(pooled, ref.pooler_output) <= TOL


@pytest.mark.parametrize("chunks", [{"attention_query_chunk": 64, "dense_row_chunk": 64},
                                    {"attention_query_chunk": 4, "dense_row_chunk": 10}],
                         ids=["longer-than-input", "shorter-than-input"])
def test_xla_with_unknown_length_runs_the_chunk_loops(reference_factory, chunks, monkeypatch):
    """XLA traced for unknown shapes (a SavedModel exported with `jit_compile=True`): the chunk loops run for
    every length, inputs shorter than a chunk padded to one, with no run-time choice between the loop and a
    single pass (XLA would compile and run both). One program, two lengths, the reference's numbers."""
    ref_model, folder = reference_factory("TFLongformerModel", **PER_LAYER_WINDOWS)
    model = tf_longformer.TFLongformerModel.from_pretrained(folder, **chunks)
    spec = [tf.TensorSpec([None, None], tf.int64)] * 3
    looped = []  # per chunked computation traced: whether it runs as a loop whatever the length

    def recording(map_chunks):
        def wrapper(*args, **kwargs):
            looped.append(kwargs.get("length") is not None)
            return map_chunks(*args, **kwargs)
        return wrapper

    for module in (chunk_loop, local_attention):
        monkeypatch.setattr(module, "map_chunks", recording(chunk_loop.map_chunks))

    @tf.function(jit_compile=True, input_signature=spec)
    def fn(input_ids, attention_mask, global_attention_mask):
        out = model(input_ids=input_ids, attention_mask=attention_mask, global_attention_mask=global_attention_mask)
        return out.last_hidden_state, out.pooler_output

    for seq_len in (21, 9):
        batch = padded_batch(seed=2, seq_len=seq_len)
        ref = torch_run(ref_model, **batch)
        hidden, pooled = fn(**{k: tf.constant(v) for k, v in batch.items()})
        assert max_abs_diff(hidden, ref.last_hidden_state) <= TOL, seq_len
        assert max_abs_diff(pooled, ref.pooler_output) <= TOL, seq_len
    assert not {"If", "StatelessIf"} & set(_op_types(fn, {})), "a run-time choice between loop and single pass"
    assert sorted(set(looped)) == [True], f"a chunk loop did not run: {looped}"


def _op_types(fn, tensors) -> list[str]:
    """Every op of a traced function, the bodies of its loops and branches included."""
    graph_def = fn.get_concrete_function(**tensors).graph.as_graph_def()
    return [node.op for node in graph_def.node] + [n.op for f in graph_def.library.function for n in f.node_def]


@pytest.mark.parametrize("mode", ("graph", "xla", "graph_dynamic"))
@pytest.mark.parametrize("cls_name", ("TFLongformerModel", "TFLongformerForQuestionAnswering"))
def test_identical_layers_run_as_one_loop(reference_factory, mode, cls_name):
    """Traced inference runs layers with the same window as one while loop that switches weights: same
    numbers as the reference, and the program holds one copy of the layer instead of three. Small chunks put
    the query-chunk and dense-row loops inside the layer loop, as at the base shape's long lengths."""
    ref_model, folder = reference_factory(cls_name)
    model = getattr(tf_longformer, cls_name).from_pretrained(folder, attention_query_chunk=8, dense_row_chunk=8)
    batch = padded_batch(seed=4, seq_len=19) if cls_name == "TFLongformerModel" else qa_batch(seed=4)
    ref = torch_run(ref_model, **batch)
    tensors = {k: tf.constant(v) for k, v in batch.items()}
    spec = {k: tf.TensorSpec([None, None], tf.int64) for k in tensors} if mode == "graph_dynamic" else None

    def call(inputs):
        return dict(model(**inputs))

    fn = tf.function(call, jit_compile=mode == "xla", input_signature=None if spec is None else [spec])
    out = fn(tensors)
    for field in ("last_hidden_state", "pooler_output", "start_logits", "end_logits"):
        if field in ref.keys():
            assert max_abs_diff(out[field], ref[field]) <= TOL, field
    op_types = _op_types(fn, {"inputs": tensors})  # the traced program itself (no second trace)
    assert {"Case", "While"} <= set(op_types), "layer weights are not switched in a loop"
    if mode == "graph":  # counted on the plain traced program (under XLA each branch of `global_tiers` has one)
        unrolled = _op_types(tf.function(lambda inputs: dict(model(**inputs, output_hidden_states=True))),
                             {"inputs": tensors})
        # the global rows' softmax (one per form of the global rows) is in the program once, not once a layer
        assert unrolled.count("Softmax") == 3 * op_types.count("Softmax") > 0


def test_runs_of_identical_layers():
    from tf_longformer.layers.layer_loop import runs_of_identical_layers

    config = tf_longformer.LongformerConfig(**{**_tiny(), "num_hidden_layers": 5, "attention_window": [8, 8, 4, 8, 8]})
    layers = tf_longformer.TFLongformerModel(config).longformer.encoder_layers
    assert [len(run) for run in runs_of_identical_layers(layers)] == [2, 1, 2]


def test_windows_that_do_not_divide_each_other():
    """[6, 8, 4]: transformers cannot run it; compare with a dense numpy reference of the same rule."""
    from tests.dense_reference import dense_longformer_forward

    config = tf_longformer.LongformerConfig(**{**_tiny(), "attention_window": [6, 8, 4]})
    model = tf_longformer.TFLongformerModel(config)
    batch = padded_batch(seed=5, seq_len=11)
    for mode in MODES:
        ours = run(model, mode, **batch)
        expected = dense_longformer_forward(model, config, **batch)
        assert max_abs_diff(ours.last_hidden_state, expected) <= TOL, mode


def _tiny():
    from tests.conftest import TINY_CONFIG

    return dict(TINY_CONFIG)


DEFAULT_PATH_CASES = {  # class -> (config overrides, inputs)
    "TFLongformerModel": ({}, lambda: padded_batch(seed=8, seq_len=21)),
    "TFLongformerForMaskedLM": ({}, lambda: padded_batch(seed=9, seq_len=21)),
    "TFLongformerForSequenceClassification": ({"num_labels": 3}, lambda: _without_global(padded_batch(seed=10, seq_len=21))),
    "TFLongformerForTokenClassification": ({"num_labels": 5}, lambda: padded_batch(seed=11, seq_len=21)),
    "TFLongformerForQuestionAnswering": ({}, lambda: qa_batch(seed=12)),
    "TFLongformerForMultipleChoice": ({}, lambda: mc_batch(seed=13)),
}


def _without_global(batch):
    batch.pop("global_attention_mask")  # the head's default: <s> is global
    return batch


@pytest.mark.parametrize("mode", ("predict", "graph", "xla"))
@pytest.mark.parametrize("cls_name", list(DEFAULT_PATH_CASES))
def test_every_head_in_its_default_traced_path(reference_factory, cls_name, mode):
    """What users run: `model.predict`, a `tf.function`, XLA, with no attentions or hidden states requested, so
    the layers run as one loop and (small chunks here, 512 by default) the local rows and dense layers in chunk
    loops. Every output equals the reference's, on the real checkpoint's shape (one window, dropout 0.1)."""
    overrides, make_batch = DEFAULT_PATH_CASES[cls_name]
    ref_model, folder = reference_factory(cls_name, **overrides)
    model = getattr(tf_longformer, cls_name).from_pretrained(folder, attention_query_chunk=8, dense_row_chunk=8)
    batch = make_batch()
    ref = torch_run(ref_model, **batch)
    tensors = {k: tf.constant(v) for k, v in batch.items()}
    if mode == "predict":
        out = model.predict(batch, batch_size=len(batch["input_ids"]), verbose=0)
        assert set(out) == set(ref.keys())
    else:
        def call(inputs):
            return dict(model(**inputs))

        fn = tf.function(call, jit_compile=mode == "xla")
        out = fn(tensors)
        assert {"Case", "While"} <= set(_op_types(fn, {"inputs": tensors})), "no layer loop"
    for field in ref.keys():
        assert max_abs_diff(out[field], ref[field]) <= TOL, f"{field} differs by {max_abs_diff(out[field], ref[field])}"
