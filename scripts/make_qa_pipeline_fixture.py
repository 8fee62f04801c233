"""Build `tests/fixtures/tiny_longformer_qa/`: a tiny question-answering checkpoint and the answers that
**transformers 4's** `QuestionAnsweringPipeline` gives on it (transformers 5 removed that pipeline, so the
reference must come from transformers 4).

Two steps, run from the repository root::

    python scripts/make_qa_pipeline_fixture.py build             # this environment (transformers 5 + tf_longformer)
    .venvs/tf457/bin/python scripts/make_qa_pipeline_fixture.py reference   # transformers 4.57.1 + torch

(`.venvs/tf457` is made by `scripts/make_reference_venv.sh`.)

`build` trains a byte-level BPE with `build_tokenizer_files` and saves a random transformers PyTorch
`LongformerForQuestionAnswering` (every parameter re-drawn from a seeded generator) with it in one folder.
`reference` runs `transformers.pipeline("question-answering", model=folder)` on the cases below and writes
`reference_outputs.json` (inputs, call parameters, outputs). `tests/test_pipelines.py` runs our pipeline on the
same cases and compares.
"""

from __future__ import annotations

import json
import os
import sys

FOLDER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "fixtures",
                      "tiny_longformer_qa")
SEED = 7

WORDS = ("Longformer reads long documents with a sliding window of local attention and a few global tokens. "
         "The question tokens attend to every token of the context, and every token attends to them. "
         "Paris is the capital of France and Berlin is the capital of Germany. The river Seine flows through "
         "Paris. Ada Lovelace wrote the first program in 1843 for the Analytical Engine of Charles Babbage. ")
TOKENIZER_TEXTS = [WORDS] * 20
CONTEXT = WORDS.strip()
LONG_CONTEXT = " ".join([WORDS.strip()] * 2)

# (name, call kwargs): the same inputs and parameters go to both pipelines.
CASES = [
    ("default", dict(question="Who wrote the first program?", context=CONTEXT)),
    ("top_k", dict(question="What is the capital of France?", context=CONTEXT, top_k=3)),
    ("impossible", dict(question="Where does the Seine flow?", context=CONTEXT, handle_impossible_answer=True,
                        top_k=2)),
    ("max_answer_len", dict(question="What reads long documents?", context=CONTEXT, max_answer_len=2, top_k=2)),
    ("no_word_alignment", dict(question="Which engine?", context=CONTEXT, align_to_words=False, top_k=3)),
    ("windows", dict(question="Who wrote the first program?", context=LONG_CONTEXT, max_seq_len=64,
                     doc_stride=16)),
    ("windows_top_k", dict(question="What is the capital of Germany?", context=LONG_CONTEXT, max_seq_len=80,
                           doc_stride=24, top_k=5, max_answer_len=4)),
    ("batch", dict(question=["Who wrote the first program?", "What flows through Paris?"],
                   context=[CONTEXT, CONTEXT])),
]


def build() -> None:
    import torch
    import transformers

    from tests.conftest import TINY_CONFIG, randomize_torch_model
    from tf_longformer import build_tokenizer_files

    os.makedirs(FOLDER, exist_ok=True)
    build_tokenizer_files(TOKENIZER_TEXTS, 420, FOLDER, model_max_length=96)
    from tf_longformer import LongformerTokenizerFast

    vocab_size = len(LongformerTokenizerFast.from_pretrained(FOLDER))
    config = transformers.LongformerConfig(**{**TINY_CONFIG, "vocab_size": vocab_size, "max_position_embeddings": 100})
    torch.manual_seed(SEED)
    model = transformers.LongformerForQuestionAnswering(config).eval()
    randomize_torch_model(model, SEED)
    model.save_pretrained(FOLDER)
    print("wrote", FOLDER)


def reference() -> None:
    import transformers

    assert transformers.__version__.startswith("4."), "run `reference` with transformers 4.x"
    qa = transformers.pipeline("question-answering", model=FOLDER, tokenizer=FOLDER)
    records = []
    for name, kwargs in CASES:
        output = qa(**kwargs)
        records.append({"name": name, "kwargs": kwargs, "output": output})
    with open(os.path.join(FOLDER, "reference_outputs.json"), "w", encoding="utf-8") as fh:
        json.dump({"transformers": transformers.__version__, "cases": records}, fh, indent=1, default=float)
        fh.write("\n")
    print("wrote", len(records), "cases with transformers", transformers.__version__)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    {"build": build, "reference": reference}[sys.argv[1]]()
