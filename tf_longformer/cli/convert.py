"""`tf-longformer convert SRC DST`: any checkpoint `from_pretrained` reads → our saved form.

SRC is a Hugging Face folder (safetensors, `pytorch_model.bin`, sharded, transformers-4 `tf_model.h5`), one weight
file, a `.keras` file, or a hub id. DST receives `config.json` + `model.safetensors` (what `save_pretrained`
writes; transformers loads it too) and the tokenizer files when SRC has a tokenizer, all in one atomic step.

Example:
    $ tf-longformer convert allenai/longformer-base-4096 ./longformer-base
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import Any

from .startup import start_tensorflow

HELP = "convert a checkpoint (PyTorch, tf_model.h5, hub id) into tf-longformer's saved form"

# --head value -> model class; transformers architecture -> --head value
HEADS = {
    "base": "TFLongformerModel",
    "masked-lm": "TFLongformerForMaskedLM",
    "sequence-classification": "TFLongformerForSequenceClassification",
    "token-classification": "TFLongformerForTokenClassification",
    "question-answering": "TFLongformerForQuestionAnswering",
    "multiple-choice": "TFLongformerForMultipleChoice",
}
_ARCHITECTURES = {cls.removeprefix("TF"): head for head, cls in HEADS.items()}
#: checkpoints at least this large show a progress bar even when stderr is not a terminal
LARGE_CHECKPOINT_BYTES = 200 * 1024 * 1024


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", metavar="SRC", help="checkpoint folder, weight file (.safetensors/.bin/.h5/.keras) or hub id")
    parser.add_argument("dst", metavar="DST", help="output folder")
    parser.add_argument("--head", choices=sorted(HEADS), default=None,
                        help="task head to convert (default: config.json's architectures, else guessed from "
                             "the tensor names)")
    parser.add_argument("--overwrite", action="store_true", help="replace a model already in DST")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar on stderr (default: when stderr is a terminal or the checkpoint "
                             f"is over {LARGE_CHECKPOINT_BYTES // 2**20} MB)")


def _guess_head(config: dict, tensors: dict) -> str:
    for architecture in config.get("architectures") or []:
        if architecture in _ARCHITECTURES:
            return _ARCHITECTURES[architecture]
    names = set(tensors)
    if any(n.startswith("lm_head.") for n in names):
        return "masked-lm"
    if "qa_outputs.weight" in names:
        return "question-answering"
    if "classifier.out_proj.weight" in names:
        return "sequence-classification"
    if "classifier.weight" in names:
        return "multiple-choice" if tensors["classifier.weight"].shape[0] == 1 else "token-classification"
    return "base"


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def _source(src: str) -> tuple[str, list[str]]:
    """(folder holding config.json, weight files to read)."""
    from converters.checkpoint import find_checkpoint_files

    from ..hub import resolve_model_folder

    if os.path.isfile(src):
        if src.endswith(".index.json"):
            import json

            with open(src, encoding="utf-8") as fh:
                shards = dict.fromkeys(json.load(fh).get("weight_map", {}).values())
            folder = os.path.dirname(src) or "."
            return folder, [os.path.join(folder, s) for s in shards]
        return os.path.dirname(src) or ".", [src]
    folder = resolve_model_folder(src, need=("config.json", "model weights"))
    return folder, find_checkpoint_files(folder)[1]


def _check_destination(src_folder: str, dst: str, overwrite: bool) -> None:
    if os.path.exists(dst) and not os.path.isdir(dst):
        raise ValueError(f"DST {dst!r} exists and is not a folder")
    if os.path.isdir(dst) and os.path.realpath(dst) == os.path.realpath(src_folder):
        raise ValueError("DST is the source folder; choose another folder")
    if os.path.isfile(os.path.join(dst, "model.safetensors")) and not overwrite:
        raise ValueError(f"{dst!r} already holds a model; pass --overwrite to replace it")


def run(args: argparse.Namespace) -> int:
    if args.src.endswith(".keras") and os.path.isfile(args.src):
        return _convert_keras(args)
    from converters.checkpoint import read_checkpoint, read_config_json

    folder, files = _source(args.src)
    _check_destination(folder, args.dst, args.overwrite)
    start_tensorflow(getattr(args, "debug", False))
    config_dict = read_config_json(folder)
    total = sum(os.path.getsize(f) for f in files)
    show = args.progress if args.progress is not None else (sys.stderr.isatty() or total >= LARGE_CHECKPOINT_BYTES)

    from tqdm.auto import tqdm

    with tqdm(total=2 * total, unit="B", unit_scale=True, unit_divisor=1024, desc="converting", file=sys.stderr,
              disable=not show, leave=False) as bar:
        tensors: dict[str, Any] = {}
        for path in files:
            bar.set_postfix_str(f"reading {os.path.basename(path)}")
            tensors.update(read_checkpoint(path))
            bar.update(os.path.getsize(path))
        head = args.head or _guess_head(config_dict, tensors)
        bar.set_postfix_str(f"building {HEADS[head]}")
        model, info = _build(head, config_dict, tensors)
        bar.set_postfix_str("writing model.safetensors")
        tokenizer_files = _write(model, folder, args.dst)
        bar.update(total)
    _print_summary(args, folder, files, total, tensors, model, head, info, tokenizer_files)
    return 0


def _build(head: str, config_dict: dict, tensors: dict):
    import tf_longformer
    from tf_longformer.configuration import LongformerConfig
    from tf_longformer.loading import assign_hf_weights

    config = LongformerConfig.from_dict(config_dict)
    cls = getattr(tf_longformer, HEADS[head])
    if head == "base":
        has_pooler = any(n.removeprefix("longformer.").startswith("pooler.") for n in tensors)
        model = cls(config, add_pooling_layer=has_pooler)
    else:
        model = cls(config)
    info = assign_hf_weights(model, tensors)
    return model, info


def _write(model, folder: str, dst: str) -> list[str]:
    """`config.json`, `model.safetensors` and the tokenizer files of `folder` into `dst`, in one atomic step.

    Returns:
        The names of the tokenizer files written.
    """
    from converters.atomic_folder import copy_of, replace_in_folder
    from converters.checkpoint import is_safetensors_weights

    from ..saving import checkpoint_files

    files = checkpoint_files(model)
    with tempfile.TemporaryDirectory() as tokenizer_dir:
        tokenizer_files = _save_tokenizer(folder, tokenizer_dir)
        files.update({name: copy_of(os.path.join(tokenizer_dir, name)) for name in tokenizer_files})
        replace_in_folder(dst, files, stale=is_safetensors_weights)
    return tokenizer_files


def _save_tokenizer(folder: str, dst: str) -> list[str]:
    names = ("tokenizer.json", "vocab.json", "merges.txt")
    if not any(os.path.isfile(os.path.join(folder, n)) for n in names):
        return []
    from ..tokenizer import LongformerTokenizerFast

    tokenizer = LongformerTokenizerFast.from_pretrained(folder)
    return sorted(os.path.basename(p) for p in tokenizer.save_pretrained(dst))


def _print_summary(args, folder, files, total, tensors, model, head, info, tokenizer_files) -> None:
    import numpy as np

    weights = model.hf_weights()
    parameters = sum(int(np.prod(v.shape)) for v, _ in weights.values())
    source_dtypes = sorted({str(np.asarray(t).dtype) for t in tensors.values()})
    model_dtype = model.dtype_policy.variable_dtype if hasattr(model, "dtype_policy") else "float32"
    ignored = len(tensors) - (len(weights) - len(info["missing_keys"])) - len(info["unexpected_keys"])
    fmt = sorted({os.path.splitext(f)[1].lstrip(".") for f in files})
    out = os.path.join(args.dst, "model.safetensors")
    print(f"converted {args.src} -> {args.dst}")
    print(f"  source:     {', '.join(fmt)}, {len(files)} file(s), {_human(total)} ({folder})")
    print(f"  task head:  {HEADS[head]} ({head})")
    print(f"  tensors:    {len(tensors)} read, {len(weights) - len(info['missing_keys'])} loaded"
          + (f", {ignored} ignored (buffers / tied copies)" if ignored > 0 else "")
          + (f", {len(info['unexpected_keys'])} unused" if info["unexpected_keys"] else ""))
    print(f"  parameters: {parameters:,}")
    print(f"  dtype:      {model_dtype} (checkpoint: {', '.join(source_dtypes)})")
    if info["missing_keys"]:
        print(f"  newly initialised (not in the checkpoint): {', '.join(info['missing_keys'])}")
    print(f"  wrote:      config.json, model.safetensors ({_human(os.path.getsize(out))})"
          + (f", tokenizer: {', '.join(tokenizer_files)}" if tokenizer_files else ", no tokenizer in the source"))


def _convert_keras(args: argparse.Namespace) -> int:
    import numpy as np

    from ..models.pretrained import TFLongformerPreTrainedModel

    _check_destination(os.path.dirname(args.src) or ".", args.dst, args.overwrite)
    start_tensorflow(getattr(args, "debug", False))
    import keras

    model = keras.saving.load_model(args.src)
    if not isinstance(model, TFLongformerPreTrainedModel):
        raise ValueError(f"{args.src} holds a {type(model).__name__}, not a TFLongformer model")
    model.save_pretrained(args.dst)
    parameters = sum(int(np.prod(v.shape)) for v, _ in model.hf_weights().values())
    print(f"converted {args.src} -> {args.dst}")
    print(f"  task head:  {type(model).__name__}")
    print(f"  parameters: {parameters:,}")
    print(f"  wrote:      config.json, model.safetensors ({_human(os.path.getsize(os.path.join(args.dst, 'model.safetensors')))})")
    return 0
