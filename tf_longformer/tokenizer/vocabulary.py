"""Vocabulary, special tokens and decoding of the Longformer tokenizer (a mixin over a `tokenizers` backend)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tokenizers import AddedToken, Tokenizer

from .padding import to_python

SPECIAL_TOKENS_ATTRIBUTES = (
    "bos_token",
    "eos_token",
    "unk_token",
    "sep_token",
    "pad_token",
    "cls_token",
    "mask_token",
)
TokenLike = str | AddedToken | Mapping[str, Any] | None


def added_token(
    value: TokenLike, *, lstrip: bool = False, known: Mapping[str, AddedToken] | None = None
) -> AddedToken | None:
    """Normalise a special token given as a string, an `AddedToken` or a config dict into a special `AddedToken`.

    Args:
        value: The token. A string already registered in `known` keeps its registered flags.
        lstrip: Default `lstrip` for a new token from a string (True for RoBERTa's `<mask>`).
        known: Tokens already registered in the backend, by content.

    Returns:
        An `AddedToken` with `special=True`, or None.

    Example:
        >>> added_token("<mask>", lstrip=True).lstrip
        True
    """
    if value is None:
        return None
    if isinstance(value, Mapping):
        fields = {k: value[k] for k in ("single_word", "lstrip", "rstrip", "normalized") if k in value}
        return AddedToken(value["content"], special=True, **fields)
    if isinstance(value, AddedToken):
        token = AddedToken(
            value.content,
            single_word=value.single_word,
            lstrip=value.lstrip,
            rstrip=value.rstrip,
            normalized=value.normalized,
            special=True,
        )
        return token
    if not isinstance(value, str):
        raise TypeError(f"a special token must be a str or an AddedToken, got {type(value).__name__}")
    if known and value in known:
        return added_token(known[value])
    return AddedToken(value, lstrip=lstrip, rstrip=False, single_word=False, normalized=False, special=True)


class _SpecialToken:
    """Descriptor for `tokenizer.<name>_token`: reads as a string, assignment registers the token."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        token = obj._special_tokens.get(self.name)
        return None if token is None else str(token)

    def __set__(self, obj: Any, value: TokenLike) -> None:
        obj._set_special_token(self.name, value)


class _SpecialTokenId:
    """Descriptor for `tokenizer.<name>_token_id`: the id of the matching special token (unk id if unknown)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.token_attribute = name[: -len("_id")]

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        token = getattr(obj, self.token_attribute)
        return None if token is None else obj.convert_tokens_to_ids(token)

    def __set__(self, obj: Any, value: int | None) -> None:
        setattr(obj, self.token_attribute, None if value is None else obj.convert_ids_to_tokens(int(value)))


class VocabularyMixin:
    """Vocabulary look-ups, special tokens (`mask_token`, `pad_token_id`, ...) and `decode` / `batch_decode`."""

    # Provided by the tokenizer class.
    _backend: Tokenizer
    _special_tokens: dict[str, AddedToken | None]
    _additional_special_tokens: list[AddedToken]
    clean_up_tokenization_spaces: bool
    model_max_length: int

    bos_token = _SpecialToken()
    eos_token = _SpecialToken()
    unk_token = _SpecialToken()
    sep_token = _SpecialToken()
    pad_token = _SpecialToken()
    cls_token = _SpecialToken()
    mask_token = _SpecialToken()
    bos_token_id = _SpecialTokenId()
    eos_token_id = _SpecialTokenId()
    unk_token_id = _SpecialTokenId()
    sep_token_id = _SpecialTokenId()
    pad_token_id = _SpecialTokenId()
    cls_token_id = _SpecialTokenId()
    mask_token_id = _SpecialTokenId()

    def _update_post_processor(self) -> None:
        raise NotImplementedError

    def _added_tokens_by_content(self) -> dict[str, AddedToken]:
        return {token.content: token for token in self._backend.get_added_tokens_decoder().values()}

    def _set_special_token(self, name: str, value: TokenLike) -> None:
        token = added_token(value, lstrip=name == "mask_token", known=self._added_tokens_by_content())
        if token is not None:
            self._backend.add_special_tokens([token])
        self._special_tokens[name] = token
        if name in ("sep_token", "cls_token") and hasattr(self, "_additional_special_tokens"):
            self._update_post_processor()

    # ----------------------------------------------------------------------------------- vocabulary
    @property
    def backend_tokenizer(self) -> Tokenizer:
        """The underlying `tokenizers.Tokenizer`."""
        return self._backend

    @property
    def vocab_size(self) -> int:
        """Size of the base vocabulary, without added tokens."""
        return self._backend.get_vocab_size(with_added_tokens=False)

    def __len__(self) -> int:
        """Size of the full vocabulary, added tokens included."""
        return self._backend.get_vocab_size(with_added_tokens=True)

    def get_vocab(self) -> dict[str, int]:
        """The full vocabulary `{token: id}`, added tokens included."""
        return self._backend.get_vocab(with_added_tokens=True)

    @property
    def vocab(self) -> dict[str, int]:
        """Same as `get_vocab()`."""
        return self.get_vocab()

    def get_added_vocab(self) -> dict[str, int]:
        """The added (incl. special) tokens `{token: id}`."""
        return {
            token.content: index for index, token in sorted(self._backend.get_added_tokens_decoder().items())
        }

    @property
    def added_tokens_decoder(self) -> dict[int, AddedToken]:
        """The added (incl. special) tokens `{id: AddedToken}`."""
        return dict(sorted(self._backend.get_added_tokens_decoder().items()))

    @property
    def special_tokens_map(self) -> dict[str, str]:
        """`{attribute: token}` for the named special tokens that are set."""
        return {name: str(token) for name, token in self._special_tokens.items() if token is not None}

    @property
    def additional_special_tokens(self) -> list[str]:
        """Special tokens besides the named ones."""
        return [str(token) for token in self._additional_special_tokens]

    @property
    def all_special_tokens(self) -> list[str]:
        """All distinct special tokens, in transformers' order (bos, eos, unk, sep, pad, cls, mask, others)."""
        tokens = [
            str(t) for t in self._special_tokens.values() if t is not None
        ] + self.additional_special_tokens
        return list(dict.fromkeys(tokens))

    @property
    def all_special_ids(self) -> list[int]:
        """Ids of `all_special_tokens`."""
        return self.convert_tokens_to_ids(self.all_special_tokens)

    def convert_tokens_to_ids(self, tokens: str | Iterable[str] | None) -> int | list[int] | None:
        """Token string(s) → id(s); unknown tokens give `unk_token_id`.

        Args:
            tokens: A token or an iterable of tokens.

        Returns:
            An id or a list of ids.

        Example:
            >>> tok.convert_tokens_to_ids(["<s>", "</s>"])   # doctest: +SKIP
            [0, 2]
        """
        if tokens is None:
            return None
        if isinstance(tokens, str):
            index = self._backend.token_to_id(tokens)
            return index if index is not None else self.unk_token_id
        return [self.convert_tokens_to_ids(token) for token in tokens]

    def convert_ids_to_tokens(
        self, ids: int | Iterable[int], skip_special_tokens: bool = False
    ) -> str | list[str]:
        """Id(s) → token string(s) (byte-level symbols, e.g. `Ġworld`).

        Args:
            ids: An id or an iterable of ids (lists, numpy arrays, tensors).
            skip_special_tokens: Drop special tokens from a list.

        Returns:
            A token or a list of tokens.

        Example:
            >>> tok.convert_ids_to_tokens([0, 2])   # doctest: +SKIP
            ['<s>', '</s>']
        """
        ids = to_python(ids)
        if isinstance(ids, int):
            return self._backend.id_to_token(ids)
        skip = set(self.all_special_ids) if skip_special_tokens else set()
        return [self._backend.id_to_token(int(i)) for i in ids if int(i) not in skip]

    def convert_tokens_to_string(self, tokens: Sequence[str]) -> str:
        """Join byte-level tokens back into text."""
        return self._backend.decoder.decode(list(tokens))

    def add_tokens(self, new_tokens: TokenLike | Sequence[TokenLike], special_tokens: bool = False) -> int:
        """Add tokens to the vocabulary (new ids after the current ones).

        Args:
            new_tokens: A token or tokens (strings or `AddedToken`).
            special_tokens: Register them as special (skipped by `decode(skip_special_tokens=True)`).

        Returns:
            The number of tokens actually added.

        Example:
            >>> tok.add_tokens(["<ent>"])   # doctest: +SKIP
            1
        """
        tokens = [new_tokens] if isinstance(new_tokens, (str, AddedToken)) else list(new_tokens)
        if special_tokens:
            return self._backend.add_special_tokens([added_token(t) for t in tokens])
        return self._backend.add_tokens(tokens)

    def add_special_tokens(self, special_tokens_dict: Mapping[str, TokenLike | Sequence[TokenLike]]) -> int:
        """Set named special tokens and/or append `additional_special_tokens`.

        Args:
            special_tokens_dict: e.g. `{"pad_token": "<pad>", "additional_special_tokens": ["<ent>"]}`.

        Returns:
            The number of new ids added to the vocabulary.

        Example:
            >>> tok.add_special_tokens({"additional_special_tokens": ["<ent>"]})   # doctest: +SKIP
            1
        """
        before = len(self)
        for key, value in special_tokens_dict.items():
            if key in SPECIAL_TOKENS_ATTRIBUTES:
                setattr(self, key, value)
            elif key in ("additional_special_tokens", "extra_special_tokens"):
                tokens = [added_token(t, known=self._added_tokens_by_content()) for t in value]
                self._backend.add_special_tokens(tokens)
                known = set(self.additional_special_tokens)
                self._additional_special_tokens += [t for t in tokens if str(t) not in known]
            else:
                raise ValueError(f"{key!r} is not a special token attribute")
        return len(self) - before

    # ----------------------------------------------------------------------------------- special tokens layout
    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        """2 for a single text (`<s> A </s>`), 4 for a pair (`<s> A </s></s> B </s>`)."""
        return self._backend.num_special_tokens_to_add(pair)

    @property
    def max_len_single_sentence(self) -> int:
        """`model_max_length` minus the special tokens of a single text."""
        return self.model_max_length - self.num_special_tokens_to_add(pair=False)

    @property
    def max_len_sentences_pair(self) -> int:
        """`model_max_length` minus the special tokens of a pair."""
        return self.model_max_length - self.num_special_tokens_to_add(pair=True)

    def build_inputs_with_special_tokens(
        self, token_ids_0: list[int], token_ids_1: list[int] | None = None
    ) -> list[int]:
        """`<s> A </s>` or `<s> A </s></s> B </s>` from already tokenized ids."""
        cls, sep = [self.cls_token_id], [self.sep_token_id]
        if token_ids_1 is None:
            return cls + list(token_ids_0) + sep
        return cls + list(token_ids_0) + sep + sep + list(token_ids_1) + sep

    def create_token_type_ids_from_sequences(
        self, token_ids_0: list[int], token_ids_1: list[int] | None = None
    ) -> list[int]:
        """All zeros: RoBERTa does not use token types."""
        return [0] * len(self.build_inputs_with_special_tokens(token_ids_0, token_ids_1))

    def get_special_tokens_mask(
        self,
        token_ids_0: list[int],
        token_ids_1: list[int] | None = None,
        already_has_special_tokens: bool = False,
    ) -> list[int]:
        """1 for special tokens, 0 for text tokens.

        Args:
            token_ids_0: Ids of the first text (or a full sequence when `already_has_special_tokens`).
            token_ids_1: Ids of the second text.
            already_has_special_tokens: The ids already contain special tokens; mark those found.

        Returns:
            The mask, as a list of 0 / 1.

        Example:
            >>> tok.get_special_tokens_mask([0, 100, 2], already_has_special_tokens=True)   # doctest: +SKIP
            [1, 0, 1]
        """
        if already_has_special_tokens:
            if token_ids_1 is not None:
                raise ValueError("token_ids_1 must be None when the ids already have special tokens")
            special = set(self.all_special_ids)
            return [1 if int(i) in special else 0 for i in token_ids_0]
        if token_ids_1 is None:
            return [1] + [0] * len(token_ids_0) + [1]
        return [1] + [0] * len(token_ids_0) + [1, 1] + [0] * len(token_ids_1) + [1]

    # ----------------------------------------------------------------------------------- decoding
    def decode(
        self,
        token_ids: Any,
        skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: bool | None = None,
        **kwargs: Any,
    ) -> str | list[str]:
        """Ids → text. A batch (list of lists, 2-D array / tensor) gives a list of texts, as transformers 5.

        Args:
            token_ids: An id, a list of ids, a batch of them, a numpy array or a tensor.
            skip_special_tokens: Drop special tokens (padding included).
            clean_up_tokenization_spaces: Remove spaces before punctuation (`" ."` → `"."`, `" 's"` → `"'s"`).
                Default `self.clean_up_tokenization_spaces` (False). When True it is applied, as in
                transformers 4; transformers 5 ignores it for BPE tokenizers.
            **kwargs: Ignored (API compatibility).

        Returns:
            The text, or a list of texts for a batch.

        Example:
            >>> tok.decode([0, 31414, 232, 2], skip_special_tokens=True)   # doctest: +SKIP
            'Hello world'
        """
        ids = to_python(token_ids)
        if isinstance(ids, Mapping):
            ids = to_python(ids["input_ids"])
        if isinstance(ids, int):
            ids = [ids]
        if ids and isinstance(ids[0], list):
            return [self._decode(row, skip_special_tokens, clean_up_tokenization_spaces) for row in ids]
        return self._decode(ids, skip_special_tokens, clean_up_tokenization_spaces)

    def batch_decode(
        self,
        sequences: Any,
        skip_special_tokens: bool = False,
        clean_up_tokenization_spaces: bool | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Decode a batch of id sequences into a list of texts (see `decode`).

        Example:
            >>> tok.batch_decode(enc["input_ids"], skip_special_tokens=True)   # doctest: +SKIP
        """
        sequences = to_python(sequences)
        if len(sequences) == 0:
            return []
        result = self.decode(sequences, skip_special_tokens, clean_up_tokenization_spaces)
        return [result] if isinstance(result, str) else result

    def _decode(
        self, ids: list[int], skip_special_tokens: bool, clean_up_tokenization_spaces: bool | None
    ) -> str:
        text = self._backend.decode([int(i) for i in ids], skip_special_tokens=skip_special_tokens)
        if clean_up_tokenization_spaces is None:
            clean_up_tokenization_spaces = self.clean_up_tokenization_spaces
        return self.clean_up_tokenization(text) if clean_up_tokenization_spaces else text

    @staticmethod
    def clean_up_tokenization(text: str) -> str:
        """transformers' clean-up of spaces before punctuation and English contractions."""
        for before, after in (
            (" .", "."),
            (" ?", "?"),
            (" !", "!"),
            (" ,", ","),
            (" ' ", "'"),
            (" n't", "n't"),
            (" 'm", "'m"),
            (" 's", "'s"),
            (" 've", "'ve"),
            (" 're", "'re"),
        ):
            text = text.replace(before, after)
        return text
