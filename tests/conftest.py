"""Shared fixtures: offline, quiet, deterministic; tiny Hugging Face reference checkpoints built on demand."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")

# The default test model: a real checkpoint's structure (longformer-base-4096: one window for every layer,
# dropout 0.1, RoBERTa special ids, one token type, LayerNorm eps 1e-5, positions = window multiple + 2),
# scaled down in width and depth only.
TINY_CONFIG = dict(
    vocab_size=60, hidden_size=16, num_hidden_layers=3, num_attention_heads=2, intermediate_size=64,
    attention_window=8, max_position_embeddings=82, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
    type_vocab_size=1, layer_norm_eps=1e-5, hidden_act="gelu", pad_token_id=1, bos_token_id=0, eos_token_id=2,
    sep_token_id=2,
)
# Special shapes, named by the tests that need them (overrides of TINY_CONFIG).
PER_LAYER_WINDOWS = dict(attention_window=[8, 4, 8])  # windows that differ per layer (each divides the largest)
NO_DROPOUT = dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)

PT_CLASSES = {
    "TFLongformerModel": "LongformerModel",
    "TFLongformerForMaskedLM": "LongformerForMaskedLM",
    "TFLongformerForSequenceClassification": "LongformerForSequenceClassification",
    "TFLongformerForTokenClassification": "LongformerForTokenClassification",
    "TFLongformerForQuestionAnswering": "LongformerForQuestionAnswering",
    "TFLongformerForMultipleChoice": "LongformerForMultipleChoice",
}


def randomize_torch_model(model, seed: int = 0) -> None:
    """Give every parameter non-trivial values (biases and LayerNorms too), so no mapping error hides."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=gen) * 0.2
            param.copy_(1.0 + noise * 0.5 if "LayerNorm.weight" in name or "layer_norm.weight" in name else noise)


def make_reference(tmp_dir: str, tf_class_name: str, seed: int = 0, **overrides):
    """Build a random transformers (PyTorch) model, save it as a Hugging Face folder, return (model, folder)."""
    import torch
    import transformers

    config = transformers.LongformerConfig(**{**TINY_CONFIG, **overrides})
    torch.manual_seed(seed)
    model = getattr(transformers, PT_CLASSES[tf_class_name])(config).eval()
    randomize_torch_model(model, seed)
    if hasattr(model, "tie_weights"):
        model.tie_weights()
    folder = os.path.join(tmp_dir, f"{tf_class_name}_{seed}")
    model.save_pretrained(folder)
    return model, folder


@pytest.fixture(scope="session")
def reference_factory(tmp_path_factory):
    """`factory(tf_class_name, **config_overrides) -> (torch_model, folder)`, cached per arguments."""
    cache: dict = {}
    root = str(tmp_path_factory.mktemp("hf_reference"))

    def factory(tf_class_name: str, seed: int = 0, **overrides):
        key = (tf_class_name, seed, tuple(sorted((k, str(v)) for k, v in overrides.items())))
        if key not in cache:
            cache[key] = make_reference(os.path.join(root, str(len(cache))), tf_class_name, seed, **overrides)
        return cache[key]

    return factory


def max_abs_diff(ours, ref) -> float:
    ours = np.asarray(ours)
    ref = ref.detach().numpy() if hasattr(ref, "detach") else np.asarray(ref)
    assert ours.shape == ref.shape, f"shape {ours.shape} != reference {ref.shape}"
    return float(np.max(np.abs(ours.astype(np.float64) - ref.astype(np.float64)))) if ours.size else 0.0
