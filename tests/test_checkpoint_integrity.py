"""A checkpoint is written whole or not at all, and read whole.

Real SIGKILLs at random moments of a process saving in a loop: the folder then holds the old checkpoint
or the new one, both files of the same save (read file by file, as transformers reads them), and its
other files stay. The next save removes what a killed one left; files honour the umask; loading refuses
encoder weights the config has no place for.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import tf_longformer
from converters.atomic import is_temporary
from converters.atomic_folder import COMMIT_RECORD, finish_interrupted_save, read_consistently
from converters.elongate import elongate
from converters.safetensors_io import read_safetensors
from tests.conftest import TINY_CONFIG

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JOB = os.path.join(REPO, "tests", "save_loop_job.py")


def start(mode: str, *args, cwd=None, log=None) -> subprocess.Popen:
    """Start the save loop and wait until the folder holds a first whole checkpoint."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, JOB, mode, *map(str, args)], stdout=subprocess.PIPE,
                            stderr=log or subprocess.DEVNULL, text=True, env=env, cwd=cwd)
    assert proc.stdout.readline().strip() == "ready", f"the job failed (exit {proc.wait()})"
    return proc


def kill_at_random(proc: subprocess.Popen, rng: np.random.Generator, longest: float) -> int:
    """SIGKILL after a random delay; returns how many saves had completed since "ready"."""
    time.sleep(rng.uniform(0.0, longest))
    proc.kill()
    proc.wait()
    return proc.stdout.read().count("saved")


def read_pair(folder) -> tuple[dict, dict]:
    """config.json and model.safetensors, each read by path as transformers does (no recovery, no retry)."""
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as fh:
        config = json.load(fh)
    return config, read_safetensors(os.path.join(folder, "model.safetensors"))


def version_of(pair, refs) -> int:
    """Which reference checkpoint `pair` is, whole; fails on a mix."""
    config, tensors = pair
    for i, ref in enumerate(refs):
        ref_config, ref_tensors = read_pair(ref)
        if config == ref_config and tensors.keys() == ref_tensors.keys() and all(
                np.array_equal(tensors[k], ref_tensors[k]) for k in tensors):
            return i
    raise AssertionError(f"a mixed checkpoint: config max_position_embeddings={config['max_position_embeddings']}, "
                         f"layers={config['num_hidden_layers']}, {len(tensors)} tensors")


def temporaries(*folders) -> list[str]:
    return [name for folder in folders if os.path.isdir(folder) for name in os.listdir(folder)
            if is_temporary(name) or name == COMMIT_RECORD]


@pytest.fixture(scope="module")
def source(reference_factory):
    return reference_factory("TFLongformerForMaskedLM")[1]


def test_killed_saves_leave_a_whole_checkpoint(source, tmp_path):
    """Eight kills of an elongate loop (numpy only, starts fast): each time one whole version, notes kept."""
    folder, refs = tmp_path / "ckpt", [tmp_path / "a", tmp_path / "b"]
    folder.mkdir()
    (folder / "NOTES.md").write_text("kept")
    rng = np.random.default_rng(0)
    saves, versions = 0, set()
    for _ in range(8):
        saves += kill_at_random(start("elongate", folder, *refs, source), rng, 0.5)
        versions.add(version_of(read_pair(folder), refs))
        assert (folder / "NOTES.md").read_text() == "kept"
        assert sorted(os.listdir(folder)) == ["NOTES.md", "config.json", "model.safetensors"]
    assert saves > 8, "the kills should land in a running save loop"
    elongate(source, folder, max_length=800, overwrite=True)  # the next save removes what the kills left
    assert temporaries(tmp_path, folder) == []
    assert sorted(os.listdir(tmp_path)) == ["a", "b", "ckpt"]


def test_killed_saves_in_place(source, tmp_path):
    """From inside the folder (the working directory cannot be swapped) the files are renamed in one by one
    after a commit record: a reader meets either a whole version or no config.json (a clear error), never a
    mix, and the next reader finishes the save."""
    folder, refs = tmp_path / "ckpt", [tmp_path / "a", tmp_path / "b"]
    folder.mkdir()
    (folder / "NOTES.md").write_text("kept")
    rng = np.random.default_rng(1)
    inode = os.stat(folder).st_ino
    for _ in range(6):
        kill_at_random(start("elongate", folder, *refs, source, cwd=folder), rng, 0.5)
        try:
            version_of(read_pair(folder), refs)
        except FileNotFoundError:  # the keystone goes first and comes back last, after the commit
            assert os.path.exists(folder / COMMIT_RECORD) and not os.path.exists(folder / "config.json")
        version_of(read_consistently(folder, lambda: read_pair(folder)), refs)  # finishes a committed save
        assert not os.path.exists(folder / COMMIT_RECORD) and (folder / "NOTES.md").read_text() == "kept"
    assert os.stat(folder).st_ino == inode  # the folder itself was never replaced
    elongate(source, folder, max_length=800, overwrite=True)
    assert temporaries(tmp_path, folder) == []


@pytest.mark.slow
def test_killed_save_pretrained(tmp_path):
    """save_pretrained itself (TensorFlow starts in each job, so two kills): 3- and 4-layer models in turn."""
    folder, refs = tmp_path / "ckpt", [tmp_path / "a", tmp_path / "b"]
    folder.mkdir()
    (folder / "tokenizer.json").write_text("{}")
    rng = np.random.default_rng(2)
    for _ in range(2):
        kill_at_random(start("save_pretrained", folder, *refs), rng, 1.0)
        version = version_of(read_pair(folder), refs)
        assert (folder / "tokenizer.json").read_text() == "{}"
    model = tf_longformer.TFLongformerModel.from_pretrained(folder)
    assert model.config.num_hidden_layers == (3, 4)[version]
    model.save_pretrained(folder)
    assert temporaries(tmp_path, folder) == []


def test_next_save_removes_only_what_dead_savers_left(source, tmp_path):
    folder = tmp_path / "ckpt"
    elongate(source, folder, max_length=800)
    holder = start("hold-temporary", folder)
    left = temporaries(tmp_path)
    assert len(left) == 1
    elongate(source, folder, max_length=800, overwrite=True)
    assert temporaries(tmp_path) == left  # its owner is alive: kept
    holder.kill()
    holder.wait()
    elongate(source, folder, max_length=800, overwrite=True)
    assert temporaries(tmp_path, folder) == []


def test_reader_never_sees_a_mix_while_saves_run(source, tmp_path):
    folder, refs = tmp_path / "ckpt", [tmp_path / "a", tmp_path / "b"]
    for ref, n in zip(refs, (800, 1600), strict=True):
        elongate(source, ref, max_length=n)
    elongate(source, folder, max_length=800)
    stop, errors = threading.Event(), []

    def save_in_turn():
        try:
            turn = 0
            while not stop.is_set():
                elongate(source, folder, max_length=(1600, 800)[turn % 2], overwrite=True)
                turn += 1
        except Exception as err:  # noqa: BLE001 - reported below
            errors.append(err)

    writer = threading.Thread(target=save_in_turn)
    writer.start()
    try:
        seen = [version_of(read_consistently(folder, lambda: read_pair(folder)), refs) for _ in range(40)]
    finally:
        stop.set()
        writer.join()
    assert not errors, errors
    assert set(seen) <= {0, 1}


@pytest.fixture(scope="module")
def model():
    model = tf_longformer.TFLongformerForMaskedLM(tf_longformer.LongformerConfig(**TINY_CONFIG))
    model(input_ids=np.array([[0, 5, 6, 2]]))
    return model


def test_files_honour_the_umask(model, source, tmp_path):
    old = os.umask(0o027)
    try:
        model.save_pretrained(tmp_path / "saved")
        elongate(source, tmp_path / "elongated", max_length=800)
    finally:
        os.umask(old)
    for folder in (tmp_path / "saved", tmp_path / "elongated"):
        assert os.stat(folder).st_mode & 0o777 == 0o750
        for name in os.listdir(folder):
            assert os.stat(folder / name).st_mode & 0o777 == 0o640, name
    os.chmod(tmp_path / "saved" / "config.json", 0o600)
    model.save_pretrained(tmp_path / "saved")  # a replaced file keeps its mode
    assert os.stat(tmp_path / "saved" / "config.json").st_mode & 0o777 == 0o600


def test_save_replaces_old_shards_and_keeps_other_files(model, tmp_path):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    for name in ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                 "model.safetensors.index.json", "vocab.json", "pytorch_model.bin"):
        (folder / name).write_text(name)
    (folder / "runs").mkdir()
    (folder / "runs" / "events").write_text("log")
    model.save_pretrained(folder)
    assert sorted(os.listdir(folder)) == ["config.json", "model.safetensors", "pytorch_model.bin", "runs",
                                          "vocab.json"]
    assert (folder / "runs" / "events").read_text() == "log"
    # through a symlink: the link stays, its target is replaced
    link = tmp_path / "link"
    os.symlink(folder, link)
    model.save_pretrained(link)
    assert os.path.islink(link) and tf_longformer.TFLongformerForMaskedLM.from_pretrained(link) is not None


def test_quantized_model_writes_nothing(tmp_path):
    model = tf_longformer.TFLongformerModel(tf_longformer.LongformerConfig(**TINY_CONFIG))
    model(input_ids=np.array([[0, 5, 6, 2]]))
    model.quantize("int8")
    with pytest.raises(tf_longformer.QuantizationError, match="model.save"):
        model.save_pretrained(tmp_path / "q")
    assert not os.path.exists(tmp_path / "q")


def test_interrupted_save_needs_a_writer(source, tmp_path):
    """A folder with a commit record that the reader may not finish: a clear error, not a mixed model."""
    folder = tmp_path / "ckpt"
    elongate(source, folder, max_length=800)
    (folder / COMMIT_RECORD).write_text(json.dumps({"keystone": "config.json", "rename": [], "remove": []}))
    if os.geteuid() == 0:
        finish_interrupted_save(folder)  # root may write anywhere
        assert not os.path.exists(folder / COMMIT_RECORD)
        return
    os.chmod(folder, 0o555)
    try:
        with pytest.raises(tf_longformer.CheckpointError, match="interrupted"):
            finish_interrupted_save(folder)
    finally:
        os.chmod(folder, 0o755)


# --- loading is strict about the encoder -------------------------------------------------------------------


def test_config_with_fewer_layers_than_the_checkpoint_is_an_error(reference_factory):
    _, folder = reference_factory("TFLongformerForMaskedLM")
    with pytest.raises(tf_longformer.WeightsMismatchError,
                       match=r"encoder weight\(s\).*encoder\.layer\.2\..*at least 3 layers.*num_hidden_layers=2"):
        tf_longformer.TFLongformerForMaskedLM.from_pretrained(folder, num_hidden_layers=2, attention_window=8)


def test_unused_encoder_weight_is_an_error_unused_head_a_warning(reference_factory, tmp_path, caplog):
    _, folder = reference_factory("TFLongformerForMaskedLM")
    extra = tmp_path / "extra"
    shutil.copytree(folder, extra)
    tensors = read_safetensors(extra / "model.safetensors")
    from converters.safetensors_io import write_safetensors

    write_safetensors({**tensors, "longformer.encoder.layer.0.attention.self.rotary.weight": np.zeros(2, np.float32)},
                      extra / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(tf_longformer.WeightsMismatchError, match=r"layer\.0\.attention\.self\.rotary\.weight"):
        tf_longformer.TFLongformerForMaskedLM.from_pretrained(extra)
    with caplog.at_level(logging.WARNING, logger="tf_longformer"):
        _, info = tf_longformer.TFLongformerModel.from_pretrained(folder, output_loading_info=True)
    assert "lm_head.dense.weight" in info["unexpected_keys"] and "were not used" in caplog.text
