"""Every token global at the base shape: ours under XLA (defaults of `from_pretrained`) gives PyTorch's numbers.

    python benchmarks/all_global_parity.py             # 4096 tokens (~5 min on 2 cores)
    python benchmarks/all_global_parity.py --seq 1024  # a smoke run

A random transformers 5 PyTorch `LongformerModel` of the longformer-base shape is saved as a Hugging Face
folder and loaded with our `from_pretrained`; both run one input whose every token is global (ours
compiled with `jit_compile=True`). Prints the largest difference of the last hidden states and the time of
each forward; writes `results/all_global_parity.json`. Memory side by side: `run_forward.py`'s
all-global rows (fresh process per implementation).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np
from forward_worker import config_for, inputs

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seq", type=int, default=4096)
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    args = parser.parse_args()
    import tensorflow as tf
    import torch
    import transformers

    import tf_longformer
    from converters.atomic import atomic_write_text

    torch.manual_seed(0)
    reference = transformers.LongformerModel(transformers.LongformerConfig(**config_for(args.seq))).eval()
    ids, mask, _ = inputs(args.seq, 0)
    glob = np.ones_like(ids)
    with tempfile.TemporaryDirectory() as folder:
        reference.save_pretrained(folder)
        ours = tf_longformer.TFLongformerModel.from_pretrained(folder)
    forward = tf.function(lambda i, m, g: ours(input_ids=i, attention_mask=m, global_attention_mask=g)
                          .last_hidden_state, jit_compile=True)
    started = time.perf_counter()
    forward(tf.constant(ids), tf.constant(mask), tf.constant(glob)).numpy()  # compile
    first = time.perf_counter() - started
    started = time.perf_counter()
    ours_out = forward(tf.constant(ids), tf.constant(mask), tf.constant(glob)).numpy()
    ours_s = time.perf_counter() - started
    started = time.perf_counter()
    with torch.inference_mode():
        ref_out = reference(input_ids=torch.tensor(ids, dtype=torch.long), attention_mask=torch.tensor(mask),
                            global_attention_mask=torch.tensor(glob)).last_hidden_state.numpy()
    torch_s = time.perf_counter() - started
    result = {"seq": args.seq, "global_tokens": args.seq, "max_abs_diff": float(np.max(np.abs(ours_out - ref_out))),
              "ours_xla_s": ours_s, "ours_first_call_s": first, "torch_s": torch_s, "finite": bool(np.isfinite(ours_out).all())}
    os.makedirs(args.out, exist_ok=True)
    atomic_write_text(os.path.join(args.out, "all_global_parity.json"), json.dumps(result, indent=1))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
