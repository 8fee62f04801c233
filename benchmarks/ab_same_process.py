"""A/B of configurations of ours under XLA in one process, interleaved forward by forward.

Separate processes (`run_forward.py`) measure memory honestly but compare times taken minutes apart, and
these shared cores drift by ±10 % over minutes. For a small difference in time, build every variant in
one process, compile each, then alternate their forwards (the order reversed every other round) and
compare medians and the per-round ratios to the first variant:

    python benchmarks/ab_same_process.py --seq 4096 --rounds 10 \\
        --variant '{"globals": 0}' --variant '{"globals": 1}'
    python benchmarks/ab_same_process.py --seq 16384 --rounds 3 \\
        --variant '{"dense_row_chunk": 0}' --variant '{"dense_row_chunk": 512}'

A variant is JSON: `LongformerConfig` overrides of the base shape (none: the defaults of
`from_pretrained`), plus `globals` (global tokens at the start of the input, default 1). Prints one JSON
line per variant.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from forward_worker import ours_forward


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seq", type=int, default=4096)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--variant", action="append", required=True, help="JSON, see above; two or more")
    args = parser.parse_args()
    runs = []
    for text in args.variant:
        overrides = json.loads(text)
        forward, tensors = ours_forward(args.seq, overrides.pop("globals", 1), "xla", **overrides)
        forward(*tensors).numpy()  # compile
        runs.append((text, forward, tensors, []))
    for r in range(args.rounds):
        for _, forward, tensors, times in runs if r % 2 == 0 else runs[::-1]:
            start = time.perf_counter()
            forward(*tensors).numpy()
            times.append(time.perf_counter() - start)
    first = runs[0][3]
    for text, _, _, times in runs:
        ratios = [t / f for t, f in zip(times, first, strict=True)]
        print(json.dumps({"variant": json.loads(text), "seq": args.seq, "median_s": statistics.median(times),
                          "vs_first": statistics.median(times) / statistics.median(first) - 1,
                          "paired_vs_first": statistics.median(ratios) - 1, "times_s": times}), flush=True)


if __name__ == "__main__":
    main()
