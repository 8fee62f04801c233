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
| 2 .. `factored_limit` | chunks of `FEW` slots, global rows in factored form |
| more, up to every token | chunks of `MANY` slots, global rows through the `*_global` projections |

`factored_limit` is the largest count for which the factored global rows cost less than projecting every
token (`G * heads < hidden`: 63 for longformer-base). So one global token costs what a program compiled
for exactly one costs, 32 cost two chunks of 16, and any count up to every token works, with buffers of
one chunk whatever the count. A batch's count never changes the program: nothing is traced or compiled
again. Each branch is one more copy of the global part in the program (compile time), hence few branches.

Only the global part is switched: the projections, the window part of the local rows and the feed-forward
block are computed once, outside. For XLA's gradient of a switch the branches read no variables (their
values come in as tensors) and keep nothing for the backward pass (`layers/global_chunks.py` recomputes
the chunks there): that gradient keeps the activations of every branch, taken or not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import keras
import tensorflow as tf

from .global_attention import GlobalSlots
from .layers.global_chunks import SlotChunks

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
        out.append(Branch(factored_limit, min(FEW, factored_limit), True))
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

    def branch(b: Branch, fn: Callable[..., tf.Tensor]):
        def run():
            # the branch's own inputs: its gradient must refer to no tensor of the graph around the switch
            graph = tf.compat.v1.get_default_graph()
            own = [graph.capture(t) for t in tensors]
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
    # the first branch whose `most` holds the largest count
    limits = tf.constant([b.most for b in chosen[:-1]], tf.int32)
    index = tf.reduce_sum(tf.cast(limits < slots.largest_count(), tf.int32))
    return tf.switch_case(index, [branch(b, branch_fn(b)) for b in chosen])
