"""Map transformers-4 TensorFlow weight names and layouts to Hugging Face PyTorch ones.

Rules (found by saving real ``TFLongformer*`` models with transformers 4.57.1):

* ``tf_longformer_for_masked_lm/longformer/embeddings/word_embeddings/weight:0``
  -> ``longformer.embeddings.word_embeddings.weight``
* the leading model scope (``tf_longformer_model``, ``tf_longformer_for_masked_lm``, ... - any
  first component that is not a known top-level layer) is dropped; ``longformer/`` is kept as the
  ``longformer.`` prefix, also for a bare ``TFLongformerModel``;
* the ``:0`` suffix is dropped, ``/`` becomes ``.``, ``layer_._3`` becomes ``layer.3``;
* last component: ``kernel`` -> ``weight`` **transposed** (Keras Dense is ``(in, out)``, PyTorch
  Linear is ``(out, in)``); ``gamma`` -> ``weight``; ``beta`` -> ``bias``; ``embeddings`` (Keras
  Embedding) -> ``weight``; ``weight`` / ``bias`` unchanged;
* ``lm_head/bias`` -> ``lm_head.bias`` plus a copy as ``lm_head.decoder.bias`` (PyTorch state
  dicts hold both); the MLM decoder weight is tied to the word embeddings and is not produced.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import numpy as np

KNOWN_TOP_LEVEL = frozenset({"longformer", "lm_head", "classifier", "qa_outputs"})
_LAST = {"kernel": "weight", "gamma": "weight", "beta": "bias", "embeddings": "weight"}
_LAYER = re.compile(r"^layer_\._(\d+)$")
_SUFFIX = re.compile(r":\d+$")


def tf_name_to_pt(name: str, top_level: Iterable[str] = ()) -> tuple[str, bool]:
    """Convert one TF weight name to its PyTorch name.

    Args:
        name: A TF variable name such as ``tf_longformer_model/longformer/pooler/dense/kernel:0``.
        top_level: Extra names of top-level Keras layers (besides :data:`KNOWN_TOP_LEVEL`) that
            must not be taken for a model scope.

    Returns:
        ``(pt_name, transpose)`` where ``transpose`` says the array is a Dense kernel that must be
        transposed to PyTorch's ``(out, in)`` layout.
    """
    parts = _SUFFIX.sub("", name).split("/")
    keep = KNOWN_TOP_LEVEL | set(top_level)
    if len(parts) > 1 and parts[0] not in keep:
        parts = parts[1:]
    parts = [_LAYER.sub(r"layer.\1", p) for p in parts]
    last = parts[-1]
    transpose = last == "kernel"
    parts[-1] = _LAST.get(last, last)
    return ".".join(parts), transpose


def tf_to_pt_state_dict(
    tf_tensors: Mapping[str, np.ndarray], top_level: Iterable[str] = ()
) -> dict[str, np.ndarray]:
    """Rename and re-lay-out a whole TF state dict into PyTorch convention.

    Args:
        tf_tensors: TF weight name -> array, in file order. Repeated (tied) names after
            conversion keep their first occurrence.
        top_level: Extra top-level layer names, see :func:`tf_name_to_pt`.

    Returns:
        PyTorch name -> array (kernels transposed, C-contiguous).
    """
    top = tuple(top_level)
    out: dict[str, np.ndarray] = {}
    for tf_name, value in tf_tensors.items():
        pt_name, transpose = tf_name_to_pt(tf_name, top)
        if pt_name in out:
            continue
        arr = np.asarray(value)
        out[pt_name] = np.ascontiguousarray(arr.T) if transpose and arr.ndim == 2 else arr
    if "lm_head.bias" in out and "lm_head.decoder.bias" not in out:
        out["lm_head.decoder.bias"] = out["lm_head.bias"].copy()
    return out


def looks_like_tf_names(names: Iterable[str]) -> bool:
    """Whether tensor names are TF variable names (``a/b/kernel:0``) rather than PyTorch ones.

    Args:
        names: Tensor names from a checkpoint.

    Returns:
        True if any name contains ``/`` or ends with ``:<digits>``.
    """
    return any("/" in n or _SUFFIX.search(n) for n in names)
