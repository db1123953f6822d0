"""Fixtures of the explorer tests: the sample analysed into a store with fixture labels."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
APP = HERE.parents[1] / "app.py"

_spec = importlib.util.spec_from_file_location("voc_fixture_store", HERE / "fixture_store.py")
fixture_store = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(fixture_store)  # type: ignore[union-attr]


@pytest.fixture(scope="session")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """data/sample/ analysed (no models) plus deterministic fixture labels; read-only use."""
    return fixture_store.build_fixture_store(tmp_path_factory.mktemp("explorer") / "voc.duckdb")


@pytest.fixture()
def store(sample_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the sample store (tests may write corrections or uploads), as VOC_STORE."""
    path = tmp_path / "voc.duckdb"
    shutil.copy(sample_store, path)
    monkeypatch.setenv("VOC_STORE", str(path))
    monkeypatch.delenv("VOC_APP_PASSWORD", raising=False)
    monkeypatch.delenv("VOC_TOPIC_MODEL", raising=False)
    return path
