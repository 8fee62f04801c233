"""tf.distribute: MirroredStrategy over 2 logical CPU devices, and MultiWorkerMirroredStrategy with 2 real worker
processes on localhost, train to the weights of one device (dropout off: NO_DROPOUT, see distribute_job.py).

Each case runs `tests/distribute_job.py` in fresh processes (devices and the collective runtime are
configured before TensorFlow starts).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JOB = os.path.join(ROOT, "tests", "distribute_job.py")
TIMEOUT = 600


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def _free_ports(n: int) -> list[int]:
    sockets = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("localhost", 0))
        sockets.append(s)
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_mirrored_strategy_matches_one_device(tmp_path):
    out = tmp_path / "mirrored.json"
    proc = subprocess.run([sys.executable, JOB, "mirrored", str(out)], env=_env(), capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["replicas"] == 2
    assert result["moved"] > 1e-3  # training changed the weights
    assert result["max_weight_diff"] < 1e-5, result
    np.testing.assert_allclose(result["mirrored_losses"], result["single_losses"], rtol=1e-5)


@pytest.mark.slow
def test_multi_worker_mirrored_strategy_two_processes(tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        procs.append(subprocess.Popen(
            [sys.executable, JOB, "worker", str(tmp_path / f"worker{index}.npz")], env=_env(TF_CONFIG=tf_config),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    logs = []
    try:
        for proc in procs:
            _, err = proc.communicate(timeout=TIMEOUT)
            logs.append(err)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for proc, log in zip(procs, logs, strict=True):
        assert proc.returncode == 0, log[-3000:]
    results = [np.load(tmp_path / f"worker{i}.npz") for i in range(2)]
    assert all(int(r["replicas"]) == 2 for r in results)
    assert all(float(r["moved"]) > 1e-3 for r in results)
    names = [k for k in results[0].files if k.startswith("arr_")]
    assert names and names == [k for k in results[1].files if k.startswith("arr_")]
    for name in names:
        np.testing.assert_array_equal(results[0][name], results[1][name])
    np.testing.assert_allclose(results[0]["losses"], results[1]["losses"], rtol=1e-6)
    # the same training on one device (worker 0 ran it after its distributed fit)
    single = sorted((k for k in results[0].files if k.startswith("single_") and k != "single_losses"),
                    key=lambda k: int(k.split("_")[1]))
    assert len(single) == len(names)
    diff = max(float(np.max(np.abs(results[0][f"arr_{i}"] - results[0][k]))) for i, k in enumerate(single))
    assert diff < 1e-5, diff
    np.testing.assert_allclose(results[0]["losses"], results[0]["single_losses"], rtol=1e-5)
