"""The SavedModels the export tests serve, built once per test run; their inputs and PyTorch references.

`load_saved_models` exports every model of `EXPORTS` once per `pytest` run: under pytest-xdist the first
worker that needs them builds them into the run's shared temporary folder, under a file lock, and the other
workers read the manifest it leaves there. Test modules wrap it in a session-scoped `saved_models` fixture.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import transformers

from tests.conftest import PER_LAYER_WINDOWS, PT_CLASSES, make_reference
from tf_longformer.tasks import TASKS

VOCAB = 60  # TINY_CONFIG
LENGTHS_AND_BATCHES = ((7, 1), (13, 3), (21, 2))  # lengths not multiples of the window
# the chunk loops of traced inference (512 rows at the real shape), scaled down like the model: inputs
# longer than 16 tokens run them inside the SavedModel
SMALL_CHUNKS = dict(attention_query_chunk=16, dense_row_chunk=16)


@dataclass(frozen=True)
class ExportSpec:
    """One exported model: a random Hugging Face checkpoint of `task`, loaded with `load`, exported."""

    task: str
    int_dtype: str = "int32"
    config: dict = field(default_factory=dict)  # overrides of TINY_CONFIG (the checkpoint's config)
    load: dict = field(default_factory=dict)  # from_pretrained keyword arguments (quantization, chunks)
    include_attentions: bool = False
    include_hidden_states: bool = False
    jit_compile: bool = False  # the model compiled by XLA inside the SavedModel


# The real-shaped config (one window for every layer, dropout 0.1: the layer loop) for every task, plus
# the special shapes, each named.
EXPORTS = {
    **{task: ExportSpec(task) for task in TASKS},
    "question-answering": ExportSpec("question-answering", load=SMALL_CHUNKS),
    "token-classification": ExportSpec("token-classification", int_dtype="int64"),
    "per-layer-windows": ExportSpec("question-answering", config=PER_LAYER_WINDOWS, load=SMALL_CHUNKS),
    "int8": ExportSpec("question-answering", load=dict(quantization="int8")),
    "int4": ExportSpec("text-classification", load=dict(quantization="int4")),
    "all-outputs": ExportSpec("feature-extraction", int_dtype="int64", include_attentions=True,
                              include_hidden_states=True),
    "xla": ExportSpec("question-answering", jit_compile=True),
}
SEED = 7


@dataclass(frozen=True)
class Exported:
    """A built export: the spec, its Hugging Face checkpoint folder and its SavedModel version folder."""

    name: str
    spec: ExportSpec
    folder: str
    path: str

    def keras_model(self):
        """Our model of the checkpoint, loaded as it was for the export."""
        import tf_longformer

        model_class = getattr(tf_longformer, TASKS[self.spec.task].model_class)
        return model_class.from_pretrained(self.folder, **self.spec.load)

    def torch_model(self):
        """The transformers (PyTorch) model of the checkpoint: the reference."""
        return getattr(transformers, PT_CLASSES[TASKS[self.spec.task].model_class]).from_pretrained(self.folder).eval()


def _build(root: str) -> dict:
    from tf_longformer.export import export_saved_model

    manifest = {}
    for name, spec in EXPORTS.items():
        _, folder = make_reference(os.path.join(root, "hf", name), TASKS[spec.task].model_class, SEED, **spec.config)
        model = Exported(name, spec, folder, "").keras_model()
        path = export_saved_model(model, os.path.join(root, "exports", name), int_dtype=spec.int_dtype,
                                  include_attentions=spec.include_attentions,
                                  include_hidden_states=spec.include_hidden_states, jit_compile=spec.jit_compile)
        manifest[name] = {"folder": folder, "path": path, "spec": asdict(spec)}
    return manifest


def load_saved_models(tmp_path_factory) -> dict[str, Exported]:
    """{name of `EXPORTS`: Exported}, built once per test run (shared by the xdist workers).

    For a session-scoped fixture of the test modules that serve exports (`tmp_path_factory` is pytest's).
    """
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # the run's folder, shared
    cache = root / "export_cache"
    manifest_file = cache / "manifest.json"
    with FileLock(str(root / "export_cache.lock")):
        if not manifest_file.is_file():
            manifest = _build(str(cache))
            tmp = cache / "manifest.json.tmp"
            tmp.write_text(json.dumps(manifest))
            os.replace(tmp, manifest_file)  # only a whole build leaves a manifest
        manifest = json.loads(manifest_file.read_text())
    return {name: Exported(name, ExportSpec(**entry["spec"]), entry["folder"], entry["path"])
            for name, entry in manifest.items()}


# --- inputs ------------------------------------------------------------------------------------------

def qa_shaped(rng, shape, length):
    """`<s> question </s></s> context </s>` rows (three separators each), padded with 1 to `length`.

    The first row fills `length`; the others are shorter. Returns ids, attention mask, and a random
    global attention mask (first token plus ~20% of the others).
    """
    rows = int(np.prod(shape))
    ids = np.ones((rows, length), np.int64)
    for r in range(rows):
        n = length if r == 0 else int(rng.integers(6, length + 1))
        q = int(rng.integers(1, n - 4))
        ids[r, :n] = [0, *rng.integers(3, VOCAB, q), 2, 2, *rng.integers(3, VOCAB, n - q - 4), 2]
    mask = (ids != 1).astype(np.int64)
    glob = ((rng.random(ids.shape) < 0.2) | (np.arange(length) == 0)).astype(np.int64) * mask
    return tuple(a.reshape(*shape, length) for a in (ids, mask, glob))


def cases(task, seed=0):
    """Inputs of a few batch sizes and lengths for `task`: {case: {input name: array}}."""
    rng = np.random.default_rng(seed)
    out = {}
    for length, batch in LENGTHS_AND_BATCHES:
        shape = (batch, 3) if TASKS[task].choices else (batch,)
        ids, mask, glob = qa_shaped(rng, shape, length)
        out[f"len{length}_batch{batch}"] = {"input_ids": ids, "attention_mask": mask, "global_attention_mask": glob}
    return out


def torch_outputs(model, task, inputs, with_global, all_outputs=False) -> dict[str, np.ndarray]:
    """The reference's outputs under the names the SavedModel serves them (the task's default global
    attention when `with_global` is False, as the `serving_default` signature)."""
    names = ("input_ids", "attention_mask") + (("global_attention_mask",) if with_global else ())
    with torch.no_grad():
        out = model(**{n: torch.tensor(np.asarray(inputs[n]), dtype=torch.long) for n in names},
                    output_attentions=all_outputs, output_hidden_states=all_outputs)
    result = {name: out[name].numpy() for name in TASKS[task].outputs}
    if all_outputs:
        result.update({f"hidden_states_{i}": h.numpy() for i, h in enumerate(out.hidden_states)})
        result.update({f"attentions_{i}": a.numpy() for i, a in enumerate(out.attentions)})
        if out.global_attentions is not None:
            result.update({f"global_attentions_{i}": a.numpy() for i, a in enumerate(out.global_attentions)})
    return result


def keras_outputs(model, task, inputs, with_global) -> dict[str, np.ndarray]:
    out = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                global_attention_mask=inputs["global_attention_mask"] if with_global else None)
    return {name: np.asarray(out[name]) for name in TASKS[task].outputs}


def max_diff(got, expected) -> float:
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    return float(np.max(np.abs(got.astype(np.float64) - expected))) if got.size else 0.0
