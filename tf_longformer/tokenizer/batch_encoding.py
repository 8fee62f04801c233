"""`BatchEncoding`: the dict-like result of a tokenizer call, as in Hugging Face transformers.

Besides the plain mapping (`enc["input_ids"]`, `enc.input_ids`) it keeps the `tokenizers.Encoding` of each
row so that tokens can be mapped back to words and characters (question answering, token classification).
"""

from __future__ import annotations

from collections import UserDict
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from tokenizers import Encoding

#: Values accepted for `return_tensors`.
SUPPORTED_TENSOR_TYPES = ("tf", "np")


class CharSpan(NamedTuple):
    """A span of characters in an original string: `start` included, `end` excluded."""

    start: int
    end: int


class TokenSpan(NamedTuple):
    """A span of tokens in an encoded sequence: `start` included, `end` excluded."""

    start: int
    end: int


def _tensor_type_name(tensor_type: Any) -> str:
    name = getattr(tensor_type, "value", tensor_type)  # accepts enums such as transformers' TensorType
    if name not in SUPPORTED_TENSOR_TYPES:
        raise ValueError(
            f"return_tensors={tensor_type!r} is not supported; use one of {SUPPORTED_TENSOR_TYPES} or None."
        )
    return name


def _is_ragged(value: Any) -> bool:
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], (list, tuple, np.ndarray)):
        return len({len(v) for v in value}) > 1
    return False


def as_tensor(value: Any, tensor_type: str) -> Any:
    """Convert nested python lists of ints to a tensor of `tensor_type`.

    Args:
        value: Nested lists (or an already converted array / tensor, returned unchanged).
        tensor_type: `"np"` (numpy, int64 like transformers) or `"tf"` (`tf.Tensor`, int32 like the
            TensorFlow tokenizers of transformers 4, i.e. what `tf.constant` gives for python ints).

    Returns:
        A `np.ndarray` or a `tf.Tensor`. Ragged rows give a numpy object array for `"np"` (as transformers
        does) and a `ValueError` for `"tf"`.

    Example:
        >>> as_tensor([[0, 5, 2]], "np").dtype
        dtype('int64')
    """
    tensor_type = _tensor_type_name(tensor_type)
    if tensor_type == "np":
        if isinstance(value, np.ndarray):
            return value
        if _is_ragged(value):
            out = np.empty(len(value), dtype=object)
            out[:] = [np.asarray(v, dtype=np.int64) for v in value]
            return out
        return np.asarray(value, dtype=np.int64)
    import tensorflow as tf  # lazy: tokenizing does not need TensorFlow

    if tf.is_tensor(value):
        return value
    if _is_ragged(value):
        raise ValueError("rows of different lengths")
    return tf.constant(value, dtype=tf.int32)


class BatchEncoding(UserDict):
    """Output of [`LongformerTokenizerFast.__call__`]: a dict of model inputs plus alignment helpers.

    Keys are `input_ids`, `attention_mask` and, on request, `token_type_ids`, `special_tokens_mask`,
    `offset_mapping`, `length` and `overflow_to_sample_mapping`. Values are python lists, `np.ndarray` or
    `tf.Tensor` depending on `return_tensors`.

    Args:
        data: The dictionary of inputs.
        encoding: The `tokenizers.Encoding` of each row (one per row of `input_ids`, overflow windows included).
        tensor_type: `"tf"`, `"np"` or None (python lists).
        prepend_batch_axis: Wrap every value in a batch of one before converting to tensors.
        n_sequences: 1 for single texts, 2 for pairs; read from the encodings when not given.

    Example:
        >>> enc = tokenizer(["Hello world"], return_offsets_mapping=True)   # doctest: +SKIP
        >>> enc.input_ids, enc.word_ids(0), enc.char_to_token(0, 6)          # doctest: +SKIP
    """

    def __init__(
        self,
        data: dict[str, Any] | None = None,
        encoding: Encoding | Sequence[Encoding] | None = None,
        tensor_type: str | None = None,
        prepend_batch_axis: bool = False,
        n_sequences: int | None = None,
    ) -> None:
        super().__init__(data)
        if isinstance(encoding, Encoding):
            encoding = [encoding]
        self._encodings: list[Encoding] | None = list(encoding) if encoding is not None else None
        if n_sequences is None and self._encodings:
            n_sequences = self._encodings[0].n_sequences
        self._n_sequences = n_sequences
        self.convert_to_tensors(tensor_type=tensor_type, prepend_batch_axis=prepend_batch_axis)

    # ----------------------------------------------------------------------------------- mapping access
    def __getitem__(self, item: str | int | slice) -> Any:
        """`enc["input_ids"]` gives a value, `enc[i]` the `tokenizers.Encoding` of row i, `enc[a:b]` a sliced dict."""
        if isinstance(item, str):
            return self.data[item]
        if self._encodings is not None and isinstance(item, int):
            return self._encodings[item]
        if isinstance(item, slice):
            return {key: value[item] for key, value in self.data.items()}
        raise KeyError(f"invalid key {item!r}: use a string, a row index or a slice")

    def __getattr__(self, item: str) -> Any:
        if item.startswith("_") or item == "data":
            raise AttributeError(item)
        try:
            return self.data[item]
        except KeyError:
            raise AttributeError(f"BatchEncoding has no key or attribute {item!r}") from None

    def __getstate__(self) -> dict[str, Any]:
        return {"data": self.data, "encodings": self._encodings, "n_sequences": self._n_sequences}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.data = state["data"]
        self._encodings = state.get("encodings")
        self._n_sequences = state.get("n_sequences")

    # ----------------------------------------------------------------------------------- encodings
    @property
    def encodings(self) -> list[Encoding] | None:
        """The `tokenizers.Encoding` of each row, or None when built from plain data."""
        return self._encodings

    @property
    def is_fast(self) -> bool:
        """True when alignment information (encodings) is available."""
        return self._encodings is not None

    @property
    def n_sequences(self) -> int | None:
        """1 when single texts were encoded, 2 for pairs, None if unknown."""
        return self._n_sequences

    def _encoding(self, batch_index: int) -> Encoding:
        if not self._encodings:
            raise ValueError(
                "this BatchEncoding has no alignment information (it was not built by a tokenizer call)"
            )
        return self._encodings[batch_index]

    def _split_index(self, batch_or_index: int, index: int | None) -> tuple[Encoding, int]:
        if index is None:
            batch_index, index = 0, batch_or_index
        else:
            batch_index = batch_or_index
        return self._encoding(batch_index), index

    @staticmethod
    def _token_position(encoding: Encoding, token_index: int) -> int:
        return token_index + len(encoding) if token_index < 0 else token_index

    def tokens(self, batch_index: int = 0) -> list[str]:
        """Tokens (as strings) of row `batch_index`, special tokens and padding included."""
        return self._encoding(batch_index).tokens

    def sequence_ids(self, batch_index: int = 0) -> list[int | None]:
        """For each token of row `batch_index`: 0 (first text), 1 (second text of a pair) or None (special/pad)."""
        return self._encoding(batch_index).sequence_ids

    def word_ids(self, batch_index: int = 0) -> list[int | None]:
        """For each token of row `batch_index`: the index of its word in its text, None for special tokens."""
        return self._encoding(batch_index).word_ids

    def token_to_sequence(self, batch_or_token_index: int, token_index: int | None = None) -> int | None:
        """Which text (0 or 1) a token comes from. Call as `(token_index)` or `(batch_index, token_index)`."""
        encoding, token_index = self._split_index(batch_or_token_index, token_index)
        return encoding.token_to_sequence(self._token_position(encoding, token_index))

    def token_to_word(self, batch_or_token_index: int, token_index: int | None = None) -> int | None:
        """Index of the word a token belongs to. Call as `(token_index)` or `(batch_index, token_index)`."""
        encoding, token_index = self._split_index(batch_or_token_index, token_index)
        return encoding.token_to_word(self._token_position(encoding, token_index))

    def word_to_tokens(
        self, batch_or_word_index: int, word_index: int | None = None, sequence_index: int = 0
    ) -> TokenSpan | None:
        """Token span of a word of text `sequence_index`; None when the word has no token (e.g. truncated)."""
        encoding, word_index = self._split_index(batch_or_word_index, word_index)
        span = encoding.word_to_tokens(word_index, sequence_index)
        return TokenSpan(*span) if span is not None else None

    def token_to_chars(self, batch_or_token_index: int, token_index: int | None = None) -> CharSpan | None:
        """Character span of a token in its original text; None for special tokens and padding."""
        encoding, token_index = self._split_index(batch_or_token_index, token_index)
        span = encoding.token_to_chars(self._token_position(encoding, token_index))
        return CharSpan(*span) if span is not None else None

    def char_to_token(
        self, batch_or_char_index: int, char_index: int | None = None, sequence_index: int = 0
    ) -> int | None:
        """Index of the token covering a character of text `sequence_index`; None for whitespace or truncated chars."""
        encoding, char_index = self._split_index(batch_or_char_index, char_index)
        return encoding.char_to_token(char_index, sequence_index)

    def word_to_chars(
        self, batch_or_word_index: int, word_index: int | None = None, sequence_index: int = 0
    ) -> CharSpan | None:
        """Character span of a word of text `sequence_index`."""
        encoding, word_index = self._split_index(batch_or_word_index, word_index)
        span = encoding.word_to_chars(word_index, sequence_index)
        return CharSpan(*span) if span is not None else None

    def char_to_word(
        self, batch_or_char_index: int, char_index: int | None = None, sequence_index: int = 0
    ) -> int | None:
        """Index of the word containing a character of text `sequence_index`."""
        encoding, char_index = self._split_index(batch_or_char_index, char_index)
        return encoding.char_to_word(char_index, sequence_index)

    # ----------------------------------------------------------------------------------- tensors
    def convert_to_tensors(
        self, tensor_type: str | None = None, prepend_batch_axis: bool = False
    ) -> BatchEncoding:
        """Convert every value in place to `tensor_type` (`"tf"` → int32 `tf.Tensor`, `"np"` → int64 array).

        Args:
            tensor_type: `"tf"`, `"np"` or None (no change).
            prepend_batch_axis: Wrap each value in a batch of one first.

        Returns:
            `self`.

        Example:
            >>> BatchEncoding({"input_ids": [[0, 2]]}).convert_to_tensors("np")["input_ids"].shape
            (1, 2)
        """
        if tensor_type is None:
            return self
        name = _tensor_type_name(tensor_type)
        for key, value in list(self.data.items()):
            try:
                self.data[key] = as_tensor([value] if prepend_batch_axis else value, name)
            except (ValueError, TypeError) as error:
                raise ValueError(
                    "Unable to create tensor, you should probably activate truncation and/or padding with "
                    f"'padding=True' 'truncation=True' to have batched tensors with the same length "
                    f"(failed on `{key}`)."
                ) from error
        return self
