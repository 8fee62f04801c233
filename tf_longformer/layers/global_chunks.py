"""The global part of attention a chunk of global slots at a time, as many chunks as the batch needs.

Under XLA (`global_tiers.py`) the global tokens are taken in chunks of `size` slots: for each chunk, every
row's softmax gets the chunk's global columns (a `SoftmaxPart` merged into the running one) and the chunk's
global tokens get their rows. A loop runs as many chunks as the batch's largest count needs, so a buffer is
one chunk wide whatever the count.

The backward pass is written out (as flash attention's): it keeps nothing of the chunks and recomputes each
one in turn. Keeping them instead (XLA's gradient of a loop) would cost a buffer per chunk the batch *could*
need, i.e. memory quadratic in the length for every batch. For the merged output `O = sum_c o_c * s_c`
with shares `s_c = exp(lse_c - L)` and `L` the log of the row's total, the gradient of a chunk's inputs is
that of

    J_c = <dO, o_c * s_c> - <D * s_c, lse_c>,   D = rowsum(dO * O)

with `L`, `D` and the second `s_c` held fixed (the second term is the path through `L`); the window part,
an input, gets `dO * s_w` and `(rowsum(dO * o_w) - D) * s_w`. Dropout draws from a seed per chunk, so the
recomputation sees the forward pass's masks.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator, Sequence

import keras
import tensorflow as tf

from .chunk_loop import slice_chunk
from .global_slots import GlobalSlots
from .shapes import dims
from .softmax_parts import SoftmaxPart, merge

_ONLY_FOR_GRADIENT = contextvars.ContextVar("tf_longformer_chunks_only_for_gradient", default=False)


@contextlib.contextmanager
def traced_only_for_gradient() -> Iterator[None]:
    """Within this context, `SlotChunks.attend` traces no forward loop: it returns zeros shaped like its
    outputs, with its gradient unchanged.

    For a forward pass traced only to be differentiated, whose output values nothing reads (the backward
    branches of `global_tiers.run_branches`): `attend`'s gradient recomputes the chunks itself, and what the
    callers do with its outputs (reshapes, gathers, `tf.where`) has gradients that do not read them. The loop
    would be dead code in the program, traced for nothing.
    """
    token = _ONLY_FOR_GRADIENT.set(True)
    try:
        yield
    finally:
        _ONLY_FOR_GRADIENT.reset(token)


class SlotChunks:
    """The first slots of a batch in chunks (the last padded with invalid slots).

    Args:
        slots: the batch's slots.
        size: slots per chunk (0: no global part).
        most: the largest count to hold (None: all the slots).
        state: `(variable, value)` pairs: the chunk functions see the variables as these values (the float ones
            are differentiated).
        seed: `(seed variable, base seed)` for dropout in the chunk functions, or None.
    """

    def __init__(self, slots: GlobalSlots, size: int, most: int | None, state: Sequence = (), seed=None) -> None:
        self.size = size
        self.state = list(state)
        self.seed = seed
        if not size:
            return
        width = slots.num_slots if most is None else -(-most // size) * size
        slots = slots.first(width)
        pad = (-slots.num_slots) % size
        self.slots = slots._replace(positions=tf.pad(slots.positions, [[0, 0], [0, pad]]),
                                    valid=tf.pad(slots.valid, [[0, 0], [0, pad]]))
        self.max_chunks = (slots.num_slots + pad) // size
        self.num_chunks = (slots.largest_count() + size - 1) // size

    def chunk(self, i) -> GlobalSlots:
        """Slots `i * size .. (i + 1) * size`."""
        return self.slots._replace(positions=slice_chunk(self.slots.positions, i * self.size, self.size),
                                   valid=slice_chunk(self.slots.valid, i * self.size, self.size))

    def _loop(self, body: Callable, state: list):
        """`state = body(i, state)` for every chunk the batch needs (straight code when there is one)."""
        if isinstance(self.max_chunks, int) and self.max_chunks == 1:
            return body(tf.constant(0), state)
        _, state = tf.while_loop(lambda i, _: i < self.num_chunks, lambda i, s: (i + 1, body(i, s)),
                                 [tf.constant(0), state], maximum_iterations=self.max_chunks)
        return state

    def attend(self, window: SoftmaxPart, inputs: Sequence[tf.Tensor], columns: Callable[..., SoftmaxPart],
               rows: Callable[..., tf.Tensor], row_shape: Sequence[int | None]):
        """The window part merged with every chunk's global columns, and every chunk's global rows.

        Args:
            window: the window part of every row's softmax.
            inputs: the float tensors `columns` and `rows` differentiate (they may capture others).
            columns: `(chunk, *inputs)` → the chunk's `SoftmaxPart` of every row.
            rows: `(chunk, *inputs)` → the chunk's global rows `(batch, size, ...)`.
            row_shape: the static shape of one `rows` output.

        Returns:
            `(out, table)`: the merged output (shaped like `window.out`) and the rows of every slot
            `(batch, slots, ...)`, zero past the chunks computed.
        """
        variables = [v for v, _ in self.state if keras.backend.is_float_dtype(v.dtype)]
        fixed = [(v, value) for v, value in self.state if not keras.backend.is_float_dtype(v.dtype)]
        count = len(inputs)
        only_for_gradient = _ONLY_FOR_GRADIENT.get()

        def run(i, weights, fn, *args):
            """`fn(chunk i, *args)` with the variables as `weights` and a dropout seed of the chunk's own."""
            mapping = list(zip(variables, weights, strict=True)) + fixed
            if self.seed is not None:
                variable, base = self.seed
                mapping.append((variable, tf.stack([base[0] * 65536 + tf.cast(i, base.dtype), base[1]])))
            with keras.StatelessScope(state_mapping=mapping):
                return fn(self.chunk(i), *args)

        def merged(ins, weights, part):
            return self._loop(lambda i, p: SoftmaxPart(*merge(p, run(i, weights, columns, *ins))), part)

        @tf.custom_gradient
        def attend_all(*floats):
            window_out, window_lse, ins, weights = floats[0], floats[1], floats[2:2 + count], floats[2 + count:]

            def body(i, state):
                part, table = state
                return [SoftmaxPart(*merge(part, run(i, weights, columns, *ins))),
                        table.write(i, run(i, weights, rows, *ins))]

            table_shape = [dims(self.slots.positions)[0], self.max_chunks * self.size, *row_shape[2:]]
            if only_for_gradient:  # the gradient below reads neither output
                out = tf.zeros_like(window_out)
                table = tf.zeros(table_shape, window_out.dtype)
            else:
                table = tf.TensorArray(window_out.dtype, size=self.max_chunks, element_shape=row_shape)
                (out, _), table = self._loop(body, [SoftmaxPart(window_out, window_lse), table])
                stacked = table.stack()  # (chunks, batch, size, ...)
                joined = tf.transpose(stacked, [1, 0] + list(range(2, stacked.shape.rank)))
                table = tf.reshape(joined, table_shape)

            def grad(d_out, d_table):
                total = merged(ins, weights, SoftmaxPart(window_out, window_lse))  # recomputed, not kept
                d_rows = tf.zeros_like(table) if d_table is None else d_table
                big_d = tf.reduce_sum(tf.cast(d_out * total.out, tf.float32), axis=-1, keepdims=True)

                def body(i, sums):
                    with tf.GradientTape() as tape:
                        tape.watch([*ins, *weights])
                        part = run(i, weights, columns, *ins)
                        share = tf.exp(part.lse - total.lse)
                        objective = (tf.reduce_sum(tf.cast(d_out * part.out * tf.cast(share, d_out.dtype), tf.float32))
                                     - tf.reduce_sum(tf.stop_gradient(big_d * share) * part.lse)
                                     + tf.reduce_sum(tf.cast(slice_chunk(d_rows, i * self.size, self.size)
                                                             * run(i, weights, rows, *ins), tf.float32)))
                    grads = tape.gradient(objective, [*ins, *weights],
                                          unconnected_gradients=tf.UnconnectedGradients.ZERO)
                    return [s + tf.convert_to_tensor(g) for s, g in zip(sums, grads, strict=True)]

                sums = self._loop(body, [tf.zeros_like(x) for x in [*ins, *weights]])
                share_w = tf.exp(window_lse - total.lse)
                d_window_out = d_out * tf.cast(share_w, d_out.dtype)
                d_window_lse = (tf.reduce_sum(tf.cast(d_out * window_out, tf.float32), -1, keepdims=True) - big_d) * share_w
                return [d_window_out, d_window_lse, *sums]

            return (out, table), grad

        weights = [value for v, value in self.state if keras.backend.is_float_dtype(v.dtype)]
        return attend_all(window.out, window.lse, *inputs, *weights)
