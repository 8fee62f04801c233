"""GPU throughput of the Longformer-base forward: bf16, XLA, batch 8 (run by `benchmarks/gpu.sh`).

Prints one JSON line per sequence length and chunking with tokens/s (median of 5 after warm-up) and the
peak GPU memory reported by TensorFlow (`tf.config.experimental.get_memory_info`). The chunk loops of
traced inference (`attention_query_chunk`, `dense_row_chunk`) are tuned on CPU; `--chunks default off`
measures the program with them and without them (both 0), to see what they cost or save on a GPU.
"""

from __future__ import annotations

import argparse
import gc
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
    parser.add_argument("--chunks", nargs="*", default=["default", "off"], choices=["default", "off"],
                        help="the configs' chunk loops as they are, and/or switched off")
    parser.add_argument("--small", action="store_true", help="a tiny shape: a smoke test of this script (CPU)")
    args = parser.parse_args()
    gpus = tf.config.list_physical_devices("GPU")
    print(json.dumps({"gpus": [g.name for g in gpus], "tf": tf.__version__, "keras": keras.__version__}))
    shape = dict(vocab_size=50265, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                 intermediate_size=3072, attention_window=512)
    if args.small:
        shape = dict(vocab_size=50265, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, attention_window=16)
    for seq, chunks in ((s, c) for s in args.lengths for c in args.chunks):
        keras.mixed_precision.set_global_policy(args.dtype)  # again after each `clear_session` below
        off = {"attention_query_chunk": 0, "dense_row_chunk": 0} if chunks == "off" else {}
        config = LongformerConfig(**shape, max_position_embeddings=seq + 2, hidden_dropout_prob=0.0,
                                  attention_probs_dropout_prob=0.0, type_vocab_size=1, **off)
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
        print(json.dumps({"seq": seq, "chunks": chunks, "batch": args.batch, "dtype": args.dtype, "median_s": median,
                          "tokens_per_s": args.batch * seq / median, "first_call_s": compile_s,
                          "peak_gpu_gib": None if peak is None else peak / 2**30}), flush=True)
        del model, forward, out  # free this configuration's weights before the next one's peak is measured
        gc.collect()
        keras.backend.clear_session()


if __name__ == "__main__":
    main()
