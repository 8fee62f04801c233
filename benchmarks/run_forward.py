"""Forward-pass speed and memory of every Longformer implementation, side by side, in one run.

    python benchmarks/run_forward.py                 # full run (~70 min on 2 cores)
    python benchmarks/run_forward.py --quick         # 512/1024 only, a smoke test
    python benchmarks/run_forward.py --lengths 4096 --update --no-train   # redo the target length only

Each configuration runs in a fresh process (`forward_worker.py`): median of 3 timed forwards after one
warm-up, peak RSS, RSS after loading and after the warm-up. The target length (4096) runs in 3 rounds and
the global-token sweep in 2, round-robin over the implementations, so that a drift in the speed of shared
cores during the run does not favour whoever ran at a quiet moment; the rows pool all rounds. The plain
matmul that the useful FLOP/s are compared with runs in the target length's rounds too (a single reading
taken at the start of a run is not representative of the rounds on shared cores). Also runs
the training-step benchmark (`train_memory.py`). Writes `benchmarks/results/forward.{json,md,png}`.
Ours runs with the defaults of `from_pretrained` (no tf-longformer config field set), as a user gets it.
transformers 4.x TF runs when a virtual environment with it exists (`--tf457-python`, default
`.venvs/tf457/bin/python` in the repository, made by `scripts/make_reference_venv.sh`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")
LENGTHS = (512, 1024, 2048, 4096, 8192, 16384)
IMPLS = ("ours-xla", "ours-graph", "ours-eager", "torch", "tf457-graph")
GLOBAL_SWEEP = (0, 1, 16, 32, 64, 256)
ALL_GLOBAL_IMPLS = ("ours-xla", "torch", "tf457-graph")  # every token global, side by side
TARGET_LENGTH = 4096


def run_worker(python: str, impl: str, seq: int, globals_: int = 1, repeats: int = 3, timeout: int = 1800,
               extra: tuple[str, ...] = ()) -> dict:
    cmd = [python, os.path.join(HERE, "forward_worker.py"), "--impl", impl, "--seq", str(seq),
           "--globals", str(globals_), "--repeats", str(repeats), *extra]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=os.path.dirname(HERE))
    started = time.time()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"impl": impl, "seq": seq, "globals": globals_, "error": f"timeout after {timeout}s"}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"impl": impl, "seq": seq, "globals": globals_, "error": tail[:300]}
    result = json.loads(lines[-1])
    result["wall_s"] = time.time() - started
    return result


def _ok(r: dict | None) -> bool:
    return r is not None and "error" not in r


def _activation(r: dict) -> float:
    """Peak RSS minus RSS after loading the model (GiB): what a forward adds, compilation included."""
    return r["peak_rss_gib"] - r["rss_loaded_gib"]


def _trimmed(r: dict) -> float:
    """The same for one more forward after `malloc_trim` returned the heap's free pages (GiB; nan if absent)."""
    value = r.get("activation_trimmed_gib")
    return float("nan") if value is None else value


def markdown(results: list[dict], sweep: list[dict], matmul: dict | None) -> str:
    by = {(r["impl"], r["seq"]): r for r in results}
    impls = [i for i in IMPLS if any(r["impl"] == i for r in results)]
    lines = ["Forward time (median) / activation memory (peak RSS minus RSS after loading; in brackets the same "
             "after `malloc_trim`, see below) per length:", "",
             "| seq | " + " | ".join(impls) + " |", "|---" * (len(impls) + 1) + "|"]
    for seq in sorted({r["seq"] for r in results}):
        cells = []
        for impl in impls:
            r = by.get((impl, seq))
            if r is None:
                cells.append("–")
            elif "error" in r:
                cells.append("fails: " + r["error"][:60])
            else:
                cells.append(f"{r['median_s']:.2f} s / {_activation(r):.2f} ({_trimmed(r):.2f}) GiB")
        lines.append(f"| {seq} | " + " | ".join(cells) + " |")
    lines += ["", "At 4096 tokens in detail (median over 3 interleaved rounds of 3 forwards when run with the "
              "default `--target-rounds 3`):", "",
              "| implementation | time (median) | first call | peak RSS | RSS after load | RSS after warm-up "
              "| activation | after trim | useful GFLOP/s |", "|---|---|---|---|---|---|---|---|---|"]
    for impl in impls:
        r = by.get((impl, 4096))
        if _ok(r):
            lines.append(f"| {impl} | {r['median_s']:.2f} s | {r['first_call_s']:.1f} s | {r['peak_rss_gib']:.2f} GiB "
                         f"| {r['rss_loaded_gib']:.2f} GiB | {r.get('rss_after_warmup_gib', float('nan')):.2f} GiB "
                         f"| {_activation(r):.2f} GiB | {_trimmed(r):.2f} GiB | {r['useful_gflops_per_s']:.0f} |")
    lines += ["", "*After trim*: after the timed forwards each process, whatever its implementation, calls glibc's "
              "`malloc_trim(0)`, which returns the free pages of the C heap to the system, and runs one more "
              "forward; its peak RSS minus the RSS after loading. glibc otherwise keeps freed heap for reuse, so "
              "RSS stays at the highest point reached so far (for XLA: while compiling)."]
    out = "\n".join(lines) + "\n"

    ours, others = by.get(("ours-xla", 4096)), [by.get((i, 4096)) for i in impls if not i.startswith("ours")]
    others = [r for r in others if _ok(r)]
    if _ok(ours) and others:
        fastest = min(others, key=lambda r: r["median_s"])
        leanest = min(others, key=_activation)
        leanest_trimmed = min(others, key=_trimmed)
        out += "\nTargets (ours-xla, 4096 tokens, same run):\n\n"
        out += (f"- time: {ours['median_s']:.2f} s = {ours['median_s'] / fastest['median_s']:.2f} x the fastest other "
                f"({fastest['impl']}, {fastest['median_s']:.2f} s); target <= 0.70\n")
        out += (f"- activation memory: {_activation(ours):.2f} GiB = {_activation(ours) / _activation(leanest):.2f} x "
                f"the leanest other ({leanest['impl']}, {_activation(leanest):.2f} GiB); target <= 0.60. Of ours, "
                f"{ours['rss_after_warmup_gib'] - ours['rss_loaded_gib']:.2f} GiB is already resident after the "
                "warm-up call (the traced graph, the compiled program, the XLA compiler's code pages, TensorFlow's "
                "allocator pool; docs/performance.md)\n")
        out += (f"- activation memory after trim: {_trimmed(ours):.2f} GiB = "
                f"{_trimmed(ours) / _trimmed(leanest_trimmed):.2f} x the leanest other after trim "
                f"({leanest_trimmed['impl']}, {_trimmed(leanest_trimmed):.2f} GiB); target <= 0.60\n")
        long = by.get(("ours-xla", 16384))
        if _ok(long):
            out += (f"- growth 4096 -> 16384: time x{long['median_s'] / ours['median_s']:.2f}, activation memory "
                    f"x{_activation(long) / _activation(ours):.2f} (after trim x{_trimmed(long) / _trimmed(ours):.2f}); "
                    "target <= 4.3")
            if long.get("run") != ours.get("run"):
                first = long.get("run_4096_median_s")
                out += (" (these two rows come from different runs, `--update`: the machine's speed drifts "
                        "between runs" + (f"; in the run of the 16384 row, 4096 took {first:.2f} s: time "
                                          f"x{long['median_s'] / first:.2f}" if first else "") + ")")
            out += "\n"
        if matmul and "error" not in matmul:
            out += (f"- useful work {ours['useful_gflops_per_s']:.0f} GFLOP/s = "
                    f"{ours['useful_gflops_per_s'] / matmul['useful_gflops_per_s']:.0%} of the plain fp32 matmul "
                    f"measured in the same run ({matmul['useful_gflops_per_s']:.0f} GFLOP/s, tf.function, "
                    "2 threads)\n")
    ours_sweep = [r for r in sweep if r["impl"] == "ours-xla" and r.get("globals") != r["seq"]]
    if ours_sweep:
        base = next((r for r in ours_sweep if r.get("globals") == 0 and "error" not in r), None)
        out += ("\nGlobal tokens (ours-xla with the defaults of `from_pretrained`, one program for every count, "
                f"{ours_sweep[0]['seq']} tokens; median over the interleaved rounds of 5 forwards):\n\n")
        out += "| global tokens | time | vs none | useful GFLOP/s |\n|---|---|---|---|\n"
        rel = {}
        for r in ours_sweep:
            if "error" in r:
                out += f"| {r['globals']} | fails: {r['error'][:60]} | | |\n"
                continue
            rel[r["globals"]] = r["median_s"] / base["median_s"] - 1 if base else float("nan")
            out += (f"| {r['globals']} | {r['median_s']:.2f} s | {100 * rel[r['globals']]:+.1f} % "
                    f"| {r['useful_gflops_per_s']:.0f} |\n")
        for count, target in ((1, 3), (32, 8)):
            if count in rel:
                out += f"\n- {count} global token(s) vs none: {100 * rel[count]:+.1f} %; target <= {target} %"
        out += "\n"
    everything = [r for r in sweep if r.get("globals") == r["seq"]]
    if everything:
        out += (f"\nEvery one of {everything[0]['seq']} tokens global (median of 2 forwards after a warm-up; "
                "activation memory as "
                "above):\n\n| implementation | time | activation | after trim |\n|---|---|---|---|\n")
        for r in everything:
            if "error" in r:
                out += f"| {r['impl']} | fails: {r['error'][:60]} | | |\n"
            else:
                out += (f"| {r['impl']} | {r['median_s']:.2f} s | {_activation(r):.2f} GiB "
                        f"| {_trimmed(r):.2f} GiB |\n")
    return out + "\n"


def plot(results: list[dict], path: str) -> None:
    try:
        import matplotlib
    except ImportError:  # the tables are already written; the plot is the only thing missing
        print(f"not plotted {path}: matplotlib is missing (pip install -e '.[bench]')", file=sys.stderr)
        return

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4.2))
    for impl in IMPLS:
        rows = sorted((r for r in results if r["impl"] == impl and "error" not in r), key=lambda r: r["seq"])
        if not rows:
            continue
        seqs = [r["seq"] for r in rows]
        ax_t.plot(seqs, [r["median_s"] for r in rows], marker="o", label=impl)
        line = ax_m.plot(seqs, [_activation(r) for r in rows], marker="o", label=impl)[0]
        ax_m.plot(seqs, [_trimmed(r) for r in rows], linestyle="--", color=line.get_color(), alpha=0.6)
    for ax, title, unit in ((ax_t, "forward time (median)", "seconds"),
                            (ax_m, "activation memory (peak RSS - RSS after loading;\ndashed: after malloc_trim)",
                             "GiB")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length (tokens)")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    ax_t.legend(fontsize=8)
    fig.suptitle("Longformer-base forward, batch 1, fp32, 2 CPU cores, global attention on token 0")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def pooled(rounds: list[dict]) -> dict:
    """One configuration measured in several interleaved rounds → one row: the median over every timed
    forward of every round, the highest peak RSS, the per-round medians kept."""
    ok = [r for r in rounds if "error" not in r]
    if not ok:
        return rounds[0]
    row = dict(ok[0])
    row["times_s"] = [t for r in ok for t in r["times_s"]]
    row["median_s"] = statistics.median(row["times_s"])
    row["round_medians_s"] = [r["median_s"] for r in ok]
    worst = max(ok, key=lambda r: r["peak_rss_gib"])
    for key in ("peak_rss_gib", "rss_loaded_gib", "rss_after_warmup_gib", "activation_gib"):
        row[key] = worst.get(key)
    for key in ("activation_trimmed_gib", "rss_after_trim_gib"):  # the worst round on its own measure
        row[key] = max((r.get(key) for r in ok if r.get(key) is not None), default=None)
    row["useful_gflops_per_s"] = ok[0]["useful_gflops_per_s"] * ok[0]["median_s"] / row["median_s"]
    return row


def measure(configs: list[tuple[str, int, int, int]], rounds: int, python_for) -> list[dict]:
    """Run every `(impl, seq, globals, repeats)` once per round, round-robin, so that a machine whose speed
    drifts during the run (shared cores) slows every configuration alike; pool the rounds."""
    runs: dict[tuple, list[dict]] = {}
    for _ in range(rounds):
        for config in configs:
            impl, seq, globals_, repeats = config
            python = python_for(impl)
            if python is None:
                continue
            result = run_worker(python, impl, seq, globals_=globals_, repeats=repeats)
            print(json.dumps(result), flush=True)
            runs.setdefault(config, []).append(result)
    return [pooled(rs) for rs in runs.values()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=int, nargs="*", default=list(LENGTHS))
    parser.add_argument("--impls", nargs="*", default=list(IMPLS))
    parser.add_argument("--quick", action="store_true", help="lengths 512 and 1024 only, no global sweep")
    parser.add_argument("--target-rounds", type=int, default=3,
                        help="interleaved rounds at the target length 4096 (other lengths: one)")
    parser.add_argument("--sweep-rounds", type=int, default=2, help="interleaved rounds of the global sweep")
    parser.add_argument("--no-sweep", action="store_true", help="skip the global-token sweep")
    parser.add_argument("--sweep-length", type=int, default=TARGET_LENGTH,
                        help="tokens of the global-token sweep (smaller for a smoke run)")
    parser.add_argument("--no-train", action="store_true",
                        help="skip the training step at 4096 (benchmarks/train_memory.py, ours and PyTorch)")
    parser.add_argument("--update", action="store_true",
                        help="keep the rows of lengths not measured now from the existing forward.json")
    parser.add_argument("--tf457-python", default=os.path.join(REPO, ".venvs", "tf457", "bin", "python"))
    parser.add_argument("--out", default=RESULTS)
    args = parser.parse_args()
    from converters.atomic import atomic_write_text  # the runner itself never loads TensorFlow

    lengths = [512, 1024] if args.quick else args.lengths
    os.makedirs(args.out, exist_ok=True)

    def python_for(impl: str) -> str | None:
        if impl.startswith("tf457"):
            return args.tf457_python if os.path.exists(args.tf457_python) else None
        return sys.executable

    results = []
    for seq in lengths:
        configs = [(impl, seq, 1, 3) for impl in args.impls]
        if seq == TARGET_LENGTH:  # the FLOP/s reference runs in the target's rounds: the same machine state
            results += measure(configs + [("matmul", seq, 1, 10)], args.target_rounds, python_for)
        else:
            results += measure(configs, 1, python_for)
    matmul = next((r for r in results if r["impl"] == "matmul"), None)
    results = [r for r in results if r["impl"] != "matmul"]
    if matmul is None:
        matmul = run_worker(sys.executable, "matmul", TARGET_LENGTH, repeats=10)
    sweep = []
    if not (args.quick or args.no_sweep):
        length = args.sweep_length
        sweep = measure([("ours-xla", length, count, 5) for count in GLOBAL_SWEEP if count <= length],
                        args.sweep_rounds, python_for)
        sweep += measure([(impl, length, length, 2) for impl in ALL_GLOBAL_IMPLS if impl in args.impls], 1, python_for)
    run_id = time.strftime("%Y-%m-%dT%H:%M:%S")
    for r in results + sweep:
        r.setdefault("run", run_id)
    this_run_4096 = {r["impl"]: r.get("round_medians_s", [r.get("median_s")])[0] for r in results
                     if r["seq"] == TARGET_LENGTH and "error" not in r}
    for r in results:
        if r["impl"] in this_run_4096:
            r.setdefault("run_4096_median_s", this_run_4096[r["impl"]])
    path = os.path.join(args.out, "forward.json")
    if args.update and os.path.exists(path):
        with open(path) as f:
            old = json.load(f)
        results = [r for r in old["forward"] if r["seq"] not in lengths] + results
        results.sort(key=lambda r: (r["seq"], IMPLS.index(r["impl"]) if r["impl"] in IMPLS else 99))
        sweep = sweep or old.get("global_sweep", [])
    record = {"date": time.strftime("%Y-%m-%d"), "cpu_count": os.cpu_count(), "matmul": matmul,
              "forward": results, "global_sweep": sweep}
    atomic_write_text(path, json.dumps(record, indent=1))
    atomic_write_text(os.path.join(args.out, "forward.md"), markdown(results, sweep, matmul))
    plot(results, os.path.join(args.out, "forward.png"))
    print(markdown(results, sweep, matmul))
    if not (args.quick or args.no_train):
        subprocess.run([sys.executable, os.path.join(HERE, "train_memory.py"), "--out", args.out], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
