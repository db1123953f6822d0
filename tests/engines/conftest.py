"""Fixtures for the engine tests: the sample dumps as Parquet, a tiny sentiment model, and
one local Spark session for the whole test session (starting Spark costs ~30 s)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "spark: needs pyspark and Java 17+ (installed by .ci/run)")


def java_major() -> int | None:
    """Major version of the ``java`` on PATH (or under JAVA_HOME), None without one."""
    import os

    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home and (Path(home) / "bin" / "java").exists() else shutil.which("java")
    if not java:
        return None
    try:
        text = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60).stderr
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major


def spark_missing() -> str | None:
    """Why the Spark tests cannot run here, or None."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install -r requirements.txt)"
    major = java_major()
    if major is None:
        return "no Java runtime: apt-get install -y openjdk-17-jre-headless (.ci/run does)"
    if major < 17:
        return f"Spark 4 needs Java 17+, found Java {major}"
    return None


@pytest.fixture(scope="session")
def spark():  # type: ignore[no-untyped-def]
    reason = spark_missing()
    if reason:
        pytest.skip(reason)
    from voc.engines.spark import _start_session

    session = _start_session("local[2]", {"spark.sql.shuffle.partitions": "4"}, progress=False)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def sample_parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three sample dumps as Parquet (values as voc's readers give them), plus two files
    whose ids / whole rows repeat far apart (numbered across chunks). The reviews and the
    survey stay CSV: the tests pass them as CSV next to this folder (a record id in two
    files of one run would be scored once by ``voc analyze``, see voc/engines/spark.py)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from voc.ingest.readers import open_dump

    folder = tmp_path_factory.mktemp("sample-parquet")
    for name in ("call_transcripts.csv", "chat_turns.csv", "sns_posts.jsonl"):
        rows = [r.values for r in open_dump(SAMPLE / name).rows()]
        pq.write_table(pa.Table.from_pylist(rows), folder / f"{Path(name).stem}.parquet")
    reviews = [r.values for r in open_dump(SAMPLE / "reviews_ec.csv").rows()]
    reviews = [{**r, "レビューID": "X" + r["レビューID"]} for r in reviews]
    pq.write_table(pa.Table.from_pylist(reviews[:60] + reviews[:25] + reviews[3:6]), folder / "reviews_repeat.parquet")
    posts = [{"text": r.values["text"], "user": r.values["user"]} for r in open_dump(SAMPLE / "sns_posts.jsonl").rows()]
    blank = [{"text": "", "user": None}, {"text": None, "user": None}]
    pq.write_table(pa.Table.from_pylist(posts[:50] + posts[:20] + blank + posts[:2]), folder / "sns noid+1.parquet")  # Spark URI-encodes such names
    return folder


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory, tiny_bert_builder, labelled_texts) -> Path:  # type: ignore[no-untyped-def]
    """A 2-layer BERT (MeCab tokenizer, vocabulary from the sample texts), random weights."""
    from voc.ingest.readers import open_dump

    texts = [t for t, _, _ in labelled_texts]
    for f in ("reviews_ec.csv", "survey_nps.csv", "sns_posts.jsonl"):
        for r in open_dump(SAMPLE / f).rows():
            texts.extend(str(v) for v in r.values.values() if isinstance(v, str) and len(v) > 8)
    return tiny_bert_builder(tmp_path_factory.mktemp("tiny-bert-ja"), texts)


@pytest.fixture(scope="session")
def tiny_model(tiny_base: Path, tmp_path_factory: pytest.TempPathFactory, labelled_csv_writer) -> Path:  # type: ignore[no-untyped-def]
    """A voc model on :func:`tiny_base` trained for a few steps: real code paths, seconds to build."""
    from voc.classify.train import TrainArgs, train

    data = labelled_csv_writer(tmp_path_factory.mktemp("labels") / "labels.csv")
    out = tmp_path_factory.mktemp("model") / "tiny"
    train(TrainArgs(
        data=[str(data)], output=str(out), base=str(tiny_base), max_steps=20, batch_size=8, lora_layers=2, lora_r=4,
        learning_rate=5e-3, head_learning_rate=5e-2, eval_fraction=0.0, eval_data=[str(data)], progress=False,
        name="tiny-engine-test",
    ))
    return out


@pytest.fixture(scope="session")
def tiny_topics(tiny_base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A topic model fitted on the sample's reviews and survey comments, embedded with the
    tiny BERT (fast; the topics mean little, the code paths are the real ones)."""
    from voc.ingest.readers import open_dump
    from voc.topics import TopicConfig, TopicModeler

    texts = [str(r.values["レビュー本文"]) for r in open_dump(SAMPLE / "reviews_ec.csv").rows()]
    texts += [str(r.values["ご意見"]) for r in open_dump(SAMPLE / "survey_nps.csv").rows()]
    texts = [t for t in texts if t.strip() and t != "None"]
    cfg = TopicConfig(seed=7, min_topic_size=8, embedding_model=str(tiny_base), embedding_prefix="", cache=False,
                      quantize=False)
    folder = tmp_path_factory.mktemp("topics") / "voc_topics"
    TopicModeler(cfg).fit(texts).save(folder)
    return folder
