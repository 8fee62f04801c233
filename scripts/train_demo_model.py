"""Train the small demo checkpoint shipped in `tf_longformer/demo_model/` (masked-LM head + tokenizer).

The model learns English as it is written in Python's own documentation: the docstrings of the standard
library (modules, classes, functions and methods, collected by importing every stdlib module this Python
ships) plus the language-reference topics of `pydoc_data.topics`. Every Python installation carries this text,
so the data needs no download and no licence beyond Python's own.

Held out: the docstrings of every module whose `zlib.crc32(name) % 10 == 0` (about a tenth of the modules), minus any
docstring whose exact text also occurs in a training module. The tokenizer and the model never see them.

Model: a Longformer with 3 layers, hidden size 128, 4 heads, attention window 64, 514 positions, a byte-level
BPE of at most 5000 tokens (about the compute-optimal size for ~20 minutes of 2 CPU cores). The word embeddings
start from PPMI-SVD vectors of the training text (co-occurrence statistics, a cheap head start). Training packs the documents into 512-token sequences (`<s> doc </s> doc </s> ...`,
global attention on `<s>`, so most tokens attend through the sliding window only) and also feeds single short
documents (up to 128 tokens, as the fill-mask pipeline sees them). Masking is RoBERTa's (15 %, 80/10/10),
re-drawn each epoch; AdamW with warm-up and linear decay; a custom `tf.GradientTape` step that runs the LM head
on the masked positions only.

Run from the repository root (about 20 minutes of CPU time on 2 cores; the data order and all seeds are fixed,
so a rerun on the same Python version gives the same corpus, tokenizer and training batches)::

    python scripts/train_demo_model.py                      # writes tf_longformer/demo_model/
    python scripts/train_demo_model.py --steps 50 --out /tmp/demo_smoke   # quick smoke run

Besides the model folder it writes `training_summary.json` there (corpus sizes, steps, CPU time, held-out
masked-token accuracy) and prints held-out fill-mask examples the model gets right (candidates for
`tests/test_demo_model.py`).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import io
import json
import os
import pkgutil
import sys
import time
import warnings
import zlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

DEFAULT_OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tf_longformer", "demo_model")
SEED = 20240611
# Modules that do something on import (open a browser, print, need a display) or are test suites.
SKIP_MODULES = {
    "antigravity", "this", "idlelib", "turtledemo", "turtle", "tkinter", "test", "lib2to3", "ensurepip",
    "distutils", "__phello__", "xxlimited", "xxlimited_35", "xxsubtype",
}
HELD_OUT_MODULO = 10

MODEL_CONFIG = dict(
    hidden_size=128, num_hidden_layers=3, num_attention_heads=4, intermediate_size=512, attention_window=64,
    max_position_embeddings=514, type_vocab_size=1, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
    layer_norm_eps=1e-5, initializer_range=0.02, pad_token_id=1, bos_token_id=0, eos_token_id=2, sep_token_id=2,
)
VOCAB_SIZE = 5000
LONG_LEN, LONG_BATCH = 512, 8          # packed documents
SHORT_LEN, SHORT_BATCH = 128, 32       # single short documents


# --- corpus ----------------------------------------------------------------------------------------------

def stdlib_module_names() -> list[str]:
    """Every importable public stdlib module and submodule, sorted."""
    found = []
    warnings.simplefilter("ignore")
    for name in sorted(sys.stdlib_module_names):
        if name.startswith("_") or name in SKIP_MODULES:
            continue
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                module = importlib.import_module(name)
        except Exception:  # noqa: BLE001 - platform-specific modules are simply absent
            continue
        found.append(name)
        for info in pkgutil.walk_packages(getattr(module, "__path__", []) or [], name + "."):
            parts = info.name.split(".")
            if any(p.startswith("_") or p.startswith("test") for p in parts[1:]):
                continue
            try:
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                    importlib.import_module(info.name)
            except Exception:  # noqa: BLE001
                continue
            found.append(info.name)
    return sorted(set(found))


def _doc(obj) -> str | None:
    doc = getattr(obj, "__doc__", None)
    if isinstance(doc, str) and doc.strip():
        return inspect.cleandoc(doc)
    return None


def module_docstrings(name: str) -> list[str]:
    """Docstrings of a module and of the public classes, functions and methods it defines, in name order."""
    module = sys.modules[name]
    out = [_doc(module)]
    for key, value in sorted(vars(module).items()):
        if key.startswith("_") or getattr(value, "__module__", None) != name:
            continue
        if inspect.isclass(value):
            out.append(_doc(value))
            for attr, member in sorted(vars(value).items()):
                if attr.startswith("_"):
                    continue
                if isinstance(member, (staticmethod, classmethod)):
                    member = member.__func__
                if inspect.isfunction(member) or inspect.ismethoddescriptor(member) or isinstance(member, property):
                    out.append(_doc(member))
        elif inspect.isfunction(value) or inspect.isbuiltin(value):
            out.append(_doc(value))
    return [d for d in out if d]


def is_held_out(module_name: str) -> bool:
    return zlib.crc32(module_name.encode()) % HELD_OUT_MODULO == 0


def build_corpus() -> tuple[list[str], list[str]]:
    """(training texts, held-out docstrings), deduplicated, deterministic order."""
    train: dict[str, None] = {}
    held: dict[str, None] = {}
    for name in stdlib_module_names():
        for doc in module_docstrings(name):
            (held if is_held_out(name) else train).setdefault(doc, None)
    import pydoc_data.topics

    for key in sorted(pydoc_data.topics.topics):
        train.setdefault(pydoc_data.topics.topics[key].strip(), None)
    held_out = [d for d in held if d not in train]
    return list(train), held_out


# --- batches ---------------------------------------------------------------------------------------------

def pack(docs_ids: list[list[int]], length: int, bos: int, eos: int) -> np.ndarray:
    """`<s> doc </s> doc </s> ...` cut into rows of `length` tokens (the last row is dropped if short)."""
    stream: list[int] = []
    for ids in docs_ids:
        stream.extend(ids)
        stream.append(eos)
    body = length - 2
    rows = [[bos] + stream[i:i + body] + [eos] for i in range(0, len(stream) - body + 1, body)]
    return np.asarray(rows, dtype=np.int32)


def short_rows(docs_ids: list[list[int]], length: int, bos: int, eos: int, pad: int) -> np.ndarray:
    """One document per row, `<s> doc </s>` padded to `length`; documents longer than the row are skipped."""
    rows = [[bos] + ids + [eos] + [pad] * (length - len(ids) - 2) for ids in docs_ids if 0 < len(ids) <= length - 2]
    return np.asarray(rows, dtype=np.int32)


def mask_tokens(ids: np.ndarray, rng: np.random.Generator, mask_id: int, vocab_size: int,
                special: tuple[int, ...], rate: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """RoBERTa masking: `rate` of the ordinary tokens become targets; 80 % `<mask>`, 10 % random, 10 % kept."""
    maskable = ~np.isin(ids, special)
    chosen = (rng.random(ids.shape) < rate) & maskable
    labels = np.where(chosen, ids, -100).astype(np.int32)
    roll = rng.random(ids.shape)
    inputs = ids.copy()
    inputs[chosen & (roll < 0.8)] = mask_id
    random_ids = rng.integers(len(special) + 256, vocab_size - 1, size=ids.shape)
    swap = chosen & (roll >= 0.8) & (roll < 0.9)
    inputs[swap] = random_ids[swap]
    return inputs, labels


def ppmi_svd_embeddings(docs_ids: list[list[int]], vocab_size: int, dim: int, window: int = 2,
                        std: float = 0.02) -> np.ndarray:
    """Token vectors from the positive PMI of co-occurrence counts within +-`window` tokens (context
    distribution smoothed with exponent 0.75), reduced to `dim` by a seeded randomized SVD, scaled to `std`."""
    counts = np.zeros((vocab_size, vocab_size), dtype=np.float32)
    for ids in docs_ids:
        a = np.asarray(ids, dtype=np.int64)
        for k in range(1, window + 1):
            if len(a) > k:
                np.add.at(counts, (a[:-k], a[k:]), 1.0)
                np.add.at(counts, (a[k:], a[:-k]), 1.0)
    total = counts.sum()
    row = counts.sum(1) / total
    col = counts.sum(0) ** 0.75
    col = col / col.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log((counts / total) / (row[:, None] * col[None, :]))
    ppmi = np.where(np.isfinite(pmi) & (pmi > 0), pmi, 0.0).astype(np.float32)
    rng = np.random.default_rng(SEED)
    y = ppmi @ rng.standard_normal((vocab_size, dim + 20)).astype(np.float32)
    for _ in range(3):
        y = ppmi @ (ppmi.T @ y)
    q, _ = np.linalg.qr(y)
    u_small, s, _ = np.linalg.svd(q.T @ ppmi, full_matrices=False)
    vectors = (q @ u_small)[:, :dim] * np.sqrt(s[:dim])[None, :]
    vectors -= vectors.mean(0, keepdims=True)
    return (vectors / (vectors.std() + 1e-8) * std).astype(np.float32)


# --- training --------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=DEFAULT_OUT, help="output folder (default: the package's demo_model)")
    parser.add_argument("--steps", type=int, default=2600, help="optimizer steps")
    parser.add_argument("--lr", type=float, default=1.5e-3, help="peak learning rate")
    parser.add_argument("--warmup", type=int, default=150, help="warm-up steps")
    args = parser.parse_args(argv)

    cpu0, wall0 = time.process_time(), time.time()
    train_texts, held_texts = build_corpus()
    print(f"corpus: {len(train_texts)} training texts ({sum(map(len, train_texts)):,} chars), "
          f"{len(held_texts)} held-out docstrings ({sum(map(len, held_texts)):,} chars)", flush=True)

    import keras
    import tensorflow as tf

    from tf_longformer import LongformerConfig, LongformerTokenizerFast, TFLongformerForMaskedLM
    from tf_longformer.tokenizer import build_tokenizer_files

    keras.utils.set_random_seed(SEED)
    os.makedirs(args.out, exist_ok=True)
    build_tokenizer_files(train_texts, VOCAB_SIZE, args.out, model_max_length=LONG_LEN)
    tok = LongformerTokenizerFast.from_pretrained(args.out)
    vocab_size = len(tok)
    bos, eos, pad, mask_id = tok.bos_token_id, tok.eos_token_id, tok.pad_token_id, tok.mask_token_id
    special = (bos, pad, eos, tok.unk_token_id, mask_id)

    def encode(texts):
        return tok(texts, add_special_tokens=False, verbose=False)["input_ids"]

    train_ids, held_ids = encode(train_texts), encode(held_texts)
    n_train_tokens = sum(map(len, train_ids))
    n_held_tokens = sum(map(len, held_ids))
    print(f"tokenizer: {vocab_size} tokens; {n_train_tokens:,} training tokens, {n_held_tokens:,} held-out",
          flush=True)

    config = LongformerConfig(vocab_size=vocab_size, **MODEL_CONFIG)
    model = TFLongformerForMaskedLM(config)
    model.hf_weights()["longformer.embeddings.word_embeddings.weight"][0].assign(
        ppmi_svd_embeddings(train_ids, vocab_size, config.hidden_size))
    schedule = keras.optimizers.schedules.PolynomialDecay(args.lr, args.steps - args.warmup, 0.0)

    class WarmUp(keras.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step):
            step = tf.cast(step, tf.float32)
            return tf.where(step < args.warmup, args.lr * (step + 1) / args.warmup, schedule(step - args.warmup))

    optimizer = keras.optimizers.AdamW(WarmUp(), weight_decay=0.01, beta_2=0.98, epsilon=1e-6, global_clipnorm=1.0)
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta", "layer_norm", "LayerNorm"])

    def masked_loss(ids, labels, training):
        attention = tf.cast(tf.not_equal(ids, pad), tf.int32)
        first = tf.cast(tf.equal(tf.range(tf.shape(ids)[1]), 0), tf.int32)[None, :]
        global_mask = tf.broadcast_to(first, tf.shape(ids))
        hidden = model.longformer(input_ids=ids, attention_mask=attention, global_attention_mask=global_mask,
                                  training=training).last_hidden_state
        where = tf.where(labels >= 0)
        logits = model.lm_head(tf.gather_nd(hidden, where), model.longformer.word_embeddings)
        targets = tf.gather_nd(labels, where)
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True))
        correct = tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), targets), tf.float32))
        return loss, correct, tf.cast(tf.shape(targets)[0], tf.float32)

    @tf.function(reduce_retracing=True)
    def train_step(ids, labels):
        with tf.GradientTape() as tape:
            loss, _, _ = masked_loss(ids, labels, True)
        variables = model.trainable_variables
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients([(g, v) for g, v in zip(grads, variables, strict=True) if g is not None])
        return loss

    @tf.function(reduce_retracing=True)
    def eval_step(ids, labels):
        return masked_loss(ids, labels, False)

    rng = np.random.default_rng(SEED)
    long_rows = pack(train_ids, LONG_LEN, bos, eos)
    short = short_rows(train_ids, SHORT_LEN, bos, eos, pad)
    held_long = pack(held_ids, LONG_LEN, bos, eos)
    held_short = short_rows(held_ids, SHORT_LEN, bos, eos, pad)
    eval_rng = np.random.default_rng(SEED + 1)
    held_batches = [mask_tokens(held_long[i:i + LONG_BATCH], eval_rng, mask_id, vocab_size, special)
                    for i in range(0, len(held_long), LONG_BATCH)]
    held_short_batches = [mask_tokens(held_short[i:i + SHORT_BATCH], eval_rng, mask_id, vocab_size, special)
                          for i in range(0, len(held_short), SHORT_BATCH)]

    def accuracy(batches):
        right = total = 0.0
        for ids, labels in batches:
            _, c, n = eval_step(tf.constant(ids), tf.constant(labels))
            right, total = right + float(c), total + float(n)
        return right / max(total, 1.0)

    def epoch_batches():
        order_long = rng.permutation(len(long_rows))
        order_short = rng.permutation(len(short))
        batches = [long_rows[order_long[i:i + LONG_BATCH]] for i in range(0, len(order_long) - LONG_BATCH + 1, LONG_BATCH)]
        batches += [short[order_short[i:i + SHORT_BATCH]] for i in range(0, len(order_short) - SHORT_BATCH + 1, SHORT_BATCH)]
        return [batches[i] for i in rng.permutation(len(batches))]

    print(f"batches per epoch: {len(long_rows) // LONG_BATCH} x {LONG_BATCH}x{LONG_LEN} + "
          f"{len(short) // SHORT_BATCH} x {SHORT_BATCH}x{SHORT_LEN}", flush=True)
    step, epoch, losses = 0, 0, []
    train_cpu0 = time.process_time()
    while step < args.steps:
        epoch += 1
        for rows in epoch_batches():
            if step >= args.steps:
                break
            ids, labels = mask_tokens(rows, rng, mask_id, vocab_size, special)
            losses.append(float(train_step(tf.constant(ids), tf.constant(labels))))
            step += 1
            if step % 50 == 0 or step == args.steps:
                print(f"step {step} epoch {epoch} loss {np.mean(losses[-50:]):.3f} "
                      f"cpu {time.process_time() - cpu0:.0f}s wall {time.time() - wall0:.0f}s", flush=True)
            if step % 500 == 0 and step < args.steps:
                print(f"  held-out masked-token accuracy {accuracy(held_batches):.3f}", flush=True)
    train_cpu = time.process_time() - train_cpu0

    acc_long, acc_short = accuracy(held_batches), accuracy(held_short_batches)
    print(f"held-out masked-token accuracy: packed 512-token sequences {acc_long:.3f}, "
          f"single short docstrings {acc_short:.3f}", flush=True)
    model.save_pretrained(args.out)
    size = sum(os.path.getsize(os.path.join(args.out, f)) for f in os.listdir(args.out))
    summary = {
        "python": sys.version.split()[0],
        "training_texts": len(train_texts), "training_chars": sum(map(len, train_texts)),
        "training_tokens": n_train_tokens, "held_out_docstrings": len(held_texts), "held_out_tokens": n_held_tokens,
        "vocab_size": vocab_size, "parameters": int(sum(int(np.prod(v.shape)) for v in model.weights)),
        "steps": args.steps, "epochs": epoch, "final_loss": round(float(np.mean(losses[-50:])), 4),
        "training_cpu_seconds": round(train_cpu), "total_cpu_seconds": round(time.process_time() - cpu0),
        "wall_seconds": round(time.time() - wall0),
        "held_out_masked_token_accuracy": {"packed_512": round(acc_long, 4), "single_docstrings": round(acc_short, 4)},
        "seed": SEED, "folder_bytes": size,
    }
    with open(os.path.join(args.out, "training_summary.json"), "w", encoding="utf-8") as fh:
        json.dump(summary, fh, indent=2)
        fh.write("\n")
    print(json.dumps(summary, indent=2), flush=True)
    print_examples(model, tok, held_texts)
    return 0


def print_examples(model, tok, held_texts: list[str], limit: int = 40) -> None:
    """Held-out first sentences with one masked word the model ranks first (test candidates)."""
    import tensorflow as tf

    shown = 0
    for text in held_texts:
        sentence = text.split("\n\n")[0].replace("\n", " ").strip()
        if not 20 <= len(sentence) <= 90 or not sentence.endswith("."):
            continue
        words = sentence.split(" ")
        candidates = [i for i, w in enumerate(words[1:], 1)
                      if w.isalpha() and len(w) >= 4 and len(tok.tokenize(" " + w)) == 1]
        if not candidates:
            continue
        masked = [" ".join(words[:i] + [tok.mask_token] + words[i + 1:]) for i in candidates]
        enc = tok(masked, padding=True, return_tensors="tf")
        probs = tf.nn.softmax(model(**enc).logits, axis=-1).numpy()
        positions = np.argwhere(enc["input_ids"].numpy() == tok.mask_token_id)
        for (row, pos), i in zip(positions, candidates, strict=True):
            best = int(np.argmax(probs[row, pos]))
            if tok.decode([best]).strip() == words[i] and probs[row, pos, best] > 0.5:
                print(f"EXAMPLE p={probs[row, pos, best]:.2f} {masked[row]!r} -> {words[i]!r}")
                shown += 1
                break
        if shown >= limit:
            break


if __name__ == "__main__":
    sys.exit(main())
