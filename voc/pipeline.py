"""The only place that chains voc's steps: ingest -> normalize -> (score) -> store -> output.

``analyze`` streams every input in chunks. Each chunk is prepared row by row (a row that
fails becomes an error row; it never stops the batch), scored by the plug-in scorers,
written to the store in one transaction and appended to the output file. Rows in always
equal rows out.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from voc.config import VocConfig
from voc.errors import ROW_SCORING_FAILED, VocError
from voc.ingest.columns import recognize_columns
from voc.ingest.readers import Dump, RawRow, open_dump
from voc.ingest.records import OUTPUT_COLUMNS, Prepared, RecordBuilder
from voc.ingest.seen import SeenIds
from voc.output import OutputWriter
from voc.store import Store
from voc.text.normalize import Normalizer
from voc.text.tokenize import JapaneseTokenizer

logger = logging.getLogger(__name__)

T = TypeVar("T")

OUTPUT_TYPES: dict[str, str] = {
    "source_row": "int",
    "rating": "float",
    "nps": "float",
    "n_turns": "int",
    "truncated": "bool",
    "pii_masked": "int",
    "created_at": "timestamp",
}


class Scorer(Protocol):
    """A step that adds results to prepared rows (sentiment, topics ...).

    ``output_columns`` maps the columns it adds to each output row to their type
    (string, float, int, bool). ``score`` fills them in place and may write to the store.
    """

    output_columns: Mapping[str, str]

    def describe(self) -> Mapping[str, Any]: ...

    def score(self, chunk: Sequence[Prepared], store: Store, run_id: str) -> None: ...

    # Optional: ``finish(store, run_id)`` runs once after the last chunk (summary tables
    # a scorer rebuilds once per run), and ``summary()`` returns what the run report shows.


@dataclass
class FileReport:
    path: str
    rows: int = 0
    processed: int = 0
    errors: int = 0
    warnings: int = 0
    records: int = 0
    unchanged: int = 0
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    encoding: str | None = None
    format: str | None = None


@dataclass
class AnalyzeReport:
    """What a run did: counts per file and overall."""

    run_id: str
    store_path: str
    output_path: str | None
    files: list[FileReport]
    seconds: float = 0.0
    scorers: dict[str, dict[str, Any]] = field(default_factory=dict)  # each scorer's summary()

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def processed(self) -> int:
        return sum(f.processed for f in self.files)

    @property
    def errors(self) -> int:
        return sum(f.errors for f in self.files)

    @property
    def warnings(self) -> int:
        return sum(f.warnings for f in self.files)

    @property
    def records(self) -> int:
        return sum(f.records for f in self.files)

    @property
    def unchanged(self) -> int:
        return sum(f.unchanged for f in self.files)

    def counts(self) -> dict[str, Any]:
        return {
            "rows_read": self.rows,
            "processed": self.processed,
            "errors": self.errors,
            "warnings": self.warnings,
            "records": self.records,
            "unchanged": self.unchanged,
            "seconds": round(self.seconds, 2),
            "files": [f.__dict__ for f in self.files],
        }


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def expand_inputs(inputs: Iterable[str | Path]) -> list[Path]:
    """Files from paths, folders (their dumps, sorted) and glob patterns."""
    from voc.ingest.readers import FORMATS

    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            out.extend(sorted(q for q in p.iterdir() if q.suffix.lower() in FORMATS and q.is_file()))
        elif any(ch in str(item) for ch in "*?["):
            out.extend(sorted(Path().glob(str(item))) if not p.is_absolute() else sorted(Path(p.anchor).glob(str(p.relative_to(p.anchor)))))
        else:
            out.append(p)
    return list(dict.fromkeys(out))


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def analyze(
    inputs: Sequence[str | Path],
    *,
    config: VocConfig | None = None,
    store_path: str | Path | None = None,
    output: str | Path | None = None,
    columns: Mapping[str, str | None] | None = None,
    scorers: Sequence[Scorer] = (),
    progress: bool = False,
    on_progress: Callable[[int, int | None], None] | None = None,
    command: str = "analyze",
    rescore: bool = False,
) -> AnalyzeReport:
    """Analyse dumps into the store (and an output file). See the module docstring.

    Args:
        inputs: files, folders or glob patterns.
        config: settings; defaults to :meth:`VocConfig.load`.
        store_path: DuckDB file; defaults to ``config.store.path``.
        output: optional output file (.csv, .parquet, .xlsx): one row per input row.
        columns: explicit column choices, e.g. ``{"text": "本文", "id": "No"}``.
        scorers: steps that add results (sentiment, topics) to each chunk.
        progress: show a tqdm bar on stderr.
        on_progress: callback ``(rows_done, rows_total_or_None)`` (the app's progress bar).
        rescore: score every row again, even those already stored with the same content
            (after a model change). By default a row whose records are all stored with
            the same content is not scored again: its output is filled from the store.

    Each chunk is committed to the store in one transaction, so a run killed at any
    moment loses at most the chunk in flight; running the same command again skips what
    was committed and finishes the rest.
    """
    config = config or VocConfig.load()
    store_path = str(store_path or config.store.path)
    started = time.perf_counter()
    run_id = datetime.now().strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    paths = expand_inputs(inputs)
    reports: list[FileReport] = []
    dumps: list[tuple[Dump, FileReport]] = []
    for p in paths:
        rep = FileReport(path=str(p))
        reports.append(rep)
        try:
            dump = open_dump(
                p, encoding=config.ingest.encoding, sheet=config.ingest.sheet
            )
        except VocError as exc:
            rep.error = str(exc)
            logger.error("%s", exc)
            continue
        rep.notes.extend(dump.notes)
        rep.encoding, rep.format = dump.encoding, dump.format
        dumps.append((dump, rep))

    input_cols: list[str] = list(dict.fromkeys(c for d, _ in dumps for c in d.columns))
    scorer_cols: dict[str, str] = {}
    for s in scorers:
        scorer_cols.update(s.output_columns)
    voc_cols = [f"voc_{c}" if c in input_cols else c for c in (*OUTPUT_COLUMNS[:-2], *scorer_cols, *OUTPUT_COLUMNS[-2:])]
    typed = {
        (f"voc_{c}" if c in input_cols else c): t for c, t in {**OUTPUT_TYPES, **scorer_cols}.items()
    }
    writer = OutputWriter(output, input_cols + voc_cols, typed) if output else None

    normalizer = Normalizer(config.normalize)
    tokenizer = JapaneseTokenizer(
        user_words=config.tokenize.user_words, extra_stopwords=config.tokenize.extra_stopwords
    )
    bar = _progress_bar(progress, total=_estimate_rows(dumps))
    done = chunks = 0
    report = AnalyzeReport(run_id, store_path, str(output) if output else None, reports)
    with Store(store_path, memory_limit=config.store.memory_limit or None) as store:
        store.start_run(
            run_id,
            command,
            [
                {"path": str(d.path), "sha256": file_sha256(d.path), "format": d.format, "encoding": d.encoding}
                for d, _ in dumps
            ],
            config.to_dict(),
            config.fingerprint(),
            {type(s).__name__: dict(s.describe()) for s in scorers},
        )
        status = "failed"
        # Into an empty store, a record is new unless this run wrote its id already: the ids
        # written are kept (on disk, see SeenIds) instead of asking the store for every chunk.
        written = SeenIds() if store.count("feedback") == 0 else None
        try:
            for dump, rep in dumps:
                try:
                    cmap = recognize_columns(dump.columns, columns)
                except VocError as exc:
                    rep.error = str(exc)
                    logger.error("%s", exc)
                    continue
                if cmap.text is None and dump.columns:
                    logger.warning(
                        "%s: no text column recognised among %s; every row will carry error E112. "
                        "Name the column with --text-col.",
                        dump.path,
                        ", ".join(dump.columns),
                    )
                builder = RecordBuilder(
                    config,
                    dump.path,
                    input_cols,
                    cmap,
                    normalizer=normalizer,
                    tokenizer=tokenizer,
                )
                for chunk in chunked(dump.rows(), config.ingest.chunk_size):
                    prepared = [_prepare_safely(builder, raw) for raw in chunk]
                    new = written is not None and _all_unwritten(prepared, written)
                    if not rescore and not new:
                        _mark_cached(prepared, store)
                    for s in scorers:
                        try:
                            s.score(prepared, store, run_id)
                        except Exception as exc:  # a scorer bug must not lose the chunk
                            logger.exception("scoring failed for a chunk of %s", dump.path)
                            for p in prepared:
                                if p.ok:
                                    p.output[builder.output_name("error")] = (
                                        f"[{ROW_SCORING_FAILED}] scoring failed: {exc}"
                                    )
                    records = [r for p in prepared if not p.cached for r in p.records]
                    store.upsert_feedback(records, run_id, new=new)
                    rep.unchanged += sum(p.cached for p in prepared)
                    if writer is not None:
                        writer.write([p.output for p in prepared])
                    rep.rows += len(prepared)
                    rep.records += len(records)
                    for p in prepared:
                        err = p.output.get(builder.output_name("error"))
                        if err:
                            rep.errors += 1
                        else:
                            rep.processed += 1
                        if p.output.get(builder.output_name("warning")):
                            rep.warnings += 1
                    done += len(prepared)
                    chunks += 1
                    if chunks % CHECKPOINT_EVERY == 0:
                        store.checkpoint()  # gives DuckDB's memory back on dumps of millions of rows
                    if bar is not None:
                        bar.update(len(prepared))
                    if on_progress is not None:
                        on_progress(done, bar.total if bar is not None else None)
                if rep.rows == 0 and not rep.notes:
                    rep.notes.append("the file has a header but no data rows")
            if any(getattr(s, "finish", None) for s in scorers):
                store.lift_memory_limit()  # whole-store summaries, once
            for s in scorers:
                finish = getattr(s, "finish", None)
                if finish is not None:
                    try:
                        finish(store, run_id)
                    except Exception:  # every row is stored already; say so and go on
                        logger.exception("the last step of %s failed", type(s).__name__)
                summary = getattr(s, "summary", None)
                if summary is not None:
                    report.scorers[type(s).__name__] = dict(summary())
            status = "finished"
        finally:
            if bar is not None:
                bar.close()
            report.seconds = time.perf_counter() - started
            if writer is not None:
                if status == "finished":
                    writer.close()
            store.finish_run(run_id, status, report.counts())
    return report


#: Chunks between two DuckDB checkpoints during a run (see :meth:`Store.checkpoint`).
CHECKPOINT_EVERY = 25


def default_scorers(
    config: VocConfig | None = None,
    *,
    model: str | Path | None = None,
    topics: str | Path | None = None,
    sentiment: bool = True,
) -> list[Scorer]:
    """The scoring steps ``voc analyze`` runs by default: sentiment/emotion with the
    shipped model (or ``model``), then topic assignment when a saved topic model exists."""
    scorers: list[Scorer] = []
    if sentiment:
        from voc.classify.predict import Classifier
        from voc.classify.scorer import SentimentScorer

        scorers.append(SentimentScorer(Classifier.load(model)))
    if topics is not None and Path(topics).exists():
        from voc.topics.scorer import TopicScorer  # type: ignore[import-not-found]

        scorers.append(TopicScorer.load(topics))
    return scorers


def score_frame(
    frame: Any,
    *,
    config: VocConfig | None = None,
    columns: Mapping[str, str | None] | None = None,
    scorers: Sequence[Scorer] = (),
    source_file: str = "frame",
    row_offset: int = 0,
) -> Any:
    """Analyse the rows of a pandas DataFrame and return one output row per input row.

    The same steps as :func:`analyze` (ingest mapping, normalize, PII masking, tokenize,
    scorers) without a store: this is the function a distributed engine runs on each
    batch (see ``voc.engines``), so its results are identical to the single-machine run.
    ``row_offset`` numbers the rows (``source_row``) when the frame is one batch of a file.
    """
    import pandas as pd

    config = config or VocConfig.load()
    cols = [str(c) for c in frame.columns]
    cmap = recognize_columns(cols, columns)
    builder = RecordBuilder(config, source_file, cols, cmap)
    raws = [
        RawRow(row_offset + i + 1, {c: (None if _is_na(v) else v) for c, v in zip(cols, values, strict=True)})
        for i, values in enumerate(frame.itertuples(index=False, name=None))
    ]
    prepared = [_prepare_safely(builder, raw) for raw in raws]
    for s in scorers:
        s.score(prepared, None, "distributed")
    voc_cols = [builder.output_name(c) for c in (*OUTPUT_COLUMNS[:-2],)]
    scorer_cols = [builder.output_name(c) for s in scorers for c in s.output_columns]
    tail = [builder.output_name(c) for c in OUTPUT_COLUMNS[-2:]]
    input_set = set(cols)
    order = cols + voc_cols + scorer_cols + tail
    data = {}
    for c in order:
        values = [p.output.get(c) for p in prepared]
        # input columns keep their Python values: inferring a dtype would turn integer ids
        # with gaps into float64 (ids above 2**53 lose digits) and dates into Timestamps
        data[c] = pd.Series(values, dtype=object) if c in input_set else pd.Series(values)
    return pd.DataFrame(data, columns=order)


def _is_na(value: Any) -> bool:
    try:
        return value is None or (isinstance(value, float) and value != value)
    except Exception:  # pragma: no cover - exotic objects
        return False


def _all_unwritten(prepared: Sequence[Prepared], written: SeenIds) -> bool:
    """Record every record id of the chunk as written; True when none was written before."""
    seen = [written.see(r.record_id, 0)[0] for p in prepared for r in p.records]
    return all(n == 1 for n in seen)


def _mark_cached(prepared: Sequence[Prepared], store: Store) -> None:
    """Flag rows whose records are all stored already with the same content."""
    ids = [r.record_id for p in prepared if p.ok for r in p.records]
    existing = store.existing_hashes(ids)
    if not existing:
        return
    for p in prepared:
        if p.ok and p.records and all(existing.get(r.record_id) == r.content_hash for r in p.records):
            p.cached = True


def _prepare_safely(builder: RecordBuilder, raw: RawRow) -> Prepared:
    try:
        return builder.prepare(raw)
    except Exception as exc:  # an unexpected bug on one row must not stop the batch
        logger.exception("row %s of %s could not be processed", raw.row, builder.source_file)
        out = {c: raw.values.get(c) for c in builder.columns}
        out.update(
            {
                builder.output_name("source_file"): builder.source_file,
                builder.output_name("source_row"): raw.row,
                builder.output_name("error"): f"[{ROW_SCORING_FAILED}] unexpected problem: {exc}",
            }
        )
        return Prepared(out, [], ok=False)


def _estimate_rows(dumps: Sequence[tuple[Dump, FileReport]]) -> int | None:
    total = 0
    for dump, _ in dumps:
        if dump.format == "parquet":
            import pyarrow.parquet as pq

            total += pq.ParquetFile(dump.path).metadata.num_rows
        elif dump.format == "jsonl" and dump.path.stat().st_size < 64 << 20:
            with dump.path.open("rb") as fh:
                total += sum(1 for line in fh if line.strip())
        elif dump.format in ("csv", "tsv") and dump.path.stat().st_size < 64 << 20:
            # a quick record count (quoted cells may hold line breaks)
            import csv

            with open(dump.path, encoding=dump.encoding, errors="replace", newline="") as fh:
                reader = csv.reader((line.replace("\x00", "") for line in fh), delimiter=dump.delimiter or ",")
                total += max(sum(1 for row in reader if any(c.strip() for c in row)) - 1, 0)
        else:
            return None
    return total or None


def _progress_bar(enabled: bool, total: int | None) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="rows", desc="analysing", dynamic_ncols=True, leave=False)
