"""`LongformerTokenizerFast` against transformers' `LongformerTokenizerFast` (the oracle), loaded from the same
files: a byte-level BPE trained here, in a module-scoped fixture. Everything runs offline."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import warnings

import numpy as np
import pytest
import transformers
from tokenizers import AddedToken

from tf_longformer.tokenizer import (
    BatchEncoding,
    CharSpan,
    LongformerTokenizer,
    LongformerTokenizerFast,
    build_tokenizer_files,
)

HFTokenizer = transformers.LongformerTokenizerFast

pytestmark = pytest.mark.filterwarnings("ignore:`max_length` is ignored")

TRAINING_TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Longformer uses sliding window attention with a few global tokens for long documents.",
    "Question answering needs offsets, word ids and sequence ids to map answers back to characters.",
    "Hello world! Hello there, world. Who is there? It's me, isn't it? They're here, we've seen them.",
    "naïve café résumé déjà vu — coöperate, façade, jalapeño, Ångström, Zürich",
    "日本語のテキストと中文字符，还有한국어 텍스트。",
    "emoji 😀👍🏽 family 👨‍👩‍👧 flags 🇫🇷🇯🇵 and symbols ©®™ ∑∫√ ≤≥ →",
    "numbers 123 4567 3.14159 1e-5 and code: def f(x): return x * 2  # comment",
    "tabs\tand\tnewlines\nare\n\nwhitespace   too",
]
CORPUS = TRAINING_TEXTS * 20
VOCAB_SIZE = 700

AWKWARD = [
    "Hello world!",
    "",
    " ",
    "   ",
    "  leading spaces",
    "trailing spaces   ",
    "repeated    spaces   inside",
    "tabs\tand\t\ttabs",
    "new\nlines\n\nand\r\ncrlf\n",
    "naïve café résumé",
    "combining e\u0301 a\u0308 n\u0303 and precomposed é ä ñ",
    "日本語のテキストと中文字符",
    "emoji 😀👍🏽 family 👨‍👩‍👧 flag 🇫🇷",
    "RTL עברית العربية mixed",
    "zero\u200bwidth\u00a0nbsp",
    "ﬁ ligature Ⅻ fullwidth ＡＢＣ",
    "numbers 123 4.5e-3 #@$%^&*() [brackets] {braces}",
    "don't won't it's they're I'm we've",
    "Hello , world . ? !",
    "<mask>",
    "<mask> at the start",
    "in the <mask> middle",
    "at the end <mask>",
    "Hello <mask>.",
    "(<mask>)",
    "x<mask>y",
    "<mask><mask> <mask>",
    "  <mask>  ",
    "punctuation,<mask>!",
    "<s> literal specials </s> <pad> <unk>",
    "word " * 40,
]
PAIRS = [
    ("Who jumps?", "The quick brown fox jumps over the lazy dog."),
    ("", "empty first"),
    ("empty second", ""),
    ("  spaced  question ", "\tcontext\nwith lines "),
    ("What is <mask>?", "日本語 emoji 😀 context <mask>."),
    ("short", "a much longer context " * 12),
    ("a much longer question " * 8, "short"),
]
LONG_CONTEXT = " ".join(TRAINING_TEXTS) * 2


# ----------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def tok_dir(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("bpe")
    build_tokenizer_files(CORPUS, VOCAB_SIZE, folder, min_frequency=2)
    return str(folder)


@pytest.fixture(scope="module")
def ours(tok_dir) -> LongformerTokenizerFast:
    return LongformerTokenizerFast.from_pretrained(tok_dir)


@pytest.fixture(scope="module")
def ref(tok_dir):
    return HFTokenizer.from_pretrained(tok_dir)


def _outcome(tokenizer, *args, **kwargs):
    try:
        return tokenizer(*args, **kwargs), None
    except BaseException as error:  # the oracle raises plain `Exception` or a Rust `PanicException`
        if isinstance(error, (KeyboardInterrupt, SystemExit)):
            raise
        return None, error


def assert_same_encoding(a: BatchEncoding, b) -> None:
    """Same keys (in order), same values (types included), same token / word / sequence alignment."""
    assert list(a.keys()) == list(b.keys())
    for key in b.keys():
        if isinstance(b[key], np.ndarray):
            assert isinstance(a[key], np.ndarray) and a[key].dtype == b[key].dtype, key
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
        else:
            assert a[key] == b[key], key
    assert len(a.encodings) == len(b.encodings)
    for i in range(len(b.encodings)):
        assert a.tokens(i) == b.tokens(i)
        assert a.word_ids(i) == b.word_ids(i)
        assert a.sequence_ids(i) == b.sequence_ids(i)


def check_call(ours, ref, *args, expect_error: bool = False, **kwargs):
    """Run the same call on both tokenizers: both succeed with equal outputs, or (`expect_error`, the few
    requests that cannot be met) both fail, ours with a ValueError / TypeError. A comparison where both fail
    compares nothing, so it is an error unless expected."""
    a, a_error = _outcome(ours, *args, **kwargs)
    b, b_error = _outcome(ref, *args, **kwargs)
    assert (a_error is None) == (b_error is None), f"ours: {a_error!r}, transformers: {b_error!r}"
    if b_error is not None:
        assert expect_error, f"both raise, nothing is compared: {b_error!r}"
        assert isinstance(a_error, (ValueError, TypeError)), repr(a_error)
        return None
    assert not expect_error, "transformers did not raise"
    assert_same_encoding(a, b)
    return a


def accepted_by_reference(ref, items, **kwargs) -> list:
    """The texts or (text, pair) tuples that transformers encodes with `kwargs` (truncating only one side of
    a pair cannot meet every max_length; those requests are compared in test_impossible_requests_fail_in_both)."""
    return [item for item in items if _outcome(ref, *(item if isinstance(item, tuple) else (item,)), **kwargs)[1] is None]


ALL_OUTPUTS = dict(
    return_offsets_mapping=True,
    return_special_tokens_mask=True,
    return_length=True,
    return_attention_mask=True,
    return_token_type_ids=True,
)


# ----------------------------------------------------------------------------------------------- encoding
def test_aliases_and_layout(ours, ref):
    assert LongformerTokenizer is LongformerTokenizerFast
    assert [ours.convert_ids_to_tokens(i) for i in range(4)] == ["<s>", "<pad>", "</s>", "<unk>"]
    assert ours.mask_token_id == len(ours) - 1 == ours.vocab_size - 1
    for name in ("bos", "eos", "sep", "cls", "unk", "pad", "mask"):
        assert getattr(ours, f"{name}_token") == getattr(ref, f"{name}_token")
        assert getattr(ours, f"{name}_token_id") == getattr(ref, f"{name}_token_id")
    assert ours.all_special_tokens == ref.all_special_tokens
    assert ours.all_special_ids == ref.all_special_ids
    assert (len(ours), ours.vocab_size, ours.get_vocab()) == (len(ref), ref.vocab_size, ref.get_vocab())
    assert ours.num_special_tokens_to_add() == 2 and ours.num_special_tokens_to_add(pair=True) == 4


@pytest.mark.parametrize("text", AWKWARD)
@pytest.mark.parametrize("add_special_tokens", [True, False])
def test_single_text(ours, ref, text, add_special_tokens):
    check_call(ours, ref, text, add_special_tokens=add_special_tokens, **ALL_OUTPUTS)
    check_call(ours, ref, text, add_special_tokens=add_special_tokens)
    assert ours.tokenize(text) == ref.tokenize(text)
    assert ours.encode(text, add_special_tokens=add_special_tokens) == ref.encode(
        text, add_special_tokens=add_special_tokens
    )


def test_mask_strips_the_space_before_it(ours):
    assert ours.convert_ids_to_tokens(ours("Hello <mask>.")["input_ids"]) == [
        "<s>",
        "Hello",
        "<mask>",
        ".",
        "</s>",
    ]
    assert ours.encode("a <mask> b", add_special_tokens=False)[1] == ours.mask_token_id


@pytest.mark.parametrize("pair", PAIRS)
def test_pairs(ours, ref, pair):
    check_call(ours, ref, *pair, **ALL_OUTPUTS)
    check_call(ours, ref, *pair, add_special_tokens=False, return_offsets_mapping=True)


@pytest.mark.parametrize("padding", [True, "longest", "max_length", False, "do_not_pad"])
@pytest.mark.parametrize("max_length", [None, 24, 64])
@pytest.mark.parametrize("pad_to_multiple_of", [None, 8])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_batch_padding(ours, ref, padding, max_length, pad_to_multiple_of, padding_side):
    kwargs = dict(padding=padding, max_length=max_length, pad_to_multiple_of=pad_to_multiple_of)
    kwargs.update(padding_side=padding_side, return_special_tokens_mask=True, return_offsets_mapping=True)
    check_call(ours, ref, AWKWARD[:12], **kwargs)
    check_call(ours, ref, [p[0] for p in PAIRS], [p[1] for p in PAIRS], **kwargs)


def test_padding_side_attribute(tok_dir, ref):
    left = LongformerTokenizerFast.from_pretrained(tok_dir, padding_side="left")
    ref_left = HFTokenizer.from_pretrained(tok_dir, padding_side="left")
    assert left.padding_side == "left"
    check_call(left, ref_left, AWKWARD[:6], padding=True, return_special_tokens_mask=True)
    assert left(["a", "a b c d"], padding=True)["attention_mask"][0][0] == 0


@pytest.mark.parametrize(
    "truncation", [True, "longest_first", "only_first", "only_second", False, "do_not_truncate", None]
)
@pytest.mark.parametrize("max_length", [None, 1, 3, 5, 9, 20])
def test_truncation(ours, ref, truncation, max_length):
    kwargs = dict(truncation=truncation, max_length=max_length)
    if truncation != "only_second":  # a single text has no second sequence
        check_call(ours, ref, AWKWARD[:12], **kwargs, return_offsets_mapping=True)
    pairs = accepted_by_reference(ref, PAIRS, **kwargs)
    assert pairs  # at max_length 5, only the pairs with an empty side can be cut to one side
    check_call(ours, ref, [p[0] for p in pairs], [p[1] for p in pairs], **kwargs, return_offsets_mapping=True)
    check_call(ours, ref, *pairs[0], **kwargs, padding="max_length")


@pytest.mark.parametrize("truncation", ["only_second", "only_first", "longest_first"])
@pytest.mark.parametrize("max_length, stride", [(16, 0), (16, 2), (40, 0), (40, 2), (40, 7)])
@pytest.mark.parametrize("padding", [False, "max_length"])
def test_stride_and_overflow(ours, ref, truncation, stride, max_length, padding):
    """Overflowing windows of the truncated side (the long text: first for `only_first`, second otherwise)."""
    questions = ["Who jumps over the dog?", "What do questions need?", "Why?"]
    contexts = [LONG_CONTEXT, TRAINING_TEXTS[2], LONG_CONTEXT[::-1]]
    if truncation == "only_first":
        questions, contexts = contexts, questions
    kwargs = dict(
        truncation=truncation,
        max_length=max_length,
        stride=stride,
        padding=padding,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        return_special_tokens_mask=True,
    )
    pairs = accepted_by_reference(ref, list(zip(questions, contexts, strict=True)), **kwargs)
    assert len(pairs) >= 2
    enc = check_call(ours, ref, [p[0] for p in pairs], [p[1] for p in pairs], **kwargs)
    assert sorted(set(enc["overflow_to_sample_mapping"])) == list(range(len(pairs)))
    assert len(enc["input_ids"]) > len(pairs)  # windows overflowed
    if truncation != "only_second":  # single texts have no second sequence
        check_call(ours, ref, [LONG_CONTEXT, "short text"], **kwargs)
    check_call(ours, ref, *pairs[0], **kwargs)  # a single pair keeps the batch axis


@pytest.mark.parametrize("args, kwargs", [
    (("a single text",), dict(truncation="only_second", max_length=5)),  # no second sequence to truncate
    (("Who?", LONG_CONTEXT), dict(truncation="only_first", max_length=20)),  # the first cannot get short enough
    (("a much longer question " * 8, "short"), dict(truncation="only_second", max_length=20)),
    (("Who jumps over the dog?", LONG_CONTEXT),  # windows of 16 - 6 - 4 tokens cannot overlap by 7
     dict(truncation="only_second", max_length=16, stride=7, return_overflowing_tokens=True)),
], ids=["only_second_single", "only_first_too_short", "only_second_too_short", "stride_too_large"])
def test_impossible_requests_fail_in_both(ours, ref, args, kwargs):
    check_call(ours, ref, *args, expect_error=True, **kwargs)


def test_qa_windows_cover_the_context(ours):
    enc = ours(
        "Who?",
        LONG_CONTEXT,
        truncation="only_second",
        max_length=32,
        stride=8,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )
    assert len(enc["input_ids"]) > 3 and set(enc["overflow_to_sample_mapping"]) == {0}
    covered = set()
    for row in range(len(enc["input_ids"])):
        for token, sequence in enumerate(enc.sequence_ids(row)):
            if sequence == 1:
                covered.update(range(*enc["offset_mapping"][row][token]))
    assert covered >= {i for i, c in enumerate(LONG_CONTEXT) if not c.isspace()}


def test_alignment_helpers(ours, ref):
    question, context = "Where is the café?", "  The café 😀 is in Zürich,\tnear 日本語."
    a, b = ours(question, context), ref(question, context)
    for token in range(len(b["input_ids"])):
        assert a.token_to_chars(token) == b.token_to_chars(token)
        assert a.token_to_word(token) == b.token_to_word(token)
        assert a.token_to_sequence(token) == b.token_to_sequence(token)
    for sequence, text in enumerate((question, context)):
        for char in range(len(text)):
            assert a.char_to_token(char, sequence_index=sequence) == b.char_to_token(
                char, sequence_index=sequence
            )
            assert a.char_to_word(char, sequence_index=sequence) == b.char_to_word(
                char, sequence_index=sequence
            )
        for word in range(max(w for w in b.word_ids() if w is not None) + 1):
            assert a.word_to_tokens(word, sequence_index=sequence) == b.word_to_tokens(
                word, sequence_index=sequence
            )
    batch = ours([question, context])
    assert batch.char_to_token(1, 3) == ref([question, context]).char_to_token(1, 3)
    assert isinstance(a.token_to_chars(1), CharSpan) and a.token_to_chars(0) is None
    assert a.token_to_chars(-2) == a.token_to_chars(len(a["input_ids"]) - 2)
    assert a.input_ids == a["input_ids"] and a[0] is a.encodings[0]


def test_split_into_words(tok_dir):
    words = [["Hello", "world", "!"], ["naïve", "café", "<mask>"]]
    a = LongformerTokenizerFast.from_pretrained(tok_dir, add_prefix_space=True)
    b = HFTokenizer.from_pretrained(tok_dir, add_prefix_space=True)
    check_call(a, b, words, is_split_into_words=True, padding=True, return_offsets_mapping=True)
    check_call(a, b, words[0], is_split_into_words=True)
    for text in AWKWARD[:12]:
        check_call(a, b, text, return_offsets_mapping=True)


def test_split_special_tokens(ours, ref):
    check_call(ours, ref, "Hello <mask> and <s>", split_special_tokens=True)


# ----------------------------------------------------------------------------------------------- tensors
def test_return_tensors_np(ours, ref):
    kwargs = dict(padding=True, return_offsets_mapping=True, return_special_tokens_mask=True)
    a = check_call(ours, ref, AWKWARD[:8], return_tensors="np", **kwargs)
    assert a["input_ids"].dtype == np.int64 and a["offset_mapping"].shape[-1] == 2
    single = ours("Hello", return_tensors="np")
    assert single["input_ids"].shape == (1, 3)


def test_return_tensors_tf(ours, ref):
    import tensorflow as tf
    kwargs = dict(
        padding=True,
        return_offsets_mapping=True,
        truncation="only_second",
        max_length=24,
        stride=4,
        return_overflowing_tokens=True,
    )
    enc = ours(["q1", "q2"], [LONG_CONTEXT, "short"], return_tensors="tf", **kwargs)
    expected = ref(["q1", "q2"], [LONG_CONTEXT, "short"], return_tensors="np", **kwargs)
    for key in expected:
        assert tf.is_tensor(enc[key]) and enc[key].dtype == tf.int32, (
            key
        )  # transformers 4 TF: tf.constant → int32
        np.testing.assert_array_equal(enc[key].numpy(), expected[key], err_msg=key)
    with pytest.raises(ValueError, match="padding"):
        ours(["a", "a b c"], return_tensors="tf")
    with pytest.raises(ValueError, match="not supported"):
        ours("a", return_tensors="pt")
    assert ours.decode(enc["input_ids"][0]) == ref.decode(expected["input_ids"][0])


# ----------------------------------------------------------------------------------------------- decoding
@pytest.mark.parametrize("skip_special_tokens", [False, True])
def test_decode(ours, ref, skip_special_tokens):
    for text in AWKWARD:
        ids = ref(text)["input_ids"]
        assert ours.decode(ids, skip_special_tokens=skip_special_tokens) == ref.decode(
            ids, skip_special_tokens=skip_special_tokens
        )
    pairs = ref([p[0] for p in PAIRS], [p[1] for p in PAIRS], padding=True)["input_ids"]
    assert ours.batch_decode(pairs, skip_special_tokens=skip_special_tokens) == ref.batch_decode(
        pairs, skip_special_tokens=skip_special_tokens
    )
    assert ours.decode(pairs, skip_special_tokens=skip_special_tokens) == ref.decode(
        pairs, skip_special_tokens=skip_special_tokens
    )
    assert ours.batch_decode(np.asarray(pairs), skip_special_tokens=skip_special_tokens) == ref.batch_decode(
        pairs, skip_special_tokens=skip_special_tokens
    )
    assert ours.decode(ids[1]) == ref.decode(ids[1]) and ours.batch_decode([]) == []


def test_decode_clean_up_tokenization_spaces(tok_dir, ours):
    # transformers 5 ignores the flag for BPE unless forced; forced, it applies the transformers 4 clean-up.
    forced = HFTokenizer.from_pretrained(
        tok_dir,
        clean_up_tokenization_spaces=True,
        clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output=True,
    )
    for text in ["Hello , world . ? !", "don 't , it 's", "they 're we 've I 'm"] + AWKWARD:
        ids = forced(text)["input_ids"]
        assert ours.decode(ids, clean_up_tokenization_spaces=True, skip_special_tokens=True) == forced.decode(
            ids, skip_special_tokens=True
        )
        assert ours.decode(ids) == forced.decode(ids, clean_up_tokenization_spaces=False)


def test_vocabulary_conversions(ours, ref):
    tokens = ref.tokenize(" ".join(AWKWARD)) + ["<mask>", "<s>", "not-a-token-at-all"]
    assert ours.convert_tokens_to_ids(tokens) == ref.convert_tokens_to_ids(tokens)
    assert ours.convert_tokens_to_ids("not-a-token") == ours.unk_token_id
    ids = ref.convert_tokens_to_ids(tokens)
    assert ours.convert_ids_to_tokens(ids) == ref.convert_ids_to_tokens(ids)
    assert ours.convert_ids_to_tokens(ids, skip_special_tokens=True) == ref.convert_ids_to_tokens(
        ids, skip_special_tokens=True
    )
    assert ours.convert_ids_to_tokens(np.int64(5)) == ref.convert_ids_to_tokens(5)
    assert ours.convert_tokens_to_string(tokens[:20]) == ref.convert_tokens_to_string(tokens[:20])
    full = ref("Hello", "world")["input_ids"]
    assert ours.get_special_tokens_mask(full, already_has_special_tokens=True) == ref.get_special_tokens_mask(
        full, already_has_special_tokens=True
    )
    a, b = ours.encode("Hello", add_special_tokens=False), ours.encode("world", add_special_tokens=False)
    assert ours.build_inputs_with_special_tokens(a, b) == full
    assert (
        ours.get_special_tokens_mask(a, b)
        == ref("Hello", "world", return_special_tokens_mask=True)["special_tokens_mask"]
    )


def test_pad(ours, ref):
    rows = [ref(text, return_special_tokens_mask=True) for text in AWKWARD[:5]]
    features = [{key: row[key] for key in row} for row in rows]
    for kwargs in (
        dict(),
        dict(padding="max_length", max_length=40),
        dict(pad_to_multiple_of=8, padding_side="left"),
    ):
        a = ours.pad([dict(f) for f in features], return_tensors="np", **kwargs)
        b = ref.pad([dict(f) for f in features], return_tensors="np", **kwargs)
        assert list(a.keys()) == list(b.keys())
        for key in b:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    batch = {"input_ids": [f["input_ids"] for f in features]}
    assert ours.pad(batch)["input_ids"] == ref.pad(batch)["input_ids"]


# ----------------------------------------------------------------------------------------------- files
def test_save_pretrained_loads_in_transformers(ours, tmp_path):
    saved = tmp_path / "saved"
    paths = ours.save_pretrained(saved)
    expected = {
        "tokenizer.json",
        "vocab.json",
        "merges.txt",
        "tokenizer_config.json",
        "special_tokens_map.json",
    }
    assert {os.path.basename(p) for p in paths} == expected == set(os.listdir(saved))
    hf = HFTokenizer.from_pretrained(saved)
    auto = transformers.AutoTokenizer.from_pretrained(saved)
    again = LongformerTokenizerFast.from_pretrained(saved)
    for other in (hf, auto):
        check_call(
            again, other, AWKWARD, padding=True, return_offsets_mapping=True, return_special_tokens_mask=True
        )
        check_call(again, other, *PAIRS[4], return_offsets_mapping=True)
    assert hf.added_tokens_decoder[ours.mask_token_id].lstrip


def test_model_max_length_and_config(tmp_path):
    folder = tmp_path / "limited"
    build_tokenizer_files(CORPUS, 400, folder, model_max_length=32)
    a, b = LongformerTokenizerFast.from_pretrained(folder), HFTokenizer.from_pretrained(folder)
    assert a.model_max_length == b.model_max_length == 32
    check_call(a, b, [LONG_CONTEXT, "x"], truncation=True, padding="max_length")
    assert len(a(LONG_CONTEXT, truncation=True)["input_ids"]) == 32
    assert LongformerTokenizerFast.from_pretrained(folder, model_max_length=8).model_max_length == 8
    config = json.loads((folder / "tokenizer_config.json").read_text())
    assert config["tokenizer_class"] == "LongformerTokenizer" and config["model_max_length"] == 32


def test_from_vocab_and_merges_only(tok_dir, tmp_path):
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(tok_dir, name), tmp_path / name)
    ours = LongformerTokenizerFast.from_pretrained(tmp_path)
    # Like transformers 4 (and the Hub's roberta-base files), `<mask>` keeps lstrip=True; transformers 5 drops
    # it for a bare vocab.json + merges.txt unless told, so the oracle is told.
    mask = AddedToken("<mask>", lstrip=True, rstrip=False, normalized=False, special=True)
    ref = HFTokenizer.from_pretrained(tmp_path, mask_token=mask)
    check_call(ours, ref, AWKWARD, padding=True, return_offsets_mapping=True, return_special_tokens_mask=True)
    check_call(ours, ref, *PAIRS[4], return_offsets_mapping=True)
    assert ours.decode(ours("Hello <mask>.")["input_ids"]) == ref.decode(ref("Hello <mask>.")["input_ids"])


def test_from_transformers4_style_folder(tok_dir, tmp_path):
    """vocab.json + merges.txt + special_tokens_map.json with AddedToken dicts, as transformers 4 saved them."""
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(tok_dir, name), tmp_path / name)
    mask = {"content": "<mask>", "lstrip": True, "normalized": False, "rstrip": False, "single_word": False}
    (tmp_path / "special_tokens_map.json").write_text(json.dumps({"mask_token": mask, "pad_token": "<pad>"}))
    config = {
        "model_max_length": 4096,
        "add_prefix_space": False,
        "tokenizer_class": "LongformerTokenizer",
        "mask_token": {"__type": "AddedToken", **mask},
        "vocab_file": "/etc/passwd",
    }
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    ours, ref = LongformerTokenizerFast.from_pretrained(tmp_path), HFTokenizer.from_pretrained(tmp_path)
    assert ours.model_max_length == ref.model_max_length == 4096
    check_call(ours, ref, AWKWARD, padding=True, return_offsets_mapping=True)


def test_from_transformers_saved_folder(ref, tmp_path):
    ref.save_pretrained(tmp_path)
    ours = LongformerTokenizerFast.from_pretrained(tmp_path)
    check_call(ours, ref, AWKWARD, padding=True, return_offsets_mapping=True, return_special_tokens_mask=True)


def test_train_new_from_iterator(ours, tmp_path):
    small = ours.train_new_from_iterator(CORPUS, vocab_size=300)
    assert small.vocab_size == 300 and small.mask_token_id == 299 and small.pad_token_id == 1
    small.save_pretrained(tmp_path)
    check_call(
        small, HFTokenizer.from_pretrained(tmp_path), AWKWARD, padding=True, return_offsets_mapping=True
    )
    with pytest.raises(ValueError, match="at least"):
        build_tokenizer_files(CORPUS, 100, tmp_path / "too_small")


# ----------------------------------------------------------------------------------------------- hub
@pytest.fixture
def empty_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    return tmp_path / "hf_home" / "hub"


def test_offline_hub_id_not_cached(empty_hub_cache):
    with pytest.raises(OSError, match="offline") as info:
        LongformerTokenizerFast.from_pretrained("allenai/longformer-base-4096")
    assert "allenai/longformer-base-4096" in str(info.value) and "not in the Hugging Face cache" in str(
        info.value
    )
    assert type(info.value) is OSError


def test_offline_hub_id_from_cache(empty_hub_cache, tok_dir, ref):
    repo = empty_hub_cache / "models--allenai--longformer-base-4096"
    commit = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(tok_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    config = json.loads((repo / "snapshots" / commit / "tokenizer_config.json").read_text())
    del config["model_max_length"]  # the Hub checkpoint has none: the known size 4096 applies
    (repo / "snapshots" / commit / "tokenizer_config.json").write_text(json.dumps(config))
    ours = LongformerTokenizerFast.from_pretrained("allenai/longformer-base-4096")
    assert ours.model_max_length == 4096 and ours.name_or_path == "allenai/longformer-base-4096"
    check_call(ours, ref, AWKWARD[:10], padding=True)


def test_bad_paths_and_ids(tmp_path):
    with pytest.raises(OSError, match="No tokenizer files"):
        LongformerTokenizerFast.from_pretrained(tmp_path)
    with pytest.raises(OSError, match="neither a local folder nor a valid"):
        LongformerTokenizerFast.from_pretrained(str(tmp_path / "missing" / "deep" / "folder"))
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(OSError, match="is a file"):
        LongformerTokenizerFast.from_pretrained(tmp_path / "file.txt")


def test_pickle_and_special_token_setters(tok_dir):
    tok = LongformerTokenizerFast.from_pretrained(tok_dir)
    clone = pickle.loads(pickle.dumps(tok))
    assert clone("Hello <mask>.", return_offsets_mapping=True) == tok(
        "Hello <mask>.", return_offsets_mapping=True
    )
    enc = pickle.loads(pickle.dumps(tok(["a b", "c"], padding=True)))
    assert enc.input_ids[1][-1] == tok.pad_token_id and enc.word_ids(0)[1] == 0
    added = tok.add_special_tokens({"additional_special_tokens": ["<ent>"]})
    assert added == 1 and tok.convert_tokens_to_ids("<ent>") == len(tok) - 1
    assert (
        "<ent>" in tok.all_special_tokens
        and tok.decode(tok("x <ent>")["input_ids"], skip_special_tokens=True) == "x "
    )
    tok.pad_token = "<unk>"
    assert tok.pad_token_id == 3 and tok(["a", "a b"], padding=True)["input_ids"][0][-1] == 3


def test_invalid_arguments(ours):
    with pytest.raises(ValueError, match="padding_side"):
        ours(["a", "a b"], padding=True, padding_side="middle")
    with pytest.raises(ValueError):
        ours("a", padding="sideways")
    with pytest.raises(ValueError):
        ours("a", truncation="middle")
    with pytest.raises(ValueError, match="multiple"):
        ours("a", padding=True, truncation=True, max_length=10, pad_to_multiple_of=8)
    with pytest.raises(ValueError, match="specify"):
        ours(None)
    with pytest.raises(ValueError):
        ours(["a", "b"], ["c"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours(AWKWARD[:2], padding=True)
