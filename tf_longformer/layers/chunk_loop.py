"""Run a computation over chunks of axis 1 in a `tf.while_loop`, for traced inference.

Longformer's work is local along the sequence, so the rows (or query blocks) can be processed a chunk at a
time. That bounds the buffers that grow with the length (the band scores, the feed-forward's
`intermediate_size`-wide activations) to one chunk, and under XLA on CPU it keeps each matmul's output in
the cache: a `(512, 768) x (768, 3072)` matmul runs ~15 % faster per row than the same matmul over 4096 or
16384 rows (`docs/performance.md`).

The chunks start at `0, chunk, 2 chunk, ...`; the last one starts at `total - chunk` and may overlap the one
before it, and only its entries past the previous chunk are kept, so `total` need not be a multiple of
`chunk`. The outputs are written to `TensorArray`s: under XLA a scatter into a loop-carried output is copied
whole on every iteration (quadratic in the length), and a zero-initialised output is hoisted for all layers
at once.

A length unknown when traced (a SavedModel exported with `jit_compile=True`) is decided at run time by a
`tf.cond`; under XLA both branches are compiled for the actual shape, and the chunked one cannot be for an
input shorter than a chunk. So under XLA the callers pad their inputs to at least one chunk instead
(`padded_to_one_chunk`) and the loop runs for every length, with no run-time choice; a caller that does not
pad gets the computation whole.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import tensorflow as tf

from ..xla import in_xla_context
from .shapes import dims


def slice_chunk(x: tf.Tensor, start, count: int) -> tf.Tensor:
    """Entries `start .. start + count` of axis 1 of `x`. The slice size is spelled out from the shape (no
    -1) so that XLA sees a constant size and emits one dynamic slice."""
    batch, _, *rest = dims(x)
    out = tf.slice(x, tf.stack([0, start] + [0] * len(rest)), [batch, count, *rest])
    out.set_shape(x.shape[:1].concatenate([count]).concatenate(x.shape[2:]))
    return out


def padded_to_one_chunk(tensors: Sequence[tf.Tensor], chunk: int,
                        values: Sequence = ()) -> tuple[list, tf.Tensor | None]:
    """Under XLA with a length unknown when traced, `tensors` padded on axis 1 to at least `chunk` entries
    (with `values`, default zeros) and their length before padding; else `tensors` as they are and None.

    Give the padded tensors' computation to `map_chunks` with `length=` that length: the loop then runs for
    every length and the outputs are cut back to it.
    """
    if not chunk or tensors[0].shape[1] is not None or not in_xla_context():
        return list(tensors), None
    length = tf.shape(tensors[0])[1]
    extra = tf.maximum(chunk - length, 0)
    values = list(values) or [0] * len(tensors)
    return [tf.pad(x, [[0, 0], [0, extra]] + [[0, 0]] * (x.shape.rank - 2), constant_values=value)
            for x, value in zip(tensors, values, strict=True)], length


def map_chunks(part: Callable[[tf.Tensor], Sequence[tf.Tensor]], whole: Callable[[], Sequence[tf.Tensor]],
               like: Sequence[tf.Tensor], chunk: int, *, length: tf.Tensor | None = None) -> list[tf.Tensor]:
    """Outputs of `part(start)` for every chunk, concatenated along axis 1.

    Args:
        part: `start` (int32 scalar) → the outputs for entries `start .. start + chunk` of axis 1, each
            shaped like the matching `like` tensor with `chunk` entries on axis 1.
        whole: → the same outputs for all entries at once; used when there are no more than `chunk`
            entries (decided at run time when the length is dynamic).
        like: tensors shaped (and typed) like the full outputs; axis 1 holds the entries to chunk.
        chunk: entries per chunk; 0 runs `whole` (no loop).
        length: the length before `padded_to_one_chunk` padded the inputs to at least one chunk: the loop
            runs whatever the length, with no run-time choice, and the outputs are cut to `length` entries.

    Returns:
        The outputs, shaped like `like`.

    Example:
        >>> x = tf.reshape(tf.range(10.0), (1, 10))
        >>> map_chunks(lambda s: [slice_chunk(x, s, 4) * 2], lambda: [x * 2], [x], chunk=4)[0].numpy()[0, -3:]
        array([14., 16., 18.], dtype=float32)
    """
    total = like[0].shape[1]
    if not chunk or (total is not None and total <= chunk) or (
            total is None and in_xla_context() and length is None):
        return list(whole())

    def in_chunks():
        count = tf.shape(like[0])[1]
        iterations = (count + chunk - 1) // chunk

        def body(i, arrays):
            start = tf.minimum(i * chunk, count - chunk)
            return [i + 1, [a.write(i, out) for a, out in zip(arrays, part(start), strict=True)]]

        arrays = [tf.TensorArray(x.dtype, size=iterations,
                                 element_shape=x.shape[:1].concatenate([chunk]).concatenate(x.shape[2:]))
                  for x in like]
        _, arrays = tf.while_loop(lambda i, _: i < iterations, body, [tf.constant(0), arrays],
                                  maximum_iterations=iterations)
        full = (iterations - 1) * chunk  # entries of all chunks but the last
        outputs = []
        for array, x in zip(arrays, like, strict=True):
            stacked = array.stack()  # (iterations, batch, chunk, ...); the last chunk ends at the last entry
            perm = [1, 0] + list(range(2, x.shape.rank + 1))
            batch, _, *rest = dims(x)
            leading = tf.reshape(tf.transpose(stacked[:-1], perm), [batch, full, *rest])
            out = tf.concat([leading, stacked[-1][:, chunk - (count - full):]], axis=1)
            out.set_shape(x.shape)
            outputs.append(out)
        return outputs

    if total is not None:
        return in_chunks()
    if length is not None:
        return [out[:, :length] for out in in_chunks()]
    outputs = tf.cond(tf.shape(like[0])[1] > chunk, in_chunks, lambda: list(whole()))
    for out, x in zip(outputs, like, strict=True):
        out.set_shape(x.shape)
    return outputs


def map_row_chunks(fn: Callable[..., Sequence[tf.Tensor]], inputs: Sequence[tf.Tensor], like: Sequence[tf.Tensor],
                   chunk: int) -> list[tf.Tensor]:
    """`fn(*inputs)` computed on chunks of `chunk` rows (axis 1) at a time (0: on all rows at once); `fn`
    must treat rows independently (zero rows pad a short input under XLA, see `padded_to_one_chunk`).
    `like` as in `map_chunks`."""
    padded, length = padded_to_one_chunk([*like, *inputs], chunk)
    like, inputs = padded[:len(like)], padded[len(like):]
    return map_chunks(lambda start: fn(*(slice_chunk(x, start, chunk) for x in inputs)), lambda: fn(*inputs),
                      like, chunk, length=length)


def traced_inference(training) -> bool:
    """Whether the loops of traced inference run: the chunk loops here and the loop over identical layers
    (`layer_loop.py`). They run inside `tf.function` / XLA / a SavedModel when not training: eagerly each op
    is its own call, so a loop only adds overhead, and training keeps every activation for the backward
    pass anyway (and needs dropout on the whole band)."""
    return tf.inside_function() and not training
