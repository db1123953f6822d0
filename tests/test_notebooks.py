"""The notebooks run top to bottom (a tiny training run), so they never rot."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["retrain.ipynb"])
def test_notebook_executes(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if not (ROOT / "models" / "voc-sentiment-ja" / "voc_model.json").is_file():
        pytest.fail("the shipped model models/voc-sentiment-ja is missing")
    monkeypatch.setenv("VOC_NOTEBOOK_TINY", "1")
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    client = NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "notebooks")}})
    client.execute()
    outputs = "".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )
    assert "corrections" in outputs and "macro-F1 current" in outputs
    assert os.environ["VOC_NOTEBOOK_TINY"] == "1"
