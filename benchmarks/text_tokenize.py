"""What tokenizing inside the SavedModel costs next to the forward pass it feeds, measured in one process.

The `text` signature (`export --text`) tokenizes in the graph (tf_longformer/export/text_tokenizer.py). This
times that part, `encode` + the `<s> ... </s>` row, on one document of `--seq` tokens, against the base
model's forward pass on the same number of tokens (longformer-base-4096 shape, random weights, graph mode
as a SavedModel runs; `--xla` for XLA too), interleaved round by round:

    python benchmarks/text_tokenize.py                            # 4096 tokens, base shape (~10 min, 2 cores)
    python benchmarks/text_tokenize.py --seq 512 --layers 1 --rounds 2     # smoke run (~1 min)

The tokenizer: the demo model's (5000 tokens) by default; `--train-vocab 50265` trains a byte-level BPE of
RoBERTa's size on the Python standard library's sources first (longer words need more merge rounds), and
`--tokenizer FOLDER` takes any Longformer / RoBERTa tokenizer folder. The document: lines of the standard
library's sources (code, comments, docstrings) until it has `--seq` tokens. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import sysconfig
import time

from forward_worker import ours_forward

DEMO = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tf_longformer", "demo_model")


def stdlib_lines():
    for path in sorted(glob.glob(os.path.join(sysconfig.get_paths()["stdlib"], "*.py"))):
        with open(path, encoding="utf-8", errors="replace") as f:
            yield from f


def load_tokenizer(args):
    from tf_longformer import LongformerTokenizerFast

    tokenizer = LongformerTokenizerFast.from_pretrained(args.tokenizer or DEMO)
    if args.train_vocab:
        tokenizer = tokenizer.train_new_from_iterator(stdlib_lines(), vocab_size=args.train_vocab)
    return tokenizer


def document(tokenizer, tokens: int) -> str:
    """Whole lines of the standard library's sources, at least `tokens` tokens of them (truncated to `tokens`
    with the special tokens, as the text signature does: the graph tokenizes a little more than it keeps)."""
    lines, count = [], 0
    for line in stdlib_lines():
        lines.append(line)
        count += len(tokenizer(line, add_special_tokens=False)["input_ids"])
        # lines tokenized one by one give more tokens than together: check the whole when it may be enough
        if count >= tokens and len(tokenizer("".join(lines))["input_ids"]) >= tokens:
            return "".join(lines)
    raise SystemExit(f"the standard library has fewer than {tokens} tokens of source")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seq", type=int, default=4096, help="tokens of the document (special tokens included)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--layers", type=int, default=12, help="layers of the model (12: longformer-base)")
    parser.add_argument("--tokenizer", help="tokenizer folder (default: the demo model's)")
    parser.add_argument("--train-vocab", type=int, help="train a byte-level BPE of this size first (e.g. 50265)")
    parser.add_argument("--xla", action="store_true", help="also time the forward pass under XLA")
    args = parser.parse_args()

    import tensorflow as tf

    from tf_longformer.export.text_inputs import single_rows, truncate
    from tf_longformer.export.text_tokenizer import GraphTokenizer
    from tf_longformer.export.text_tokenizer_spec import graph_tokenizer_spec

    tokenizer = load_tokenizer(args)
    text = document(tokenizer, args.seq)
    graph = GraphTokenizer(graph_tokenizer_spec(tokenizer))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)], autograph=False)
    def tokenize(texts):
        encoding = truncate(graph.encode(texts), args.seq - 2)
        return single_rows(encoding, tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id)

    batch = tf.constant([text])
    rows = tokenize(batch)
    expected = tokenizer(text, truncation=True, max_length=args.seq)["input_ids"]
    if rows.input_ids.numpy()[0].tolist() != expected:
        raise SystemExit("the graph tokenizer disagrees with the Python tokenizer on the document")
    seq = int(rows.input_ids.shape[1])

    runs = {"tokenize": (lambda: tokenize(batch).input_ids.numpy(), [])}
    for mode in ("graph", "xla") if args.xla else ("graph",):
        forward, tensors = ours_forward(seq, 1, mode, num_hidden_layers=args.layers)
        forward(*tensors).numpy()  # trace (and compile)
        runs[f"forward_{mode}"] = (lambda f=forward, t=tensors: f(*t).numpy(), [])
    for r in range(args.rounds):
        for run, times in list(runs.values()) if r % 2 == 0 else list(runs.values())[::-1]:
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
    medians = {name: statistics.median(times) for name, (_, times) in runs.items()}
    result = {"tokens": seq, "characters": len(text), "layers": args.layers, "vocab": len(tokenizer),
              "rounds": args.rounds, **{f"{k}_median_s": v for k, v in medians.items()},
              **{f"tokenize_vs_{k}": medians["tokenize"] / v for k, v in medians.items() if k != "tokenize"},
              "times_s": {name: times for name, (_, times) in runs.items()}}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
