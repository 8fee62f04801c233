"""RoBERTa's byte-level BPE as TensorFlow ops: the `LongformerTokenizerFast` encoding inside a SavedModel.

Only core TensorFlow ops (RE2 `RegexReplace`, `StringSplit`, `UnicodeDecodeWithOffsets`, hash tables, a
while loop): TF Serving, `saved_model_cli` and any TensorFlow runtime serve it without custom op libraries.

The steps are those of the `tokenizers` library, each reproduced exactly:

1. added tokens (`<s>`, `</s>`, `<mask>` that swallows the whitespace before it, ...) are cut out of the
   text, longest first;
2. the rest is split with GPT-2's pre-tokenizer regex. RE2 has no look-ahead, so its `\\s+(?!\\S)` part
   is done in two passes: first every whitespace run followed by a non-space is cut before its last
   character (which then starts the next piece, as the look-ahead makes it do), then the regex without the
   look-ahead splits each part;
3. the bytes of each distinct piece are merged by BPE: all occurrences of the best-ranked pair of every
   word at once, left to right, until no pair has a merge (equal to the library's queue for merges in
   training order, which `graph_tokenizer_spec` checks);
4. offsets are the characters (Python `str` indices) covering each token's bytes, trimmed of the spaces a
   token starts or ends with (`trim_offsets`).

Texts must be valid UTF-8 (`\\xff` marks cuts, and offsets count characters); `encode` reports each row's
validity instead of failing, and gives invalid rows no tokens.
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from .text_tokenizer_spec import WHITESPACE_CLASS, GraphTokenizerSpec

_WS = f"[{WHITESPACE_CLASS}]"
_NOT_WS = f"[^{WHITESPACE_CLASS}]"
_CUT = b"\xff"  # never in valid UTF-8: marks where a string is split
_SPACE_SYMBOL_OR_WS = f"[{WHITESPACE_CLASS}\\x{{120}}]"


class Encoding(NamedTuple):
    """Tokens of a batch of texts, without special tokens added around them, as flat tensors.

    Attributes:
        ids: `(tokens,)` int64 ids of all rows, row after row.
        starts, ends: `(tokens,)` int64 character offsets of each token in its text.
        words: `(tokens,)` int64 index of the pre-tokenizer piece (`word`) a token comes from, per row.
        row_splits: `(batch + 1,)` int64: row `r` holds tokens `row_splits[r]:row_splits[r + 1]`.
        valid: `(batch,)` bool, False for rows that are not valid UTF-8 (their tokens are meaningless).
    """

    ids: tf.Tensor
    starts: tf.Tensor
    ends: tf.Tensor
    words: tf.Tensor
    row_splits: tf.Tensor
    valid: tf.Tensor

    def row_lengths(self) -> tf.Tensor:
        """`(batch,)` tokens per row."""
        return self.row_splits[1:] - self.row_splits[:-1]

    def rows(self, begin, end) -> Encoding:
        """The rows `begin:end`."""
        first, last = self.row_splits[begin], self.row_splits[end]
        return Encoding(*(x[first:last] for x in self[:4]), self.row_splits[begin:end + 1] - first,
                        self.valid[begin:end])

    def to_lists(self) -> dict[str, list]:
        """`{"ids", "starts", "ends", "words"}`: one list per row (eager tensors only; for tests and debugging)."""
        splits = self.row_splits.numpy().tolist()
        lists = {name: getattr(self, name).numpy().tolist() for name in ("ids", "starts", "ends", "words")}
        return {name: [values[a:b] for a, b in zip(splits[:-1], splits[1:], strict=True)]
                for name, values in lists.items()}


class GraphTokenizer(tf.Module):
    """`LongformerTokenizerFast(text, add_special_tokens=False)` as TensorFlow ops.

    Args:
        spec: the checked tables of the tokenizer (`graph_tokenizer_spec`).

    Example:
        >>> tok = GraphTokenizer(graph_tokenizer_spec(LongformerTokenizerFast.from_pretrained(folder)))  # doctest: +SKIP
        >>> enc = tok.encode(tf.constant(["Hello <mask>."]))  # doctest: +SKIP
        >>> enc.to_lists()["ids"], enc.to_lists()["starts"], enc.to_lists()["ends"]  # doctest: +SKIP
    """

    def __init__(self, spec: GraphTokenizerSpec, name: str = "graph_tokenizer") -> None:
        super().__init__(name=name)
        self.spec = spec
        self.vocab_size = spec.vocab_size
        self._byte_ids = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
            tf.constant([bytes([b]) for b in range(256)]), tf.constant(spec.byte_ids)), -1)
        keys = spec.merge_left * self.vocab_size + spec.merge_right
        ranks = tf.range(len(keys), dtype=tf.int64)
        # value = rank * vocab + merged id: one look-up gives both
        self._merges = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
            tf.constant(keys, tf.int64), ranks * self.vocab_size + tf.constant(spec.merge_result)), -1)
        added = spec.added_tokens
        self._added_ids = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
            tf.constant([t.content for t in added] or [""]), tf.constant([t.id for t in added] or [-1], tf.int64)),
            -1)
        self._token_bytes = tf.constant(spec.token_bytes)
        self._leading_spaces = tf.constant(spec.leading_spaces)
        self._trailing_spaces = tf.constant(spec.trailing_spaces)
        # GPT-2's pattern without its `\s+(?!\S)` alternative, with the library's classes spelled out
        letter, number = f"[{spec.letters}]", f"[{spec.numbers}]"
        other = f"[^{WHITESPACE_CLASS}{spec.letters}{spec.numbers}]"
        self._piece_pattern = f"('s|'t|'re|'ve|'m|'ll|'d| ?{letter}+| ?{number}+| ?{other}+|{_WS}+)"
        self._added_pattern = "(" + "|".join(
            (f"{_WS}*" if t.lstrip else "") + _re2_literal(t.content) + (f"{_WS}*" if t.rstrip else "")
            for t in added) + ")" if added else None

    def encode(self, texts: tf.Tensor) -> Encoding:
        """Tokenize a `(batch,)` string tensor.

        Args:
            texts: `(batch,)` tf.string, UTF-8.

        Returns:
            An `Encoding`.
        """
        texts = tf.convert_to_tensor(texts, tf.string)
        valid = _is_utf8(texts)
        texts = tf.where(valid, texts, "")  # invalid rows (the caller refuses them) give no tokens
        char_starts, char_splits = _char_starts(texts)
        pieces, piece_row, piece_start, piece_added = self._pieces(texts)
        bpe_ids, bpe_count, bpe_start = self._bpe(tf.where(piece_added, "", pieces))

        # every piece gives its BPE tokens, or one token when it is an added token
        count = tf.where(piece_added, tf.ones_like(bpe_count), bpe_count)
        piece, rank = expand(count)
        added = tf.gather(piece_added, piece)
        bpe_index = tf.gather(tf.cumsum(bpe_count, exclusive=True), piece) + rank  # (meaningless for added ones)
        content = tf.strings.regex_replace(pieces, f"^{_WS}+|{_WS}+$", "")
        ids = tf.where(added, tf.gather(self._added_ids.lookup(content), piece), take(bpe_ids, bpe_index))
        length = tf.where(added, tf.gather(tf.cast(tf.strings.length(pieces), tf.int64), piece),
                          tf.gather(self._token_bytes, ids))
        byte_start = tf.gather(piece_start, piece) + tf.where(added, tf.zeros_like(piece), take(bpe_start, bpe_index))
        row = tf.gather(piece_row, piece)
        starts, ends = _chars_of_bytes(texts, char_starts, char_splits, row, byte_start, byte_start + length)
        if self.spec.trim_offsets:
            starts, ends = _trim(starts, ends, *self._spaces(ids, added, pieces, piece))
        # word = index of the piece in its row (what `Encoding.word_ids` gives)
        rows = tf.range(tf.size(texts, out_type=tf.int64) + 1)
        words = piece - tf.gather(tf.searchsorted(piece_row, rows, side="left", out_type=tf.int64), row)
        return Encoding(ids, starts, ends, words, tf.searchsorted(row, rows, side="left", out_type=tf.int64), valid)

    # --- steps ----------------------------------------------------------------------------------------

    def _pieces(self, texts: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
        """Cut texts into added tokens and pre-tokenizer pieces, in text order.

        Returns:
            (pieces, row of each piece, byte offset of each piece in its row, is an added token), flat.
        """
        if self._added_pattern is not None:
            segments = tf.strings.split(tf.strings.regex_replace(texts, self._added_pattern, _CUT + rb"\1" + _CUT),
                                        _CUT)
            row, index = expand(segments.row_lengths())
            added = tf.equal(index % 2, 1)  # each match is cut before and after: added tokens are odd segments
            text = segments.flat_values
        else:
            row, text = tf.range(tf.size(texts, out_type=tf.int64)), texts
            added = tf.zeros_like(row, tf.bool)
        # pass 1: a whitespace run followed by a non-space is cut before its last character (the look-ahead);
        # pass 2: GPT-2's regex without the look-ahead cuts after every match
        for pattern, rewrite in ((f"({_WS})({_NOT_WS})", _CUT + rb"\1\2"), (self._piece_pattern, rb"\1" + _CUT)):
            parts = tf.strings.split(tf.where(added, text, tf.strings.regex_replace(text, pattern, rewrite)), _CUT)
            of_part, _ = expand(parts.row_lengths())
            added, row, text = tf.gather(added, of_part), tf.gather(row, of_part), parts.flat_values
        # the pieces of a row, concatenated, are the row: byte offsets are running sums of lengths
        length = tf.cast(tf.strings.length(text), tf.int64)
        row_base = tf.cumsum(tf.cast(tf.strings.length(texts), tf.int64), exclusive=True)
        start = tf.cumsum(length, exclusive=True) - tf.gather(row_base, row)
        keep = length > 0
        return tuple(tf.boolean_mask(x, keep) for x in (text, row, start, added))

    def _bpe(self, pieces: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """BPE of every piece (each distinct piece once).

        Returns:
            (token ids, flat in piece order; tokens per piece; byte offset of each token in its piece).
        """
        unique, index = tf.unique(pieces, out_idx=tf.int64)
        symbols = tf.strings.bytes_split(unique)
        ids = self._byte_ids.lookup(symbols.flat_values)
        word, _ = expand(symbols.row_lengths())
        vocab = tf.constant(self.vocab_size, tf.int64)

        def merge_best_pairs(ids, word, _):
            found = self._merges.lookup(ids[:-1] * vocab + ids[1:])
            rank = tf.where(tf.equal(word[:-1], word[1:]) & (found >= 0), found // vocab, tf.int64.max)
            best = tf.math.unsorted_segment_min(rank, word[:-1], tf.size(unique, out_type=tf.int64))
            candidate = (rank < tf.int64.max) & tf.equal(rank, tf.gather(best, word[:-1]))
            # overlapping occurrences (runs of one symbol): every other one from the left, as the library's queue
            chosen = candidate & tf.equal(_index_in_run(candidate) % 2, 0)
            ids = tf.concat([tf.where(chosen, found % vocab, ids[:-1]), ids[-1:]], 0)
            keep = tf.concat([[True], tf.logical_not(chosen)], 0)
            return tf.boolean_mask(ids, keep), tf.boolean_mask(word, keep), tf.reduce_any(chosen)

        ids, word, _ = tf.while_loop(
            lambda ids, word, merged: merged, merge_best_pairs, (ids, word, tf.size(ids) > 1),
            shape_invariants=(tf.TensorShape([None]), tf.TensorShape([None]), tf.TensorShape([])))
        # back from distinct pieces to every piece
        count = tf.math.unsorted_segment_sum(tf.ones_like(word), word, tf.size(unique, out_type=tf.int64))
        first = tf.cumsum(count, exclusive=True)
        byte_offset = tf.cumsum(tf.gather(self._token_bytes, ids), exclusive=True)
        byte_offset -= tf.gather(byte_offset, tf.gather(first, word))  # from the start of its word
        piece_count = tf.gather(count, index)
        piece, rank = expand(piece_count)
        source = tf.gather(tf.gather(first, index), piece) + rank
        return tf.gather(ids, source), piece_count, tf.gather(byte_offset, source)

    def _spaces(self, ids, added, pieces, piece):
        """Spaces each token starts and ends with, as `trim_offsets` counts them (`Ġ` or whitespace)."""
        def count(pattern):
            chars = tf.strings.length(pieces, unit="UTF8_CHAR")
            rest = tf.strings.length(tf.strings.regex_replace(pieces, pattern, ""), unit="UTF8_CHAR")
            return tf.gather(tf.cast(chars - rest, tf.int64), piece)

        lead = tf.where(added, count(f"^{_SPACE_SYMBOL_OR_WS}+"), tf.gather(self._leading_spaces, ids))
        trail = tf.where(added, count(f"{_SPACE_SYMBOL_OR_WS}+$"), tf.gather(self._trailing_spaces, ids))
        return lead, trail


# --- flat-tensor helpers (ragged tensors cost many graph ops; these few) -------------------------------

def expand(counts: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """For group sizes `counts`, each element's group and its index in the group.

    Example: counts [2, 0, 3] -> groups [0, 0, 2, 2, 2], indices [0, 1, 0, 1, 2].
    """
    counts = tf.cast(counts, tf.int64)
    ends = tf.cumsum(counts)
    positions = tf.range(tf.reduce_sum(counts))
    group = tf.searchsorted(ends, positions, side="right", out_type=tf.int64)
    return group, positions - tf.gather(ends - counts, group)


def take(values: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
    """`values[index]`, with 0 / "" where `index` is out of range (entries the caller masks out)."""
    padded = tf.concat([values, tf.zeros([1], values.dtype)], 0)
    size = tf.size(values, out_type=tf.int64)
    return tf.gather(padded, tf.where((index >= 0) & (index < size), index, size))


def _re2_literal(text: str) -> str:
    """`text` as an RE2 literal (ASCII punctuation escaped, everything else as is)."""
    return "".join("\\" + c if c.isascii() and not c.isalnum() else c for c in text)


def _is_utf8(texts: tf.Tensor) -> tf.Tensor:
    """Whether each string is valid UTF-8 (decoding it with replacements gives it back unchanged)."""
    codepoints = tf.strings.unicode_decode(texts, "UTF-8", errors="replace", replacement_char=0xFFFD)
    return tf.equal(tf.strings.unicode_encode(codepoints, "UTF-8"), texts)


def _char_starts(texts: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(byte offset of each character, flat; row splits of the characters) of valid UTF-8 strings."""
    _, offsets = tf.strings.unicode_decode_with_offsets(texts, "UTF-8")
    return offsets.flat_values, offsets.row_splits


def _chars_of_bytes(texts, char_starts, char_splits, row, byte_start, byte_end):
    """Character offsets of byte ranges: from the character holding the first byte to the one holding the last."""
    # all rows as one sorted array: row r's byte b sits at b + (bytes of the rows before r)
    row_base = tf.cumsum(tf.cast(tf.strings.length(texts), tf.int64), exclusive=True)
    char_row, _ = expand(char_splits[1:] - char_splits[:-1])
    flat = char_starts + tf.gather(row_base, char_row)
    first_char = tf.gather(char_splits, row)
    base = tf.gather(row_base, row)

    def char_of(byte):
        return tf.searchsorted(flat, byte + base, side="right", out_type=tf.int64) - 1 - first_char

    start = char_of(byte_start)
    return start, tf.where(byte_end > byte_start, char_of(byte_end - 1) + 1, start)


def _trim(starts, ends, lead, trail):
    """RoBERTa's `trim_offsets` (tokenizers' `process_offsets`): spaces at a token's ends leave its offsets."""
    starts = tf.where(lead > 0, tf.minimum(starts + lead, ends), starts)
    ends = tf.where((trail > 0) & (ends >= trail), tf.maximum(ends - trail, starts), ends)
    return starts, ends


def _index_in_run(flags: tf.Tensor) -> tf.Tensor:
    """For each True of a 1-D bool tensor, its position in its run of consecutive Trues (0 for the first)."""
    positions = tf.range(tf.size(flags, out_type=tf.int64))
    gaps = tf.boolean_mask(positions, tf.logical_not(flags))
    last_gap = tf.gather(tf.concat([[-1], gaps], 0), tf.cumsum(tf.cast(tf.logical_not(flags), tf.int64)))
    return positions - last_gap - 1
