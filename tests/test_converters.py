"""Tests for ``converters/``: checkpoint formats in, PyTorch-named numpy arrays out (no network)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import ml_dtypes
import numpy as np
import pytest

from converters.checkpoint import find_checkpoint_files, read_checkpoint, read_config_json
from converters.errors import CheckpointError
from converters.hf_tf_h5 import read_hf_tf_h5
from converters.safetensors_io import read_safetensors, read_safetensors_metadata, write_safetensors
from converters.tf_names import tf_name_to_pt
from converters.torch_bin import read_torch_bin

FIXTURES = Path(__file__).parent / "fixtures"
MLM_PT = FIXTURES / "tiny_longformer_mlm_pt"
MLM_TF = FIXTURES / "tiny_longformer_mlm_tf"
BASE_PT = FIXTURES / "tiny_longformer_base_pt"
BASE_TF = FIXTURES / "tiny_longformer_base_tf"
TIED = {"lm_head.decoder.weight", "lm_head.decoder.bias"}


def _assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert sorted(a) == sorted(b)
    for name in a:
        assert a[name].shape == b[name].shape, name
        assert a[name].dtype == b[name].dtype, name
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def _raw_tf_h5(path: Path) -> dict[str, np.ndarray]:
    """TF variable name -> array of a Keras-2 h5 file, straight from h5py (no conversion)."""
    out: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        for layer in f.attrs["layer_names"]:
            group = f[layer]
            for wn in group.attrs["weight_names"]:
                wn = wn.decode() if isinstance(wn, bytes) else str(wn)
                out.setdefault(wn, group[wn][()])
    return out


@pytest.fixture(scope="module")
def mlm_pt() -> dict[str, np.ndarray]:
    return read_safetensors(MLM_PT / "model.safetensors")


# --------------------------------------------------------------------------- TF h5 fixture


def test_h5_mlm_matches_pytorch_safetensors(mlm_pt: dict[str, np.ndarray]) -> None:
    h5 = read_hf_tf_h5(MLM_TF / "tf_model.h5")
    assert "lm_head.decoder.weight" not in h5
    np.testing.assert_array_equal(h5["lm_head.decoder.bias"], h5["lm_head.bias"])
    _assert_same(
        {k: v for k, v in h5.items() if k not in TIED}, {k: v for k, v in mlm_pt.items() if k not in TIED}
    )
    # PyTorch Linear layout (out, in)
    assert h5["longformer.encoder.layer.0.intermediate.dense.weight"].shape == (37, 12)
    assert h5["longformer.encoder.layer.1.output.dense.weight"].shape == (12, 37)
    assert h5["longformer.embeddings.position_embeddings.weight"].shape == (64, 12)


def test_h5_base_matches_pytorch_safetensors() -> None:
    h5 = read_hf_tf_h5(BASE_TF / "tf_model.h5")
    pt = read_safetensors(BASE_PT / "model.safetensors")
    assert all(k.startswith("longformer.") for k in h5)  # TF keeps its `longformer/` scope
    _assert_same({k.removeprefix("longformer."): v for k, v in h5.items()}, pt)
    assert "pooler.dense.weight" in pt


def test_tf_name_rules() -> None:
    assert tf_name_to_pt(
        "tf_longformer_for_masked_lm/longformer/encoder/layer_._11/attention/self/query/kernel:0"
    ) == (
        "longformer.encoder.layer.11.attention.self.query.weight",
        True,
    )
    assert tf_name_to_pt("tf_longformer_model/longformer/embeddings/LayerNorm/gamma:0")[0] == (
        "longformer.embeddings.LayerNorm.weight"
    )
    assert tf_name_to_pt("x/longformer/embeddings/position_embeddings/embeddings:0")[0] == (
        "longformer.embeddings.position_embeddings.weight"
    )
    assert tf_name_to_pt("tf_longformer_for_masked_lm_1/lm_head/layer_norm/beta:0") == (
        "lm_head.layer_norm.bias",
        False,
    )
    assert tf_name_to_pt("tf_longformer_for_sequence_classification/classifier/out_proj/kernel:0")[0] == (
        "classifier.out_proj.weight"
    )
    assert tf_name_to_pt("qa_outputs/bias:0") == ("qa_outputs.bias", False)


def test_reference_outputs_present() -> None:
    ref = np.load(MLM_TF / "reference_outputs.npz")
    ids = ref["input_ids"]
    assert ref["attention_mask"].shape == ids.shape == ref["global_attention_mask"].shape
    assert ref["logits"].shape == (*ids.shape, 99)
    base = np.load(BASE_TF / "reference_outputs.npz")
    assert base["last_hidden_state"].shape == (*base["input_ids"].shape, 12)
    assert base["pooler_output"].shape == (base["input_ids"].shape[0], 12)
    assert str(ref["transformers_version"]).startswith("4.")


def test_h5_chunked_weight_names(tmp_path: Path, mlm_pt: dict[str, np.ndarray]) -> None:
    path = tmp_path / "tf_model.h5"
    path.write_bytes((MLM_TF / "tf_model.h5").read_bytes())
    with h5py.File(path, "r+") as f:
        names = f["longformer"].attrs["weight_names"]
        del f["longformer"].attrs["weight_names"]
        f["longformer"].attrs["weight_names0"] = names[:20]
        f["longformer"].attrs["weight_names1"] = names[20:]
    _assert_same(read_hf_tf_h5(path), read_hf_tf_h5(MLM_TF / "tf_model.h5"))


def test_sharded_tf_h5(tmp_path: Path) -> None:
    """Same layout as transformers-4 `save_pretrained(max_shard_size=...)` for TF models."""
    raw = _raw_tf_h5(MLM_TF / "tf_model.h5")
    names = sorted(raw)
    shards = {"tf_model-00001-of-00002.h5": names[:30], "tf_model-00002-of-00002.h5": names[30:]}
    weight_map = {}
    for shard, shard_names in shards.items():
        with h5py.File(tmp_path / shard, "w") as f:
            stripped = []
            for n in shard_names:
                s = "/".join(n.split("/")[1:])
                f.create_dataset(s, data=raw[n])
                stripped.append(s.encode())
                weight_map[n] = shard
            f.attrs["layer_names"] = stripped
    (tmp_path / "tf_model.h5.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    assert find_checkpoint_files(tmp_path) == ("tf_h5", [str(tmp_path / s) for s in shards])
    _assert_same(read_checkpoint(tmp_path), read_hf_tf_h5(MLM_TF / "tf_model.h5"))


def test_tf_format_safetensors_is_converted(tmp_path: Path) -> None:
    raw = _raw_tf_h5(MLM_TF / "tf_model.h5")
    stripped = {"/".join(n.split("/")[1:]): v for n, v in raw.items()}
    write_safetensors(stripped, tmp_path / "model.safetensors", metadata={"format": "tf"})
    _assert_same(read_checkpoint(tmp_path), read_hf_tf_h5(MLM_TF / "tf_model.h5"))


# --------------------------------------------------------------------------- folders


def test_folders_and_preference(tmp_path: Path, mlm_pt: dict[str, np.ndarray]) -> None:
    assert find_checkpoint_files(MLM_PT) == ("safetensors", [str(MLM_PT / "model.safetensors")])
    assert find_checkpoint_files(MLM_TF) == ("tf_h5", [str(MLM_TF / "tf_model.h5")])
    _assert_same(read_checkpoint(MLM_PT), mlm_pt)
    _assert_same(read_checkpoint(MLM_PT / "model.safetensors"), mlm_pt)
    _assert_same(read_checkpoint(MLM_TF), read_hf_tf_h5(MLM_TF / "tf_model.h5"))
    # safetensors wins over h5
    (tmp_path / "tf_model.h5").write_bytes((MLM_TF / "tf_model.h5").read_bytes())
    (tmp_path / "model.safetensors").write_bytes((MLM_PT / "model.safetensors").read_bytes())
    assert find_checkpoint_files(tmp_path)[0] == "safetensors"
    assert read_config_json(MLM_TF)["attention_window"] == [4, 8]


def _write_sharded(folder: Path, tensors: dict[str, np.ndarray], writer, ext: str) -> dict[str, str]:
    names = sorted(tensors)
    prefix = "model" if ext == "safetensors" else "pytorch_model"
    shards = {f"{prefix}-00001-of-00002.{ext}": names[:25], f"{prefix}-00002-of-00002.{ext}": names[25:]}
    weight_map = {}
    for shard, shard_names in shards.items():
        writer({n: tensors[n] for n in shard_names}, folder / shard)
        weight_map.update(dict.fromkeys(shard_names, shard))
    index = folder / f"{prefix}.{ext}.index.json"
    index.write_text(json.dumps({"metadata": {"total_size": 0}, "weight_map": weight_map}))
    return weight_map


def test_sharded_safetensors_and_missing_shard(tmp_path: Path, mlm_pt: dict[str, np.ndarray]) -> None:
    _write_sharded(tmp_path, mlm_pt, write_safetensors, "safetensors")
    fmt, paths = find_checkpoint_files(tmp_path)
    assert fmt == "safetensors" and len(paths) == 2
    _assert_same(read_checkpoint(tmp_path), mlm_pt)
    _assert_same(read_checkpoint(tmp_path / "model.safetensors.index.json"), mlm_pt)
    # a shard that lacks a tensor the index promises
    write_safetensors({"x": np.zeros(1, np.float32)}, tmp_path / "model-00002-of-00002.safetensors")
    with pytest.raises(CheckpointError, match="model-00002-of-00002.safetensors"):
        read_checkpoint(tmp_path)
    # a missing shard
    os.remove(tmp_path / "model-00002-of-00002.safetensors")
    for call in (find_checkpoint_files, read_checkpoint):
        with pytest.raises(CheckpointError, match="model-00002-of-00002.safetensors") as err:
            call(tmp_path)
        assert "missing" in str(err.value)


def test_empty_and_unrelated_folder(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError) as err:
        read_checkpoint(tmp_path)
    msg = str(err.value)
    assert str(tmp_path) in msg and "model.safetensors" in msg and "tf_model.h5" in msg and "(empty)" in msg
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(CheckpointError, match="notes.txt"):
        find_checkpoint_files(tmp_path)
    with pytest.raises(CheckpointError, match="does not exist"):
        read_checkpoint(tmp_path / "nope")


def test_bad_config_json(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match=str(tmp_path / "config.json")):
        read_config_json(tmp_path)
    with pytest.raises(CheckpointError, match="not found"):
        read_config_json(tmp_path / "sub")


def test_bad_index_json(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors.index.json").write_text('{"weight_map": {"a": "../evil.safetensors"}}')
    with pytest.raises(CheckpointError, match="invalid shard"):
        find_checkpoint_files(tmp_path)


# --------------------------------------------------------------------------- safetensors io


def test_safetensors_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    base = rng.standard_normal((3, 5)).astype(np.float32)
    tensors = {
        "a.weight": base,
        "a.t": base.T,  # non-contiguous view
        "h": rng.standard_normal(4).astype(np.float16),
        "ids": np.arange(6, dtype=np.int64).reshape(2, 3),
        "scalar": np.float32(2.5),
    }
    path = tmp_path / "rt.safetensors"
    write_safetensors(tensors, path, metadata={"format": "pt"})
    back = read_safetensors(path)
    _assert_same(back, {k: np.asarray(v) for k, v in tensors.items()})
    assert read_safetensors_metadata(path) == {"format": "pt"}
    assert [p.name for p in tmp_path.iterdir()] == ["rt.safetensors"]


def test_bfloat16_is_read_as_float32(tmp_path: Path) -> None:
    values = np.array([[1.0, -2.5, 3.140625], [1e-3, 65280.0, -0.0]], dtype=np.float32)
    path = tmp_path / "bf16.safetensors"
    write_safetensors({"w": values.astype(ml_dtypes.bfloat16), "f": values}, path)
    back = read_safetensors(path)
    assert back["w"].dtype == np.float32
    np.testing.assert_array_equal(back["w"], values.astype(ml_dtypes.bfloat16).astype(np.float32))
    np.testing.assert_array_equal(back["f"], values)


def _raw_safetensors(path: Path, dtype: str, nbytes: int) -> None:
    """A safetensors file written byte by byte, with any dtype name in its header."""
    header = json.dumps({"w": {"dtype": dtype, "shape": [2, 2], "data_offsets": [0, nbytes]}}).encode()
    header += b" " * (-len(header) % 8)
    path.write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * nbytes)


@pytest.mark.parametrize("dtype, nbytes", [("F8_E4M3", 4), ("F8_E5M2", 4), ("C64", 32), ("F4", 2)])
def test_unreadable_dtypes_are_named(tmp_path: Path, dtype: str, nbytes: int) -> None:
    path = tmp_path / "model.safetensors"
    _raw_safetensors(path, dtype, nbytes)
    with pytest.raises(CheckpointError, match=rf"{path}: tensor 'w' has dtype {dtype}, which tf-longformer cannot "
                                              r"read .*Convert the checkpoint to float32"):
        read_checkpoint(tmp_path)


def test_atomic_write_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "w.safetensors"
    write_safetensors({"a": np.ones(3, np.float32)}, path)
    before = path.read_bytes()
    with pytest.raises(Exception):  # noqa: B017 - safetensors raises its own error type
        write_safetensors({"a": np.zeros(3, np.float32), "bad": np.array([object()], dtype=object)}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"):
        write_safetensors({"a": np.zeros(3, np.float32)}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["w.safetensors"]


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_damaged_safetensors(tmp_path: Path, damage: str) -> None:
    data = (MLM_PT / "model.safetensors").read_bytes()
    path = tmp_path / "model.safetensors"
    path.write_bytes(
        {"truncated": data[: len(data) // 2], "garbage": b"\x00garbage" * 50, "empty": b""}[damage]
    )
    for call in (read_safetensors, read_checkpoint):
        with pytest.raises(CheckpointError, match=str(path)):
            call(path)
    with pytest.raises(CheckpointError, match=str(path)):
        read_checkpoint(tmp_path)


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_damaged_h5(tmp_path: Path, damage: str) -> None:
    data = (MLM_TF / "tf_model.h5").read_bytes()
    path = tmp_path / "tf_model.h5"
    path.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"not an hdf5 file" * 64)
    with pytest.raises(CheckpointError, match=str(path)):
        read_checkpoint(tmp_path)


def test_keras3_style_h5_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "model.weights.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("layers/dense/vars/0", data=np.zeros(2))
    with pytest.raises(CheckpointError, match="layer_names"):
        read_hf_tf_h5(path)


def test_missing_files_name_the_path(tmp_path: Path) -> None:
    for reader in (read_safetensors, read_hf_tf_h5, read_torch_bin):
        with pytest.raises(CheckpointError, match="not found"):
            reader(tmp_path / "absent.file")


# --------------------------------------------------------------------------- torch .bin


def test_torch_bin_matches_safetensors(tmp_path: Path, mlm_pt: dict[str, np.ndarray]) -> None:
    torch = pytest.importorskip("torch")
    torch.save({k: torch.from_numpy(v.copy()) for k, v in mlm_pt.items()}, tmp_path / "pytorch_model.bin")
    _assert_same(read_torch_bin(tmp_path / "pytorch_model.bin"), mlm_pt)
    assert find_checkpoint_files(tmp_path)[0] == "bin"
    _assert_same(read_checkpoint(tmp_path), mlm_pt)


def test_sharded_torch_bin(tmp_path: Path, mlm_pt: dict[str, np.ndarray]) -> None:
    torch = pytest.importorskip("torch")

    def writer(tensors: dict[str, np.ndarray], path: Path) -> None:
        torch.save({k: torch.from_numpy(v.copy()) for k, v in tensors.items()}, path)

    _write_sharded(tmp_path, mlm_pt, writer, "bin")
    fmt, paths = find_checkpoint_files(tmp_path)
    assert fmt == "bin" and len(paths) == 2
    _assert_same(read_checkpoint(tmp_path), mlm_pt)


def test_torch_bin_bf16_and_damage(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    w = torch.randn(3, 4).to(torch.bfloat16)
    path = tmp_path / "pytorch_model.bin"
    torch.save({"w": w}, path)
    back = read_torch_bin(path)
    assert back["w"].dtype == np.float32
    np.testing.assert_array_equal(back["w"], w.float().numpy())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=str(path)):
        read_torch_bin(path)
    path.write_bytes(b"garbage" * 20)
    with pytest.raises(CheckpointError, match=str(path)):
        read_checkpoint(tmp_path)
    torch.save({"nested": {"w": w}}, path)
    with pytest.raises(CheckpointError, match="not a tensor"):
        read_torch_bin(path)


def test_missing_torch_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "pytorch_model.bin"
    path.write_bytes(b"whatever")
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match=r'pip install "tf-longformer\[torch\]"'):
        read_torch_bin(path)
    with pytest.raises(ImportError, match="tf-longformer"):
        read_checkpoint(tmp_path)


# --------------------------------------------------------------------------- isolation


def test_converters_import_no_framework() -> None:
    code = (
        "import sys, converters.checkpoint, converters.atomic_folder, converters.elongate;"
        "bad = [m for m in ('torch', 'tensorflow', 'keras', 'tf_longformer') if m in sys.modules];"
        "assert not bad, bad"
    )
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)
