"""What the in-graph tokenizer needs from a `LongformerTokenizerFast`, and the check that it can be expressed.

The graph tokenizer (`text_tokenizer.py`) reproduces RoBERTa's byte-level BPE exactly, but only the
configuration RoBERTa / Longformer checkpoints use. Everything else is refused here, at export time, with a
message naming the feature, rather than exported as a tokenizer that would give other ids.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
from tokenizers import pre_tokenizers

from .text_unicode_classes import classes as unicode_classes
from .text_unicode_classes import re2_ranges

#: Unicode White_Space, what the Rust tokenizers call whitespace (`char::is_whitespace`, the regex `\s`):
#: the body of an RE2 character class.
WHITESPACE_CLASS = r"\t\n\x0B\f\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}"
_WHITESPACE = set("\t\n\x0b\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | {chr(c) for c in range(0x2000, 0x200B)}


class TextExportError(ValueError):
    """The tokenizer (or the task) cannot be served from text inside the SavedModel."""


@dataclass(frozen=True)
class AddedTokenSpec:
    """An added (special) token matched in the raw text before BPE (`<s>`, `<mask>`, ...)."""

    content: str
    id: int
    lstrip: bool
    rstrip: bool


@dataclass(frozen=True)
class GraphTokenizerSpec:
    """The tables of a byte-level BPE tokenizer, checked to be expressible as TensorFlow ops.

    Attributes:
        byte_ids: `(256,)` id of the byte-level symbol of each byte.
        merge_left, merge_right, merge_result: the BPE merges in rank order, as ids.
        token_bytes: `(vocab,)` number of bytes of each id's text (0 for ids without text).
        leading_spaces, trailing_spaces: `(vocab,)` spaces (`Ġ`) at the start / end of each id's text, for
            RoBERTa's `trim_offsets`.
        added_tokens: the added tokens, longest first (the order the text is matched in).
        letters, numbers: `\\p{L}` and `\\p{N}` of the library's regex engine, as RE2 class bodies.
        trim_offsets: offsets leave out the spaces a token starts or ends with.
        cls_id, sep_id, pad_id, mask_id: special token ids (`mask_id` None without a mask token).
        model_max_length: the tokenizer's `model_max_length`.
    """

    byte_ids: np.ndarray
    merge_left: np.ndarray
    merge_right: np.ndarray
    merge_result: np.ndarray
    token_bytes: np.ndarray
    leading_spaces: np.ndarray
    trailing_spaces: np.ndarray
    added_tokens: tuple[AddedTokenSpec, ...]
    letters: str
    numbers: str
    trim_offsets: bool
    cls_id: int
    sep_id: int
    pad_id: int
    mask_id: int | None
    model_max_length: int

    @property
    def vocab_size(self) -> int:
        return len(self.token_bytes)


def graph_tokenizer_spec(tokenizer) -> GraphTokenizerSpec:
    """Read and check the tables of a `LongformerTokenizerFast` for the graph tokenizer.

    Args:
        tokenizer: a `LongformerTokenizerFast`.

    Returns:
        A `GraphTokenizerSpec`.

    Raises:
        TextExportError: the tokenizer uses something the graph tokenizer does not reproduce (another model
            than byte-level BPE, a normalizer, `add_prefix_space`, BPE dropout, merges out of training
            order, ...); the message names it.

    Example:
        >>> spec = graph_tokenizer_spec(LongformerTokenizerFast.from_pretrained(folder))  # doctest: +SKIP
    """
    state = json.loads(tokenizer.backend_tokenizer.to_str())
    model = state.get("model") or {}
    _require(model.get("type") == "BPE", f"its model is {model.get('type')!r}, not byte-level BPE")
    _require(state.get("normalizer") is None, "it has a normalizer")
    _require(not tokenizer.add_prefix_space, "it uses add_prefix_space=True")
    _require(not getattr(tokenizer, "split_special_tokens", False), "it uses split_special_tokens=True")
    _require(not model.get("dropout"), "it uses BPE dropout")
    for option in ("continuing_subword_prefix", "end_of_word_suffix"):
        _require(not model.get(option), f"its BPE model has a {option}")
    for option in ("byte_fallback", "ignore_merges"):
        _require(not model.get(option), f"its BPE model uses {option}")
    pre = state.get("pre_tokenizer") or {}
    _require(pre.get("type") == "ByteLevel" and pre.get("use_regex", True),
             "its pre-tokenizer is not ByteLevel with GPT-2's regex")

    vocab: dict[str, int] = model["vocab"]
    size = max(max(vocab.values(), default=-1), *(t["id"] for t in state.get("added_tokens", ()))) + 1
    byte_symbols = pre_tokenizers.ByteLevel.alphabet()
    missing = [s for s in byte_symbols if s not in vocab]
    _require(not missing, f"{len(missing)} of the 256 byte symbols are not in its vocabulary (e.g. {missing[:3]})")
    to_byte = _byte_of_symbol()
    byte_ids = np.array([vocab[_symbol_of_byte(b)] for b in range(256)], np.int64)

    merges = [m.split(" ") if isinstance(m, str) else m for m in model.get("merges", [])]
    left, right, result = _merge_ids(merges, vocab)

    token_bytes = np.zeros(size, np.int64)
    leading = np.zeros(size, np.int64)
    trailing = np.zeros(size, np.int64)
    for text, index in vocab.items():
        if all(c in to_byte for c in text):
            token_bytes[index] = len(text)
        leading[index] = len(text) - len(text.lstrip("Ġ"))
        trailing[index] = len(text) - len(text.rstrip("Ġ"))

    added = []
    for token in state.get("added_tokens", ()):
        content = token["content"]
        _require(bool(content) and content[0] not in _WHITESPACE and content[-1] not in _WHITESPACE,
                 f"its added token {content!r} starts or ends with whitespace")
        _require(not token.get("single_word"), f"its added token {content!r} uses single_word=True")
        added.append(AddedTokenSpec(content, int(token["id"]), bool(token.get("lstrip")), bool(token.get("rstrip"))))
    normalized = {bool(t.get("normalized")) for t in state.get("added_tokens", ())}
    _require(len(normalized) <= 1, "its added tokens mix normalized and non-normalized ones")

    for name in ("cls_token_id", "sep_token_id", "pad_token_id"):
        _require(getattr(tokenizer, name) is not None, f"it has no {name.removesuffix('_id')}")
    return GraphTokenizerSpec(
        byte_ids=byte_ids, merge_left=left, merge_right=right, merge_result=result, token_bytes=token_bytes,
        leading_spaces=leading, trailing_spaces=trailing,
        added_tokens=tuple(sorted(added, key=lambda t: -len(t.content.encode("utf-8")))),
        letters=re2_ranges(unicode_classes()["letter"]), numbers=re2_ranges(unicode_classes()["number"]),
        trim_offsets=bool(tokenizer.trim_offsets), cls_id=int(tokenizer.cls_token_id),
        sep_id=int(tokenizer.sep_token_id), pad_id=int(tokenizer.pad_token_id),
        mask_id=None if tokenizer.mask_token_id is None else int(tokenizer.mask_token_id),
        model_max_length=int(tokenizer.model_max_length),
    )


def _require(condition: bool, reason: str) -> None:
    if not condition:
        raise TextExportError(
            f"The tokenizer cannot be exported into the graph: {reason}. The text signature reproduces "
            "RoBERTa's byte-level BPE tokenizer (as Longformer checkpoints ship it) exactly and nothing else; "
            "export without text=True / --text and tokenize in the client."
        )


def _merge_ids(merges: list[list[str]], vocab: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The merges as ids, checked to be in training order.

    The graph applies, word by word, every occurrence of the best-ranked pair at once. That equals the
    tokenizers library's one-merge-at-a-time queue when no merge can produce a pair ranked before itself,
    i.e. when each merge only combines symbols that exist before its rank (bytes or earlier merges).
    """
    made = {_symbol_of_byte(b): -1 for b in range(256)}  # symbol -> rank of the first merge producing it
    left, right, result = [], [], []
    for rank, (a, b) in enumerate(merges):
        merged = a + b
        for part in (a, b, merged):
            _require(part in vocab, f"its merge {a!r} + {b!r} uses {part!r}, which is not in its vocabulary")
        _require(a in made and b in made and made[a] < rank and made[b] < rank,
                 f"its merge #{rank} ({a!r} + {b!r}) combines a symbol that only a later merge produces")
        made.setdefault(merged, rank)
        left.append(vocab[a])
        right.append(vocab[b])
        result.append(vocab[merged])
    return (np.array(left, np.int64), np.array(right, np.int64), np.array(result, np.int64))


def _symbol_of_byte(byte: int) -> str:
    return _BYTE_TO_SYMBOL[byte]


def _byte_of_symbol() -> dict[str, int]:
    return {s: b for b, s in enumerate(_BYTE_TO_SYMBOL)}


def _bytes_to_symbols() -> list[str]:
    """GPT-2's byte -> printable character table (the byte-level alphabet, by byte value)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(256 + extra)
            extra += 1
    return [table[b] for b in range(256)]


_BYTE_TO_SYMBOL = _bytes_to_symbols()
