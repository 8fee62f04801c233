"""Make a Longformer from a RoBERTa- or BERT-family checkpoint, or lengthen a Longformer (numpy + json only).

The recipe of the Longformer paper (Beltagy et al., 2020, section 5): copy the learned position embeddings
again and again until the table covers the new length, and initialise the global projections
`query_global` / `key_global` / `value_global` from the local `query` / `key` / `value`. The result is a
plain Hugging Face Longformer folder (`config.json`, `model.safetensors`, tokenizer files) that both
`TFLongformer*.from_pretrained` and transformers' PyTorch `Longformer*` load.

Position ids. A Longformer (like RoBERTa) numbers real tokens `pad_token_id + 1, pad_token_id + 2, ...`
and gives padding `pad_token_id`, so the first `offset = pad_token_id + 1` rows of its table are never
used by a real token. RoBERTa-family tables already have that layout: row `offset + i` is kept for every
`i` the source knows and repeated after it. BERT numbers tokens from 0, so BERT row `p` goes to row
`p + offset` (BERT's `pad_token_id` is 0, so `offset` is 1) and the rows below `offset` are zero.

Example:
    >>> from converters.elongate import elongate
    >>> elongate("roberta-base-folder", "longformer-folder", max_length=4096,
    ...          attention_window=512)                                     # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from converters.atomic_folder import Writer, copy_of, replace_in_folder, text_file
from converters.checkpoint import is_safetensors_weights, read_checkpoint, read_config_json
from converters.safetensors_io import save_safetensors

#: model_type of the source -> family whose name table and position layout apply.
FAMILIES = {
    "roberta": "roberta",
    "xlm-roberta": "roberta",
    "camembert": "roberta",
    "bert": "bert",
    "longformer": "longformer",
}

# --- name tables: (source name prefix, Longformer name prefix or None = drop); the first match wins ---
_SHARED_HEADS = (
    ("embeddings.", "embeddings."),  # a base-model checkpoint has no prefix
    ("encoder.", "encoder."),
    ("pooler.", "pooler."),
    ("classifier.", "classifier."),
    ("qa_outputs.", "qa_outputs."),
)

ROBERTA_NAMES: tuple[tuple[str, str | None], ...] = (
    ("roberta.", "longformer."),
    ("lm_head.decoder.bias", None),  # a copy of lm_head.bias
    ("lm_head.", "lm_head."),
    *_SHARED_HEADS,
)

BERT_NAMES: tuple[tuple[str, str | None], ...] = (
    ("bert.", "longformer."),
    ("cls.predictions.transform.dense.", "lm_head.dense."),
    ("cls.predictions.transform.LayerNorm.", "lm_head.layer_norm."),
    ("cls.predictions.bias", "lm_head.bias"),
    ("cls.predictions.decoder.bias", None),  # a copy of cls.predictions.bias
    ("cls.predictions.decoder.weight", "lm_head.decoder.weight"),  # dropped below when tied
    ("cls.seq_relationship.", None),  # next-sentence head of BertForPreTraining: Longformer has none
    *_SHARED_HEADS,
)

# BertForSequenceClassification classifies the pooler output (dense + tanh on the first token) with one
# linear layer; Longformer's classification head is dense + tanh on the first token, then `out_proj`.
BERT_SEQUENCE_CLASSIFICATION_NAMES: tuple[tuple[str, str | None], ...] = (
    ("bert.pooler.dense.", "classifier.dense."),
    ("classifier.", "classifier.out_proj."),
    *BERT_NAMES,
)

LONGFORMER_NAMES: tuple[tuple[str, str | None], ...] = (
    ("longformer.", "longformer."),
    ("lm_head.decoder.bias", None),
    ("lm_head.", "lm_head."),
    *_SHARED_HEADS,
)

# Buffers some checkpoints carry; Longformer computes them.
_BUFFER_SUFFIXES = ("embeddings.position_ids", "embeddings.token_type_ids")

# Config fields that carry over unchanged.
_CARRIED_FIELDS = (
    "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "hidden_act",
    "hidden_dropout_prob", "attention_probs_dropout_prob", "type_vocab_size", "initializer_range",
    "layer_norm_eps", "pad_token_id", "bos_token_id", "eos_token_id", "sep_token_id", "tie_word_embeddings",
    "id2label", "label2id", "problem_type", "max_global_tokens",
)

#: Tokenizer files copied from the source folder when present.
TOKENIZER_FILES = (
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "vocab.json",
    "merges.txt", "vocab.txt", "sentencepiece.bpe.model", "spiece.model",
)

# tokenizer_class to record when the source's tokenizer_config.json does not name one, so that
# transformers' AutoTokenizer does not take the Longformer (byte-level BPE) tokenizer for a WordPiece one.
_TOKENIZER_CLASSES = {
    "roberta": "RobertaTokenizer", "xlm-roberta": "XLMRobertaTokenizer", "camembert": "CamembertTokenizer",
    "bert": "BertTokenizer", "longformer": "LongformerTokenizer",
}

_NOT_BYTE_LEVEL_BPE = {"bert": "WordPiece", "xlm-roberta": "SentencePiece", "camembert": "SentencePiece"}

_LOCAL_PROJECTION = ".attention.self."


class ElongationError(ValueError):
    """The source cannot be turned into a Longformer (unsupported model, bad arguments, unknown tensors)."""


@dataclass
class ElongationResult:
    """What `elongate` wrote.

    Attributes:
        source_model_type: model_type of the source (`roberta`, `bert`, ...).
        architecture: Longformer class of the result (e.g. `LongformerForMaskedLM`).
        max_position_embeddings: rows of the new position table (`max_length + pad_token_id + 1`).
        position_offset: first row a real token uses (`pad_token_id + 1`).
        source_positions: positions the source table knew (the block that is repeated).
        global_projections_added: number of layers whose global projections were initialised.
        dropped: source tensors not carried over (buffers, tied copies, next-sentence head).
        tokenizer_files: tokenizer files written to the destination.
        notes: anything the user should know (e.g. no tokenizer found).
    """

    source_model_type: str
    architecture: str
    max_position_embeddings: int
    position_offset: int
    source_positions: int
    global_projections_added: int
    dropped: list[str] = field(default_factory=list)
    tokenizer_files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --- helpers ---------------------------------------------------------------------------------------------


def _name_table(family: str, architecture: str) -> tuple[tuple[str, str | None], ...]:
    if family == "bert":
        return BERT_SEQUENCE_CLASSIFICATION_NAMES if architecture == "BertForSequenceClassification" else BERT_NAMES
    return ROBERTA_NAMES if family == "roberta" else LONGFORMER_NAMES


def rename_tensors(tensors: dict[str, np.ndarray], table) -> tuple[dict[str, np.ndarray], list[str]]:
    """Rename source tensors to Longformer names with a prefix table.

    Args:
        tensors: source name -> array.
        table: `(source prefix, target prefix or None)` pairs; the first matching prefix wins.

    Returns:
        `(renamed, dropped)`.

    Raises:
        ElongationError: a tensor no entry matches (the source has something Longformer lacks).
    """
    out: dict[str, np.ndarray] = {}
    dropped, unknown = [], []
    for name, value in tensors.items():
        if name.endswith(_BUFFER_SUFFIXES):
            dropped.append(name)
            continue
        for prefix, target in table:
            if name.startswith(prefix):
                if target is None:
                    dropped.append(name)
                else:
                    out[target + name[len(prefix):]] = value
                break
        else:
            unknown.append(name)
    if unknown:
        raise ElongationError(
            f"{len(unknown)} tensor(s) have no Longformer counterpart, e.g. {sorted(unknown)[:5]}: this checkpoint "
            "has parts a Longformer lacks (only plain encoders with MaskedLM, sequence/token classification, "
            "question answering or multiple choice heads can be converted)."
        )
    return out, sorted(dropped)


def elongate_positions(table: np.ndarray, *, family: str, pad_token_id: int, max_length: int) -> np.ndarray:
    """The new position table: the source's learned rows repeated until `max_length` positions are covered.

    Args:
        table: source position table `(rows, hidden)`.
        family: `"bert"` (positions from 0) or `"roberta"` / `"longformer"` (from `pad_token_id + 1`).
        pad_token_id: the model's padding id (`offset = pad_token_id + 1`).
        max_length: longest input the result accepts.

    Returns:
        `(max_length + offset, hidden)` array: row `offset + i` = learned position `i % known`; rows below
        `offset` copied from the source (RoBERTa layout) or zero (BERT).
    """
    offset = pad_token_id + 1
    if family == "bert":
        learned, head = table, np.zeros((offset, table.shape[1]), table.dtype)
    else:
        if table.shape[0] <= offset:
            raise ElongationError(f"position table has {table.shape[0]} rows, no learned position after {offset}.")
        learned, head = table[offset:], table[:offset]
    index = np.arange(max_length) % learned.shape[0]
    return np.concatenate([head, learned[index]], axis=0)


def add_global_projections(tensors: dict[str, np.ndarray]) -> int:
    """Add `query_global` / `key_global` / `value_global` copies of the local projections where missing.

    Returns:
        Number of layers that got global projections.
    """
    layers = set()
    for name in list(tensors):
        if _LOCAL_PROJECTION not in name:
            continue
        head, _, tail = name.partition(_LOCAL_PROJECTION)
        proj, _, kind = tail.partition(".")
        if proj in ("query", "key", "value") and kind in ("weight", "bias"):
            global_name = f"{head}{_LOCAL_PROJECTION}{proj}_global.{kind}"
            if global_name not in tensors:
                tensors[global_name] = tensors[name].copy()
                layers.add(head)
    return len(layers)


def _check_source_config(config: dict, family: str, model_type: str) -> None:
    kind = config.get("position_embedding_type", "absolute") or "absolute"
    if kind != "absolute":
        raise ElongationError(
            f"position_embedding_type is {kind!r}: Longformer has absolute position embeddings only, so this "
            f"{model_type} model cannot be converted."
        )
    if config.get("is_decoder") or config.get("add_cross_attention"):
        raise ElongationError(f"this {model_type} model is a decoder (is_decoder / add_cross_attention); "
                              "Longformer is an encoder only.")
    if family == "longformer" and config.get("attention_mode", "longformer") not in (None, "longformer"):
        raise ElongationError(f"attention_mode {config['attention_mode']!r} is not supported.")


def _check_window(attention_window, num_layers: int):
    windows = attention_window if isinstance(attention_window, (list, tuple)) else [attention_window]
    if isinstance(attention_window, (list, tuple)) and len(windows) != num_layers:
        raise ElongationError(f"attention_window lists {len(windows)} windows for {num_layers} layers.")
    for w in windows:
        if isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w <= 0 or w % 2:
            raise ElongationError(f"attention_window must be a positive even integer (or one per layer), got {w!r}.")
    return list(attention_window) if isinstance(attention_window, (list, tuple)) else int(attention_window)


def _special_token_ids(src: str) -> dict[str, int]:
    """Ids of `[CLS]`/`[SEP]`-style tokens from the source tokenizer files (empty when none are there)."""
    names = {"cls_token": "[CLS]", "sep_token": "[SEP]"}
    for file in ("special_tokens_map.json", "tokenizer_config.json"):
        path = os.path.join(src, file)
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
            for key in names:
                value = data.get(key)
                value = value.get("content") if isinstance(value, dict) else value
                if isinstance(value, str):
                    names[key] = value
    vocab: dict[str, int] = {}
    tokenizer_json = os.path.join(src, "tokenizer.json")
    vocab_txt = os.path.join(src, "vocab.txt")
    if os.path.isfile(tokenizer_json):
        with open(tokenizer_json, encoding="utf-8") as fh:
            data = json.load(fh)
        model_vocab = (data.get("model") or {}).get("vocab")
        if isinstance(model_vocab, dict):
            vocab.update(model_vocab)
        for token in data.get("added_tokens") or []:
            vocab[token["content"]] = token["id"]
    elif os.path.isfile(vocab_txt):
        with open(vocab_txt, encoding="utf-8") as fh:
            vocab = {line.rstrip("\n"): i for i, line in enumerate(fh)}
    return {key: vocab[token] for key, token in names.items() if token in vocab}


def _longformer_config(source: dict, family: str, src: str, max_length: int, attention_window,
                       architecture: str, notes: list[str]) -> dict:
    config = {k: source[k] for k in _CARRIED_FIELDS if k in source}
    config.setdefault("pad_token_id", 0 if family == "bert" else 1)
    if config["pad_token_id"] is None:
        config["pad_token_id"] = 0
    config.setdefault("layer_norm_eps", 1e-12)
    config.setdefault("type_vocab_size", 2)
    if family == "bert":
        ids = _special_token_ids(src)
        if "sep_token" in ids:
            config.update(sep_token_id=ids["sep_token"], eos_token_id=ids["sep_token"])
        if "cls_token" in ids:
            config["bos_token_id"] = ids["cls_token"]
        if "sep_token" not in ids:
            notes.append("no tokenizer vocabulary found: sep_token_id is unset (question answering's default "
                         "global attention needs it); set it in config.json.")
            config["sep_token_id"] = None
    elif family == "roberta":
        config.setdefault("sep_token_id", source.get("eos_token_id", 2))
    config.update(
        model_type="longformer",
        architectures=[architecture],
        max_position_embeddings=max_length + config["pad_token_id"] + 1,
        attention_window=attention_window,
    )
    return config


def _architecture(source_arch: str, family: str, tensors: dict) -> str:
    for task in ("ForMaskedLM", "ForSequenceClassification", "ForTokenClassification", "ForQuestionAnswering",
                 "ForMultipleChoice"):
        if source_arch.endswith(task):
            return f"Longformer{task}"
    if source_arch.endswith("ForPreTraining") or any(k.startswith("lm_head.") for k in tensors):
        return "LongformerForMaskedLM"
    return "LongformerModel"


def _tokenizer_files(src: str, model_type: str, max_length: int, notes: list[str]) -> dict[str, Writer]:
    """The source's tokenizer files for the new folder (name -> writer), `model_max_length` updated."""
    files: dict[str, Writer] = {
        name: copy_of(os.path.join(src, name)) for name in TOKENIZER_FILES
        if name != "tokenizer_config.json" and os.path.isfile(os.path.join(src, name))
    }
    if not files:
        notes.append("the source folder has no tokenizer files; copy or train one for the new model.")
        return files
    tokenizer_config: dict = {}
    path = os.path.join(src, "tokenizer_config.json")
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as fh:
            tokenizer_config = json.load(fh)
    tokenizer_config["model_max_length"] = max_length
    tokenizer_config.setdefault("tokenizer_class", _TOKENIZER_CLASSES[model_type])
    files["tokenizer_config.json"] = _json_file(tokenizer_config)
    if model_type in _NOT_BYTE_LEVEL_BPE:
        notes.append(f"the tokenizer is {_NOT_BYTE_LEVEL_BPE[model_type]}: load it with transformers.AutoTokenizer "
                     "(or tokenizers.Tokenizer.from_file on tokenizer.json); tf_longformer's LongformerTokenizerFast "
                     "reads byte-level BPE (RoBERTa) tokenizers only.")
    return files


def _json_file(data: Any) -> Writer:
    return text_file(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


# --- the tool --------------------------------------------------------------------------------------------


def elongate(src: str | os.PathLike, dst: str | os.PathLike, *, max_length: int = 4096,
             attention_window: int | list[int] | None = None, overwrite: bool = False) -> ElongationResult:
    """Write a Longformer version of the checkpoint in `src` to `dst`.

    Args:
        src: Hugging Face folder of a RoBERTa-family (`roberta`, `xlm-roberta`, `camembert`), BERT (`bert`)
            or Longformer (`longformer`) model, base or with a MaskedLM / classification / QA head.
        dst: output folder (created). Gets `config.json`, `model.safetensors` and the tokenizer files, in one
            atomic step (`converters.atomic_folder.replace_in_folder`).
        max_length: longest input of the result (tokens, special tokens included).
        attention_window: window (both sides together, even) for every layer, or one per layer; default:
            the source's for a Longformer, else 512.
        overwrite: replace a model already in `dst`.

    Returns:
        ElongationResult describing what was written.

    Raises:
        ElongationError: unsupported model type or position embeddings, decoder models, tensors with no
            Longformer counterpart, bad `max_length` / `attention_window`, `dst` holding a model.
        CheckpointError: the source files are missing or unreadable.

    Example:
        >>> elongate("my-roberta", "my-longformer", max_length=4096, attention_window=512)  # doctest: +SKIP
    """
    src, dst = os.fspath(src), os.fspath(dst)
    if isinstance(max_length, bool) or not isinstance(max_length, (int, np.integer)) or max_length <= 0:
        raise ElongationError(f"max_length must be a positive integer, got {max_length!r}.")
    if os.path.abspath(src) == os.path.abspath(dst):
        raise ElongationError("the destination must be a different folder from the source.")
    source = read_config_json(src)
    model_type = source.get("model_type")
    family = FAMILIES.get(model_type)
    if family is None:
        raise ElongationError(f"model_type {model_type!r} is not supported; supported: {sorted(FAMILIES)}.")
    _check_source_config(source, family, model_type)
    if attention_window is None:
        attention_window = source.get("attention_window", 512) if family == "longformer" else 512
    attention_window = _check_window(attention_window, int(source.get("num_hidden_layers", 0)))
    if not overwrite and any(os.path.exists(os.path.join(dst, f)) for f in ("config.json", "model.safetensors")):
        raise ElongationError(f"{dst} already holds a model; choose another folder or pass overwrite=True.")

    architectures = source.get("architectures") or [""]
    raw = read_checkpoint(src)
    tensors, dropped = rename_tensors(raw, _name_table(family, architectures[0]))
    architecture = _architecture(architectures[0], family, tensors)
    if family == "bert" and architecture == "LongformerForMaskedLM" and source.get("hidden_act", "gelu") != "gelu":
        raise ElongationError(f"the MaskedLM head of this model uses {source['hidden_act']!r}; Longformer's LM head "
                              "always uses exact gelu, so its predictions would change.")

    notes: list[str] = []
    config = _longformer_config(source, family, src, max_length, attention_window, architecture, notes)
    pos_names = [n for n in tensors if n.endswith("embeddings.position_embeddings.weight")]
    if len(pos_names) != 1:
        raise ElongationError(f"expected one position embedding table, found {pos_names or 'none'}.")
    old_table = tensors[pos_names[0]]
    offset = config["pad_token_id"] + 1
    tensors[pos_names[0]] = elongate_positions(old_table, family=family, pad_token_id=config["pad_token_id"],
                                               max_length=max_length)
    added = add_global_projections(tensors)

    word_names = [n for n in tensors if n.endswith("embeddings.word_embeddings.weight")]
    if "lm_head.decoder.weight" in tensors:
        tied = config.get("tie_word_embeddings", True) or (
            word_names and np.array_equal(tensors["lm_head.decoder.weight"], tensors[word_names[0]]))
        if tied:
            config["tie_word_embeddings"] = True
            del tensors["lm_head.decoder.weight"]
            dropped.append("decoder weight (tied to the word embeddings)")

    tokenizer = _tokenizer_files(src, model_type, max_length, notes)
    files = {"model.safetensors": lambda path: save_safetensors(tensors, path, metadata={"format": "pt"}),
             "config.json": _json_file(config), **tokenizer}
    replace_in_folder(dst, files, stale=is_safetensors_weights)
    known = old_table.shape[0] - (0 if family == "bert" else offset)
    return ElongationResult(
        source_model_type=model_type, architecture=architecture,
        max_position_embeddings=config["max_position_embeddings"], position_offset=offset,
        source_positions=known, global_projections_added=added, dropped=dropped,
        tokenizer_files=list(tokenizer), notes=notes,
    )


__all__ = [
    "BERT_NAMES", "BERT_SEQUENCE_CLASSIFICATION_NAMES", "ElongationError", "ElongationResult", "FAMILIES",
    "LONGFORMER_NAMES", "ROBERTA_NAMES", "add_global_projections", "elongate", "elongate_positions",
    "rename_tensors",
]
