"""The exported SavedModel's speed against the in-process XLA forward, side by side in one run.

    python benchmarks/saved_model_speed.py                 # 4096 tokens, 3 interleaved rounds (~15 min)
    python benchmarks/saved_model_speed.py --seq 512 --layers 2 --rounds 1 --repeats 2    # a smoke run

Exports the base shape (random weights, the defaults of `from_pretrained`) as a feature-extraction
SavedModel twice, with the model compiled by XLA (`jit_compile=True`) and as a plain graph, each in its
own process. Then each round runs, every one in a fresh process (`forward_worker.py`): ours in-process
under XLA (`ours-xla`), and each SavedModel loaded with TensorFlow alone (`savedmodel`, its
`with_global_attention` signature, as a server calls it). Writes `results/saved_model_speed.{json,md}`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from run_forward import RESULTS, pooled, run_worker

HERE = os.path.dirname(os.path.abspath(__file__))
VARIANTS = {"savedmodel-xla": True, "savedmodel-graph": False}  # name: exported with jit_compile


def export(seq: int, folder: str, jit_compile: bool, layers: int | None) -> None:
    """Export ours at the base shape (this process only: it imports tf_longformer)."""
    from forward_worker import ours_model

    from tf_longformer.export import export_saved_model

    model = ours_model(seq, **({} if layers is None else {"num_hidden_layers": layers}))
    export_saved_model(model, folder, task="feature-extraction", version=1, jit_compile=jit_compile)


def markdown(rows: dict[str, dict], seq: int) -> str:
    ours = rows.get("ours-xla")
    lines = [f"SavedModel (`with_global_attention`, loaded by TensorFlow alone in a fresh process) vs ours "
             f"in-process under XLA, {seq} tokens, 1 global token (median over the interleaved rounds):", "",
             "| | time | vs in-process XLA | first call | activation |", "|---|---|---|---|---|"]
    for name, r in rows.items():
        if "error" in r:
            lines.append(f"| {name} | fails: {r['error'][:80]} | | | |")
            continue
        rel = f"{100 * (r['median_s'] / ours['median_s'] - 1):+.1f} %" if ours and "error" not in ours else "–"
        activation = r["peak_rss_gib"] - r["rss_loaded_gib"]
        lines.append(f"| {name} | {r['median_s']:.2f} s | {rel} | {r['first_call_s']:.1f} s | {activation:.2f} GiB |")
    return "\n".join(lines) + "\n\nTarget: the SavedModel within 10 % of the in-process XLA time.\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seq", type=int, default=4096)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--layers", type=int, default=None, help="num_hidden_layers (smoke runs); default 12")
    parser.add_argument("--out", default=RESULTS)
    parser.add_argument("--export-to", help=argparse.SUPPRESS)  # internal: export one SavedModel and exit
    parser.add_argument("--jit", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_to:
        export(args.seq, args.export_to, bool(args.jit), args.layers)
        return 0

    from converters.atomic import atomic_write_text

    root = tempfile.mkdtemp(prefix="saved_model_speed-")
    try:
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=os.path.dirname(HERE))
        layers = () if args.layers is None else ("--layers", str(args.layers))
        configs = [("ours-xla", layers)]
        for name, jit in VARIANTS.items():
            folder = os.path.join(root, name)
            started = time.time()
            subprocess.run([sys.executable, os.path.abspath(__file__), "--seq", str(args.seq), "--export-to", folder,
                            "--jit", str(int(jit)), *layers], check=True, env=env)
            print(f"exported {name} in {time.time() - started:.0f} s", flush=True)
            configs.append((name, ("--model-dir", os.path.join(folder, "1"))))
        runs: dict[str, list[dict]] = {name: [] for name, _ in configs}
        for _ in range(args.rounds):  # round-robin: a drift of the shared cores slows every row alike
            for name, extra in configs:
                result = run_worker(sys.executable, name, args.seq, 1, args.repeats, extra=extra)
                print(json.dumps(result), flush=True)
                runs[name].append(result)
        rows = {name: pooled(results) for name, results in runs.items()}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    os.makedirs(args.out, exist_ok=True)
    atomic_write_text(os.path.join(args.out, "saved_model_speed.json"),
                      json.dumps({"date": time.strftime("%Y-%m-%d"), "seq": args.seq, "rows": rows}, indent=1))
    text = markdown(rows, args.seq)
    atomic_write_text(os.path.join(args.out, "saved_model_speed.md"), text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
