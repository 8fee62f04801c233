"""`tf-longformer run`: a task pipeline over stdin, one input per line, one JSON result per line.

Example:
    $ echo "Open the <mask> for reading." | tf-longformer run --task fill-mask
    $ tf-longformer run --task question-answering --model ./longformer-squad < questions.jsonl

Input lines: plain text; a line starting with `{` or `"` is read as JSON when it parses (a JSON string for
texts with newlines, an object for question answering `{"question": ..., "context": ...}` or text pairs
`{"text": ..., "text_pair": ...}`). Question answering also takes `question<TAB>context`. Blank lines are skipped.
"""

from __future__ import annotations

import argparse
import codecs
import json
import sys
from typing import Any

from .startup import start_tensorflow

HELP = "run a task (fill-mask, question-answering, ...) on stdin lines, print JSON lines"

def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "tasks: fill-mask, question-answering, text-classification (sentiment-analysis), token-classification\n"
        "(ner), feature-extraction. Without --model, fill-mask and feature-extraction use the small demo model\n"
        "shipped with the package (offline).\n\n"
        "input: one input per line. Lines starting with '{' or '\"' are parsed as JSON when valid: a string, or\n"
        '{"question": ..., "context": ...} (question-answering; "question<TAB>context" also works) or\n'
        '{"text": ..., "text_pair": ...} (text-classification). Blank lines are skipped.\n\n'
        "example:\n"
        '  echo "Open the <mask> for reading." | tf-longformer run --task fill-mask --top-k 3\n'
        "  tf-longformer run --task qa --model allenai/longformer-large-4096-finetuned-triviaqa < q.jsonl"
    )
    parser.add_argument("--task", help="the task (required)")
    parser.add_argument("--model", default=None,
                        help="folder, checkpoint file or hub id (default: the demo model, fill-mask / "
                             "feature-extraction only)")
    parser.add_argument("--tokenizer", default=None, help="tokenizer folder or hub id (default: the model's)")
    parser.add_argument("--top-k", type=int, default=None, help="predictions / answers / labels per input")
    parser.add_argument("--device", default=None, help="cpu, gpu or gpu:N (default: TensorFlow's choice)")
    parser.add_argument("--batch-size", type=int, default=1,
                        help="inputs per model call; lines are read this many at a time (default 1)")
    parser.add_argument("--input", default="-", help="input file (default: stdin)")
    parser.add_argument("--output", default="-", help="output file (default: stdout)")
    parser.add_argument("--aggregation-strategy", default=None,
                        help="token-classification: none, simple, first, average or max")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="any other pipeline parameter, VALUE parsed as JSON when it can be "
                             "(e.g. --option max_answer_len=30 --option targets='[\"Ġfile\", \"Ġdirectory\"]'); repeatable")


def _parse_options(options: list[str]) -> dict[str, Any]:
    out = {}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--option takes KEY=VALUE, got {option!r}")
        try:
            out[key.strip().replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip().replace("-", "_")] = value
    return out


def parse_line(line: str, task: str, number: int, source: str = "stdin") -> Any:
    """One input line → the pipeline input for `task`; errors name `source` and the line `number`."""
    where = f"{source} line {number}"
    text = line.rstrip("\r\n")
    value: Any = text
    if text.lstrip().startswith(("{", '"')):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
    if task == "question-answering":
        if isinstance(value, str):
            question, tab, context = value.partition("\t")
            if not tab:
                raise ValueError(f'{where}: question-answering takes {{"question": ..., "context": ...}} '
                                 "JSON or question<TAB>context")
            value = {"question": question, "context": context}
        if not isinstance(value, dict) or set(value) != {"question", "context"}:
            raise ValueError(f'{where}: expected {{"question": ..., "context": ...}}')
        _check_unicode(value, where)
        return value
    if isinstance(value, dict) and task != "text-classification":
        raise ValueError(f"{where}: {task} takes text lines, not JSON objects")
    if not isinstance(value, (str, dict)):
        raise ValueError(f"{where}: expected a text or a JSON string / object")
    _check_unicode(value, where)
    return value


def _check_unicode(value: Any, where: str) -> None:
    """Texts must be valid Unicode: a JSON escape can still spell a lone surrogate such as "\\ud800"."""
    for text in value.values() if isinstance(value, dict) else [value]:
        if not isinstance(text, str):
            continue
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as err:
            raise ValueError(f"{where}: a lone surrogate \\u{ord(text[err.start]):04x} at character {err.start + 1}, "
                             "which is not a character; fix the JSON escape") from None


def read_lines(stream, source: str):
    """`(line number, text)` of each line of a binary stream, decoded as UTF-8 (a BOM at the start is dropped).

    Raises:
        ValueError: a line that is not UTF-8 (lone surrogates included), naming `source` and the line.
    """
    for number, raw in enumerate(stream, 1):
        if number == 1:
            raw = raw.removeprefix(codecs.BOM_UTF8)
        try:
            yield number, raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"{source} line {number}: not valid UTF-8 (byte 0x{raw[err.start]:02x} at byte "
                             f"{err.start + 1}: {err.reason}); save the input as UTF-8") from None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    return value


def _batches(lines, size: int):
    """(line number, line) lists of up to `size` non-blank lines, read lazily (so interactive use streams)."""
    batch = []
    for number, line in lines:
        if not line.strip():
            continue
        batch.append((number, line))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def run(args: argparse.Namespace) -> int:
    from ..pipelines import TASKS, normalize_task

    if not args.task:
        raise ValueError(f"--task is required: one of {', '.join(TASKS)}")
    task = normalize_task({"qa": "question-answering"}.get(args.task, args.task))
    demo_tasks = [name for name, (_, _, has_demo) in TASKS.items() if has_demo]
    if args.model is None and task not in demo_tasks:
        raise ValueError(f"--model is required for {task} (the demo model only does {' and '.join(demo_tasks)})")
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {args.batch_size}")
    params = _parse_options(args.option)
    if args.top_k is not None:
        if task in ("token-classification", "feature-extraction"):
            raise ValueError(f"--top-k does not apply to {task}")
        params["top_k"] = args.top_k
    if args.aggregation_strategy is not None:
        if task != "token-classification":
            raise ValueError("--aggregation-strategy applies to token-classification only")
        params["aggregation_strategy"] = args.aggregation_strategy

    source_name = "stdin" if args.input == "-" else args.input
    source = sys.stdin.buffer if args.input == "-" else open(args.input, "rb")  # noqa: SIM115
    try:
        start_tensorflow(getattr(args, "debug", False))
        from ..pipelines import pipeline

        pipe = pipeline(task, model=args.model, tokenizer=args.tokenizer, device=args.device,
                        batch_size=args.batch_size, **params)
        sink = sys.stdout if args.output == "-" else open(args.output, "w", encoding="utf-8")  # noqa: SIM115
        inputs_read = 0
        try:
            for batch in _batches(read_lines(source, source_name), args.batch_size):
                inputs = [parse_line(line, task, number, source_name) for number, line in batch]
                inputs_read += len(inputs)
                try:
                    results = _run_batch(pipe, task, inputs)
                except ValueError as err:
                    first = batch[0][0] if len(batch) == 1 else f"{batch[0][0]}-{batch[-1][0]}"
                    raise ValueError(f"{source_name} line {first}: {err}") from err
                for result in results:
                    sink.write(json.dumps(_jsonable(result), ensure_ascii=False) + "\n")
                sink.flush()
        finally:
            if sink is not sys.stdout:
                sink.close()
    finally:
        if source is not sys.stdin.buffer:
            source.close()
    if not inputs_read:
        print(f"tf-longformer run: no input: {source_name} has no non-blank lines", file=sys.stderr)
    return 0


def _run_batch(pipe, task: str, inputs: list[Any]) -> list[Any]:
    """Results of a batch of inputs, one per input (fill-mask and question-answering give a list of one input
    the result of that input, as in transformers)."""
    results = pipe(inputs)
    if task in ("fill-mask", "question-answering") and len(inputs) == 1:
        results = [results]
    return results
