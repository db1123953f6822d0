"""Engine-independent half of a distributed voc job: score chunks of rows as Arrow.

A distributed engine (Spark here; Ray Data could call the same code) hands its workers
Arrow record batches. :func:`score_chunk` turns one *chunk* of one input file (the rows
``voc analyze`` puts in one chunk: ``config.ingest.chunk_size`` consecutive rows) into an
Arrow batch laid out exactly like the single-machine output file, by calling
:func:`voc.pipeline.score_frame`. Keeping chunks aligned with ``analyze`` matters: which
texts the classifier batches together (and so its int8 dynamic quantisation ranges)
depends on the chunk, so aligned chunks give the same scores to the last bit.

One thing a chunk cannot know is what came before it in the file: an id (or, without an
id column, a whole row) that repeats is numbered per file (``R1``, ``R1~2`` ...) with a
warning naming the first row. The engine finds the repeats that span chunks (rows whose
``voc_id`` minus its ``~k`` suffix, :data:`DUP_KEY`, recurs in another chunk) and passes
each such group, all its rows in file order, to :func:`number_repeats`, which runs
``score_frame`` over the group without scorers and returns the right ``voc_id`` and
``warning`` for its rows.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from voc.config import VocConfig
from voc.errors import ROW_SCORING_FAILED

logger = logging.getLogger(__name__)

# helper columns that travel with the rows between the engine's stages (never written)
SOURCE = "__voc_src"  # which read of the inputs the row comes from (its columns, time zones)
ORDER = "__voc_order"  # position of the input argument (files are processed in that order)
FILE = "__voc_file"  # source_file, as voc analyze names the file
ROW = "__voc_row"  # 1-based data row number in the file (source_row)
CHUNK = "__voc_chunk"  # (ROW - 1) // chunk_size: the analyze chunk the row belongs to
DUP_KEY = "__voc_dup_key"  # voc_id without its "~k" repeat number: rows that may share an id
HELPERS = (ORDER, FILE, ROW)


@dataclass(frozen=True)
class OutputLayout:
    """Columns and types of the output file, as ``voc analyze -o out.parquet`` writes them.

    Input columns (of all files) come first, written as strings like the single-machine
    writer does; then voc's columns, the scorers' columns, ``warning`` and ``error``. A voc
    column whose name clashes with an input column gets a ``voc_`` prefix.
    """

    input_columns: tuple[str, ...]
    voc_columns: tuple[str, ...]  # voc's and the scorers' column names, unprefixed
    types: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def build(cls, input_columns: Sequence[str], scorer_columns: Mapping[str, str]) -> OutputLayout:
        from voc.ingest.records import OUTPUT_COLUMNS
        from voc.pipeline import OUTPUT_TYPES

        inputs = tuple(dict.fromkeys(str(c) for c in input_columns))
        names = (*OUTPUT_COLUMNS[:-2], *scorer_columns, *OUTPUT_COLUMNS[-2:])
        return cls(inputs, names, {**OUTPUT_TYPES, **scorer_columns})

    def name(self, voc_column: str) -> str:
        """The output name of one of voc's columns (``voc_`` + name on a clash)."""
        return f"voc_{voc_column}" if voc_column in self.input_columns else voc_column

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.input_columns, *(self.name(c) for c in self.voc_columns))

    def kind(self, column: str) -> str:
        """string, int, float, bool or timestamp (input columns are written as strings)."""
        for c in self.voc_columns:
            if self.name(c) == column:
                return self.types.get(c, "string")
        return "string"

    @property
    def voc_id(self) -> str:
        return self.name("voc_id")

    def arrow_schema(self, *, helpers: bool = False) -> Any:
        import pyarrow as pa

        from voc.output import _arrow_type

        fields = [pa.field(c, _arrow_type(self.kind(c))) for c in self.columns]
        if helpers:
            fields += [
                pa.field(ORDER, pa.int64()),
                pa.field(FILE, pa.string()),
                pa.field(ROW, pa.int64()),
            ]
        return pa.schema(fields)


@dataclass
class WorkerState:
    """What one worker process builds once and reuses for every chunk it scores."""

    scorers: list[Any]


# One entry per (model, sentiment, config) in each worker process: the engine's Python
# workers are long-lived (Spark reuses them across tasks), so the model is loaded once per
# process, not once per batch. This is the one deliberate process-wide cache in voc; it
# lives only in engine workers and `clear_worker_cache` empties it.
_WORKER_CACHE: dict[tuple[str | None, bool, str | None, str], WorkerState] = {}


def worker_state(
    config: VocConfig,
    *,
    model: str | None,
    sentiment: bool,
    threads: int | None = None,
    topics: str | None = None,
) -> WorkerState:
    """This worker's scorers, built on first use (the models load once per process)."""
    key = (model, sentiment, topics, config.fingerprint())
    state = _WORKER_CACHE.get(key)
    if state is None:
        from voc.pipeline import default_scorers

        logger.info(
            "worker %s: loading scorers (model=%s, sentiment=%s, topics=%s)", os.getpid(), model, sentiment, topics
        )
        state = WorkerState(scorers=default_scorers(config, model=model, sentiment=sentiment, topics=topics))
        _WORKER_CACHE[key] = state
    if threads and sentiment:
        import torch

        # the Classifier takes every core of the machine; an engine runs one task per core
        torch.set_num_threads(max(1, threads))
    return state


def clear_worker_cache() -> None:
    """Forget the loaded models of this process (tests; a changed model folder)."""
    _WORKER_CACHE.clear()


def score_chunk(
    table: Any,
    layout: OutputLayout,
    *,
    config: VocConfig,
    state: WorkerState,
    columns: Mapping[str, str | None] | None = None,
    file_columns: Sequence[str] | None = None,
    source_file: str,
    first_row: int,
    order: int = 0,
    timezones: Mapping[str, str] | None = None,
) -> Any:
    """Score one chunk (an Arrow table of consecutive rows of one file) with ``score_frame``.

    Args:
        table: the chunk's rows (extra columns are ignored).
        layout: the output layout of the whole job (see :meth:`OutputLayout.build`).
        columns: explicit column choices (``{"text": "本文"}``), as ``voc analyze``.
        file_columns: the columns of this file (default: all of the layout's). As on one
            machine, the text/id/date columns are recognised among the file's own columns
            and a generated id hashes only them.
        source_file: the file's name as ``voc analyze`` records it.
        first_row: ``source_row`` of the chunk's first row (rows are consecutive).
        order: position of the file's input argument (carried for sorting).
        timezones: time zone of tz-aware timestamp columns as stored in the file; an
            engine may hand them over in its session zone (same instant, other zone).

    Returns:
        An Arrow record batch: the layout's columns typed as the single-machine writer
        types them, plus the helper columns :data:`HELPERS`.
    """
    import pyarrow as pa

    from voc.output import _parquet_value
    from voc.pipeline import score_frame

    n = table.num_rows
    cols = list(file_columns if file_columns is not None else layout.input_columns)
    frame = _frame(table, cols, timezones)
    name = _frame_names(cols)
    try:
        out = score_frame(
            frame, config=config, columns=columns, scorers=state.scorers,
            source_file=source_file, row_offset=first_row - 1,
        )
    except Exception as exc:  # as in analyze: a scorer bug must not lose the chunk
        logger.exception("scoring failed for a chunk of %s", source_file)
        out = score_frame(frame, config=config, columns=columns, source_file=source_file, row_offset=first_row - 1)
        err = name("error")
        failed = f"[{ROW_SCORING_FAILED}] scoring failed: {exc}"
        out[err] = [e if isinstance(e, str) and e else failed for e in out[err]]

    def column_values(col: str) -> list[Any]:
        return out[col].tolist() if col in out.columns else [None] * n

    schema = layout.arrow_schema(helpers=True)
    arrays = [
        pa.array([_parquet_value(v, "string") for v in column_values(c)] if c in cols else [None] * n, pa.string())
        for c in layout.input_columns
    ]
    for c in layout.voc_columns:
        kind = layout.types.get(c, "string")
        arrays.append(pa.array([_parquet_value(v, kind) for v in column_values(name(c))],
                               type=schema.field(layout.name(c)).type))
    arrays += [
        pa.array([order] * n, pa.int64()),
        pa.array([source_file] * n, pa.string()),
        pa.array(range(first_row, first_row + n), pa.int64()),
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def number_repeats(
    table: Any,
    *,
    config: VocConfig,
    rows: Sequence[int],
    columns: Mapping[str, str | None] | None = None,
    file_columns: Sequence[str],
    source_file: str,
    timezones: Mapping[str, str] | None = None,
) -> tuple[list[Any], list[Any]]:
    """``voc_id`` and ``warning`` of a group of rows that may repeat one id across chunks.

    ``table`` holds every row of the file whose ``voc_id`` minus its ``~k`` suffix is the
    same, in file order; ``rows`` are their ``source_row``. ``score_frame`` (without
    scorers) numbers them as one machine does: the first keeps the id, the k-th becomes
    ``id~k`` with a warning naming the first row. Only the first row's number appears in
    those results, so the group is numbered from it.
    """
    from voc.pipeline import score_frame

    cols = list(file_columns)
    name = _frame_names(cols)
    out = score_frame(
        _frame(table, cols, timezones), config=config, columns=columns, source_file=source_file,
        row_offset=rows[0] - 1,
    )
    return out[name("voc_id")].tolist(), [None if _blank(w) else w for w in out[name("warning")].tolist()]


def _frame(table: Any, cols: Sequence[str], timezones: Mapping[str, str] | None) -> Any:
    """The rows as score_frame takes them: Python values (as voc's readers give them)."""
    import pandas as pd
    import pyarrow as pa

    n = table.num_rows
    values: dict[str, list[Any]] = {}
    for c in cols:
        if c not in table.column_names:
            values[c] = [None] * n
            continue
        col = table.column(c)
        tz = (timezones or {}).get(c)
        if tz and pa.types.is_timestamp(col.type) and col.type.tz:
            col = col.cast(pa.timestamp(col.type.unit, tz))
        values[c] = [_clean(v) for v in col.to_pylist()]
    if not cols:
        return pd.DataFrame(index=range(n))
    # object columns: pandas must not turn ints with gaps into floats, or strings into str
    return pd.DataFrame({c: pd.Series(values[c], dtype=object) for c in cols}, columns=list(cols))


def _frame_names(cols: Sequence[str]) -> Any:
    """How score_frame names voc's columns for a file with these columns."""
    own = set(cols)

    def name(voc_column: str) -> str:
        return f"voc_{voc_column}" if voc_column in own and not voc_column.startswith("voc_") else voc_column

    return name


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _clean(value: Any) -> Any:
    """What the single-machine readers do to every cell: NUL characters go."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    return value
