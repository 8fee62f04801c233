"""Reference outputs of `head_mask` from transformers 4.57 (the last release with TFLongformer* and head_mask).

Run with the comparison environment (scripts/make_reference_venv.sh), from the repository root:

    TF_USE_LEGACY_KERAS=1 .venvs/tf457/bin/python scripts/make_head_mask_fixture.py

Writes tests/fixtures/head_mask_mlm/: a tiny random `LongformerForMaskedLM` (config.json +
model.safetensors, the real checkpoint's shape scaled down: one window for all layers, RoBERTa ids,
type_vocab_size 1, layer_norm_eps 1e-5) and `reference.npz` with the inputs, the head masks and
transformers 4.57's outputs:

* `tf_*`: `TFLongformerForMaskedLM` (loaded from the PyTorch weights) with a `(layers, heads)` mask:
  logits, every hidden state, local and global attentions of every layer;
* `tf_logits_tiled`: the same model with the `(heads,)` mask `head_mask_1d` repeated for every layer (the
  meaning transformers' `get_head_mask` gives a 1-D mask; Longformer 4.57 itself took only the 2-D form);
* `pt_logits_2d`: `LongformerForMaskedLM` (PyTorch 4.57) with the 2-D mask, a cross-check.
"""

from __future__ import annotations

import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "head_mask_mlm")

CONFIG = dict(
    vocab_size=60, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
    attention_window=8, max_position_embeddings=82, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
    type_vocab_size=1, layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0, eos_token_id=2, sep_token_id=2,
)


def inputs() -> dict[str, np.ndarray]:
    """Two rows of 13 tokens (padded to the window inside the model); the second has 4 padding tokens.
    Global attention on one token of the first row and on two of the second."""
    rng = np.random.default_rng(5)
    ids = rng.integers(3, 60, size=(2, 13)).astype(np.int32)
    ids[:, 0] = 0
    ids[0, -1] = 2
    ids[1, 8] = 2
    ids[1, 9:] = 1
    mask = (ids != 1).astype(np.int32)
    global_mask = np.zeros_like(ids)
    global_mask[0, 0] = 1
    global_mask[1, [0, 5]] = 1
    return {"input_ids": ids, "attention_mask": mask, "global_attention_mask": global_mask}


def main() -> int:
    import tensorflow as tf
    import torch
    import transformers

    assert transformers.__version__.startswith("4."), "run with the transformers 4 environment"
    config = transformers.LongformerConfig(**CONFIG)
    torch.manual_seed(0)
    pt = transformers.LongformerForMaskedLM(config).eval()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in pt.named_parameters():
            noise = torch.randn(param.shape, generator=gen) * 0.2
            param.copy_(1.0 + noise * 0.5 if "LayerNorm.weight" in name or "layer_norm.weight" in name else noise)
    pt.tie_weights()
    os.makedirs(OUT, exist_ok=True)
    pt.save_pretrained(OUT, safe_serialization=True)
    tf_model = transformers.TFLongformerForMaskedLM.from_pretrained(OUT, from_pt=True)

    batch = inputs()
    mask_2d = np.array([[1.0, 0.0], [0.5, 1.0]], np.float32)  # layer 0 silences head 1, layer 1 halves head 0
    mask_1d = np.array([0.0, 1.0], np.float32)
    out = tf_model({k: tf.constant(v) for k, v in batch.items()}, head_mask=tf.constant(mask_2d),
                   output_attentions=True, output_hidden_states=True, training=False)
    result = {**batch, "head_mask_2d": mask_2d, "head_mask_1d": mask_1d, "tf_logits": out.logits.numpy()}
    for i, (h, a, g) in enumerate(zip(out.hidden_states[1:], out.attentions, out.global_attentions, strict=True)):
        result[f"tf_hidden_{i + 1}"] = h.numpy()
        result[f"tf_attention_{i}"] = a.numpy()
        result[f"tf_global_attention_{i}"] = g.numpy()
    tiled = tf.constant(np.tile(mask_1d[None], (CONFIG["num_hidden_layers"], 1)))
    result["tf_logits_tiled"] = tf_model({k: tf.constant(v) for k, v in batch.items()}, head_mask=tiled).logits.numpy()
    tiled = tf.constant(np.tile(mask_1d[None], (CONFIG["num_hidden_layers"], 1)))
    result["tf_logits_tiled"] = tf_model({k: tf.constant(v) for k, v in batch.items()}, head_mask=tiled).logits.numpy()
    with torch.no_grad():
        torch_batch = {k: torch.tensor(v, dtype=torch.long) for k, v in batch.items()}
        result["pt_logits_2d"] = pt(**torch_batch, head_mask=torch.tensor(mask_2d)).logits.numpy()
    np.savez_compressed(os.path.join(OUT, "reference.npz"), **result)
    gap = float(np.abs(result["pt_logits_2d"] - result["tf_logits"]).max())
    print(f"wrote {OUT}; transformers {transformers.__version__}; TF vs PyTorch 2-D mask: {gap:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
