"""Convert an exported SavedModel signature to ONNX with tf2onnx (optional: `pip install tf2onnx onnxruntime`).

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
over `...` instead (and keeps tf2onnx's einsum decomposition off, which rejects `...` equations).

The request checks of the SavedModel are TensorFlow `Assert` ops, which tf2onnx drops: in ONNX an
example with out-of-range ids or too many global tokens yields NaN rows (the model poisons them), but
shape and mask-value checks are gone, so validate requests before calling the ONNX model.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np

from .signatures import DEFAULT_SIGNATURE

DEFAULT_OPSET = 17


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


def _all_nodes(graph):
    """Every node of an ONNX graph, those of `If` / `Loop` bodies included."""
    for node in graph.node:
        yield node
        for attr in node.attribute:
            for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                yield from _all_nodes(sub)


@contextlib.contextmanager
def _without_einsum_optimizer():
    """Skip tf2onnx's einsum decomposition: it rejects the `...` equations above (ONNX Einsum runs them)."""
    import tf2onnx.optimizer

    optimizers = getattr(tf2onnx.optimizer, "_optimizers", {})
    removed = optimizers.pop("einsum_optimizer", None)
    try:
        yield
    finally:
        if removed is not None:
            optimizers["einsum_optimizer"] = removed


def export_onnx(saved_model_dir: str | os.PathLike, output_path: str | os.PathLike,
                signature: str = DEFAULT_SIGNATURE, opset: int = DEFAULT_OPSET) -> str:
    """Convert one signature of an exported SavedModel (`OUT/<version>`) to an ONNX file.

    Inputs and outputs keep the signature's names and dynamic axes.

    Args:
        saved_model_dir: a version folder written by `export_saved_model`.
        output_path: the `.onnx` file to write (atomically).
        signature: `serving_default` or `with_global_attention`.
        opset: ONNX opset (17 by default).

    Returns:
        `output_path`.

    Raises:
        ImportError: tf2onnx or onnx is not installed.
        RuntimeError: the graph holds ops that tf2onnx could not convert (listed).

    Example:
        >>> export_onnx("/models/longformer_qa/1", "longformer_qa.onnx")  # doctest: +SKIP
    """
    import onnx
    import tensorflow as tf
    import tf2onnx

    from converters.atomic import atomic_path

    from .saved_model import _umask

    loaded = tf.saved_model.load(os.fspath(saved_model_dir))
    if signature not in loaded.signatures:
        raise ValueError(f"{saved_model_dir} has no signature {signature!r}; it has {sorted(loaded.signatures)}.")
    fn = loaded.signatures[signature]
    specs = fn.structured_input_signature[1]
    names = sorted(specs)

    def call(*tensors):
        return fn(**dict(zip(names, tensors, strict=True)))

    input_signature = [tf.TensorSpec(specs[n].shape, specs[n].dtype, name=n) for n in names]
    handlers = {
        "Erfc": (_erfc_as_one_minus_erf, []),
        "PadV2": (_pad_v2_with_matching_value, []),
        **{op: (_matmul_keeping_transposes, []) for op in ("MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3")},
    }
    with _without_einsum_optimizer():
        model_proto, _ = tf2onnx.convert.from_function(
            tf.function(call, input_signature=input_signature), input_signature=input_signature, opset=opset,
            custom_op_handlers=handlers,
        )
    known = {schema.name for schema in onnx.defs.get_all_schemas()}
    unsupported = sorted({n.op_type for n in _all_nodes(model_proto.graph) if n.domain in ("", "ai.onnx")} - known)
    if unsupported:
        raise RuntimeError(f"tf2onnx {tf2onnx.__version__} could not convert TensorFlow op(s) {unsupported}.")
    with atomic_path(output_path) as tmp:
        onnx.save(model_proto, tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; a model server may run as another user
    return os.fspath(output_path)
