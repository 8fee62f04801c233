"""The `tf-longformer` command line: one module per sub-command, each with `add_parser` and `run`.

A sub-command module `tf_longformer/cli/<name>.py` defines

    HELP = "one line"
    def add_parser(parser: argparse.ArgumentParser) -> None: ...   # its arguments
    def run(args: argparse.Namespace) -> int: ...                   # exit code

User mistakes (missing model, unknown task, bad file, invalid input) print one line to stderr and exit
with status 2; `--debug` (before or after the command) shows the traceback instead, and TensorFlow's
start-up log lines, which are otherwise held back (`startup.start_tensorflow`).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys

# Sub-commands in the order `--help` lists them.
COMMANDS = ("run", "convert", "export", "elongate", "quantize")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tf-longformer", description="Longformer for TensorFlow / Keras 3.")
    parser.add_argument("--debug", action="store_true",
                        help="show Python tracebacks and TensorFlow's start-up log lines (before or after COMMAND)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        if importlib.util.find_spec(f"{__name__}.{name}") is None:
            continue
        module = importlib.import_module(f"{__name__}.{name}")
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        # also after the command; SUPPRESS keeps a `--debug` given before it
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help="show Python tracebacks and TensorFlow's start-up log lines")
        module.add_parser(command)
        command.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `tf-longformer` script."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("tf-longformer: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - the CLI turns every failure into one readable line
        if args.debug:
            raise
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"tf-longformer {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
