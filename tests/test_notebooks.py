"""Notebook 01 (quick start on the demo model) runs top to bottom, offline, in a fresh kernel."""

from __future__ import annotations

import os
import shutil

import ipykernel  # noqa: F401 - the "python3" kernel nbclient starts (test extra: a missing one fails)
import nbclient
import nbformat
import pytest

NOTEBOOK = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "notebooks",
                        "01_quickstart.ipynb")


@pytest.mark.slow
def test_quickstart_notebook_runs_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the kernel inherits the environment
    shutil.copy(NOTEBOOK, tmp_path)
    notebook = nbformat.read(str(tmp_path / os.path.basename(NOTEBOOK)), as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError on any failing cell
    outputs = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            outputs.append(output.get("text", "") + str(output.get("data", {}).get("text/plain", "")))
    text = "\n".join(outputs)
    assert "'score'" in text and "'token_str'" in text  # fill-mask results were printed
    assert "windows" in text and "hidden size: 128" in text
    assert "Traceback" not in text
