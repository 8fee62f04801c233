"""Peak memory of one Longformer training step with and without gradient checkpointing.

Each configuration runs in a fresh Python process (so the peak resident set size, VmHWM, belongs to
that configuration alone): build a `TFLongformerForSequenceClassification`, build the optimizer, record
the resident memory, then run training steps with `model.train_on_batch` (Hugging Face style: labels in
the inputs) and record the peak. Reported: the peak, the baseline before the first step, their
difference (what the step needed), the step time and the losses (equal with and without checkpointing).

Usage:
    python benchmarks/train_memory.py             # base shape, 4096 tokens; writes benchmarks/results/
    python benchmarks/train_memory.py --small     # tiny shape for a quick check (tests use it)
    python benchmarks/train_memory.py --small --out /tmp/x
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # also when loaded from a file path
from process_memory import peak_rss_bytes, rss_bytes  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIB = 2**20

# longformer-base-4096 shape
BASE = dict(vocab_size=50265, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
            attention_window=512, max_position_embeddings=4098, type_vocab_size=1, num_labels=2)
BASE_TOKENS = 4096
SMALL = dict(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
             attention_window=64, max_position_embeddings=1026, type_vocab_size=1, num_labels=2)
SMALL_TOKENS = 1024


def child(args) -> None:
    """One configuration, in this fresh process; prints one JSON line."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np
    import tensorflow as tf

    import tf_longformer

    shape = json.loads(args.shape)
    config = tf_longformer.LongformerConfig(**shape, gradient_checkpointing=bool(args.checkpointing),
                                            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    keras.utils.set_random_seed(0)
    model = tf_longformer.TFLongformerForSequenceClassification(config)
    model.compile(optimizer=keras.optimizers.Adam(1e-5))
    model.optimizer.build(model.trainable_variables)
    rng = np.random.default_rng(0)
    ids = rng.integers(3, config.vocab_size, (args.batch, args.tokens)).astype(np.int32)
    ids[:, 0] = 0
    batch = {"input_ids": tf.constant(ids), "labels": tf.constant(np.zeros(args.batch, np.int32))}
    _measure_steps("ours", args, lambda: float(model.train_on_batch(batch)))


def _measure_steps(impl: str, args, step) -> None:
    """Run `args.steps` training steps (`step()` returns the loss) and print this process's JSON row."""
    baseline = rss_bytes() / MIB
    losses, times = [], []
    for _ in range(args.steps):
        start = time.perf_counter()
        losses.append(step())
        times.append(time.perf_counter() - start)
    print(json.dumps({
        "impl": impl, "gradient_checkpointing": bool(args.checkpointing),
        "baseline_rss_mb": round(baseline, 1), "peak_rss_mb": round(peak_rss_bytes() / MIB, 1),
        "step_peak_over_baseline_mb": round(peak_rss_bytes() / MIB - baseline, 1),
        "first_step_s": round(times[0], 2), "step_s": round(times[-1], 2), "losses": losses,
    }))


def child_torch(args) -> None:
    """The same step in transformers' PyTorch `LongformerForSequenceClassification` (AdamW, same shape)."""
    import numpy as np
    import torch
    import transformers

    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count())
    shape = json.loads(args.shape)
    config = transformers.LongformerConfig(**shape, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = transformers.LongformerForSequenceClassification(config).train()
    if args.checkpointing:
        model.gradient_checkpointing_enable()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    rng = np.random.default_rng(0)
    ids = rng.integers(3, config.vocab_size, (args.batch, args.tokens))
    ids[:, 0] = 0
    ids, labels = torch.tensor(ids), torch.zeros(args.batch, dtype=torch.long)
    global_mask = torch.zeros_like(ids)
    global_mask[:, 0] = 1

    def step() -> float:
        loss = model(input_ids=ids, global_attention_mask=global_mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    _measure_steps("torch", args, step)


def run_configuration(shape: dict, tokens: int, checkpointing: bool, steps: int, batch: int,
                      impl: str = "ours") -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", "--impl", impl, "--shape", json.dumps(shape),
           "--tokens", str(tokens), "--steps", str(steps), "--batch", str(batch),
           "--checkpointing", str(int(checkpointing))]
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return {"impl": impl, "gradient_checkpointing": checkpointing, "error": f"exit {proc.returncode}: "
                + proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def markdown(report: dict) -> str:
    s = report["setup"]
    lines = [
        "# Training-step memory with and without gradient checkpointing",
        "",
        f"`python benchmarks/train_memory.py{' --small' if s['small'] else ''}` — one fresh process per row; "
        f"{s['model']}, {s['layers']} layers, hidden {s['hidden']}, {s['heads']} heads, window {s['window']}, "
        f"vocab {s['vocab']}; batch {s['batch']} x {s['tokens']} tokens, fp32, Adam, "
        f"{s['steps']} steps of `model.train_on_batch`; {s['machine']}.",
        "",
        "| implementation | gradient checkpointing | peak RSS (MiB) | RSS before the step (MiB) "
        "| step peak over it (MiB) | step time (s) | losses |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    names = {"ours": "tf_longformer (Keras `train_on_batch`)", "torch": "transformers PyTorch (AdamW)"}
    for row in report["results"] + report.get("torch_results", []):
        name = names[row.get("impl", "ours")]
        if "error" in row:
            lines.append(f"| {name} | {'on' if row['gradient_checkpointing'] else 'off'} | failed: {row['error']} "
                         "| | | | |")
            continue
        lines.append(
            f"| {name} | {'on' if row['gradient_checkpointing'] else 'off'} | {row['peak_rss_mb']:.0f} | "
            f"{row['baseline_rss_mb']:.0f} | {row['step_peak_over_baseline_mb']:.0f} | {row['step_s']:.1f} | "
            f"{', '.join(f'{x:.6f}' for x in row['losses'])} |"
        )
    if report.get("saving_mb") is not None:
        lines += ["", f"Checkpointing saves {report['saving_mb']:.0f} MiB of peak memory "
                      f"({report['saving_fraction']:.0%} of the step's own memory) and costs "
                      f"{report['time_factor']:.2f}x the step time."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="tiny shape, seconds (for tests)")
    parser.add_argument("--out", default=None, help="output folder (default benchmarks/results; --small: no files)")
    parser.add_argument("--tokens", type=int, default=None)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--shape", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--checkpointing", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--impl", default="ours", help=argparse.SUPPRESS)
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch side-by-side rows")
    args = parser.parse_args(argv)
    if args.child:
        child_torch(args) if args.impl == "torch" else child(args)
        return 0

    shape = SMALL if args.small else BASE
    tokens = args.tokens or (SMALL_TOKENS if args.small else BASE_TOKENS)
    results = [run_configuration(shape, tokens, flag, args.steps, args.batch) for flag in (False, True)]
    torch_results = [] if (args.small or args.no_torch) else [
        run_configuration(shape, tokens, flag, args.steps, args.batch, impl="torch") for flag in (False, True)]
    report = {
        "setup": {"small": args.small, "model": "TFLongformerForSequenceClassification",
                  "layers": shape["num_hidden_layers"], "hidden": shape["hidden_size"],
                  "heads": shape["num_attention_heads"], "window": shape["attention_window"],
                  "vocab": shape["vocab_size"], "tokens": tokens, "batch": args.batch, "steps": args.steps,
                  "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}"},
        "results": results,
        "torch_results": torch_results,
    }
    off, on = results
    if "error" not in off and "error" not in on:
        report["saving_mb"] = off["peak_rss_mb"] - on["peak_rss_mb"]
        report["saving_fraction"] = report["saving_mb"] / max(off["step_peak_over_baseline_mb"], 1e-9)
        report["time_factor"] = on["step_s"] / max(off["step_s"], 1e-9)
    out = args.out or (None if args.small else os.path.join(ROOT, "benchmarks", "results"))
    text = markdown(report)
    if out:
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "train_memory.json"), "w") as f:
            json.dump(report, f, indent=2)
        with open(os.path.join(out, "train_memory.md"), "w") as f:
            f.write(text)
    print(text)
    return 0 if all("error" not in r for r in results + torch_results) else 1


if __name__ == "__main__":
    sys.exit(main())
