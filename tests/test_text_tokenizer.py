"""The tokenizer inside the text signature (tf_longformer/export/text_tokenizer.py) against LongformerTokenizerFast.

The graph tokenizer must give the Python tokenizer's ids, character offsets and word ids on everything a
client may send: accents, CJK, emoji and ZWJ sequences, tabs / newlines / runs of spaces, Unicode spaces,
URLs, numbers, contractions, literal special tokens and `<mask>` with the whitespace it swallows. Checked on
the bundled demo tokenizer (4739 merges) and the tiny QA fixture's (159 merges: mostly byte tokens), in one
mixed-length batch each.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from tokenizers import Tokenizer, normalizers

from tf_longformer import LongformerTokenizerFast
from tf_longformer.export.text_inputs import question_context_windows, single_rows, truncate
from tf_longformer.export.text_tokenizer import GraphTokenizer
from tf_longformer.export.text_tokenizer_spec import TextExportError, graph_tokenizer_spec

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(REPO, "tf_longformer", "demo_model")
TINY_QA = os.path.join(REPO, "tests", "fixtures", "tiny_longformer_qa")

HANDWRITTEN = [
    "", " ", "   ", "\t", "\n", "\r\n", "a", "Hello world", "Hello  world", "Hello\tworld", "Hello\n\nworld",
    "  leading spaces", "trailing spaces   ", " \n mixed \t\n whitespace \u3000 run ", "end with newline\n",
    "Café naïve résumé façade Ångström Øre", "e\u0301 combining acute, a\u0308 combining diaeresis",
    "Straße ĳ ŉ ǅ", "日本語のテキスト、中文文本。한국어 텍스트", "混合 English と 日本語 mixed",
    "😀 😃 😄 😁", "x 😀 y", "👨‍👩‍👧‍👦 family", "👩🏽‍💻 coder", "🏳️‍🌈 flag", "❤️ heart ✨",
    "🇫🇷🇩🇪🇯🇵 flags", "a\u200db\u200cc zero-width joiners", "\ufeffBOM at start", "soft\u00adhyphen",
    "https://example.com/path?query=1&b=two#frag", "mailto:someone@example.org", "http://[::1]:8080/x_y-z.html",
    "www.example.co.uk/index.php?id=42", "C:\\Users\\name\\file.txt", "/usr/local/bin/python3.11",
    "1234567890", "3.14159 2,718 1e-10 -42 +7 0x1F", "½ ⅓ ² ³ ٣ ४ ६ 五 Ⅻ", "१२३ ١٢٣ ۱۲۳",
    "don't I'm we've they'll he'd she's it's", "'s 't 're 've 'm 'll 'd", " 's  'sx", "''s 5's a's",
    "DON'T I'M", "rock'n'roll", "\"quoted\" 'single' «guillemets» „low“", "em—dash en–dash ellipsis…",
    "Hello <mask>.", "Hello  \t<mask>x", "<s>  <mask> a<mask>", "a</s>b", "<mask><mask><mask>",
    "x <unk> <pad> </s> <s>", "<mask>", " <mask>", "<mask> ", "\u3000<mask>", "\u00a0<mask>", "<MASK> <mask",
    "mask> <mas k>", "<<mask>>", "text </s></s> more text", "العربية نص", "עברית טקסט", "हिन्दी पाठ ६",
    "ไทย ภาษา", "Ελληνικά κείμενο", "Русский текст", "ქართული", "ᚠᚢᚦᚨᚱᚲ runes", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕞𝕒𝕥𝕙",
    "\x00\x01\x02 control \x7f", "tab\there\r\nnew  line   ", "aaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "==========", "!!!???...;;;", "def f(x):\n    return x ** 2  # square\n",
    "{\"json\": [1, 2, {\"k\": null}]}", "<html><body>tag</body></html>", "SELECT * FROM t WHERE a='b';",
    "\u2028line separator\u2029paragraph", "nbsp\u00a0nbsp thin\u2009space ideographic\u3000space",
    "\u0085next line \u000bvertical tab \u000cform feed", "𐖀 Vithkuqi 𐗀 Todhri 𐵀 Garay 𑎀 Tulu-Tigalari",
]

FRAGMENTS = [
    "hello", "World", "naïve", "東京", "😀", "👨‍👩‍👧", "123", "4.5", "'s", "don't", "<mask>", "</s>",
    "https://a.b/c", "#tag", "@user", "—", "ß", "ǅ", "١٢", "६", "🏽", "\u200d", "ok!", "(x)", "a_b", "Ω",
]
SEPARATORS = ["", " ", "  ", "\t", "\n", " \n ", "\u3000", "\u00a0", "   ", ",", " - "]


def corpus() -> list[str]:
    """The hand-written strings plus random mixes of fragments and separators (>= 200 strings in all)."""
    rng = np.random.default_rng(18)
    mixes = []
    for _ in range(160):
        parts = rng.choice(FRAGMENTS, size=int(rng.integers(1, 9)))
        seps = rng.choice(SEPARATORS, size=len(parts) + 1)
        mixes.append("".join(s + p for s, p in zip(seps[:-1], parts, strict=True)) + seps[-1])
    return HANDWRITTEN + mixes


def python_encoding(tokenizer, text):
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    return enc["input_ids"], [tuple(o) for o in enc["offset_mapping"]], enc.word_ids()


@pytest.fixture(scope="module", params=[DEMO, TINY_QA], ids=["demo", "tiny_qa"])
def tokenizers(request):
    """(Python tokenizer, graph tokenizer, its encode traced once)."""
    tokenizer = LongformerTokenizerFast.from_pretrained(request.param)
    graph = GraphTokenizer(graph_tokenizer_spec(tokenizer))
    encode = tf.function(graph.encode, input_signature=[tf.TensorSpec([None], tf.string)], autograph=False)
    return tokenizer, graph, encode


def test_ids_offsets_and_words_equal_the_python_tokenizer(tokenizers):
    tokenizer, _, encode = tokenizers
    texts = corpus()
    assert len(texts) >= 200
    encoding = encode(tf.constant(texts))
    assert encoding.valid.numpy().all()
    got = encoding.to_lists()
    mismatches = []
    for i, text in enumerate(texts):
        ours = got["ids"][i], list(zip(got["starts"][i], got["ends"][i], strict=True)), got["words"][i]
        if ours != python_encoding(tokenizer, text):
            mismatches.append(text)
    assert not mismatches, mismatches[:5]
    # the corpus exercises what it claims: the mask that swallows whitespace, literal specials, byte pieces
    ids = [i for row in got["ids"] for i in row]
    assert tokenizer.mask_token_id in ids and tokenizer.sep_token_id in ids and tokenizer.cls_token_id in ids
    row = texts.index("Hello  \t<mask>x")
    mask_at = got["ids"][row].index(tokenizer.mask_token_id)
    assert (got["starts"][row][mask_at], got["ends"][row][mask_at]) == (8, 14)  # the mask itself, spaces trimmed


def test_letters_come_from_the_tokenizers_library_not_re2():
    """The tokenizers library's regex engine knows Unicode 16's letters and digits (Todhri, Tulu-Tigalari,
    Kirat Rai digits); TensorFlow's RE2 does not. The graph uses the library's classes, so such text splits as
    the Python tokenizer splits it."""
    tokenizer = LongformerTokenizerFast.from_pretrained(TINY_QA)
    text = "a\U000105c0b \U00011380\U00011381 1\U00016d70 x\U00016d71y"
    assert not bool(tf.strings.regex_full_match("\U000105c0", r"\p{L}"))  # RE2's own class would disagree
    encode = GraphTokenizer(graph_tokenizer_spec(tokenizer)).encode
    got = encode(tf.constant([text])).to_lists()
    ours = got["ids"][0], list(zip(got["starts"][0], got["ends"][0], strict=True)), got["words"][0]
    assert ours == python_encoding(tokenizer, text)


@pytest.mark.slow
def test_stored_unicode_table_is_the_installed_librarys():
    from tf_longformer.export import text_unicode_classes, text_unicode_table

    assert text_unicode_classes.probe() == {"letter": text_unicode_table.LETTER, "number": text_unicode_table.NUMBER}


def test_invalid_utf8_rows_are_flagged_not_tokenized_wrongly(tokenizers):
    tokenizer, _, encode = tokenizers
    texts = [b"fine text", b"bad \xff byte", "caf\u00e9".encode(), b"cut \xe2\x82", b"\xed\xa0\x80 surrogate"]
    encoding = encode(tf.constant(texts))
    assert encoding.valid.numpy().tolist() == [True, False, True, False, False]
    got = encoding.to_lists()
    for i in (0, 2):
        assert got["ids"][i] == python_encoding(tokenizer, texts[i].decode())[0]


def test_rows_are_truncated_as_truncation_true(tokenizers):
    tokenizer, _, encode = tokenizers
    texts = [t for t in corpus() if t][:40]
    max_length = 12
    rows = single_rows(truncate(encode(tf.constant(texts)), max_length - 2), tokenizer.cls_token_id,
                       tokenizer.sep_token_id, tokenizer.pad_token_id)
    expected = tokenizer(texts, truncation=True, max_length=max_length, padding=True, return_tensors="np")
    assert rows.input_ids.shape[1] <= max_length
    np.testing.assert_array_equal(rows.input_ids.numpy(), expected["input_ids"])
    np.testing.assert_array_equal(rows.attention_mask.numpy(), expected["attention_mask"])


@pytest.mark.parametrize("max_length, stride", [(24, 4), (32, 10), (40, 0)])
def test_question_context_windows_equal_the_overflowing_encodings(tokenizers, max_length, stride):
    tokenizer, _, encode = tokenizers
    texts = corpus()
    questions = ["Who?", "What is the value of it?", "", "<mask> here?", texts[40], "x " * 12]
    # (no empty context: the Python tokenizer then encodes the question alone; the pipeline refuses it)
    contexts = [" ".join(texts[60:75]), "short", texts[100], " ".join(texts[120:160]), " ", texts[5]]
    both = encode(tf.constant(questions + contexts))
    windows, impossible = question_context_windows(
        both.rows(0, len(questions)), both.rows(len(questions), 2 * len(questions)), tokenizer.cls_token_id,
        tokenizer.sep_token_id, tokenizer.pad_token_id, max_length=max_length, stride=stride)
    ids, mask = windows.rows.input_ids.numpy(), windows.rows.attention_mask.numpy()
    example, impossible = windows.example.numpy(), impossible.numpy()
    checked = 0
    for i, (question, context) in enumerate(zip(questions, contexts, strict=True)):
        try:
            expected = tokenizer(question, context, truncation="only_second", max_length=max_length, stride=stride,
                                 return_overflowing_tokens=True)["input_ids"]
        except ValueError:  # the question leaves no room for windows
            assert impossible[i], question
            continue
        assert not impossible[i]
        rows = [ids[r][mask[r] == 1].tolist() for r in np.nonzero(example == i)[0]]
        assert rows == expected, (question, context)
        checked += len(rows)
        question_tokens = len(tokenizer(question, add_special_tokens=False)["input_ids"])
        for r in np.nonzero(example == i)[0]:  # global attention: <s> and the question
            assert windows.global_attention_mask.numpy()[r].tolist() == [1] * (question_tokens + 1) + [0] * (
                ids.shape[1] - question_tokens - 1)
    assert checked > len(questions)  # some contexts really were split


# --- what the graph cannot reproduce is refused -------------------------------------------------------

def variant(edit) -> LongformerTokenizerFast:
    """The tiny QA tokenizer with its tokenizer.json state edited by `edit(state)`."""
    state = json.loads(LongformerTokenizerFast.from_pretrained(TINY_QA).backend_tokenizer.to_str())
    edit(state)
    return LongformerTokenizerFast(tokenizer_object=Tokenizer.from_str(json.dumps(state)))


def drop_byte(state):
    vocab = state["model"]["vocab"]
    unused = next(s for s in ("Ā", "ā", "Ă", "ă", "Ą") if not any(s in "".join(m) for m in state["model"]["merges"]))
    del vocab[unused]


def reorder_merges(state):
    merges = state["model"]["merges"]
    user = next(i for i, m in enumerate(merges) if any(a + b in m for a, b in merges[:i]))
    merges.insert(0, merges.pop(user))


def test_tokenizers_the_graph_cannot_reproduce_are_refused():
    tiny = LongformerTokenizerFast.from_pretrained(TINY_QA)
    graph_tokenizer_spec(tiny)  # the original is fine
    lower = LongformerTokenizerFast.from_pretrained(TINY_QA)
    lower.backend_tokenizer.normalizer = normalizers.Lowercase()
    single_word = variant(lambda s: s["added_tokens"][-1].update(single_word=True))
    cases = [
        (lower, "it has a normalizer"),
        (LongformerTokenizerFast.from_pretrained(TINY_QA, add_prefix_space=True), "add_prefix_space=True"),
        (variant(drop_byte), "of the 256 byte symbols are not in its vocabulary"),
        (variant(reorder_merges), "combines a symbol that only a later merge produces"),
        (single_word, "uses single_word=True"),
    ]
    for tokenizer, message in cases:
        with pytest.raises(TextExportError, match=message) as error:
            graph_tokenizer_spec(tokenizer)
        assert "tokenize in the client" in str(error.value)
