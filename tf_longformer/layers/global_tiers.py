"""Under XLA, how the global part of attention runs: a branch chosen at run time from the batch's count.

XLA compiles static shapes, so the global part of a layer (the global tokens' columns in every token's
softmax, and the global tokens' own rows over every token) cannot take the batch's number of global
tokens as its width. It runs instead on *chunks* of global slots, as many chunks as the batch's largest
count needs (a loop whose trip count is decided at run time), in one of a few branches of
`tf.switch_case` (only the chosen one runs):

| largest count in the batch | branch |
|---|---|
| 0 | none: the window part alone |
| 1 | one slot |
| 2 .. `FEW` | one chunk of `FEW` slots, global rows in factored form |
| `FEW` + 1 .. `factored_limit` | chunks of `2 * FEW` slots, global rows in factored form |
| more, up to every token | chunks of `MANY` slots, global rows through the `*_global` projections |

`factored_limit` is the largest count for which the factored global rows cost less than projecting every
token (`G * heads < hidden`: 63 for longformer-base). So one global token costs what a program compiled
for exactly one costs, 16 one chunk of 16, 32 one chunk of 32 (as two chunks of 16 they cost ~5 % more
at 4096 tokens, same-process A/B), and any count up to every token works, with buffers of
one chunk whatever the count. A batch's count never changes the program: nothing is traced or compiled
again. Each branch is one more copy of the global part in the program (compile time), hence few branches.

Only the global part is switched: the projections, the window part of the local rows and the feed-forward
block are computed once, outside. The branches read no variables (their values come in as tensors), and
the switch's gradient is a switch of the branches' own backward passes, each recomputing its forward pass
(`layers/global_chunks.py` recomputes the chunks there): nothing crosses the switch but its inputs and
output, so the program keeps no activation of a branch not taken, and a program traced for unknown shapes
is compiled once, not once per batch.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import NamedTuple

import keras
import tensorflow as tf

from .global_chunks import SlotChunks, traced_only_for_gradient
from .global_slots import GlobalSlots

FEW = 16  # slots per chunk while the global rows are factored
MANY = 64  # slots per chunk beyond


class Branch(NamedTuple):
    """One way of running the global part.

    Attributes:
        most: the largest count it handles (`None`: every token).
        chunk: slots per chunk (0: no global part at all).
        factored: whether the global rows take the factored form.
    """

    most: int | None
    chunk: int
    factored: bool


def branches(factored_limit: int) -> list[Branch]:
    """The branches, by increasing count, for a model whose factored global rows pay up to `factored_limit`
    global tokens (0: never, e.g. quantized projections)."""
    out = [Branch(0, 0, False), Branch(1, 1, factored_limit >= 1)]
    if factored_limit >= 2:
        out.append(Branch(min(FEW, factored_limit), min(FEW, factored_limit), True))
    if factored_limit > FEW:  # e.g. a long question: 32 tokens as one chunk of 32, not two of 16
        out.append(Branch(factored_limit, min(2 * FEW, factored_limit), True))
    return out + [Branch(None, MANY, False)]


def run_branches(slots: GlobalSlots, factored_limit: int,
                 branch_fn: Callable[[Branch], Callable[..., tf.Tensor]], inputs: Sequence[tf.Tensor],
                 variables: Sequence[keras.Variable], seed_generator=None, training: bool = False) -> tf.Tensor:
    """Run the branch for the batch's largest count.

    Args:
        slots: the batch's slots (under XLA: one per token).
        factored_limit: see `branches`.
        branch_fn: `branch` → the branch's function `(SlotChunks, *inputs) -> output`; it must use no
            tensor but its arguments.
        inputs: every tensor the branches use besides the slots.
        variables: the variables the branches read. They are read here, once, and each branch sees their
            values (`keras.StatelessScope`): XLA cannot differentiate a switch whose branches read variables.
        seed_generator: the `keras.random.SeedGenerator` of the branches' dropout; in training they draw
            from a stream of their own, seeded here.
        training: whether dropout is on.

    Returns:
        The chosen branch's output.
    """
    values = [tf.convert_to_tensor(v.value) for v in variables]
    seed = None
    if training and seed_generator is not None:
        seed = seed_generator.next()  # the chunks draw from (seed[1] * 65536 + chunk, seed[0] + 2**20 + i)
        seed = (seed_generator.state, tf.stack([seed[1], seed[0] + 2**20]))
    tensors = [*inputs, *slots, *values, *([] if seed is None else [seed[1]])]
    float_at = [i for i, t in enumerate(tensors) if t.dtype.is_floating]

    def with_floats(floats: Sequence[tf.Tensor]) -> list[tf.Tensor]:
        full = list(tensors)
        for i, tensor in zip(float_at, floats, strict=True):
            full[i] = tensor
        return full

    def branch(b: Branch, fn: Callable[..., tf.Tensor]):
        def run(given: Sequence[tf.Tensor]) -> tf.Tensor:
            # the branch's own copies of its inputs: nothing of the graph around the switch is used inside
            graph = tf.compat.v1.get_default_graph()
            own = [graph.capture(t) for t in given]
            own_inputs = own[:len(inputs)]
            own_slots = GlobalSlots(*own[len(inputs):len(inputs) + len(slots)])
            own_values = own[len(inputs) + len(slots):len(inputs) + len(slots) + len(values)]
            own_seed = None if seed is None else (seed[0], own[-1])
            mapping = list(zip(variables, own_values, strict=True))
            with keras.StatelessScope(state_mapping=mapping + ([] if own_seed is None else [own_seed])):
                chunks = SlotChunks(own_slots, b.chunk, b.most, mapping, own_seed)
                return fn(chunks, *own_inputs)
        return run

    chosen = branches(factored_limit)
    runs = [branch(b, branch_fn(b)) for b in chosen]
    # the first branch whose `most` holds the largest count
    limits = tf.constant([b.most for b in chosen[:-1]], tf.int32)
    index = tf.reduce_sum(tf.cast(limits < slots.largest_count(), tf.int32))

    # The gradient is a switch too: the chosen branch's vector-Jacobian product, its forward pass recomputed
    # inside it. TensorFlow's own gradient of a switch would carry every branch's intermediates out of the
    # switch; XLA sizes those of unknown shape from the values of the inputs, so a program whose length or
    # batch is unknown at trace time (`fit`, a SavedModel signature) would be compiled again for every batch.
    @tf.custom_gradient
    def switched(*floats):
        full = with_floats(floats)
        out = tf.switch_case(index, [functools.partial(run, full) for run in runs])

        def grad(d_out):
            def vjp(run):
                def backward():
                    graph = tf.compat.v1.get_default_graph()
                    own = [graph.capture(f) for f in floats]
                    with tf.GradientTape() as tape:
                        tape.watch(own)
                        with traced_only_for_gradient():  # no dead forward loop of the chunks
                            result = run(with_floats(own))
                    return tape.gradient(result, own, output_gradients=graph.capture(d_out),
                                         unconnected_gradients=tf.UnconnectedGradients.ZERO)
                return backward
            return tf.switch_case(index, [vjp(run) for run in runs])

        return out, grad

    return switched(*(tensors[i] for i in float_at))
