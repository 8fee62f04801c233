"""`LongformerTokenizerFast`: RoBERTa's byte-level BPE on the `tokenizers` library, with Hugging Face's API.

The behaviour follows transformers' `LongformerTokenizerFast` (= `RobertaTokenizerFast`): `<s> A </s>` and
`<s> A </s></s> B </s>` templates, RoBERTa's `<mask>` that swallows the space before it (`lstrip=True`),
HF padding / truncation / stride semantics. This module holds construction and encoding; vocabulary, special
tokens and decoding live in `vocabulary.py`, loading and saving in `serialization.py`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

from ..hub_upload import PushToHubMixin
from .batch_encoding import BatchEncoding
from .padding import VERY_LARGE_INTEGER, detect_tensor_type, pad_rows, resolve_strategies
from .serialization import TokenizerFilesMixin
from .vocabulary import SPECIAL_TOKENS_ATTRIBUTES, TokenLike, VocabularyMixin, added_token

logger = logging.getLogger(__name__)

TextInput = str | Sequence[str]


class LongformerTokenizerFast(VocabularyMixin, TokenizerFilesMixin, PushToHubMixin):
    """Longformer (= RoBERTa) byte-level BPE tokenizer with the Hugging Face API, on `tokenizers` only.

    Special tokens are available as `bos_token`, `eos_token`, `sep_token`, `cls_token`, `unk_token`,
    `pad_token`, `mask_token` (strings) and the matching `*_token_id`. `<mask>` is registered with
    `lstrip=True` as in RoBERTa, so `"Hello <mask>."` gives `Hello`, `<mask>`, `.`.

    Args:
        vocab_file: Path to `vocab.json` (used with `merges_file` when no `tokenizer_file` is given).
        merges_file: Path to `merges.txt`.
        tokenizer_file: Path to a `tokenizer.json`; its vocabulary, merges and added tokens are used, and the
            pre-tokenizer / decoder / post-processor are set to RoBERTa's as transformers does.
        tokenizer_object: A `tokenizers.Tokenizer` to start from (copied).
        errors: Kept for API compatibility (invalid UTF-8 is always replaced when decoding).
        bos_token, eos_token, sep_token, cls_token, unk_token, pad_token, mask_token: Special tokens
            (strings, `AddedToken` or config dicts).
        add_prefix_space: Add a space before the first word (needed for `is_split_into_words=True`). Default:
            the value in `tokenizer_file`, else False.
        trim_offsets: Trim whitespace from offsets. Default: the value in `tokenizer_file`, else True.
        model_max_length: Maximum input length of the model (default: no limit, 1e30 as in transformers).
        padding_side: "right" (default) or "left".
        truncation_side: "right" (default) or "left".
        model_input_names: Inputs returned by default (default `["input_ids", "attention_mask"]`).
        clean_up_tokenization_spaces: Default for `decode` (False).
        split_special_tokens: Tokenize special tokens' text like normal text.
        additional_special_tokens: More special tokens.
        added_tokens_decoder: `{id: AddedToken}` from a `tokenizer_config.json`.
        name_or_path: Where the tokenizer was loaded from.
        **kwargs: Other config keys (kept in `init_kwargs`, otherwise ignored).

    Example:
        >>> tok = LongformerTokenizerFast.from_pretrained("allenai/longformer-base-4096")  # doctest: +SKIP
        >>> enc = tok("Hello <mask>.", return_tensors="tf")                                 # doctest: +SKIP
        >>> tok.decode(enc.input_ids[0], skip_special_tokens=True)                          # doctest: +SKIP
        'Hello.'
    """

    model_input_names = ["input_ids", "attention_mask"]
    padding_side = "right"
    truncation_side = "right"
    pad_token_type_id = 0
    is_fast = True

    def __init__(
        self,
        vocab_file: str | None = None,
        merges_file: str | None = None,
        tokenizer_file: str | None = None,
        *,
        tokenizer_object: Tokenizer | None = None,
        errors: str = "replace",
        bos_token: TokenLike = "<s>",
        eos_token: TokenLike = "</s>",
        sep_token: TokenLike = "</s>",
        cls_token: TokenLike = "<s>",
        unk_token: TokenLike = "<unk>",
        pad_token: TokenLike = "<pad>",
        mask_token: TokenLike = "<mask>",
        add_prefix_space: bool | None = None,
        trim_offsets: bool | None = None,
        model_max_length: int | None = None,
        padding_side: str = "right",
        truncation_side: str = "right",
        model_input_names: Sequence[str] | None = None,
        clean_up_tokenization_spaces: bool = False,
        split_special_tokens: bool = False,
        additional_special_tokens: Sequence[TokenLike] | None = None,
        added_tokens_decoder: Mapping[int | str, TokenLike] | None = None,
        name_or_path: str = "",
        **kwargs: Any,
    ) -> None:
        backend = self._load_backend(vocab_file, merges_file, tokenizer_file, tokenizer_object)
        if add_prefix_space is None:
            pre = backend.pre_tokenizer
            add_prefix_space = (
                bool(pre.add_prefix_space) if isinstance(pre, pre_tokenizers.ByteLevel) else False
            )
        if trim_offsets is None:
            post = backend.post_processor
            trim_offsets = bool(post.trim_offsets) if isinstance(post, processors.RobertaProcessing) else True
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space)
        backend.decoder = decoders.ByteLevel()
        if isinstance(backend.model, models.BPE):
            backend.model.dropout = None
        backend.no_truncation()
        backend.no_padding()
        self._backend = backend
        self.add_prefix_space = add_prefix_space
        self.trim_offsets = trim_offsets
        self.errors = errors
        self.name_or_path = str(name_or_path)
        self.model_max_length = int(model_max_length) if model_max_length is not None else VERY_LARGE_INTEGER
        for side_name, side in (("padding_side", padding_side), ("truncation_side", truncation_side)):
            if side not in ("right", "left"):
                raise ValueError(f"{side_name} must be 'right' or 'left', got {side!r}")
        self.padding_side = padding_side
        self.truncation_side = truncation_side
        self.model_input_names = list(model_input_names or type(self).model_input_names)
        self.clean_up_tokenization_spaces = bool(clean_up_tokenization_spaces)
        self.split_special_tokens = bool(split_special_tokens)
        legacy_added = kwargs.pop("_added_tokens_file", None) or {}
        extra = list(additional_special_tokens or []) + list(kwargs.pop("extra_special_tokens", None) or [])
        self.init_kwargs = dict(kwargs)
        self._warned_too_long = False

        for _, token in sorted((added_tokens_decoder or {}).items(), key=lambda item: int(item[0])):
            self._register_added_token(token)
        for content in sorted(legacy_added, key=legacy_added.get):
            self._backend.add_tokens([AddedToken(content, normalized=True)])

        known = self._added_tokens_by_content()
        values = (bos_token, eos_token, unk_token, sep_token, pad_token, cls_token, mask_token)
        self._special_tokens: dict[str, AddedToken | None] = {
            name: added_token(value, lstrip=name == "mask_token", known=known)
            for name, value in zip(SPECIAL_TOKENS_ATTRIBUTES, values, strict=True)
        }
        self._additional_special_tokens = [added_token(t, known=known) for t in extra]
        registered = [
            t for t in self._special_tokens.values() if t is not None
        ] + self._additional_special_tokens
        self._backend.add_special_tokens(registered)
        self._update_post_processor()

    # ----------------------------------------------------------------------------------- construction helpers
    @staticmethod
    def _load_backend(
        vocab_file: str | None,
        merges_file: str | None,
        tokenizer_file: str | None,
        tokenizer_object: Tokenizer | None,
    ) -> Tokenizer:
        if tokenizer_object is not None:
            return Tokenizer.from_str(tokenizer_object.to_str())
        if tokenizer_file is not None:
            return Tokenizer.from_file(str(tokenizer_file))
        if vocab_file is not None and merges_file is not None:
            bpe = models.BPE.from_file(
                str(vocab_file),
                str(merges_file),
                dropout=None,
                continuing_subword_prefix="",
                end_of_word_suffix="",
                fuse_unk=False,
            )
            return Tokenizer(bpe)
        raise ValueError("give `tokenizer_file`, `vocab_file` + `merges_file`, or `tokenizer_object`")

    def _register_added_token(self, token: TokenLike) -> None:
        if isinstance(token, Mapping):
            fields = {
                k: token[k]
                for k in ("single_word", "lstrip", "rstrip", "normalized", "special")
                if k in token
            }
            token = AddedToken(token["content"], **fields)
        elif isinstance(token, str):
            token = AddedToken(token, special=True, normalized=False)
        if token.special:
            self._backend.add_special_tokens([token])
        else:
            self._backend.add_tokens([token])

    def _update_post_processor(self) -> None:
        if self.sep_token is None or self.cls_token is None:
            raise ValueError("a Longformer tokenizer needs both `sep_token` and `cls_token`")
        self._backend.post_processor = processors.RobertaProcessing(
            (self.sep_token, self.sep_token_id),
            (self.cls_token, self.cls_token_id),
            trim_offsets=self.trim_offsets,
            add_prefix_space=self.add_prefix_space,
        )

    # ----------------------------------------------------------------------------------- encoding
    def __call__(
        self,
        text: TextInput | Sequence[TextInput] | None = None,
        text_pair: TextInput | Sequence[TextInput] | None = None,
        *,
        add_special_tokens: bool = True,
        padding: bool | str = False,
        truncation: bool | str | None = None,
        max_length: int | None = None,
        stride: int = 0,
        is_split_into_words: bool = False,
        pad_to_multiple_of: int | None = None,
        padding_side: str | None = None,
        return_tensors: str | None = None,
        return_token_type_ids: bool | None = None,
        return_attention_mask: bool | None = None,
        return_overflowing_tokens: bool = False,
        return_special_tokens_mask: bool = False,
        return_offsets_mapping: bool = False,
        return_length: bool = False,
        verbose: bool = True,
        split_special_tokens: bool | None = None,
    ) -> BatchEncoding:
        """Tokenize a text, a pair, or a batch of either, as transformers' fast tokenizers do.

        Args:
            text: A string, a batch (list) of strings, or with `is_split_into_words` a list of words / a batch.
            text_pair: The second text(s) of pairs (e.g. the context after a question).
            add_special_tokens: Add `<s>`, `</s>`.
            padding: False / "do_not_pad", True / "longest" (longest in the batch) or "max_length".
            truncation: None / False / "do_not_truncate", True / "longest_first", "only_first", "only_second".
                Giving `max_length` alone turns on "longest_first".
            max_length: Length limit for truncation / "max_length" padding (default `model_max_length`).
            stride: With `return_overflowing_tokens`, number of tokens shared by consecutive windows.
            is_split_into_words: Inputs are lists of words (needs `add_prefix_space=True` for RoBERTa-like
                results).
            pad_to_multiple_of: Round the padded length up to a multiple of this.
            padding_side: "right" or "left" for this call (default `self.padding_side`).
            return_tensors: "tf" (int32 `tf.Tensor`, as transformers 4 TF), "np" (int64) or None (lists).
            return_token_type_ids: Add `token_type_ids` (off by default for RoBERTa).
            return_attention_mask: Add `attention_mask` (on by default).
            return_overflowing_tokens: Return every truncation window as its own row, plus
                `overflow_to_sample_mapping` (row → input index).
            return_special_tokens_mask: Add `special_tokens_mask` (1 on special tokens and padding).
            return_offsets_mapping: Add `offset_mapping`: `(start, end)` character spans, `(0, 0)` for specials.
            return_length: Add `length` (tokens per row, padding included).
            verbose: Warn about sequences longer than `model_max_length`.
            split_special_tokens: Treat special tokens' text as normal text for this call.

        Returns:
            A `BatchEncoding`. A single text (no `return_tensors`, no overflow) gives flat lists, otherwise one
            row per input (or per window).

        Example:
            >>> enc = tok(["Who?", "Why?"], ["A long context.", "Another."], truncation="only_second",
            ...           max_length=64, stride=16, return_overflowing_tokens=True,
            ...           return_offsets_mapping=True, padding="max_length", return_tensors="tf")  # doctest: +SKIP
            >>> enc["overflow_to_sample_mapping"], enc.sequence_ids(0)                             # doctest: +SKIP
        """
        if text is None:
            raise ValueError("You need to specify `text`.")
        for value in (text, text_pair):
            if value is not None and not _is_valid_text_input(value):
                raise ValueError(
                    "text input must be of type `str` (single example), `list[str]` (batch or single pretokenized "
                    "example) or `list[list[str]]` (batch of pretokenized examples)."
                )
        if is_split_into_words:
            is_batched = isinstance(text, (list, tuple)) and bool(text) and isinstance(text[0], (list, tuple))
        else:
            is_batched = isinstance(text, (list, tuple))
        if is_batched:
            if isinstance(text_pair, str):
                raise TypeError(
                    "when tokenizing batches of text, `text_pair` must be a list or tuple of the same length"
                )
            if text_pair is not None and len(text) != len(text_pair):
                raise ValueError(
                    f"batch length of `text` ({len(text)}) != batch length of `text_pair` ({len(text_pair)})"
                )
            inputs = list(zip(text, text_pair, strict=True)) if text_pair is not None else list(text)
        else:
            inputs = [(text, text_pair)] if text_pair else [text]

        padding_strategy, truncation_strategy, max_length = resolve_strategies(
            padding,
            truncation,
            max_length,
            pad_to_multiple_of,
            self.model_max_length,
            has_pad_token=self.pad_token is not None and self.pad_token_id is not None,
            verbose=verbose,
        )
        self._configure_backend(
            padding_strategy, truncation_strategy, max_length, stride, pad_to_multiple_of, padding_side
        )
        split = self.split_special_tokens if split_special_tokens is None else split_special_tokens
        if self._backend.encode_special_tokens != split:
            self._backend.encode_special_tokens = split
        try:
            encodings = self._backend.encode_batch(
                inputs, add_special_tokens=add_special_tokens, is_pretokenized=is_split_into_words
            )
        except BaseException as error:
            # The Rust side raises plain `Exception` (e.g. impossible truncation) or panics (e.g. a stride
            # too large for the room left by max_length): both are bad arguments.
            if type(error) is Exception or type(error).__name__ == "PanicException":
                raise ValueError(f"cannot encode with these arguments: {error}") from None
            raise

        return_token_type_ids = (
            "token_type_ids" in self.model_input_names
            if return_token_type_ids is None
            else return_token_type_ids
        )
        return_attention_mask = (
            "attention_mask" in self.model_input_names
            if return_attention_mask is None
            else return_attention_mask
        )
        data: dict[str, list[Any]] = defaultdict(list)
        rows, sample_mapping = [], []
        for sample, encoding in enumerate(encodings):
            for row in [encoding, *encoding.overflowing] if return_overflowing_tokens else [encoding]:
                rows.append(row)
                sample_mapping.append(sample)
                data["input_ids"].append(row.ids)
                if return_token_type_ids:
                    data["token_type_ids"].append(row.type_ids)
                if return_attention_mask:
                    data["attention_mask"].append(row.attention_mask)
                if return_special_tokens_mask:
                    data["special_tokens_mask"].append(row.special_tokens_mask)
                if return_offsets_mapping:
                    data["offset_mapping"].append(row.offsets)
                if return_length:
                    data["length"].append(len(row.ids))
        data = dict(data) if rows else {"input_ids": []}
        if return_overflowing_tokens:
            data["overflow_to_sample_mapping"] = sample_mapping
        if max_length is None and verbose:
            self._warn_if_too_long(data["input_ids"])

        if not is_batched and return_tensors is None and not return_overflowing_tokens:
            data = {
                key: value[0] if value and isinstance(value[0], list) else value
                for key, value in data.items()
            }
        return BatchEncoding(data, rows, tensor_type=return_tensors)

    def _configure_backend(
        self,
        padding_strategy: str,
        truncation_strategy: str,
        max_length: int | None,
        stride: int,
        pad_to_multiple_of: int | None,
        padding_side: str | None,
    ) -> None:
        if truncation_strategy == "do_not_truncate":
            self._backend.no_truncation()
        else:
            self._backend.enable_truncation(
                max_length=max_length,
                stride=stride,
                strategy=truncation_strategy,
                direction=self.truncation_side,
            )
        side = padding_side or self.padding_side
        if side not in ("right", "left"):
            raise ValueError(f"padding_side must be 'right' or 'left', got {side!r}")
        if self.truncation_side not in ("right", "left"):
            raise ValueError(f"truncation_side must be 'right' or 'left', got {self.truncation_side!r}")
        if padding_strategy == "do_not_pad":
            self._backend.no_padding()
        else:
            self._backend.enable_padding(
                length=max_length if padding_strategy == "max_length" else None,
                direction=side,
                pad_id=self.pad_token_id,
                pad_token=self.pad_token,
                pad_type_id=self.pad_token_type_id,
                pad_to_multiple_of=pad_to_multiple_of,
            )

    def _warn_if_too_long(self, rows: list[list[int]]) -> None:
        longest = max((len(row) for row in rows), default=0)
        if longest > self.model_max_length and not self._warned_too_long:
            logger.warning(
                "Token indices sequence length is longer than the specified maximum sequence length for this model "
                f"({longest} > {self.model_max_length}). Running this sequence through the model will result in "
                "indexing errors"
            )
            self._warned_too_long = True

    def encode_plus(
        self, text: TextInput, text_pair: TextInput | None = None, **kwargs: Any
    ) -> BatchEncoding:
        """Same as `__call__` on one text or pair (transformers 4 name)."""
        return self(text, text_pair, **kwargs)

    def batch_encode_plus(self, batch_text_or_text_pairs: Sequence[Any], **kwargs: Any) -> BatchEncoding:
        """Same as `__call__` on a batch of texts or `(text, text_pair)` tuples (transformers 4 name)."""
        return self(list(batch_text_or_text_pairs), **kwargs)

    def encode(
        self,
        text: TextInput,
        text_pair: TextInput | None = None,
        add_special_tokens: bool = True,
        **kwargs: Any,
    ) -> Any:
        """Ids of one text or pair (`__call__(...)["input_ids"]`).

        Args:
            text: The text (or list of words with `is_split_into_words=True`).
            text_pair: Optional second text.
            add_special_tokens: Add `<s>`, `</s>`.
            **kwargs: Any other `__call__` argument (`truncation`, `max_length`, `return_tensors`, ...).

        Returns:
            A list of ids, or a tensor of shape `[1, length]` with `return_tensors`.

        Example:
            >>> tok.encode("Hello world")   # doctest: +SKIP
            [0, 31414, 232, 2]
        """
        return self(text, text_pair, add_special_tokens=add_special_tokens, **kwargs)["input_ids"]

    def tokenize(
        self, text: str, pair: str | None = None, add_special_tokens: bool = False, **kwargs: Any
    ) -> list[str]:
        """Token strings of a text (byte-level symbols: `Ġ` marks a leading space).

        Example:
            >>> tok.tokenize("Hello world")   # doctest: +SKIP
            ['Hello', 'Ġworld']
        """
        return self(text, pair, add_special_tokens=add_special_tokens, **kwargs).tokens()

    def pad(
        self,
        encoded_inputs: Any,
        padding: bool | str = True,
        max_length: int | None = None,
        pad_to_multiple_of: int | None = None,
        padding_side: str | None = None,
        return_attention_mask: bool | None = None,
        return_tensors: str | None = None,
        verbose: bool = True,
    ) -> BatchEncoding:
        """Pad already encoded inputs (e.g. in a data collator), as transformers' `tokenizer.pad`.

        Args:
            encoded_inputs: A `BatchEncoding` / dict of lists, arrays or tensors, or a list of such dicts.
            padding: True / "longest", "max_length" or False / "do_not_pad".
            max_length: Target length for "max_length".
            pad_to_multiple_of: Round the padded length up to a multiple of this.
            padding_side: "right" or "left" (default `self.padding_side`).
            return_attention_mask: Add / pad `attention_mask` (default: on).
            return_tensors: "tf", "np" or None; default: the type of the inputs.
            verbose: Unused, for API compatibility.

        Returns:
            A `BatchEncoding` with padded `input_ids`, `attention_mask`, `token_type_ids`,
            `special_tokens_mask`; other keys are left unchanged.

        Example:
            >>> tok.pad([{"input_ids": [0, 2]}, {"input_ids": [0, 9, 9, 2]}], return_tensors="np")  # doctest: +SKIP
        """
        if isinstance(encoded_inputs, Sequence) and encoded_inputs and isinstance(encoded_inputs[0], Mapping):
            first = encoded_inputs[0]["input_ids"]
        elif isinstance(encoded_inputs, Mapping):
            first = encoded_inputs["input_ids"]
        else:
            raise ValueError("pad() takes a dict / BatchEncoding or a list of them")
        if return_tensors is None:
            return_tensors = detect_tensor_type(first)
        padding_strategy, _, max_length = resolve_strategies(
            padding,
            None,
            max_length,
            None,
            self.model_max_length,
            has_pad_token=self.pad_token is not None,
            verbose=verbose,
        )
        if return_attention_mask is None:
            return_attention_mask = "attention_mask" in self.model_input_names
        data, _ = pad_rows(
            encoded_inputs.data if isinstance(encoded_inputs, BatchEncoding) else encoded_inputs,
            pad_token_id=self.pad_token_id,
            pad_token_type_id=self.pad_token_type_id,
            padding_strategy=padding_strategy,
            max_length=max_length,
            pad_to_multiple_of=pad_to_multiple_of,
            padding_side=padding_side or self.padding_side,
            return_attention_mask=return_attention_mask,
        )
        return BatchEncoding(data, tensor_type=return_tensors)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name_or_path={self.name_or_path!r}, vocab_size={self.vocab_size}, "
            f"model_max_length={self.model_max_length}, padding_side={self.padding_side!r}, "
            f"truncation_side={self.truncation_side!r}, special_tokens={self.special_tokens_map}, "
            f"add_prefix_space={self.add_prefix_space})"
        )


def _is_valid_text_input(value: Any) -> bool:
    """transformers' accepted shapes: str, list[str], list[list[str]], list[tuple[list[str], list[str]]]."""
    if isinstance(value, str):
        return True
    if not isinstance(value, (list, tuple)):
        return False
    if len(value) == 0 or isinstance(value[0], str):
        return True
    if isinstance(value[0], (list, tuple)):
        inner = value[0]
        if len(inner) == 0 or isinstance(inner[0], str):
            return True
        if isinstance(inner[0], (list, tuple)):
            return len(inner[0]) == 0 or isinstance(inner[0][0], str)
    return False


#: transformers 5 exposes the same class under both names.
LongformerTokenizer = LongformerTokenizerFast
