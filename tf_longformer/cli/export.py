"""`tf-longformer export`: write a checkpoint as a TF Serving SavedModel (`OUT/<version>/`), optionally ONNX.

Example:
    tf-longformer export --model ./my-longformer-squad /models/longformer_qa
    tf-longformer export --model ./ckpt --task text-classification --int-dtype int64 /models/cls
    tf-longformer export --model ./my-longformer-squad --text /models/longformer_qa   # + the `text` signature
"""

from __future__ import annotations

import argparse
import os
import sys

from ..tasks import TASK_NAMES as _TASKS
from .startup import start_tensorflow

HELP = "export a model as a TensorFlow SavedModel for TF Serving (and optionally ONNX)"


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", metavar="OUT", help="model base path; the export goes to OUT/<version>/")
    parser.add_argument("--model", required=True, metavar="SRC",
                        help="Hugging Face model folder, checkpoint file or cached hub id (what from_pretrained reads)")
    parser.add_argument("--task", choices=_TASKS,
                        help="what to serve (default: from config.json `architectures`)")
    parser.add_argument("--version", type=int, help="version folder name (default: next free integer, 1 at first)")
    parser.add_argument("--int-dtype", choices=("int32", "int64"), default="int32",
                        help="dtype of input_ids / attention_mask / global_attention_mask (default int32)")
    parser.add_argument("--include-attentions", action="store_true",
                        help="also serve attentions_<layer> and global_attentions_<layer>")
    parser.add_argument("--include-hidden-states", action="store_true", help="also serve hidden_states_<i>")
    parser.add_argument("--allow-missing-weights", action="store_true",
                        help="export even if the checkpoint lacks the task head's weights (they would be random)")
    parser.add_argument("--text", action="store_true",
                        help="also serve the `text` signature: raw strings in, the task's answers out (the tokenizer "
                             "runs inside the SavedModel; SRC needs its tokenizer files)")
    parser.add_argument("--top-k", type=int, default=5, help="with --text, fill-mask: predictions per mask (default 5)")
    parser.add_argument("--max-answer-len", type=int, default=15,
                        help="with --text, question answering: longest answer in tokens (default 15)")
    parser.add_argument("--doc-stride", type=int,
                        help="with --text, question answering: tokens shared by the windows of a long context "
                             "(default min(max_length // 2, 128))")
    parser.add_argument("--jit-compile", action="store_true",
                        help="compile the model with XLA inside the SavedModel (once per request shape, by the "
                             "server); the request checks stay outside")
    parser.add_argument("--onnx", metavar="FILE",
                        help="also write serving_default as this ONNX file (needs tf2onnx; task outputs only)")


def run(args: argparse.Namespace) -> int:
    start_tensorflow(getattr(args, "debug", False))
    from ..export import export_saved_model, load_for_export

    model, task = load_for_export(args.model, args.task, args.allow_missing_weights)
    path = export_saved_model(
        model, args.out, task=task.name, version=args.version, include_attentions=args.include_attentions,
        include_hidden_states=args.include_hidden_states, int_dtype=args.int_dtype,
        text=args.text, tokenizer=args.model if args.text else None, top_k=args.top_k,
        max_answer_len=args.max_answer_len, doc_stride=args.doc_stride, jit_compile=args.jit_compile,
    )
    print(path)
    if args.onnx:
        from ..export.onnx import export_onnx

        print(export_onnx(model, args.onnx, int_dtype=args.int_dtype))
    print(f"serve it: tensorflow_model_server --rest_api_port=8501 --model_name=longformer "
          f"--model_base_path={os.path.abspath(args.out)}", file=sys.stderr)
    return 0
