"""voc as an Apache Spark job: the single-machine scoring, Parquet (or CSV) in, Parquet out.

::

    voc analyze lake/feedback/ --engine spark -o out/scored.parquet            # local[2]
    python -m voc.engines.spark lake/feedback/ -o out/scored.parquet --master local[8]
    spark-submit --master yarn voc/engines/spark.py s3a://bucket/feedback/ -o s3a://bucket/scored/

From a notebook (Databricks, EMR Studio) pass the session you have::

    from voc.engines.spark import run_spark
    run_spark("dbfs:/lake/feedback/", "dbfs:/lake/scored/", spark=spark)

What the job does, and why it gives the same rows as ``voc analyze -o out.parquet``:

1. Reads every input with Spark and numbers its rows as ``voc analyze`` does
   (``source_row``): Parquet rows by their position in the file (``_metadata.row_index``),
   CSV rows in file order, blank lines skipped.
2. Groups the rows into the chunks ``analyze`` would make (``ingest.chunk_size``
   consecutive rows of one file) and spreads whole chunks over the workers.
3. Each worker scores its chunks with :func:`voc.pipeline.score_frame` via Arrow
   (``mapInArrow``); the sentiment model is loaded once per Python worker process and
   reused for every task it runs (see :mod:`voc.engines.batches`).
4. Numbers repeated ids per file in row order (``R1``, ``R1~2``), as one machine does.
5. Sorts by file and row and writes Parquet: a folder of part files (Spark's layout),
   which pandas, pyarrow, DuckDB and Spark read as one table.

Where it differs from ``voc analyze`` (by design):

* no DuckDB store is written: on a cluster the output Parquet *is* the store (the lake);
* every row is scored. ``voc analyze`` reuses the stored prediction of a record it scored
  before (same id column, id and text: in an earlier run, or in an earlier file of the same
  run); that prediction came from another batch, and the int8 classifier's scores move in
  the third decimal with the batch, so such rows can differ by ~1e-3;
* topics (``--topics``, or ``voc analyze --topics``) are assigned to the rows that the
  job's own sentiment calls negative or mixed, as ``voc analyze`` does for new rows; the
  store's topic tables and drift figures are not written (there is no store);
* CSV goes through Spark's CSV reader: identical on well-formed exports (CP932, BOM, quoted
  line breaks included); for broken ones (mixed encodings, unbalanced quotes, extra
  fields) use ``--engine local``, whose reader flags them row by row, or convert to Parquet.
  JSON Lines and Excel are not read;
* a remote folder is read as one dataset (one schema); a local folder is read file by file
  shape, as on one machine.

Requirements: Java 17+ and ``pyspark`` on the driver; on a cluster, voc (with its
requirements) installed on every worker and the model folder readable at the same path
from every worker (a shared or DBFS path, or shipped with ``--archives``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voc.config import VocConfig
from voc.engines.batches import (
    CHUNK,
    DUP_KEY,
    FILE,
    ORDER,
    ROW,
    SOURCE,
    OutputLayout,
    number_repeats,
    score_chunk,
    worker_state,
)
from voc.errors import ConfigError, InputError, MissingExtraError

logger = logging.getLogger(__name__)

DEFAULT_MASTER = "local[2]"
_PARQUET = (".parquet", ".pq")
_CSV = {".csv": ",", ".tsv": "\t", ".txt": ""}
# Python codec names (what voc's encoding detection returns) -> Java charset names
_JAVA_CHARSETS = {
    "utf_8": "UTF-8", "utf_8_sig": "UTF-8", "cp932": "windows-31j", "shift_jis": "Shift_JIS",
    "euc_jp": "EUC-JP", "iso2022_jp": "ISO-2022-JP", "utf_16": "UTF-16", "utf_16_le": "UTF-16LE",
    "utf_16_be": "UTF-16BE", "latin_1": "ISO-8859-1", "ascii": "US-ASCII",
}

# pyspark 4.3 warns about pandas 3 where voc does not use pandas with Spark (it talks Arrow)
_PANDAS_NOTICE = "PySpark does not yet fully support pandas"
_SPARK_CHARSETS = {"UTF-8", "US-ASCII", "ISO-8859-1", "UTF-16", "UTF-16LE", "UTF-16BE", "UTF-32"}


@dataclass(frozen=True)
class SparkReport:
    """What a Spark run wrote."""

    output: str
    rows: int
    errors: int
    warnings: int
    seconds: float
    master: str

    def summary(self) -> str:
        return (
            f"rows: {self.rows}  processed: {self.rows - self.errors}  errors: {self.errors}  "
            f"warnings: {self.warnings}  seconds: {self.seconds:.1f}  (Spark, {self.master})\n"
            f"output: {self.output}"
        )


@dataclass(frozen=True)
class _Source:
    """One read of the inputs: a local file, or a folder / remote path of Parquet files."""

    key: int  # which read (carried with each row: the worker looks up its columns)
    order: int  # position of the input argument: files are processed in this order
    kind: str  # "parquet" | "csv"
    paths: tuple[str, ...]
    source_file: str | None = None  # the name voc analyze records; None: prefix + file name
    prefix: str = ""
    csv_options: Mapping[str, str] = field(default_factory=dict)
    csv_columns: tuple[str, ...] = ()  # header as voc's reader names it (blank, duplicate)
    timezones: Mapping[str, str] = field(default_factory=dict)
    columns: tuple[str, ...] = ()  # the file's columns (filled in when read)


@dataclass(frozen=True)
class _ExecutorJob:
    """Everything a worker needs to score chunks; pickled once into the Spark task."""

    layout: OutputLayout
    config: VocConfig
    columns: Mapping[str, str | None]
    model: str | None
    sentiment: bool
    sources: Mapping[int, _Source]
    topics: str | None = None

    def __call__(self, batches: Iterator[Any]) -> Iterator[Any]:
        from pyspark import TaskContext

        ctx = TaskContext.get()
        state = worker_state(
            self.config, model=self.model, sentiment=self.sentiment, threads=ctx.cpus() if ctx else None,
            topics=self.topics,
        )
        for chunk in _whole_chunks(batches):
            first = chunk.column(ROW)[0].as_py()
            n = chunk.num_rows
            if chunk.column(ROW)[n - 1].as_py() - first + 1 != n:
                raise RuntimeError(f"rows {first}.. of a chunk are not consecutive (was a file read twice?)")
            src = self.sources[chunk.column(SOURCE)[0].as_py()]
            yield score_chunk(
                chunk, self.layout, config=self.config, state=state, columns=self.columns,
                file_columns=src.columns, source_file=chunk.column(FILE)[0].as_py(), first_row=first,
                order=src.order, timezones=src.timezones,
            )

    def repeats(self, table: Any) -> Any:
        """One group of rows that may share an id across chunks -> (file, row, voc_id, warning)."""
        import pyarrow as pa

        table = table.sort_by(ROW)
        src = self.sources[table.column(SOURCE)[0].as_py()]
        rows = table.column(ROW).to_pylist()
        source_file = table.column(FILE)[0].as_py()
        ids, warnings_ = number_repeats(
            table, config=self.config, rows=rows, columns=self.columns, file_columns=src.columns,
            source_file=source_file, timezones=src.timezones,
        )
        return pa.table({
            FILE: pa.array([source_file] * len(rows), pa.string()),
            ROW: pa.array(rows, pa.int64()),
            "__voc_fixed_id": pa.array(ids, pa.string()),
            "__voc_fixed_warning": pa.array(warnings_, pa.string()),
        })


def run_spark(
    inputs: str | Path | Sequence[str | Path],
    output: str | Path,
    *,
    master: str = DEFAULT_MASTER,
    spark: Any = None,
    config: VocConfig | None = None,
    model: str | Path | None = None,
    sentiment: bool = True,
    topics: str | Path | None = None,
    columns: Mapping[str, str | None] | None = None,
    text_col: str | None = None,
    id_col: str | None = None,
    date_col: str | None = None,
    partitions: int | None = None,
    spark_conf: Mapping[str, str] | None = None,
    mode: str = "overwrite",
    progress: bool = False,
) -> SparkReport:
    """Score dumps with Spark; the output equals ``voc analyze -o out.parquet`` row for row.

    Args:
        inputs: Parquet files or folders of Parquet files (local paths or any URI Spark
            reads: ``s3a://``, ``abfss://``, ``dbfs:/``), and local CSV/TSV files.
        output: where to write the Parquet folder (``out/scored.parquet/part-*.parquet``).
        master: Spark master when this call starts the session (ignored with ``spark``).
        spark: an existing ``SparkSession`` (a notebook's); it is left running.
        config: voc settings (``chunk_size`` also sets the scoring batches).
        model: sentiment model folder (default: the shipped one); must be readable at
            this path from every worker.
        sentiment: score sentiment and emotions (False: ingest and normalise only).
        topics: a saved topic model folder (``voc topics fit``): complaints get their
            ``topic_id`` and ``topic_label``; readable at this path from every worker.
        columns / text_col / id_col / date_col: column choices, as ``voc analyze``.
        partitions: number of scoring partitions (default: 4 per core of the cluster).
        spark_conf: extra Spark settings for a session started here.
        mode: Spark save mode for the output (``overwrite`` or ``error``).
        progress: show Spark's console progress bar.

    Raises:
        MissingExtraError: pyspark is not installed.
        ConfigError: an unsupported input format or option.
        ModelError: the sentiment model folder is missing or not a voc model.
    """
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise MissingExtraError("the Spark engine (--engine spark)", "pyspark") from exc
    topics_dir = None
    if topics is not None:
        from voc.topics.model import is_saved_model

        topics_dir = Path(topics).resolve()
        if not is_saved_model(topics_dir):
            raise ConfigError(
                "E601",
                f"{topics} is not a saved topic model (no voc_topics.json)",
                hint="Give the folder `voc topics fit` saved (by default voc_topics next to the store)",
            )
    started = time.perf_counter()
    config = config or VocConfig.load()
    chosen = {"text": text_col, "id": id_col, "created_at": date_col, **dict(columns or {})}
    chosen = {k: v for k, v in chosen.items() if v}
    model_dir = _model_dir(model) if sentiment else None
    scorer_columns = _scorer_columns(model_dir)
    if topics_dir is not None:
        from voc.topics.scorer import TopicScorer

        scorer_columns.update(TopicScorer.output_columns)
    paths = [inputs] if isinstance(inputs, str | Path) else list(inputs)
    sources = _plan_sources(paths, config)

    from pyspark.sql import SparkSession

    own = spark is None and SparkSession.getActiveSession() is None
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_PANDAS_NOTICE, category=FutureWarning)
        if spark is None:
            spark = SparkSession.getActiveSession() or _start_session(master, spark_conf, progress)
        legacy = "spark.sql.legacy.javaCharsets"  # Spark 4 reads CP932 / EUC-JP only with it
        charsets_before = spark.conf.get(legacy, None)
        if any(s.csv_options.get("encoding", "UTF-8") not in _SPARK_CHARSETS for s in sources):
            spark.conf.set(legacy, "true")
        try:
            frame, sources = _read_all(spark, sources)
            input_cols = [c for c in frame.columns if c not in (SOURCE, ORDER, FILE, ROW)]
            layout = OutputLayout.build(input_cols, scorer_columns)
            job = _ExecutorJob(
                layout, config, chosen, str(model_dir) if model_dir else None, sentiment,
                {s.key: s for s in sources}, str(topics_dir) if topics_dir else None,
            )
            result, cached = _score(spark, frame, job, partitions)
            try:
                result.write.mode(mode).parquet(str(output))
            finally:
                cached.unpersist()
            report = _report(spark, str(output), started)
        finally:
            if charsets_before is None:
                spark.conf.unset(legacy)
            else:
                spark.conf.set(legacy, charsets_before)
            if own:
                spark.stop()
    return report


# ----------------------------------------------------------------------------------------
# driver side: inputs, session, plan
# ----------------------------------------------------------------------------------------
def _model_dir(model: str | Path | None) -> Path:
    from voc.classify.predict import default_model_dir

    folder = Path(model) if model else default_model_dir()
    return folder.resolve() if "://" not in str(folder) else folder


def _scorer_columns(model_dir: Path | None) -> dict[str, str]:
    """The columns the scorers add, read from the model's config (no weights loaded here)."""
    if model_dir is None:
        return {}
    from types import SimpleNamespace

    from voc.classify.model import read_config
    from voc.classify.scorer import SentimentScorer

    return dict(SentimentScorer(SimpleNamespace(config=read_config(model_dir))).output_columns)  # type: ignore[arg-type]


def _is_uri(item: str) -> bool:
    return "://" in item or item.startswith("dbfs:")


def _plan_sources(inputs: Sequence[str | Path], config: VocConfig) -> list[_Source]:
    """What to read, in the order ``voc analyze`` would read it (see ``expand_inputs``).

    A local folder's Parquet files are read together when their columns agree (a Spark
    or Hive dataset); files of different shapes are read apart, since each file's text
    and id columns are recognised among its own columns. A remote folder is one read.
    """
    from voc.pipeline import expand_inputs

    sources: list[_Source] = []
    seen: set[Path] = set()

    def add(**kw: Any) -> None:
        sources.append(_Source(key=len(sources), **kw))

    for order, item in enumerate(inputs):
        text = str(item)
        if _is_uri(text):
            low = text.lower().rstrip("/")
            if low.endswith(_PARQUET):
                add(order=order, kind="parquet", paths=(text,), source_file=text)
            elif Path(low).suffix in _CSV:
                raise ConfigError("E602", "the Spark engine reads remote CSV files only as Parquet", path=text,
                                  hint="Convert it to Parquet, or copy it locally")
            else:  # a folder (or prefix) of Parquet files
                add(order=order, kind="parquet", paths=(text,), prefix=text.rstrip("/") + "/")
            continue
        p = Path(text)
        files = [f for f in expand_inputs([text]) if f not in seen]
        for f in files or [p]:
            if not f.exists():
                raise InputError("E101", "file not found", path=str(f))
        seen.update(files)
        groups: dict[tuple[str, ...], list[Path]] = {}
        for f in files:
            if f.suffix.lower() in _PARQUET:
                groups.setdefault(_parquet_columns(f), []).append(f)
            else:
                add(**_csv_source(order, f, config))
        for group in groups.values():
            if p.is_dir():  # one read per shape; each row is named after its own file
                prefix = "" if str(p) == "." else (str(p) if str(p).endswith("/") else f"{p}/")
                add(order=order, kind="parquet", paths=tuple(str(f.resolve()) for f in group), prefix=prefix,
                    timezones=_parquet_timezones(group[0]))
            else:
                for f in group:
                    add(order=order, kind="parquet", paths=(str(f.resolve()),), source_file=str(f),
                        timezones=_parquet_timezones(f))
    return sources


def _parquet_columns(path: Path) -> tuple[str, ...]:
    import pyarrow.parquet as pq

    try:
        return tuple(pq.read_schema(path).names)
    except Exception as exc:
        raise InputError("E103", f"this is not a readable Parquet file: {exc}", path=str(path)) from exc


def _parquet_timezones(path: Path) -> dict[str, str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    return {
        fld.name: fld.type.tz
        for fld in pq.read_schema(path)
        if pa.types.is_timestamp(fld.type) and fld.type.tz
    }


def _csv_source(order: int, path: Path, config: VocConfig) -> dict[str, Any]:
    """A local CSV/TSV file, with the encoding, delimiter and header voc's reader finds."""
    import codecs

    from voc.ingest.readers import open_dump

    if path.suffix.lower() not in _CSV:
        raise ConfigError(
            "E602",
            f"the Spark engine reads Parquet and CSV/TSV, not {path.suffix or 'this file type'}",
            path=str(path),
            hint="Convert it to Parquet first, or analyse it with --engine local",
        )
    dump = open_dump(path, encoding=config.ingest.encoding)
    codec = codecs.lookup(dump.encoding or "utf-8").name.replace("-", "_")
    options = {
        "header": "true",
        "multiLine": "true",  # quoted cells hold line breaks; also keeps one file in one partition
        "encoding": _JAVA_CHARSETS.get(codec, dump.encoding or "UTF-8"),
        "sep": dump.delimiter or ",",
        "quote": '"',
        "escape": '"',  # RFC 4180 doubled quotes, as Python's csv module
        "mode": "PERMISSIVE",
        "inferSchema": "false",
    }
    return dict(order=order, kind="csv", paths=(str(path.resolve()),), source_file=str(path),
                csv_options=options, csv_columns=tuple(dump.columns))


def _start_session(master: str, conf: Mapping[str, str] | None, progress: bool) -> Any:
    from pyspark.sql import SparkSession

    settings = {
        "spark.ui.showConsoleProgress": str(progress).lower(),
        "spark.sql.caseSensitive": "true",  # 「ID」 and 「id」 may both be columns
        "spark.sql.session.timeZone": "UTC",
    }
    if master.startswith("local"):
        settings.update({"spark.ui.enabled": "false", "spark.driver.memory": "2g"})
    settings.update(conf or {})
    builder = SparkSession.builder.appName("voc analyze").master(master)
    for key, value in settings.items():
        builder = builder.config(key, value)
    # Python workers must run in voc's environment; pyspark reads PYSPARK_PYTHON only when
    # the context starts, so it is set for that moment and restored
    before = os.environ.get("PYSPARK_PYTHON")
    os.environ["PYSPARK_PYTHON"] = before or sys.executable
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_PANDAS_NOTICE, category=FutureWarning)
            spark = builder.getOrCreate()
    finally:
        if before is None:
            del os.environ["PYSPARK_PYTHON"]
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _col(name: str) -> Any:
    from pyspark.sql import functions as F

    return F.col("`" + name.replace("`", "``") + "`")


def _read_all(spark: Any, sources: Sequence[_Source]) -> tuple[Any, list[_Source]]:
    """All inputs as one DataFrame (columns: the union, in order of first appearance),
    and the sources with their own columns filled in."""
    from dataclasses import replace

    if not sources:
        raise InputError("E101", "no input files")
    frames = [_read(spark, s) for s in sources]
    done = [replace(s, columns=tuple(c for c in f.columns if c not in (SOURCE, ORDER, FILE, ROW)))
            for s, f in zip(sources, frames, strict=True)]
    out = frames[0]
    for f in frames[1:]:
        out = out.unionByName(f, allowMissingColumns=True)
    return out, done


def _read(spark: Any, src: _Source) -> Any:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if src.kind == "parquet":
        df = spark.read.option("mergeSchema", "true").parquet(*src.paths)
        data = [_col(c) for c in df.columns]
        # Spark gives the file name URI-encoded ("a%20b.parquet"); "+" stays "+"
        decoded = F.url_decode(F.regexp_replace(F.col("_metadata.file_name"), r"\+", "%2B"))
        name = F.lit(src.source_file) if src.source_file else F.concat(F.lit(src.prefix), decoded)
        return df.select(
            *data,
            F.lit(src.key).cast("long").alias(SOURCE),
            F.lit(src.order).cast("long").alias(ORDER),
            name.alias(FILE),
            (F.col("_metadata.row_index") + 1).alias(ROW),
        )
    df = spark.read.options(**src.csv_options).csv(list(src.paths))
    if src.csv_columns and len(src.csv_columns) == len(df.columns):
        df = df.toDF(*src.csv_columns)
    cols = list(df.columns)
    # voc's reader gives "" for an empty cell (Spark: null) and skips all-blank records
    df = df.select(*[F.coalesce(_col(c), F.lit("")).alias(c) for c in cols])
    if cols:
        blank = None
        for c in cols:
            cond = _col(c).rlike(r"(?U)^\s*$")
            blank = cond if blank is None else (blank & cond)
        df = df.filter(~blank)
    order = Window.orderBy(F.col("__voc_pos"))  # one CSV file is one partition (multiLine)
    return (
        df.withColumn("__voc_pos", F.monotonically_increasing_id())
        .withColumn(ROW, F.row_number().over(order).cast("long"))
        .select(*[_col(c) for c in cols], F.lit(src.key).cast("long").alias(SOURCE),
                F.lit(src.order).cast("long").alias(ORDER), F.lit(src.source_file).alias(FILE), ROW)
    )


def _score(spark: Any, frame: Any, job: _ExecutorJob, partitions: int | None) -> Any:
    """The scored rows, in file and row order, as the output layout (see the module doc)."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema

    layout = job.layout
    chunk_size = job.config.ingest.chunk_size
    n = partitions or max(1, spark.sparkContext.defaultParallelism * 4)
    chunk_of = F.floor((F.col(ROW) - 1) / F.lit(chunk_size))
    # 1. score whole chunks, spread over the workers
    staged = (
        frame.withColumn(CHUNK, chunk_of)
        .repartition(n, FILE, CHUNK)
        .sortWithinPartitions(ORDER, FILE, ROW)
    )
    schema = from_arrow_schema(layout.arrow_schema(helpers=True), prefer_timestamp_ntz=True)
    vid, warning = layout.voc_id, layout.name("warning")
    scored = (
        staged.mapInArrow(job, schema)
        .withColumn(DUP_KEY, F.regexp_replace(_col(vid), r"(~[0-9]+)+$", ""))
        .withColumn(CHUNK, chunk_of)
        .persist(StorageLevel.DISK_ONLY)  # read twice below; scoring must not run twice
    )
    cached = scored
    # 2. ids that repeat across chunks: number each group in file order, as one machine does
    spanning = (
        scored.where(F.col(DUP_KEY).isNotNull())
        .groupBy(FILE, DUP_KEY)
        .agg(F.countDistinct(CHUNK).alias("__voc_chunks"))
        .where(F.col("__voc_chunks") > 1)
        .select(FILE, DUP_KEY)
    )
    members = scored.select(FILE, ROW, DUP_KEY).join(spanning, [FILE, DUP_KEY])
    if not members.isEmpty():
        fix_schema = "`__voc_file` string, `__voc_row` long, `__voc_fixed_id` string, `__voc_fixed_warning` string"
        fixes = (
            frame.join(members, [FILE, ROW])
            .groupBy(FILE, DUP_KEY)
            .applyInArrow(_one_arg(job.repeats), fix_schema)
            .withColumn("__voc_fixed", F.lit(True))
        )
        fixed = F.col("__voc_fixed").isNotNull()
        scored = (
            scored.join(fixes, [FILE, ROW], "left")
            .withColumn(vid, F.when(fixed, F.col("__voc_fixed_id")).otherwise(_col(vid)))
            .withColumn(warning, F.when(fixed, F.col("__voc_fixed_warning")).otherwise(_col(warning)))
        )
    # 3. file order, then row order
    return scored.orderBy(ORDER, FILE, ROW).select(*[_col(c) for c in layout.columns]), cached


def _one_arg(method: Any) -> Any:
    """A plain one-argument function (applyInArrow counts a bound method's ``self``)."""

    def call(table: Any) -> Any:
        return method(table)

    return call


def _report(spark: Any, output: str, started: float) -> SparkReport:
    from pyspark.sql import functions as F

    row = spark.read.parquet(output).agg(
        F.count(F.lit(1)).alias("rows"), F.count("error").alias("errors"), F.count("warning").alias("warnings")
    ).first()
    return SparkReport(
        output=output, rows=int(row["rows"]), errors=int(row["errors"]), warnings=int(row["warnings"]),
        seconds=time.perf_counter() - started, master=spark.sparkContext.master,
    )


# ----------------------------------------------------------------------------------------
# executor side
# ----------------------------------------------------------------------------------------
def _whole_chunks(batches: Iterator[Any]) -> Iterator[Any]:
    """Regroup a partition's Arrow batches (sorted by file and row) into whole chunks."""
    import pyarrow as pa

    pending: list[Any] = []
    key: tuple[Any, Any] | None = None
    for batch in batches:
        files = batch.column(FILE).to_pylist()
        chunks = batch.column(CHUNK).to_pylist()
        start = 0
        for i in range(batch.num_rows):
            k = (files[i], chunks[i])
            if k != key:
                if i > start:
                    pending.append(batch.slice(start, i - start))
                if pending:
                    yield pa.Table.from_batches(pending).combine_chunks()
                pending, key, start = [], k, i
        if batch.num_rows > start:
            pending.append(batch.slice(start))
    if pending:
        yield pa.Table.from_batches(pending).combine_chunks()


# ----------------------------------------------------------------------------------------
# job entry point: python -m voc.engines.spark / spark-submit voc/engines/spark.py
# ----------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m voc.engines.spark",
        description="Score feedback dumps with Spark (Parquet/CSV in, Parquet out), like `voc analyze`.",
    )
    parser.add_argument("inputs", nargs="+", help="Parquet files or folders (any Spark URI), local CSV/TSV files")
    parser.add_argument("-o", "--output", required=True, help="output Parquet folder")
    parser.add_argument("--master", default=None,
                        help=f"Spark master (default {DEFAULT_MASTER}; under spark-submit: the one it was given)")
    parser.add_argument("--config", help="a voc TOML settings file")
    parser.add_argument("--model", help="sentiment model folder (default: the shipped model)")
    parser.add_argument("--no-sentiment", action="store_true", help="skip sentiment and emotion scoring")
    parser.add_argument("--topics", help="saved topic model folder (voc topics fit): assign complaints to topics")
    parser.add_argument("--text-col", help="column holding the customer's text")
    parser.add_argument("--id-col", help="column holding a stable id")
    parser.add_argument("--date-col", help="column holding the date")
    parser.add_argument("--partitions", type=int, help="scoring partitions (default: 4 per core)")
    parser.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE", help="extra Spark setting")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s", stream=sys.stderr)
    conf = dict(item.split("=", 1) for item in args.conf)
    spark = None
    if args.master is None and "PYSPARK_GATEWAY_PORT" in os.environ:  # started by spark-submit
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.getOrCreate()
        spark.sparkContext.setLogLevel("WARN")
    from voc.errors import VocError

    try:
        report = run_spark(
            args.inputs, args.output, master=args.master or DEFAULT_MASTER, spark=spark,
            config=VocConfig.load(args.config), model=args.model, sentiment=not args.no_sentiment,
            topics=args.topics, text_col=args.text_col, id_col=args.id_col, date_col=args.date_col,
            partitions=args.partitions, spark_conf=conf,
        )
    except VocError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
