"""`tf-longformer elongate SRC DST`: a Longformer from a RoBERTa / BERT checkpoint, or a longer Longformer.

Example:
    $ tf-longformer elongate ./roberta-base ./longformer-base --max-length 4096 --attention-window 512
"""

from __future__ import annotations

import argparse

HELP = "make a Longformer from a RoBERTa/BERT checkpoint (or lengthen a Longformer)"


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", help="Hugging Face folder: roberta, xlm-roberta, camembert, bert or longformer")
    parser.add_argument("dst", help="output folder (a Hugging Face Longformer folder)")
    parser.add_argument("--max-length", type=int, default=4096, help="longest input in tokens (default 4096)")
    parser.add_argument("--attention-window", type=int, nargs="+", default=None, metavar="W",
                        help="window (both sides, even); one value, or one per layer (default: the source's "
                             "for a Longformer, else 512)")
    parser.add_argument("--overwrite", action="store_true", help="replace a model already in DST")


def run(args: argparse.Namespace) -> int:
    from converters.elongate import elongate

    window = args.attention_window
    if window is not None and len(window) == 1:
        window = window[0]
    result = elongate(args.src, args.dst, max_length=args.max_length, attention_window=window,
                      overwrite=args.overwrite)
    print(f"{result.architecture} from {result.source_model_type}: {result.max_position_embeddings} positions "
          f"({result.source_positions} learned positions repeated from row {result.position_offset}), global "
          f"projections initialised in {result.global_projections_added} layer(s) -> {args.dst}")
    if result.tokenizer_files:
        print(f"tokenizer: {', '.join(result.tokenizer_files)}")
    for note in result.notes:
        print(f"note: {note}")
    return 0
