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


def child(seq: int) -> None:
    from forward_worker import ours_forward
    from process_memory import release_free_heap, rss_split_gib

    forward, tensors = ours_forward(seq, 1, "xla")
    stages = [rss_split_gib()]
    forward.get_concrete_function(*tensors)
    stages.append(rss_split_gib())
    for _ in range(2):
        forward(*tensors).numpy()
        stages.append(rss_split_gib())
    release_free_heap()
    stages.append(rss_split_gib())
    forward(*tensors).numpy()
    stages.append(rss_split_gib())
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
    from converters.atomic import atomic_write_text

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
