"""The results store: an embedded DuckDB database file.

Tables
------
``feedback``   one row per utterance (a review, a post, a customer or operator turn), keyed
               by ``record_id``; analysing the same dump again replaces rows, never adds.
``results``    sentiment/emotion per record, with the model version (voc.classify);
               ``sentence_results`` per sentence of long texts.
``topics``     topics of the current topic model; ``topic_assignments`` per record.
``corrections`` analysts' corrections made in the explorer (who, when, old -> new).
``runs``       one manifest per run: when, inputs and their hashes, config, models, counts.

Every write of a chunk is one transaction, so a run killed half-way leaves whole chunks.
Parquet export writes each table to a folder (the data-lake layout).

>>> with Store(":memory:") as st:  # doctest: +SKIP
...     st.count("feedback")
0
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from voc.errors import StoreError
from voc.ingest.records import FeedbackRecord

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
#: rows per DuckDB row group in a store file (see Store._connect)
ROW_GROUP_ROWS = 16384

_FEEDBACK_DDL = """
CREATE TABLE IF NOT EXISTS feedback (
    record_id         VARCHAR NOT NULL,
    voc_id            VARCHAR NOT NULL,
    source_file       VARCHAR,
    source_row        BIGINT,
    sheet             VARCHAR,
    conversation_id   VARCHAR,
    turn              INTEGER,
    speaker           VARCHAR,
    role              VARCHAR,
    is_voc            BOOLEAN,
    channel           VARCHAR,
    touchpoint        VARCHAR,
    touchpoint_source VARCHAR,
    created_at        TIMESTAMP,
    rating            DOUBLE,
    nps               DOUBLE,
    title             VARCHAR,
    text              VARCHAR,
    text_normalized   VARCHAR,
    sentences         VARCHAR[],
    keywords          VARCHAR[],
    n_chars           INTEGER,
    truncated         BOOLEAN,
    pii_count         INTEGER,
    content_hash      VARCHAR,
    warning           VARCHAR,
    error             VARCHAR,
    run_id            VARCHAR,
    updated_at        TIMESTAMP
)
"""

_RUNS_DDL = """
CREATE TABLE IF NOT EXISTS runs (
    run_id        VARCHAR PRIMARY KEY,
    started_at    TIMESTAMP,
    finished_at   TIMESTAMP,
    status        VARCHAR,
    voc_version   VARCHAR,
    command       VARCHAR,
    inputs        JSON,
    config        JSON,
    config_hash   VARCHAR,
    models        JSON,
    counts        JSON
)
"""

_META_DDL = "CREATE TABLE IF NOT EXISTS voc_meta (key VARCHAR PRIMARY KEY, value VARCHAR)"

# Sentiment/emotion of each record (the latest scoring; model_version says which model).
_RESULTS_DDL = """
CREATE TABLE IF NOT EXISTS results (
    record_id        VARCHAR NOT NULL,
    model_version    VARCHAR,
    sentiment        VARCHAR,      -- negative / neutral / positive
    sentiment_score  DOUBLE,       -- p(positive) - p(negative), in [-1, 1]
    sentiment_mixed  BOOLEAN,
    p_negative       DOUBLE,
    p_neutral        DOUBLE,
    p_positive       DOUBLE,
    emotion          VARCHAR,      -- top emotion label
    emotion_probs    JSON,         -- {"平静": 0.1, "怒り": 0.7, ...}
    run_id           VARCHAR,
    scored_at        TIMESTAMP
)
"""

# Per-sentence results of long (or explicitly sentence-scored) texts.
_SENTENCE_RESULTS_DDL = """
CREATE TABLE IF NOT EXISTS sentence_results (
    record_id        VARCHAR,
    idx              INTEGER,
    text             VARCHAR,
    sentiment        VARCHAR,
    sentiment_score  DOUBLE,
    emotion          VARCHAR
)
"""

# Topics of the current topic model (voc.topics) and each record's topic.
_TOPICS_DDL = """
CREATE TABLE IF NOT EXISTS topics (
    model_id         VARCHAR,
    topic_id         INTEGER,      -- -1: fits no topic
    label            VARCHAR,      -- e.g. 配送・遅延・到着 (curated labels survive refits)
    keywords         JSON,         -- ["配送", "遅延", ...] best first
    size             INTEGER,
    representative   JSON,         -- record_ids of 3-5 representative verbatims
    PRIMARY KEY (model_id, topic_id)
)
"""
_TOPIC_ASSIGNMENTS_DDL = """
CREATE TABLE IF NOT EXISTS topic_assignments (
    record_id        VARCHAR NOT NULL,
    model_id         VARCHAR,
    topic_id         INTEGER,
    probability      DOUBLE,
    assigned_at      TIMESTAMP
)
"""

# Analysts' corrections from the explorer (the relabel loop).
_CORRECTIONS_DDL = """
CREATE TABLE IF NOT EXISTS corrections (
    correction_id    VARCHAR PRIMARY KEY,
    record_id        VARCHAR,
    field            VARCHAR,      -- sentiment / emotion / topic
    old_value        VARCHAR,
    new_value        VARCHAR,
    corrected_by     VARCHAR,
    corrected_at     TIMESTAMP,
    note             VARCHAR
)
"""

FEEDBACK_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(FeedbackRecord)) + ("run_id", "updated_at")


class Store:
    """A DuckDB results store. Use as a context manager, or call :meth:`close`.

    Args:
        path: database file (created with its folder if missing), or ``":memory:"``.
        read_only: open without write access (the explorer does this).
        memory_limit: DuckDB's memory limit for this connection (``"1GB"``); ``None`` keeps
            DuckDB's default (80 % of RAM).
    """

    def __init__(self, path: str | Path, read_only: bool = False, memory_limit: str | None = None) -> None:
        try:
            import duckdb
        except ImportError as exc:  # pragma: no cover - dependency of voc
            from voc.errors import MissingExtraError

            raise MissingExtraError("The results store", "duckdb") from exc
        self.path = str(path)
        self.read_only = read_only
        if self.path != ":memory:" and not read_only:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        if read_only and self.path != ":memory:" and not Path(self.path).exists():
            raise StoreError(
                "E401", "the store does not exist yet", path=self.path, hint="Run `voc analyze` first"
            )
        try:
            self._settings = {"memory_limit": memory_limit} if memory_limit else {}
            self.con = self._connect()
        except duckdb.Error as exc:
            raise StoreError(
                "E402",
                f"the store could not be opened: {exc}",
                path=self.path,
                hint="Is another voc process writing to it? Close it, or use another --store",
            ) from exc
        self._lock = threading.Lock()
        self._keyed: dict[str, bool] = {}  # table -> has a PRIMARY KEY (see _has_key)
        if not read_only:
            self._migrate()

    # -- lifecycle -----------------------------------------------------------------
    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def checkpoint(self) -> None:
        """Write what the WAL holds into the database file and start a fresh connection.

        A checkpoint keeps memory in DuckDB until the connection closes; closing and
        reopening the file (which checkpoints) gives it back. A checkpoint rewrites the last,
        partly filled row group of each table, hence the small row groups of
        :meth:`_connect` (README, Batch jobs). An in-memory store is only checkpointed.
        """
        with self._lock:
            if self.path == ":memory:" or self.read_only:
                self.con.execute("CHECKPOINT")
                return
            self.con.close()
            self.con = self._connect()

    def lift_memory_limit(self) -> None:
        """Let DuckDB use its default memory (80 % of RAM) from now on, for a one-off query
        over the whole store (the summary tables a run rebuilds at its end): the low limit
        of a batch run is for its thousands of small chunk writes."""
        with self._lock:
            self._settings.pop("memory_limit", None)
            self.con.execute("RESET memory_limit")

    def _connect(self) -> Any:
        """A connection whose default database is the store file.

        A file store is attached with row groups of ``ROW_GROUP_ROWS`` rows: a checkpoint
        rewrites the last, partly filled row group of each table, so with DuckDB's default
        (122,880 rows) a batch run's memory peaked higher as that row group filled."""
        import duckdb

        if self.path == ":memory:":
            con = duckdb.connect(self.path, config=self._settings)
            con.execute("SET enable_progress_bar = false")  # voc shows its own progress
            return con
        # spill (sorts, joins beyond memory_limit) beside the store, as DuckDB does for a file
        # it opens itself, not into ./.tmp of whatever folder voc runs in
        con = duckdb.connect(":memory:", config={"temp_directory": self.path + ".tmp", **self._settings})
        con.execute("SET enable_progress_bar = false")
        quoted = self.path.replace("'", "''")
        opts = "READ_ONLY" if self.read_only else f"ROW_GROUP_SIZE {ROW_GROUP_ROWS}"
        try:
            con.execute(f"ATTACH '{quoted}' AS voc_store ({opts})")
            con.execute("USE voc_store")
        except Exception:
            con.close()
            raise
        return con

    def close(self) -> None:
        try:
            self.con.close()
        except Exception:  # pragma: no cover - closing twice is harmless
            pass

    def _migrate(self) -> None:
        for ddl in (
            _FEEDBACK_DDL,
            _RUNS_DDL,
            _META_DDL,
            _RESULTS_DDL,
            _SENTENCE_RESULTS_DDL,
            _TOPICS_DDL,
            _TOPIC_ASSIGNMENTS_DDL,
            _CORRECTIONS_DDL,
        ):
            self.con.execute(ddl)
        self.con.execute(
            "INSERT OR REPLACE INTO voc_meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
        )

    def _has_key(self, table: str) -> bool:
        # The big per-record tables have no PRIMARY KEY: DuckDB keeps a key index whole in
        # memory and re-serialises it at every checkpoint, so in a store of millions of rows
        # each checkpoint cost ~1 KB per record. They are upserted by DELETE + INSERT
        # instead (same result). Stores made before keep their keys and INSERT OR REPLACE.
        if table not in self._keyed:
            self._keyed[table] = bool(
                self.con.execute(
                    "SELECT count(*) FROM duckdb_constraints() WHERE table_name = ? AND constraint_type = 'PRIMARY KEY'",
                    [table],
                ).fetchone()[0]
            )
        return self._keyed[table]

    def _replace(self, table: str, view: str, cols: str, key: Sequence[str]) -> None:
        """Insert the rows of ``view`` into ``table``, replacing rows with the same ``key``."""
        if self._has_key(table):
            self.con.execute(f"INSERT OR REPLACE INTO {table} ({cols}) SELECT {cols} FROM {view}")
            return
        cond = " AND ".join(f'{table}."{k}" = {view}."{k}"' for k in key)
        self.con.execute(f"DELETE FROM {table} USING {view} WHERE {cond}")
        self.con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {view}")

    # -- writes --------------------------------------------------------------------
    def upsert_feedback(self, records: Sequence[FeedbackRecord], run_id: str, *, new: bool = False) -> int:
        """Insert or replace records (by ``record_id``) in one transaction; returns count.

        ``new=True``: the caller knows that none of these record ids is stored yet, so they
        are appended without first looking for rows to replace (a look that reads the whole
        ``record_id`` column, and fills DuckDB's cache with it, once per chunk)."""
        if not records:
            return 0
        import pyarrow as pa

        now = datetime.now()
        latest: dict[str, dict[str, Any]] = {}
        for rec in records:  # the same record twice in one chunk: keep the last
            row = asdict(rec)
            row["run_id"] = run_id
            row["updated_at"] = now
            latest[rec.record_id] = row
        rows = list(latest.values())
        table = pa.Table.from_pylist(rows, schema=_feedback_arrow_schema())
        cols = ", ".join(FEEDBACK_COLUMNS)
        with self._lock:
            self.con.execute("BEGIN TRANSACTION")
            try:
                self.con.register("_voc_chunk", table)
                if new and not self._has_key("feedback"):
                    self.con.execute(f"INSERT INTO feedback ({cols}) SELECT {cols} FROM _voc_chunk")
                else:
                    self._replace("feedback", "_voc_chunk", cols, ("record_id",))
                self.con.unregister("_voc_chunk")
                self.con.execute("COMMIT")
            except Exception as exc:
                self.con.execute("ROLLBACK")
                raise StoreError("E403", f"writing to the store failed: {exc}", path=self.path) from exc
        return len(rows)

    def upsert_rows(self, table: str, rows: Sequence[Mapping[str, Any]], key: Sequence[str]) -> int:
        """Insert or replace plain dict rows into ``table`` (one transaction)."""
        if not rows:
            return 0
        import pandas as pd

        latest = {tuple(r[k] for k in key): r for r in rows}
        df = pd.DataFrame(list(latest.values()))
        cols = ", ".join(f'"{c}"' for c in df.columns)
        with self._lock:
            self.con.execute("BEGIN TRANSACTION")
            try:
                self.con.register("_voc_rows", df)
                self._replace(table, "_voc_rows", cols, key)
                self.con.unregister("_voc_rows")
                self.con.execute("COMMIT")
            except Exception as exc:
                self.con.execute("ROLLBACK")
                raise StoreError("E403", f"writing {table} to the store failed: {exc}", path=self.path) from exc
        return len(df)

    def delete_where(self, table: str, column: str, values: Sequence[Any]) -> None:
        """Delete the rows of ``table`` whose ``column`` is in ``values``."""
        if not values:
            return
        with self._lock:
            self.con.execute(f"DELETE FROM {table} WHERE {column} IN (SELECT unnest(?))", [list(values)])

    def start_run(
        self,
        run_id: str,
        command: str,
        inputs: Sequence[Mapping[str, Any]],
        config: Mapping[str, Any],
        config_hash: str,
        models: Mapping[str, Any] | None = None,
    ) -> None:
        from voc import __version__

        with self._lock:
            # this process holds the write lock: a run still marked running was killed
            self.con.execute("UPDATE runs SET status = 'interrupted' WHERE status = 'running'")
            self.con.execute(
                "INSERT OR REPLACE INTO runs VALUES (?, ?, NULL, 'running', ?, ?, ?, ?, ?, ?, NULL)",
                [
                    run_id,
                    datetime.now(),
                    __version__,
                    command,
                    json.dumps(list(inputs), ensure_ascii=False, default=str),
                    json.dumps(config, ensure_ascii=False, default=str),
                    config_hash,
                    json.dumps(models or {}, ensure_ascii=False),
                ],
            )

    def finish_run(self, run_id: str, status: str, counts: Mapping[str, Any]) -> None:
        with self._lock:
            self.con.execute(
                "UPDATE runs SET finished_at = ?, status = ?, counts = ? WHERE run_id = ?",
                [datetime.now(), status, json.dumps(dict(counts), ensure_ascii=False), run_id],
            )

    # -- reads ---------------------------------------------------------------------
    def count(self, table: str, where: str = "") -> int:
        if table not in self.tables():
            return 0
        sql = f"SELECT count(*) FROM {table}" + (f" WHERE {where}" if where else "")
        return int(self.con.execute(sql).fetchone()[0])

    def tables(self) -> list[str]:
        return [r[0] for r in self.con.execute("SELECT table_name FROM information_schema.tables").fetchall()]

    def query(self, sql: str, params: Iterable[Any] | None = None) -> Any:
        """Run SQL and return a pandas DataFrame."""
        return self.con.execute(sql, list(params or [])).df()

    def runs(self) -> Any:
        return self.query("SELECT * FROM runs ORDER BY started_at")

    def existing_hashes(self, record_ids: Sequence[str]) -> dict[str, str]:
        """content_hash of those record ids already stored (for incremental runs)."""
        if not record_ids:
            return {}
        rows = self.con.execute(
            "SELECT record_id, content_hash FROM feedback WHERE record_id IN (SELECT unnest(?))",
            [list(record_ids)],
        ).fetchall()
        return dict(rows)

    # -- export --------------------------------------------------------------------
    def export_parquet(self, folder: str | Path, tables: Sequence[str] | None = None) -> list[Path]:
        """Write each table to ``folder/<table>.parquet``; returns the files written."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for table in tables or [t for t in self.tables() if t != "voc_meta"]:
            target = out / f"{table}.parquet"
            self.con.execute(f"COPY {table} TO '{target.as_posix()}' (FORMAT PARQUET)")
            written.append(target)
        return written


@functools.cache
def _feedback_arrow_schema() -> Any:
    import pyarrow as pa

    types = {
        "source_row": pa.int64(),
        "turn": pa.int32(),
        "is_voc": pa.bool_(),
        "created_at": pa.timestamp("us"),
        "updated_at": pa.timestamp("us"),
        "rating": pa.float64(),
        "nps": pa.float64(),
        "sentences": pa.list_(pa.string()),
        "keywords": pa.list_(pa.string()),
        "n_chars": pa.int32(),
        "truncated": pa.bool_(),
        "pii_count": pa.int32(),
    }
    return pa.schema([(c, types.get(c, pa.string())) for c in FEEDBACK_COLUMNS])
