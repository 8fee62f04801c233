"""Shared fixtures: offline, quiet, deterministic; tiny Hugging Face reference checkpoints built on demand."""

from __future__ import annotations

import gc
import os
from collections import Counter

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# XLA's CPU backend without LLVM's optimisations: the same HLO programs (what the tests check: numbers against
# the reference, compile counts, buffer sizes), compiled in about half the time (a one-layer training step:
# 18 s -> 9 s). The SavedModels served in a fresh process (tests/test_export.py) compile at the default
# level, as TF Serving would; `XLA_FLAGS= python -m pytest` runs everything at the default level.
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")

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
# For tests that trace a training program and do not check how layers combine: training traces every layer's
# forward and backward on its own (the layer loop is for inference), so each layer adds tracing time only.
ONE_LAYER = dict(num_hidden_layers=1)

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


# --- garbage collection: the imported libraries' objects are not scanned again ------------------------------
# TensorFlow, Keras, torch and transformers leave millions of long-lived objects; every full collection walks
# them all, and tracing a model allocates enough to trigger thousands of collections per test module (4.7 s of
# the 88 s of test_parity.py's default-path tests). Frozen after collection (when the test modules have imported
# them), with collections less often, that is about 1 s; nothing a test checks depends on when cycles are freed.
def pytest_collection_finish(session):
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


# --- skips: counted, explained, and only the allowed ones pass ----------------------------------------------
# A skip hides a test that did not run. Only these (reason substrings) may skip; any other skip (e.g. a
# dependency of the test extra that is not installed) makes `python -m pytest` fail after the summary.
ALLOWED_SKIPS = {
    "needs a GPU": "GPU-only checks run where a GPU is lent",
}
_SKIPS: list[tuple[str, str]] = []  # (test id, reason)


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return reason.removeprefix("Skipped: ")


def pytest_runtest_logreport(report):
    # under pytest-xdist the controller receives every worker's reports through this hook too
    if report.skipped and not hasattr(report, "wasxfail"):
        _SKIPS.append((report.nodeid, _skip_reason(report)))


def _forbidden_skips() -> list[tuple[str, str]]:
    return [(test, reason) for test, reason in _SKIPS if not any(allowed in reason for allowed in ALLOWED_SKIPS)]


def pytest_sessionfinish(session, exitstatus):
    if hasattr(session.config, "workerinput"):  # a pytest-xdist worker: the controller decides
        return
    if _forbidden_skips() and session.exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if hasattr(config, "workerinput"):
        return
    reasons = Counter(reason for _, reason in _SKIPS)
    terminalreporter.section(f"skipped tests: {len(_SKIPS)}")
    for reason, count in reasons.most_common():
        allowed = any(a in reason for a in ALLOWED_SKIPS)
        terminalreporter.write_line(f"{count:4d} x {reason}{'' if allowed else '   <- NOT ALLOWED'}")
    forbidden = _forbidden_skips()
    if forbidden:
        terminalreporter.write_line(
            f"FAILED: {len(forbidden)} skip(s) not on the allow-list (tests/conftest.py ALLOWED_SKIPS); install "
            "the test extra (pip install -e '.[test]') or fix the test:", red=True)
        for test, reason in forbidden[:20]:
            terminalreporter.write_line(f"  {test}: {reason}", red=True)
