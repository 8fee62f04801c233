"""The commands and code blocks of README.md and docs/*.md, read from the markdown for
tests/test_documented_commands.py.

A *snippet* is one shell command (a line of a ```bash / ```sh block, or a `$ ` line of a ```console block with
the lines it prints), one ```python block, one ```json block, or an inline `tf-longformer <command> ... --option`
span of the prose.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = ["README.md", *sorted(os.path.join("docs", n) for n in os.listdir(os.path.join(ROOT, "docs"))
                              if n.endswith(".md") and n != "HELPERS.md")]  # HELPERS.md: notes for engineers
SHELL_LANGUAGES = ("bash", "sh", "shell", "console")
DIAGRAM_LANGUAGES = ("mermaid",)  # drawings, nothing to run
_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.M | re.S)
_INLINE_COMMAND = re.compile(r"`(tf-longformer (?:run|convert|export|elongate|quantize) [^`]*--[^`]*)`")


@dataclass(frozen=True)
class Snippet:
    doc: str  # path relative to the repository root
    kind: str  # "shell", "python" or "json"
    text: str  # the command (continuations joined, comment dropped) or the block
    block: int = -1  # index of its fenced block in the doc (-1: inline in the prose)
    output: str = ""  # console blocks: what the docs show it printing


def strip_comment(line: str) -> str:
    """`cmd args  # comment` -> `cmd args` (a `#` inside quotes is kept)."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def _open_quote(line: str) -> bool:
    quote = None
    for char in line:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
    return quote is not None


def _shell_snippets(doc: str, body: str, block: int, console: bool) -> list[Snippet]:
    joined: list[str] = []
    for line in body.splitlines():
        if joined and joined[-1].endswith("\\"):  # continuation
            joined[-1] = joined[-1][:-1].rstrip() + " " + line.strip()
        elif joined and _open_quote(joined[-1]):  # a quoted argument over several lines
            joined[-1] += "\n" + line
        else:
            joined.append(line)
    snippets: list[Snippet] = []
    for line in joined:
        if console and not line.startswith("$ "):
            if snippets and line.strip():  # printed by the command above
                last = snippets[-1]
                snippets[-1] = Snippet(doc, "shell", last.text, block, (last.output + "\n" + line).strip("\n"))
            continue
        command = strip_comment(line.removeprefix("$ ").strip())
        if command:
            snippets.append(Snippet(doc, "shell", command, block))
    return snippets


def documented_snippets(docs: list[str] = DOCS) -> list[Snippet]:
    """Every snippet of `docs`, in document order."""
    snippets = []
    for doc in docs:
        with open(os.path.join(ROOT, doc), encoding="utf-8") as fh:
            text = fh.read()
        for block, (language, body) in enumerate(_FENCE.findall(text)):
            if language in SHELL_LANGUAGES:
                snippets += _shell_snippets(doc, body, block, console=language == "console")
            elif language in ("python", "json"):
                snippets.append(Snippet(doc, language, body, block))
            elif language in DIAGRAM_LANGUAGES:
                continue
            else:
                raise AssertionError(f"{doc}: a ```{language} block; tell tests/documented.py what it is")
        prose = _FENCE.sub("", text)
        snippets += [Snippet(doc, "shell", span) for span in _INLINE_COMMAND.findall(prose)]
    return snippets


def exec_block(source: str, namespace: dict, name: str) -> dict[str, object]:
    """Run a python block statement by statement in `namespace`, as a notebook would; returns the value of
    each bare expression (`model.evaluate(val)`) by its source text, so the test can check what the docs show."""
    tree = ast.parse(source, name)
    values = {}
    for statement in tree.body:
        if isinstance(statement, ast.Expr):
            code = compile(ast.Expression(statement.value), name, "eval")
            values[ast.get_source_segment(source, statement)] = eval(code, namespace)  # noqa: S307
        else:
            exec(compile(ast.Module([statement], []), name, "exec"), namespace)  # noqa: S102
    return values


def matches_documented(printed: str, shown: str) -> bool:
    """Whether a printed line is what the docs show: `...` stands for anything, a number for any number that
    rounds to it (the docs show 0.27 for 0.2683)."""
    pattern, numbers = "", []
    for token in re.split(r"(\.\.\.|-?\d+\.\d+)", shown):
        if token == "...":
            pattern += ".*?"
        elif re.fullmatch(r"-?\d+\.\d+", token):
            pattern += r"(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)"
            numbers.append(token)
        else:
            pattern += re.escape(token)
    match = re.fullmatch(pattern, printed)
    return bool(match) and all(round(float(value), len(number.split(".")[1])) == float(number)
                               for value, number in zip(match.groups(), numbers, strict=True))
