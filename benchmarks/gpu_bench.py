"""GPU throughput of the Longformer-base forward: bf16, XLA, batch 8 (run by `benchmarks/gpu.sh`).

Prints one JSON line per sequence length with tokens/s (median of 5 after warm-up) and the peak GPU
memory reported by TensorFlow (`tf.config.experimental.get_memory_info`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import keras
import numpy as np
import tensorflow as tf

from tf_longformer import LongformerConfig, TFLongformerModel


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lengths", type=int, nargs="*", default=[4096, 16384])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dtype", default="mixed_bfloat16")
    parser.add_argument("--small", action="store_true", help="a tiny shape: a smoke test of this script (CPU)")
    args = parser.parse_args()
    gpus = tf.config.list_physical_devices("GPU")
    print(json.dumps({"gpus": [g.name for g in gpus], "tf": tf.__version__, "keras": keras.__version__}))
    keras.mixed_precision.set_global_policy(args.dtype)
    for seq in args.lengths:
        shape = dict(vocab_size=50265, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                     intermediate_size=3072, attention_window=512)
        if args.small:
            shape = dict(vocab_size=50265, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=64, attention_window=16)
        config = LongformerConfig(**shape, max_position_embeddings=seq + 2, hidden_dropout_prob=0.0,
                                  attention_probs_dropout_prob=0.0, max_global_tokens=1, type_vocab_size=1)
        model = TFLongformerModel(config)
        ids = tf.constant(np.random.default_rng(0).integers(3, 50000, (args.batch, seq)), tf.int32)
        glob = np.zeros((args.batch, seq), np.int32)
        glob[:, 0] = 1
        glob = tf.constant(glob)
        forward = tf.function(lambda i, g, m=model: m(input_ids=i, global_attention_mask=g).last_hidden_state,
                              jit_compile=True)
        if gpus:
            tf.config.experimental.reset_memory_stats("GPU:0")
        start = time.perf_counter()
        forward(ids, glob).numpy()
        compile_s = time.perf_counter() - start
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            forward(ids, glob).numpy()
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        out = forward(ids, glob)
        if args.dtype == "mixed_bfloat16" and out.dtype != tf.bfloat16:
            raise SystemExit(f"expected bfloat16 outputs under mixed_bfloat16, got {out.dtype}")
        assert bool(tf.reduce_all(tf.math.is_finite(tf.cast(out, tf.float32)))), "non-finite outputs"
        peak = tf.config.experimental.get_memory_info("GPU:0")["peak"] if gpus else None
        print(json.dumps({"seq": seq, "batch": args.batch, "dtype": args.dtype, "median_s": median,
                          "tokens_per_s": args.batch * seq / median, "first_call_s": compile_s,
                          "peak_gpu_gib": None if peak is None else peak / 2**30}), flush=True)


if __name__ == "__main__":
    main()
