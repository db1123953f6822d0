"""Readers for the file shapes CX tools export: CSV/TSV, Excel, JSON Lines/JSON, Parquet.

Every reader streams :class:`RawRow` objects: the row's values by column, its 1-based data
row number, and the problems found while reading it (undecodable bytes, a broken JSON
line, a wrong number of fields). A bad row is reported, never dropped; only a file that
cannot be read at all raises :class:`~voc.errors.InputError`.

Text files are decoded with the detected encoding and ``surrogateescape``, so a byte that
does not decode survives as a marker; each field holding one is re-decoded with the other
common Japanese encodings (mixed UTF-8/CP932 files exist) and, if that fails too, the bytes
become U+FFFD and the row gets an E202 issue naming the column.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voc.errors import (
    ROW_BROKEN_RECORD,
    ROW_UNDECODABLE,
    InputError,
    MissingExtraError,
    RowIssue,
)

logger = logging.getLogger(__name__)

TEXT_FORMATS = {".csv": "csv", ".tsv": "tsv", ".txt": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
FORMATS = {
    **TEXT_FORMATS,
    ".json": "json",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_SAMPLE_BYTES = 1 << 20
_SURROGATE_RE = re.compile(r"[\udc80-\udcff]+")
_FALLBACK_ENCODINGS = ("utf-8", "cp932", "euc_jp")
_CONTROL_BYTES = [b for b in range(1, 32) if b not in (9, 10, 13)] + [127]
_MAGIC = (
    (b"PK\x03\x04", "zip (Excel .xlsx or archive)"),
    (b"\xd0\xcf\x11\xe0", "legacy Excel (.xls) or Office"),
    (b"%PDF", "PDF"),
    (b"\x89PNG", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"\x1f\x8b", "gzip"),
    (b"PAR1", "Parquet"),
)

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclass
class RawRow:
    """One input row as read, before any interpretation."""

    row: int
    values: dict[str, Any]
    issues: list[RowIssue] = field(default_factory=list)
    sheet: str | None = None


@dataclass
class Dump:
    """An opened input file: its format, encoding and columns, and a row iterator."""

    path: Path
    format: str
    columns: list[str]
    encoding: str | None = None
    delimiter: str | None = None
    sheets: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _sheet_filter: str = ""

    def rows(self) -> Iterator[RawRow]:
        """Stream every data row (the header is not a row)."""
        if self.format in ("csv", "tsv"):
            yield from _csv_rows(self)
        elif self.format == "jsonl":
            yield from _jsonl_rows(self)
        elif self.format == "json":
            yield from _json_rows(self)
        elif self.format == "xlsx":
            yield from _xlsx_rows(self)
        elif self.format == "parquet":
            yield from _parquet_rows(self)
        else:  # pragma: no cover - open_dump validates formats
            raise InputError("E102", f"unsupported format {self.format}", path=str(self.path))


def open_dump(
    path: str | Path, *, encoding: str = "", delimiter: str = "", sheet: str = ""
) -> Dump:
    """Open a dump: detect its format, encoding and delimiter, and read its header.

    Raises:
        InputError: the file is missing, empty of any header, binary, or of an unknown type.
    """
    p = Path(path)
    if not p.exists():
        raise InputError("E101", "file not found", path=str(p))
    if p.is_dir():
        raise InputError("E101", "this is a folder, not a file", path=str(p), hint="Pass the files inside it")
    fmt = FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise InputError(
            "E102",
            f"unknown file type {p.suffix or '(no extension)'!r}",
            path=str(p),
            hint="voc reads .csv .tsv .txt .xlsx .jsonl .json .parquet",
        )
    dump = Dump(path=p, format=fmt, columns=[], _sheet_filter=sheet)
    if fmt in ("csv", "tsv", "jsonl", "json"):
        sample = _read_sample(p)
        if not sample.strip():
            dump.notes.append("the file is empty")
            dump.encoding = "utf-8"
            return dump
        dump.encoding = encoding or detect_encoding(sample, p)
        if fmt in ("csv", "tsv"):
            text = sample.decode(dump.encoding, errors="surrogateescape")
            dump.delimiter = delimiter or ("\t" if fmt == "tsv" else sniff_delimiter(text))
            dump.columns = _csv_header(dump)
        elif fmt == "jsonl":
            dump.columns = _jsonl_columns(dump)
        else:
            dump.columns = _json_columns(dump)
    elif fmt == "xlsx":
        _xlsx_open(dump)
    elif fmt == "parquet":
        dump.columns = _parquet_columns(p)
    return dump


# ---------------------------------------------------------------------------------------
# Encoding and delimiter detection
# ---------------------------------------------------------------------------------------
def _read_sample(p: Path) -> bytes:
    with p.open("rb") as fh:
        return fh.read(_SAMPLE_BYTES)


def detect_encoding(sample: bytes, path: Path | None = None) -> str:
    """Best encoding for a Japanese text dump: BOM, UTF-8, CP932, then charset-normalizer.

    >>> detect_encoding("レビュー,評価".encode("cp932"))
    'cp932'
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    where = str(path) if path else None
    for magic, kind in _MAGIC:
        if sample.startswith(magic):
            raise InputError(
                "E103",
                f"this is a {kind} file, not a text export",
                path=where,
                hint="Give it its real extension (.xlsx for Excel) or export the data as CSV",
            )
    control = sum(sample.count(bytes([b])) for b in _CONTROL_BYTES)
    nul = sample.count(b"\x00")
    if (control >= 16 and control / len(sample) > 0.02) or nul / len(sample) > 0.1:
        raise InputError(
            "E103",
            "this looks like a binary file, not a text export",
            path=where,
            hint="Export the data as CSV, Excel, JSON Lines or Parquet",
        )
    for enc in ("utf-8", "cp932"):
        decoder = codecs.getincrementaldecoder(enc)(errors="strict")
        try:
            decoder.decode(sample, final=len(sample) < _SAMPLE_BYTES)
            return enc
        except UnicodeDecodeError:
            continue
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(sample).best()
    except ImportError:  # pragma: no cover - dependency of voc
        best = None
    if best is not None and best.encoding:
        return best.encoding
    # Mostly UTF-8 or mostly CP932 with a few broken bytes: pick the one with fewer errors.
    errors = {enc: sample.decode(enc, errors="replace").count("\ufffd") for enc in ("utf-8", "cp932")}
    return min(errors, key=errors.get)  # type: ignore[arg-type]


def sniff_delimiter(text: str) -> str:
    """Delimiter of a CSV-like text: comma, tab, semicolon or pipe."""
    head = "\n".join(text.splitlines()[:50])
    try:
        return csv.Sniffer().sniff(head, delimiters=",\t;|").delimiter
    except csv.Error:
        first = text.splitlines()[0] if text else ""
        counts = {d: first.count(d) for d in ",\t;|"}
        best = max(counts, key=counts.get)  # type: ignore[arg-type]
        return best if counts[best] else ","


def _recover_field(value: str, encoding: str) -> tuple[str, bool]:
    """Re-decode a field holding undecodable bytes; returns (text, fully_recovered)."""
    raw = value.encode(encoding if encoding != "utf-8-sig" else "utf-8", errors="surrogateescape")
    for enc in _FALLBACK_ENCODINGS:
        if enc == encoding:
            continue
        try:
            return raw.decode(enc), True
        except UnicodeDecodeError:
            continue
    return _SURROGATE_RE.sub("\ufffd", value), False


def _clean_values(values: dict[str, Any], encoding: str, issues: list[RowIssue]) -> None:
    for col, value in values.items():
        if isinstance(value, str):
            if "\x00" in value:
                value = value.replace("\x00", "")
            if _SURROGATE_RE.search(value):
                value, ok = _recover_field(value, encoding)
                if not ok:
                    issues.append(
                        RowIssue(
                            ROW_UNDECODABLE,
                            f"some bytes could not be decoded as {encoding}; they were replaced by �",
                            column=col,
                            fatal=False,
                        )
                    )
            values[col] = value


# ---------------------------------------------------------------------------------------
# CSV / TSV
# ---------------------------------------------------------------------------------------
def _open_text(dump: Dump) -> io.TextIOWrapper:
    return open(dump.path, encoding=dump.encoding, errors="surrogateescape", newline="")


def _nul_free(lines: Iterator[str]) -> Iterator[str]:
    for line in lines:
        yield line.replace("\x00", "") if "\x00" in line else line


def _unique_headers(raw: list[str]) -> list[str]:
    out: list[str] = []
    for i, name in enumerate(raw):
        name = (name or "").strip().lstrip("\ufeff") or f"column_{i + 1}"
        base, k = name, 2
        while name in out:
            name = f"{base}_{k}"
            k += 1
        out.append(name)
    return out


def _csv_header(dump: Dump) -> list[str]:
    with _open_text(dump) as fh:
        reader = csv.reader(_nul_free(fh), delimiter=dump.delimiter or ",")
        for raw in reader:
            if any(c.strip() for c in raw):
                header = [_recover_field(c, dump.encoding or "utf-8")[0] if _SURROGATE_RE.search(c) else c for c in raw]
                return _unique_headers(header)
    return []


def _csv_rows(dump: Dump) -> Iterator[RawRow]:
    if not dump.columns:
        return
    ncols = len(dump.columns)
    with _open_text(dump) as fh:
        reader = csv.reader(_nul_free(fh), delimiter=dump.delimiter or ",")
        header_seen = False
        row_no = 0
        while True:
            start_line = reader.line_num + 1
            try:
                raw = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                row_no += 1
                yield RawRow(
                    row_no,
                    dict.fromkeys(dump.columns),
                    [RowIssue(ROW_BROKEN_RECORD, f"line {start_line} could not be parsed as CSV: {exc}")],
                )
                continue
            if not header_seen:
                if any(c.strip() for c in raw):
                    header_seen = True
                continue
            if not any(c.strip() for c in raw):
                continue  # blank line between records: not a row
            row_no += 1
            issues: list[RowIssue] = []
            if len(raw) > ncols:
                extra = raw[ncols:]
                if any(c.strip() for c in extra):
                    issues.append(
                        RowIssue(
                            ROW_BROKEN_RECORD,
                            f"line {start_line} has {len(raw)} fields but the header has {ncols}; "
                            "the extra fields were joined into the last column",
                            fatal=False,
                        )
                    )
                    raw = raw[: ncols - 1] + [(dump.delimiter or ",").join(raw[ncols - 1 :])]
                else:
                    raw = raw[:ncols]
            elif len(raw) < ncols:
                raw = raw + [""] * (ncols - len(raw))
            lines_spanned = reader.line_num - start_line + 1
            if lines_spanned > 200:
                issues.append(
                    RowIssue(
                        ROW_BROKEN_RECORD,
                        f"the record starting at line {start_line} runs over {lines_spanned} lines; "
                        "an unbalanced quote (\") probably swallowed the rows after it",
                        fatal=False,
                    )
                )
            values: dict[str, Any] = dict(zip(dump.columns, raw, strict=True))
            _clean_values(values, dump.encoding or "utf-8", issues)
            yield RawRow(row_no, values, issues)


# ---------------------------------------------------------------------------------------
# JSON Lines / JSON
# ---------------------------------------------------------------------------------------
def _jsonl_lines(dump: Dump) -> Iterator[tuple[int, str]]:
    with _open_text(dump) as fh:
        for i, line in enumerate(fh, start=1):
            yield i, line


def _jsonl_columns(dump: Dump) -> list[str]:
    cols: dict[str, None] = {}
    for _, line in _jsonl_lines(dump):
        line = line.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            cols.update(dict.fromkeys(str(k) for k in obj))
    return list(cols)


def _flatten(obj: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in obj.items():
        out[str(k)] = json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v
    return out


def _jsonl_rows(dump: Dump) -> Iterator[RawRow]:
    row_no = 0
    for line_no, line in _jsonl_lines(dump):
        stripped = line.strip().lstrip("\ufeff")
        if not stripped:
            continue
        row_no += 1
        issues: list[RowIssue] = []
        values: dict[str, Any] = dict.fromkeys(dump.columns)
        try:
            obj = json.loads(_SURROGATE_RE.sub(lambda m: _recover_field(m.group(0), dump.encoding or "utf-8")[0], stripped))
        except ValueError as exc:
            issues.append(
                RowIssue(ROW_BROKEN_RECORD, f"line {line_no} is not valid JSON ({exc.msg}, column {exc.colno})")
            )
            yield RawRow(row_no, values, issues)
            continue
        if not isinstance(obj, dict):
            issues.append(RowIssue(ROW_BROKEN_RECORD, f"line {line_no} is JSON but not an object"))
            yield RawRow(row_no, values, issues)
            continue
        values.update(_flatten(obj))
        _clean_values(values, dump.encoding or "utf-8", issues)
        yield RawRow(row_no, values, issues)


def _json_records(dump: Dump) -> list[Any]:
    with _open_text(dump) as fh:
        try:
            data = json.load(fh)
        except ValueError as exc:
            raise InputError("E104", f"the file is not valid JSON: {exc}", path=str(dump.path)) from exc
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise InputError(
                "E104",
                "a JSON file must hold a list of records (or an object with one list in it)",
                path=str(dump.path),
            )
        data = lists[0]
    if not isinstance(data, list):
        raise InputError("E104", "a JSON file must hold a list of records", path=str(dump.path))
    return data


def _json_columns(dump: Dump) -> list[str]:
    cols: dict[str, None] = {}
    for rec in _json_records(dump):
        if isinstance(rec, dict):
            cols.update(dict.fromkeys(str(k) for k in rec))
    return list(cols)


def _json_rows(dump: Dump) -> Iterator[RawRow]:
    for i, rec in enumerate(_json_records(dump), start=1):
        values: dict[str, Any] = dict.fromkeys(dump.columns)
        issues: list[RowIssue] = []
        if isinstance(rec, dict):
            values.update(_flatten(rec))
            _clean_values(values, dump.encoding or "utf-8", issues)
        else:
            issues.append(RowIssue(ROW_BROKEN_RECORD, f"record {i} is not a JSON object"))
        yield RawRow(i, values, issues)


# ---------------------------------------------------------------------------------------
# Excel
# ---------------------------------------------------------------------------------------
def _load_workbook(dump: Dump) -> Any:
    try:
        import openpyxl
    except ImportError as exc:  # pragma: no cover - dependency of voc
        raise MissingExtraError("Reading Excel files", "openpyxl") from exc
    try:
        # not read_only: merged cells are only visible in the full model
        return openpyxl.load_workbook(dump.path, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken or foreign file
        raise InputError(
            "E105",
            f"the Excel file could not be opened ({type(exc).__name__}: {exc})",
            path=str(dump.path),
            hint="Save it again from Excel as .xlsx, or export it as CSV",
        ) from exc


def _sheet_table(ws: Any) -> tuple[int, list[str], list[tuple[int, list[Any]]]]:
    """Header row index, header names and data rows of a sheet, merged cells filled."""
    fill: dict[tuple[int, int], Any] = {}
    for rng in list(ws.merged_cells.ranges):
        top_left = ws.cell(rng.min_row, rng.min_col).value
        for r in range(rng.min_row, rng.max_row + 1):
            for c in range(rng.min_col, rng.max_col + 1):
                fill[(r, c)] = top_left
    rows = []
    for r_idx, row in enumerate(ws.iter_rows(values_only=True), start=1):
        vals = [fill.get((r_idx, c_idx), v) for c_idx, v in enumerate(row, start=1)]
        rows.append((r_idx, vals))
    header_idx = next((i for i, (_, v) in enumerate(rows) if any(x not in (None, "") for x in v)), None)
    if header_idx is None:
        return 0, [], []
    header = _unique_headers(["" if v is None else str(v) for v in rows[header_idx][1]])
    data = [(r, v) for r, v in rows[header_idx + 1 :] if any(x not in (None, "") for x in v)]
    return rows[header_idx][0], header, data


def _xlsx_open(dump: Dump) -> None:
    from voc.ingest.columns import find_text_column

    wb = _load_workbook(dump)
    cols: dict[str, None] = {}
    for ws in wb.worksheets:
        if dump._sheet_filter and ws.title != dump._sheet_filter:
            continue
        _, header, data = _sheet_table(ws)
        if not header:
            continue
        if not dump._sheet_filter and find_text_column(header) is None:
            dump.notes.append(f"sheet {ws.title!r} skipped: it has no text column")
            continue
        dump.sheets.append(ws.title)
        cols.update(dict.fromkeys(header))
    if dump._sheet_filter and not dump.sheets:
        raise InputError(
            "E106",
            f"the workbook has no sheet named {dump._sheet_filter!r}",
            path=str(dump.path),
            hint="Sheets: " + ", ".join(ws.title for ws in wb.worksheets),
        )
    if len(dump.sheets) > 1:
        cols["sheet"] = None
    dump.columns = list(cols)


def _xlsx_rows(dump: Dump) -> Iterator[RawRow]:
    wb = _load_workbook(dump)
    for title in dump.sheets:
        _, header, data = _sheet_table(wb[title])
        for r_idx, vals in data:
            values: dict[str, Any] = dict.fromkeys(dump.columns)
            values.update(zip(header, vals, strict=False))
            if "sheet" in dump.columns and "sheet" not in header:
                values["sheet"] = title
            issues: list[RowIssue] = []
            _clean_values(values, "utf-8", issues)
            yield RawRow(r_idx - 1, values, issues, sheet=title)


# ---------------------------------------------------------------------------------------
# Parquet
# ---------------------------------------------------------------------------------------
def _parquet_file(path: Path) -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - dependency of voc
        raise MissingExtraError("Reading Parquet files", "pyarrow") from exc
    try:
        return pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid/OSError for foreign files
        raise InputError("E107", f"the Parquet file could not be opened: {exc}", path=str(path)) from exc


def _parquet_columns(path: Path) -> list[str]:
    return list(_parquet_file(path).schema_arrow.names)


def _parquet_rows(dump: Dump, batch_size: int = 4096) -> Iterator[RawRow]:
    pf = _parquet_file(dump.path)
    row_no = 0
    for batch in pf.iter_batches(batch_size=batch_size):
        for rec in batch.to_pylist():
            row_no += 1
            issues: list[RowIssue] = []
            _clean_values(rec, "utf-8", issues)
            yield RawRow(row_no, rec, issues)
