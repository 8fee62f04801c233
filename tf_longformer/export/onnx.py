"""Export a model to ONNX with tf2onnx (optional: `pip install tf2onnx onnxruntime`).

The ONNX graph is traced from the model with the serving signatures of the SavedModel (same inputs, outputs,
default global attention), but inside `layers_unrolled()`: the SavedModel runs a run of identical layers (one
attention window for every layer, as every public checkpoint) as one `tf.while_loop` that picks each
layer's weights with `tf.switch_case`, and tf2onnx 1.17 has no converter for TensorFlow's `Case` (it stops
with "could not convert TensorFlow op(s) ['GatherV2', 'Merge', '_SwitchN']"). That is why the ONNX file is
made from the model (or its checkpoint), not from an exported SavedModel. The chunk loops stay (they convert
to ONNX `Loop`s).

tf2onnx 1.17 has no converter for TensorFlow's `Erfc` op, which exact GELU uses
(`0.5 * x * erfc(-x / sqrt(2))`); without help it logs "Tensorflow op [...: Erfc] is not supported",
leaves the op in the graph, and onnxruntime refuses the model ("INVALID_GRAPH : This is an invalid model.
... Error No Op registered for Erfc with domain_version of 17"). We rewrite it as `1 - Erf(x)` (ONNX `Erf`), which is
exact to float32 rounding (≤ 1e-7 absolute on GELU's inputs).

tf2onnx 1.17 also converts `PadV2` of a bool tensor (the padded attention masks) into an invalid ONNX
`Pad`: it casts the data to float but not the bool pad value, and onnxruntime rejects the model ("Type
parameter (T) of Optype (Pad) bound to different types (tensor(float) and tensor(bool)"). Our `PadV2`
handler casts the pad value as well.

tf2onnx 1.17 drops the `transpose_b` of a `BatchMatMulV2` whose input rank it does not know, which is
the case inside `tf.cond` branches (the global-attention rows): onnxruntime then fails with "MatMul
dimension mismatch" or, worse, computes a wrong product. Our `MatMul` handler writes those as `Einsum`
over `...` instead (tf2onnx's einsum decomposition, which rejects `...` equations, is one of the graph
optimizers left off, below).

A 0 in the shape of an ONNX `Reshape` means "copy this dimension of the input" unless `allowzero=1`;
in TensorFlow it means 0. With no global token in the batch the global-attention tensors have a 0-sized
axis, and tf2onnx 1.17 writes TensorFlow's reshapes as they are (and its reshape optimizer rewrites computed
shapes into constants with 0 = "copy" and -1 = "infer", which cannot be inferred from an empty tensor):
onnxruntime then fails ("Input shape:{0,128}" in `query_global`). Our `Reshape` handler sets
`allowzero=1` (opset 14 and later), and the reshape optimizer stays off.

tf2onnx's graph optimizers are all off. Two break the graph (the einsum and reshape ones, above); the rest
rewrite what onnxruntime rewrites again when it loads the model (constant folding, identity, transpose and
duplicate elimination), while each of their passes rebuilds every subgraph of every layer, most of the
conversion time (figures in docs/serving.md).

The request checks of the SavedModel are TensorFlow `Assert` ops, which tf2onnx drops: in ONNX an
example with out-of-range ids or mask values yields NaN rows (the model poisons them), but shape checks
are gone, so validate requests before calling the ONNX model.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np

from .signatures import DEFAULT_SIGNATURE

DEFAULT_OPSET = 17
MIN_OPSET = 14  # `Reshape(allowzero=1)`


def _erfc_as_one_minus_erf(ctx, node, name, args):
    """tf2onnx handler: `Erfc(x)` → `1 - Erf(x)` (ONNX has `Erf` but no `Erfc`)."""
    from tf2onnx import utils

    node.type = "Erf"
    dtype = utils.map_onnx_to_numpy_type(ctx.get_dtype(node.input[0]))
    one = ctx.make_const(utils.make_name(f"{name}_one"), np.array(1, dtype=dtype))
    negated = ctx.insert_new_node_on_output("Neg", node.output[0], name=utils.make_name(f"{name}_neg"))
    ctx.insert_new_node_on_output("Add", negated.output[0], name=utils.make_name(f"{name}_one_minus"),
                                  inputs=[negated.output[0], one.output[0]])


def _pad_v2_with_matching_value(ctx, node, name, args):
    """tf2onnx handler: tf2onnx's own `Pad` conversion, then cast the pad value to the data's dtype."""
    from tf2onnx.onnx_opset.nn import Pad

    node.type = "Pad"
    Pad.version_11(ctx, node)
    if len(node.input) == 3 and ctx.get_dtype(node.input[2]) != ctx.get_dtype(node.input[0]):
        data_dtype = ctx.get_dtype(node.input[0])
        cast = ctx.insert_new_node_on_input(node, "Cast", node.input[2], to=data_dtype)
        ctx.set_dtype(cast.output[0], data_dtype)
        ctx.set_shape(cast.output[0], [])


def _matmul_keeping_transposes(ctx, node, name, args):
    """tf2onnx handler: tf2onnx's `MatMul` conversion, except where it would lose a transpose.

    tf2onnx implements `transpose_a/b` (`adj_x/y`) with a `Transpose` whose permutation needs the input's
    rank, and silently skips it when the rank is unknown, as it is inside `tf.cond` branches: the result
    is a wrong product or a shape error. There an `Einsum` over `...` swaps the last two axes without
    knowing the rank (and broadcasts the batch axes as `BatchMatMulV2` does).
    """
    from tf2onnx.onnx_opset.math import MatMul

    flags = [node.get_attr(a) for a in ("transpose_a", "adjoint_a", "adj_x", "transpose_b", "adjoint_b", "adj_y")]
    flags = [0 if f is None else f.i for f in flags]
    transpose = (sum(flags[:3]) % 2, sum(flags[3:]) % 2)
    rank_unknown = any(t and not ctx.get_shape(node.input[i]) for i, t in enumerate(transpose))
    if not rank_unknown:
        MatMul.version_10(ctx, node)
        return
    left = "...ji" if transpose[0] else "...ij"
    right = "...kj" if transpose[1] else "...jk"
    node.type = "Einsum"
    for attr in ("transpose_a", "transpose_b", "adjoint_a", "adjoint_b", "adj_x", "adj_y"):
        if node.get_attr(attr) is not None:
            del node.attr[attr]
    node.set_attr("equation", f"{left},{right}->...ik")


def _reshape_with_literal_zeros(ctx, node, name, args):
    """tf2onnx handler: tf2onnx's `Reshape` conversion with `allowzero=1`, TensorFlow's meaning of a 0."""
    from tf2onnx.onnx_opset.tensor import Reshape

    Reshape.version_5(ctx, node)
    if node.type == "Reshape":  # not removed as a no-op
        node.set_attr("allowzero", 1)


_HANDLERS = {
    "Erfc": _erfc_as_one_minus_erf,
    "PadV2": _pad_v2_with_matching_value,
    "Reshape": _reshape_with_literal_zeros,
    **dict.fromkeys(("MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3"), _matmul_keeping_transposes),
}


def _all_nodes(graph):
    """Every node of an ONNX graph, those of `If` / `Loop` bodies included."""
    for node in graph.node:
        yield node
        for attr in node.attribute:
            for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                yield from _all_nodes(sub)


@contextlib.contextmanager
def _tf2onnx_settings():
    """tf2onnx without its graph optimizers (see the module docstring); restored afterwards."""
    import tf2onnx.optimizer

    optimizers = getattr(tf2onnx.optimizer, "_optimizers", {})
    saved = dict(optimizers)  # their order matters: restored as it was
    optimizers.clear()
    try:
        yield
    finally:
        optimizers.clear()
        optimizers.update(saved)


def _is_saved_model(path) -> bool:
    return isinstance(path, (str, os.PathLike)) and os.path.isfile(os.path.join(os.fspath(path), "saved_model.pb"))


def export_onnx(model, output_path: str | os.PathLike, *, task: str | None = None,
                signature: str = DEFAULT_SIGNATURE, int_dtype="int32", opset: int = DEFAULT_OPSET,
                allow_missing_weights: bool = False) -> str:
    """Convert a model's serving signature to an ONNX file.

    The ONNX model has the signature's inputs and outputs (names, dtype, dynamic batch and length) and the
    same default global attention as the SavedModel of `export_saved_model`; it returns the task's outputs.

    Args:
        model: a `TFLongformer*` model, or anything `from_pretrained` reads (then loaded for `task`). Not
            an exported SavedModel: its layer loop cannot be converted (see the module docstring).
        output_path: the `.onnx` file to write (atomically).
        task: export task; by default the model's own (as in `export_saved_model`).
        signature: `serving_default` (the task's default global attention) or `with_global_attention`.
        int_dtype: dtype of the inputs, `int32` (default) or `int64`.
        opset: ONNX opset, at least 14 (17 by default).
        allow_missing_weights: see `load_for_export` (only used when `model` is a path).

    Returns:
        `output_path`.

    Raises:
        ImportError: tf2onnx or onnx is not installed.
        ValueError: a SavedModel folder instead of a model, an unknown signature or task, opset < 14.
        RuntimeError: the graph holds ops that tf2onnx could not convert (listed).

    Example:
        >>> export_onnx("./longformer-qa", "longformer_qa.onnx")  # doctest: +SKIP
        'longformer_qa.onnx'
    """
    import onnx
    import tensorflow as tf
    import tf2onnx

    from converters.atomic import atomic_path

    from ..layers.layer_loop import layers_unrolled
    from .saved_model import _umask, model_and_task
    from .signatures import as_int_dtype, build_signatures

    if _is_saved_model(model):
        raise ValueError(f"{os.fspath(model)} is an exported SavedModel; ONNX is converted from the model: pass "
                         "the checkpoint folder (or the model) it was exported from.")
    if opset < MIN_OPSET:
        raise ValueError(f"opset must be at least {MIN_OPSET} (Reshape with allowzero), got {opset}.")
    dtype = as_int_dtype(int_dtype)
    model, task_obj = model_and_task(model, task, allow_missing_weights)
    with layers_unrolled():
        signatures = build_signatures(model, task_obj, dtype)
    if signature not in signatures:
        raise ValueError(f"unknown signature {signature!r}; pick one of {sorted(signatures)}.")
    concrete = signatures[signature]
    specs = list(concrete.structured_input_signature[0])
    with _tf2onnx_settings():
        model_proto, _ = tf2onnx.convert.from_function(
            tf.function(concrete, input_signature=specs), input_signature=specs, opset=opset,
            custom_op_handlers={op: (handler, []) for op, handler in _HANDLERS.items()},
        )
    known = {schema.name for schema in onnx.defs.get_all_schemas()}
    unsupported = sorted({n.op_type for n in _all_nodes(model_proto.graph) if n.domain in ("", "ai.onnx")} - known)
    if unsupported:
        raise RuntimeError(f"tf2onnx {tf2onnx.__version__} could not convert TensorFlow op(s) {unsupported}.")
    with atomic_path(output_path) as tmp:
        onnx.save(model_proto, tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; a model server may run as another user
    return os.fspath(output_path)
