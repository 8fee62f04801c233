"""`tf-longformer quantize SRC DST.keras --mode int8|int4`: a weight-only quantized model as a `.keras` file.

Load it back with `TFLongformer*.from_pretrained("DST.keras")` or `keras.saving.load_model`.

Example:
    $ tf-longformer quantize ./longformer-base-4096 ./longformer-int8.keras --mode int8
"""

from __future__ import annotations

import argparse

from ..tasks import TASK_NAMES as _TASKS
from .startup import start_tensorflow

HELP = "quantize a model's weights (int8 / int4) and save it as a .keras file"

# kept in sync with tf_longformer.quantization.MODES (importing it loads TensorFlow)
_MODES = ("int8", "int4")


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", help="Hugging Face model folder, checkpoint file or cached hub id")
    parser.add_argument("dst", help="output file, ending in .keras (its folder is created if needed)")
    parser.add_argument("--mode", required=True, help=f"quantization mode: {' or '.join(_MODES)}")
    parser.add_argument("--task", choices=_TASKS, help="model head to load (default: from config.json `architectures`)")
    parser.add_argument("--block-size", type=int, default=128,
                        help="int4 group size along the input features (default 128; 0 = one scale per output unit)")


def run(args: argparse.Namespace) -> int:
    if args.mode not in _MODES:
        raise ValueError(f"Unknown quantization mode {args.mode!r}; choose one of {list(_MODES)}.")
    if not args.dst.endswith(".keras"):
        raise ValueError(f"{args.dst}: the output must be a .keras file (a quantized model cannot be saved as a "
                         "Hugging Face checkpoint).")
    start_tensorflow(getattr(args, "debug", False))
    from converters.atomic import atomic_path

    from ..export.saved_model import load_for_export
    from ..quantization import quantize_model, weight_bytes

    model, _ = load_for_export(args.src, args.task)
    before = weight_bytes(model)
    quantize_model(model, args.mode, block_size=args.block_size or None)
    with atomic_path(args.dst) as tmp:  # creates the folder, as convert does; a killed save leaves no half file
        model.save(tmp)
    print(f"{type(model).__name__} {args.mode}: weights {before / 2**20:.1f} MiB -> "
          f"{weight_bytes(model) / 2**20:.1f} MiB, saved to {args.dst}")
    return 0
