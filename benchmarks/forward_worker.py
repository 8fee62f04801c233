"""Measure one configuration in this (fresh) process and print one JSON line.

Run by `benchmarks/run_forward.py`; each configuration gets its own process so peak RSS is its own.

    python benchmarks/forward_worker.py --impl ours-xla --seq 4096 [--globals 1] [--repeats 3]

Implementations:
    ours-eager, ours-graph, ours-xla   tf_longformer (eager, tf.function, tf.function(jit_compile=True)), with
                                       the defaults of `from_pretrained` (no tf-longformer config field set)
    savedmodel                         an exported SavedModel (`--model-dir`), loaded with TensorFlow alone
                                       (`benchmarks/saved_model_speed.py` exports it)
    torch                              transformers 5 PyTorch LongformerModel
    tf457-graph, tf457-eager           transformers 4.x TFLongformerModel (run with its own venv's python)
    matmul                             a plain fp32 matmul of the model's shapes (reference FLOP/s)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

from process_memory import peak_rss_bytes, release_free_heap, reset_peak_rss, rss_bytes

BASE = dict(vocab_size=50265, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
            attention_window=512, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, pad_token_id=1,
            type_vocab_size=1)


def inputs(seq: int, num_globals: int):
    import numpy as np

    rng = np.random.default_rng(0)
    ids = rng.integers(3, 50000, size=(1, seq)).astype(np.int32)
    ids[0, 0], ids[0, -1] = 0, 2
    glob = np.zeros((1, seq), np.int32)
    glob[0, :num_globals] = 1
    return ids, np.ones_like(ids), glob


def config_for(seq: int) -> dict:
    # the position table is extended beyond 4096 for the long runs (random weights either way)
    return dict(BASE, max_position_embeddings=max(4098, seq + 2))


def ours_model(seq: int, **overrides):
    """Ours at the base shape (random weights). Without `overrides` (`LongformerConfig` fields) every
    tf-longformer field keeps its default, as `from_pretrained` of a Hugging Face checkpoint gives."""
    from tf_longformer import LongformerConfig, TFLongformerModel

    return TFLongformerModel(LongformerConfig(**{**config_for(seq), **overrides}))


def ours_forward(seq: int, globals_: int, mode: str = "xla", **overrides):
    """Ours at the base shape: `(forward, tensors)` with `forward(*tensors)` the last hidden state, run
    eagerly, in `tf.function` (`graph`) or under XLA. `overrides`: as in `ours_model`."""
    import tensorflow as tf

    model = ours_model(seq, **overrides)
    tensors = tuple(tf.constant(x) for x in inputs(seq, globals_))

    def forward(i, m, g):
        return model(input_ids=i, attention_mask=m, global_attention_mask=g).last_hidden_state

    if mode != "eager":
        forward = tf.function(forward, jit_compile=(mode == "xla"))
    return forward, tensors


def build_ours(args):
    overrides = {}
    if args.query_chunk is not None:
        overrides["attention_query_chunk"] = args.query_chunk
    if args.dense_chunk is not None:
        overrides["dense_row_chunk"] = args.dense_chunk
    if args.layers is not None:
        overrides["num_hidden_layers"] = args.layers
    mode = args.impl.split("-")[1]  # eager / graph / xla
    forward, tensors = ours_forward(args.seq, args.globals, mode, **overrides)
    return lambda: forward(*tensors).numpy()


def build_savedmodel(args):
    import tensorflow as tf

    signature = tf.saved_model.load(args.model_dir).signatures["with_global_attention"]
    tensors = {name: tf.constant(x) for name, x in zip(("input_ids", "attention_mask", "global_attention_mask"),
                                                       inputs(args.seq, args.globals), strict=True)}

    def run():
        out = signature(**tensors)["last_hidden_state"].numpy()
        if "tf_longformer" in sys.modules:  # the measurement is of TensorFlow serving the SavedModel alone
            raise SystemExit("the SavedModel's functions imported tf_longformer")
        return out

    return run


def build_torch(args):
    import torch
    import transformers

    torch.set_num_threads(args.threads)
    model = transformers.LongformerModel(transformers.LongformerConfig(**config_for(args.seq))).eval()
    ids, mask, glob = (torch.tensor(x, dtype=torch.long) for x in inputs(args.seq, args.globals))

    def run():
        with torch.inference_mode():
            return model(input_ids=ids, attention_mask=mask, global_attention_mask=glob).last_hidden_state.numpy()

    return run


def build_tf457(args):
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import tensorflow as tf
    import transformers

    model = transformers.TFLongformerModel(transformers.LongformerConfig(**config_for(args.seq)))
    model(input_ids=tf.constant([[0, 5, 2]]))  # Keras 2 creates the weights on the first call: count them as loaded
    ids, mask, glob = (tf.constant(x) for x in inputs(args.seq, args.globals))

    def forward(i, m, g):
        return model(input_ids=i, attention_mask=m, global_attention_mask=g).last_hidden_state

    if args.impl.endswith("graph"):
        forward = tf.function(forward)
    return lambda: forward(ids, mask, glob).numpy()


def build_matmul(args):
    import tensorflow as tf

    x = tf.random.normal((args.seq, 768))
    w1, w2 = tf.random.normal((768, 768)), tf.random.normal((768, 3072))
    f = tf.function(lambda: [tf.reduce_sum(x @ w1), tf.reduce_sum(x @ w2)])
    args.flops = 2 * args.seq * 768 * (768 + 3072)
    return lambda: [t.numpy() for t in f()]


def useful_flops(seq: int, num_globals: int, layers: int = 12) -> float:
    """Dense layers + the (2w+1)-wide band + global rows/columns, per forward (multiply-add = 2 FLOPs)."""
    d, inter, w = 768, 3072, 256
    padded = -(-seq // 512) * 512
    dense = 2 * padded * (4 * d * d + 2 * d * inter)
    band = 2 * 2 * padded * (2 * w + 1) * d
    glob = 2 * 2 * padded * num_globals * d * 2  # global columns for every row + global rows over every key
    return layers * (dense + band + glob)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--impl", required=True)
    parser.add_argument("--seq", type=int, required=True)
    parser.add_argument("--globals", type=int, default=1)
    parser.add_argument("--model-dir", default=None, help="the SavedModel of --impl savedmodel")
    parser.add_argument("--query-chunk", type=int, default=None,
                        help="attention_query_chunk (ours); default: the config's default")
    parser.add_argument("--dense-chunk", type=int, default=None,
                        help="dense_row_chunk (ours); default: the config's default")
    parser.add_argument("--layers", type=int, default=None,
                        help="num_hidden_layers (ours; smoke runs); default: the base shape's 12")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    args.flops = None
    builders = {"ours": build_ours, "savedmodel": build_savedmodel, "torch": build_torch, "tf457": build_tf457,
                "matmul": build_matmul}
    rss_start = rss_bytes()
    run = builders[args.impl.split("-")[0]](args)
    rss_loaded = rss_bytes()
    start = time.perf_counter()
    run()  # warm-up (and tracing / compilation)
    first = time.perf_counter() - start
    peak_with_warmup = peak_rss_bytes()
    rss_warm = rss_bytes()
    steady = reset_peak_rss()
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    peak_steady = peak_rss_bytes()
    # once more after returning the heap's free pages (the XLA compiler's, the warm-up's) to the system
    trimmed = steady and release_free_heap()
    rss_trimmed = rss_bytes()
    reset_peak_rss()
    run()
    flops = args.flops or useful_flops(args.seq, args.globals, args.layers or 12)
    print(json.dumps({
        "impl": args.impl, "seq": args.seq, "globals": args.globals, "query_chunk": args.query_chunk,
        "dense_chunk": args.dense_chunk,
        "median_s": median, "times_s": times, "first_call_s": first,
        "rss_start_gib": rss_start / 2**30, "rss_loaded_gib": rss_loaded / 2**30, "rss_after_warmup_gib": rss_warm / 2**30,
        "peak_rss_gib": max(peak_with_warmup, peak_steady) / 2**30,
        "peak_rss_steady_gib": peak_steady / 2**30 if steady else None,
        # activation memory of a forward: steady-state peak (after warm-up/compilation) minus RSS after loading
        "activation_gib": (peak_steady - rss_loaded) / 2**30 if steady else None,
        # the same after malloc_trim: what the forward needs, without the heap glibc keeps from earlier calls
        "rss_after_trim_gib": rss_trimmed / 2**30 if trimmed else None,
        "activation_trimmed_gib": (peak_rss_bytes() - rss_loaded) / 2**30 if trimmed else None,
        "activation_incl_warmup_gib": (peak_with_warmup - rss_loaded) / 2**30,
        "useful_gflops_per_s": flops / median / 1e9, "python": sys.version.split()[0],
    }))


if __name__ == "__main__":
    main()
