"""Where the activation memory of an XLA forward goes: resident memory after each stage, split into
anonymous memory (heap, allocator pools, buffers) and file-backed pages (shared-library code touched).

    python benchmarks/memory_breakdown.py                  # 512 and 4096 tokens; writes results/memory_breakdown.md
    python benchmarks/memory_breakdown.py --seq 4096 --out /tmp/x

Each length runs in a fresh process (`--child`): the base-shape model is built, its forward traced
(`get_concrete_function`, no compilation), called once (XLA compiles and runs it), called again, then
glibc's `malloc_trim(0)` returns the heap's free pages and it is called once more. The stages' RSS minus
the RSS after building the model adds up to the benchmark's *activation memory* (`forward_worker.py`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
STAGES = ("model built", "traced", "first call (compile + run)", "second call", "after malloc_trim",
          "call after trim")


def rss_split() -> dict[str, float]:
    """Resident memory (GiB): total, anonymous and file-backed, from `/proc/self/smaps_rollup`."""
    values = {}
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if parts[0] in ("Rss:", "Anonymous:"):
                values[parts[0][:-1]] = int(parts[1]) / 2**20
    return {"rss": values["Rss"], "anon": values["Anonymous"], "file": values["Rss"] - values["Anonymous"]}


def child(seq: int) -> None:
    import tensorflow as tf
    from forward_worker import config_for, inputs
    from process_memory import release_free_heap

    from tf_longformer import LongformerConfig, TFLongformerModel

    model = TFLongformerModel(LongformerConfig(**config_for(seq), max_global_tokens=1))
    tensors = tuple(tf.constant(x) for x in inputs(seq, 1))

    @tf.function(jit_compile=True)
    def forward(ids, mask, glob):
        return model(input_ids=ids, attention_mask=mask, global_attention_mask=glob).last_hidden_state

    stages = [rss_split()]
    forward.get_concrete_function(*tensors)
    stages.append(rss_split())
    for _ in range(2):
        forward(*tensors).numpy()
        stages.append(rss_split())
    release_free_heap()
    stages.append(rss_split())
    forward(*tensors).numpy()
    stages.append(rss_split())
    print(json.dumps({"seq": seq, "stages": dict(zip(STAGES, stages, strict=True))}))


def markdown(rows: list[dict]) -> str:
    out = ("Resident memory of an XLA forward (ours, base shape, 1 global token) after each stage, minus the RSS "
           "after building the model, in GiB: total = anonymous (heap, allocator pool, buffers) + file-backed "
           "(library code pages).\n\n| stage | " + " | ".join(f"{r['seq']} tokens" for r in rows) + " |\n|---|"
           + "---|" * len(rows) + "\n")
    for stage in STAGES[1:]:
        cells = []
        for r in rows:
            now, base = r["stages"][stage], r["stages"]["model built"]
            cells.append(f"{now['rss'] - base['rss']:+.2f} = {now['anon'] - base['anon']:+.2f} + "
                         f"{now['file'] - base['file']:+.2f}")
        out += f"| {stage} | " + " | ".join(cells) + " |\n"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seq", type=int, nargs="*", default=[512, 4096])
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.seq[0])
        return
    sys.path.insert(0, os.path.dirname(HERE))
    from tf_longformer.atomic import atomic_write_text

    rows = []
    for seq in args.seq:
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=os.path.dirname(HERE))
        proc = subprocess.run([sys.executable, __file__, "--child", "--seq", str(seq)], capture_output=True,
                              text=True, env=env, check=True)
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    text = markdown(rows)
    os.makedirs(args.out, exist_ok=True)
    atomic_write_text(os.path.join(args.out, "memory_breakdown.md"), text)
    print(text)


if __name__ == "__main__":
    main()
