"""Build the tiny transformers-4 Longformer fixtures used by ``tests/test_converters.py``.

This script must run with **transformers 4.x** (TensorFlow classes were removed in transformers 5)
and legacy Keras 2 (``tf-keras``). It writes, under ``tests/fixtures/``:

* ``tiny_longformer_mlm_pt/``   PyTorch ``LongformerForMaskedLM`` (config.json + model.safetensors)
* ``tiny_longformer_mlm_tf/``   the same weights as ``TFLongformerForMaskedLM`` (config.json +
  tf_model.h5) + ``reference_outputs.npz`` (input_ids, attention_mask, global_attention_mask,
  logits computed by transformers-4 TF)
* ``tiny_longformer_base_pt/``  PyTorch ``LongformerModel`` (with pooler)
* ``tiny_longformer_base_tf/``  the same as ``TFLongformerModel`` + ``reference_outputs.npz``
  (inputs, last_hidden_state, pooler_output)

Every parameter is re-drawn from a seeded generator (LayerNorm weights around 1, everything else
N(0, 0.1^2)) so that a layout/name mix-up cannot hide behind zero biases or unit gammas.

Regenerate (from the repository root; the first command builds the transformers 4.57 environment in
``.venvs/tf457``, once)::

    scripts/make_reference_venv.sh
    TF_USE_LEGACY_KERAS=1 .venvs/tf457/bin/python scripts/make_tf_h5_fixture.py

Outputs are deterministic up to float round-off of the TF reference run.
"""

from __future__ import annotations

import argparse
import os
import shutil

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import (  # noqa: E402
    LongformerConfig,
    LongformerForMaskedLM,
    LongformerModel,
    TFLongformerForMaskedLM,
    TFLongformerModel,
)

SEED = 1234
CONFIG = dict(
    vocab_size=99,
    hidden_size=12,
    num_hidden_layers=2,
    num_attention_heads=3,
    intermediate_size=37,
    attention_window=[4, 8],
    max_position_embeddings=64,
    type_vocab_size=1,
    pad_token_id=1,
    bos_token_id=0,
    eos_token_id=2,
    sep_token_id=2,
    hidden_act="gelu",
    hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.1,
    initializer_range=0.02,
    layer_norm_eps=1e-5,
)


def randomize(model: torch.nn.Module, seed: int) -> None:
    """Overwrite every parameter with seeded values (LayerNorm weights ~ 1, the rest ~ N(0, 0.1))."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=gen, dtype=param.dtype)
            if "LayerNorm.weight" in name or "layer_norm.weight" in name:
                param.copy_(1.0 + 0.1 * noise)
            else:
                param.copy_(0.1 * noise)


def make_inputs(vocab_size: int, pad_id: int) -> dict[str, np.ndarray]:
    """A fixed batch of 2 x 13 tokens: row 1 is padded, token 0 (and one more) is global."""
    rng = np.random.default_rng(SEED)
    ids = rng.integers(3, vocab_size, size=(2, 13)).astype(np.int32)
    ids[:, 0] = 0
    mask = np.ones_like(ids)
    ids[1, 9:] = pad_id
    mask[1, 9:] = 0
    glob = np.zeros_like(ids)
    glob[:, 0] = 1
    glob[0, 5] = 1
    return {"input_ids": ids, "attention_mask": mask, "global_attention_mask": glob}


def build(kind: str, root: str) -> None:
    """Write the ``_pt`` and ``_tf`` fixture folders for ``kind`` in {"mlm", "base"}."""
    pt_cls, tf_cls = {
        "mlm": (LongformerForMaskedLM, TFLongformerForMaskedLM),
        "base": (LongformerModel, TFLongformerModel),
    }[kind]
    pt_dir = os.path.join(root, f"tiny_longformer_{kind}_pt")
    tf_dir = os.path.join(root, f"tiny_longformer_{kind}_tf")
    for d in (pt_dir, tf_dir):
        shutil.rmtree(d, ignore_errors=True)

    torch.manual_seed(SEED)
    config = LongformerConfig(**CONFIG)
    pt_model = pt_cls(config).eval()
    randomize(pt_model, SEED)
    if kind == "mlm":
        pt_model.tie_weights()
    pt_model.save_pretrained(pt_dir, safe_serialization=True)

    tf_model = tf_cls.from_pretrained(pt_dir, from_pt=True)
    tf_model.save_pretrained(tf_dir)

    inputs = make_inputs(config.vocab_size, config.pad_token_id)
    tf_out = tf_model({k: tf.constant(v) for k, v in inputs.items()}, training=False)
    with torch.no_grad():
        pt_out = pt_model(**{k: torch.from_numpy(v.astype(np.int64)) for k, v in inputs.items()})

    arrays = dict(inputs)
    names = ["logits"] if kind == "mlm" else ["last_hidden_state", "pooler_output"]
    for name in names:
        tf_val = getattr(tf_out, name).numpy()
        pt_val = getattr(pt_out, name).numpy()
        diff = float(np.max(np.abs(tf_val - pt_val)))
        print(f"{kind}: {name} shape={tf_val.shape} max|tf-pt|={diff:.2e}")
        assert diff < 1e-4, f"TF and PyTorch disagree on {name}: {diff}"
        arrays[name] = tf_val.astype(np.float32)
    arrays["transformers_version"] = np.array(transformers.__version__)
    np.savez_compressed(os.path.join(tf_dir, "reference_outputs.npz"), **arrays)


def main() -> None:
    """Parse ``--out`` (default ``tests/fixtures``) and build both fixture pairs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures"))
    args = parser.parse_args()
    assert transformers.__version__.startswith("4."), "needs transformers 4.x (TF classes)"
    os.makedirs(args.out, exist_ok=True)
    for kind in ("mlm", "base"):
        build(kind, os.path.abspath(args.out))


if __name__ == "__main__":
    main()
