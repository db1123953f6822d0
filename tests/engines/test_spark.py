"""The Spark job gives the rows ``voc analyze`` gives, on the same input.

The first tests need neither Java nor pyspark: they replay the job's contract (aligned
chunks through ``score_chunk``, repeats across chunks through ``number_repeats``) on one
machine. The ``spark`` tests run the real job on ``local[2]``; CI installs Java for them
(``.ci/run``), elsewhere they skip with the reason.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from voc.config import VocConfig
from voc.engines.batches import (
    CHUNK,
    FILE,
    ROW,
    OutputLayout,
    WorkerState,
    number_repeats,
    score_chunk,
    worker_state,
)
from voc.errors import ConfigError, InputError
from voc.pipeline import analyze, default_scorers

from .conftest import SAMPLE, spark_missing


def analyze_to_table(inputs: list[str], tmp: Path, config: VocConfig, model: Path | None = None) -> pa.Table:
    scorers = default_scorers(config, model=model, sentiment=model is not None)
    out = tmp / "local.parquet"
    analyze(inputs, config=config, store_path=tmp / "local.duckdb", output=out, scorers=scorers)
    return pq.read_table(out)


def assert_same(expected: pa.Table, got: pa.Table, tol: float = 1e-6) -> None:
    """Same columns, types and rows; floats within ``tol``."""
    assert got.schema.equals(expected.schema, check_metadata=False), (expected.schema, got.schema)
    assert got.num_rows == expected.num_rows
    bad: list[Any] = []
    for name in expected.column_names:
        for i, (a, b) in enumerate(zip(expected.column(name).to_pylist(), got.column(name).to_pylist(), strict=True)):
            same = (a is None and b is None) or (
                isinstance(a, float) and isinstance(b, float) and math.isclose(a, b, rel_tol=0, abs_tol=tol)
            ) or a == b
            if not same:
                bad.append((i, name, a, b))
    assert not bad, f"{len(bad)} cells differ, e.g. {bad[:5]}"


# ----------------------------------------------------------------------------------------
# the contract, without Spark
# ----------------------------------------------------------------------------------------
def replay_job(files: list[Path], config: VocConfig, state: WorkerState, scorer_columns: dict[str, str]) -> pa.Table:
    """What the Spark job does with a folder of Parquet files, on one machine."""
    import re

    size = config.ingest.chunk_size
    tables = {f: pq.read_table(f) for f in files}
    layout = OutputLayout.build([c for t in tables.values() for c in t.column_names], scorer_columns)
    batches = []
    for f, t in tables.items():
        for start in range(0, t.num_rows, size):
            batches.append(score_chunk(
                t.slice(start, size), layout, config=config, state=state, file_columns=t.column_names,
                source_file=str(f), first_row=start + 1,
            ))
    out = pa.Table.from_batches(batches)
    rows = out.to_pylist()
    groups: dict[tuple[str, str], list[int]] = {}
    for i, r in enumerate(rows):
        if r["voc_id"] is not None:
            groups.setdefault((r[FILE], re.sub(r"(~[0-9]+)+$", "", r["voc_id"])), []).append(i)
    fixed = 0
    for (file, _), members in groups.items():
        if len({(rows[i][ROW] - 1) // size for i in members}) < 2:
            continue
        src = tables[Path(file)]
        numbers = [rows[i][ROW] for i in members]
        ids, warnings = number_repeats(
            src.take([n - 1 for n in numbers]), config=config, rows=numbers, file_columns=src.column_names,
            source_file=file,
        )
        for i, vid, w in zip(members, ids, warnings, strict=True):
            fixed += rows[i]["voc_id"] != vid
            rows[i]["voc_id"], rows[i]["warning"] = vid, w
    assert fixed, "the sample should hold ids that repeat across chunks"
    return pa.Table.from_pylist(rows, schema=layout.arrow_schema(helpers=True)).select(list(layout.columns))


def test_aligned_chunks_and_numbered_repeats_reproduce_analyze(sample_parquet: Path, tmp_path: Path) -> None:
    config = VocConfig.load().with_overrides(ingest={"chunk_size": 16})
    expected = analyze_to_table([str(sample_parquet)], tmp_path, config)
    files = sorted(sample_parquet.glob("*.parquet"))
    got = replay_job(files, config, WorkerState(scorers=[]), {})
    assert_same(expected, got)
    ids = got.column("voc_id").to_pylist()
    assert "XR100207~2" in ids and "XR100228~3" in ids  # reviews_repeat.parquet, across chunks


def test_big_integer_ids_with_gaps_keep_their_digits(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    ids = [None if i % 7 == 0 else 2062086755972709049 + i for i in range(20)]
    texts = [f"配送が遅れました。{i}回目です" for i in range(20)]
    pq.write_table(pa.table({"id": pa.array(ids, pa.int64()), "本文": texts}), folder / "posts.parquet")
    config = VocConfig.load()
    expected = analyze_to_table([str(folder)], tmp_path, config)
    table = pq.read_table(folder / "posts.parquet")
    layout = OutputLayout.build(table.column_names, {})
    got = score_chunk(table, layout, config=config, state=WorkerState(scorers=[]), source_file=str(folder / "posts.parquet"),
                      first_row=1)
    assert got.column("id").to_pylist() == expected.column("id").to_pylist()


def test_layout_is_the_single_machine_layout(sample_parquet: Path, tmp_path: Path) -> None:
    config = VocConfig.load()
    expected = analyze_to_table([str(sample_parquet / "chat_turns.parquet")], tmp_path, config)
    cols = pq.read_schema(sample_parquet / "chat_turns.parquet").names
    layout = OutputLayout.build(cols, {})
    assert layout.arrow_schema().equals(expected.schema, check_metadata=False)
    assert "voc_touchpoint" in layout.columns and "voc_created_at" in layout.columns  # clashes prefixed
    assert layout.kind("voc_created_at") == "timestamp" and layout.kind("touchpoint") == "string"


def test_worker_state_is_built_once_per_process() -> None:
    from voc.engines.batches import clear_worker_cache

    config = VocConfig.load()
    clear_worker_cache()
    first = worker_state(config, model=None, sentiment=False)
    assert worker_state(config, model=None, sentiment=False) is first
    clear_worker_cache()
    assert worker_state(config, model=None, sentiment=False) is not first


def test_batches_are_regrouped_into_whole_chunks() -> None:
    from voc.engines.spark import _whole_chunks

    keys = [("a", 0)] * 5 + [("a", 1)] * 3 + [("b", 0)] * 4
    table = pa.table({FILE: [k[0] for k in keys], CHUNK: [k[1] for k in keys], ROW: list(range(len(keys)))})
    batches = table.to_batches(max_chunksize=3)  # cut through the chunks
    got = [(t.column(FILE)[0].as_py(), t.column(CHUNK)[0].as_py(), t.num_rows) for t in _whole_chunks(iter(batches))]
    assert got == [("a", 0, 5), ("a", 1, 3), ("b", 0, 4)]


def test_sources_follow_analyze_order_and_shapes(sample_parquet: Path, tmp_path: Path) -> None:
    from voc.engines.spark import _plan_sources

    config = VocConfig.load()
    sources = _plan_sources([str(sample_parquet), str(SAMPLE / "survey_nps.csv"), "s3a://lake/feedback/"], config)
    parquet = [s for s in sources if s.order == 0]
    assert len(parquet) == len(list(sample_parquet.glob("*.parquet")))  # five shapes
    assert all(s.prefix == f"{sample_parquet}/" for s in parquet)
    csv = next(s for s in sources if s.order == 1)
    assert csv.kind == "csv" and csv.source_file == str(SAMPLE / "survey_nps.csv")
    assert csv.csv_options["encoding"] == "UTF-8" and csv.csv_columns[0] == "回答ID"  # BOM gone
    reviews = _plan_sources([str(SAMPLE / "reviews_ec.csv")], config)[0]
    assert reviews.csv_options["encoding"] == "windows-31j"
    remote = sources[-1]
    assert remote.order == 2 and remote.prefix == "s3a://lake/feedback/"
    with pytest.raises(ConfigError, match="E602"):
        (tmp_path / "a.xlsx").write_bytes(b"")
        _plan_sources([str(tmp_path / "a.xlsx")], config)
    with pytest.raises(InputError, match="E101"):
        _plan_sources([str(tmp_path / "missing.parquet")], config)


def test_a_folder_that_is_no_topic_model_is_refused_before_spark_starts(tmp_path: Path) -> None:
    pytest.importorskip("pyspark")
    from voc.engines.spark import run_spark

    with pytest.raises(ConfigError, match="E601"):
        run_spark([str(tmp_path)], tmp_path / "out.parquet", topics=tmp_path, sentiment=False)


# ----------------------------------------------------------------------------------------
# the real job on local[2]
# ----------------------------------------------------------------------------------------
@pytest.mark.spark
@pytest.mark.skipif(spark_missing() is not None, reason=str(spark_missing()))
def test_spark_job_equals_analyze_with_sentiment(
    spark: Any, sample_parquet: Path, tiny_model: Path, tmp_path: Path
) -> None:
    from voc.engines.spark import run_spark

    config = VocConfig.load().with_overrides(ingest={"chunk_size": 64})
    # Parquet files of five shapes, a CP932 CSV with CRLF rows and a UTF-8-with-BOM CSV
    inputs = [str(sample_parquet), str(SAMPLE / "reviews_ec.csv"), str(SAMPLE / "survey_nps.csv")]
    expected = analyze_to_table(inputs, tmp_path, config, model=tiny_model)
    report = run_spark(inputs, tmp_path / "spark.parquet", spark=spark, config=config, model=tiny_model, partitions=3)
    got = pq.read_table(tmp_path / "spark.parquet")
    assert_same(expected, got)
    assert report.rows == expected.num_rows == 26 + 67 + 121 + 88 + 74 + 182 + 100
    assert report.errors == sum(e is not None for e in expected.column("error").to_pylist()) >= 2
    scores = [s for s in got.column("sentiment_score").to_pylist() if s is not None]
    assert len(scores) > 550 and len({round(s, 6) for s in scores}) > 50  # really scored, not constant
    assert {"XR100207~2", "XR100228~3"} <= set(got.column("voc_id").to_pylist())


@pytest.mark.spark
@pytest.mark.skipif(spark_missing() is not None, reason=str(spark_missing()))
def test_spark_job_assigns_topics_as_analyze_does(
    spark: Any, sample_parquet: Path, tiny_model: Path, tiny_topics: Path, tmp_path: Path
) -> None:
    from voc.engines.spark import run_spark

    config = VocConfig.load().with_overrides(ingest={"chunk_size": 64})
    inputs = [str(sample_parquet / "sns_posts.parquet"), str(sample_parquet / "chat_turns.parquet"),
              str(SAMPLE / "reviews_ec.csv")]
    scorers = default_scorers(config, model=tiny_model, topics=tiny_topics)
    analyze(inputs, config=config, store_path=tmp_path / "local.duckdb", output=tmp_path / "local.parquet",
            scorers=scorers)
    expected = pq.read_table(tmp_path / "local.parquet")
    run_spark(inputs, tmp_path / "spark.parquet", spark=spark, config=config, model=tiny_model, topics=tiny_topics,
              partitions=2)
    got = pq.read_table(tmp_path / "spark.parquet")
    assert_same(expected, got)
    topics = [t for t in got.column("topic_id").to_pylist() if t is not None]
    assert len(topics) > 20 and len(set(topics)) >= 2  # complaints really were assigned
    labels = got.column("topic_label").to_pylist()
    assert all((t is None) == (lab is None) for t, lab in zip(got.column("topic_id").to_pylist(), labels, strict=True))


@pytest.mark.spark
@pytest.mark.skipif(spark_missing() is not None, reason=str(spark_missing()))
def test_cli_engine_spark(spark: Any, sample_parquet: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from voc.cli import app

    out = tmp_path / "scored.parquet"
    args = ["analyze", str(sample_parquet / "chat_turns.parquet"), "--engine", "spark", "-o", str(out)]
    res = CliRunner().invoke(app, [*args, "--no-sentiment"])
    assert res.exit_code == 0, res.output
    assert "rows: 67" in res.output and "Spark" in res.output
    table = pq.read_table(out)
    assert table.column("source_row").to_pylist() == list(range(1, 68))
    bad = CliRunner().invoke(app, ["analyze", str(sample_parquet), "--engine", "spark", "--no-sentiment"])
    assert bad.exit_code != 0 and "-o" in bad.output
