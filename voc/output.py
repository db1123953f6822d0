"""Streaming writers for ``voc analyze -o``: CSV, Parquet and Excel, chosen by extension.

CSV is written as UTF-8 with a BOM so that Excel in Japan opens it with the right
encoding. Rows are appended chunk by chunk, so memory does not grow with the dump; Parquet
rows are gathered into row groups of up to ``PARQUET_GROUP_ROWS`` rows first.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from voc.errors import ConfigError

_XLSX_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
EXCEL_MAX_ROWS = 1_048_575
#: A Parquet row group is written once this many rows (or PARQUET_GROUP_BYTES of Arrow
#: data) are buffered. The writer keeps ~30 KB of metadata per row group in memory until
#: the footer is written: one row group per 2,000-row chunk grew a 2M-row run by ~30 MB.
PARQUET_GROUP_ROWS = 16_384
PARQUET_GROUP_BYTES = 8 * 2**20


class OutputWriter:
    """Append rows to an output file whose extension picks the format."""

    def __init__(self, path: str | Path, columns: Sequence[str], typed: Mapping[str, str] | None = None):
        self.path = Path(path)
        self.columns = list(columns)
        self.typed = dict(typed or {})
        self.rows_written = 0
        suffix = self.path.suffix.lower()
        if suffix not in (".csv", ".parquet", ".xlsx", ".tsv"):
            raise ConfigError(
                "E030",
                f"cannot write {suffix or 'a file without extension'}",
                path=str(self.path),
                hint="Use an output name ending in .csv, .parquet or .xlsx",
            )
        self.format = suffix.lstrip(".")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(self.path.name + ".partial")
        self._fh: Any = None
        self._writer: Any = None
        self._open()

    def _open(self) -> None:
        if self.format in ("csv", "tsv"):
            self._fh = open(self._tmp, "w", encoding="utf-8-sig", newline="")
            self._writer = csv.writer(self._fh, delimiter="\t" if self.format == "tsv" else ",")
            self._writer.writerow(self.columns)
        elif self.format == "xlsx":
            import openpyxl

            self._wb = openpyxl.Workbook(write_only=True)
            self._ws = self._wb.create_sheet("voc")
            self._ws.append(self.columns)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            self._schema = pa.schema([(c, _arrow_type(self.typed.get(c, "string"))) for c in self.columns])
            self._writer = pq.ParquetWriter(self._tmp, self._schema)
            self._pending: list[Any] = []  # Arrow tables of the row group being gathered

    def write(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        if self.format in ("csv", "tsv"):
            for row in rows:
                self._writer.writerow([_cell(row.get(c)) for c in self.columns])
        elif self.format == "xlsx":
            if self.rows_written + len(rows) > EXCEL_MAX_ROWS:
                raise ConfigError(
                    "E031",
                    f"Excel holds at most {EXCEL_MAX_ROWS:,} rows; this output has more",
                    path=str(self.path),
                    hint="Write .csv or .parquet instead",
                )
            for row in rows:
                self._ws.append([_xlsx_cell(row.get(c)) for c in self.columns])
        else:
            import pyarrow as pa

            data = {
                c: [_parquet_value(row.get(c), self.typed.get(c, "string")) for row in rows]
                for c in self.columns
            }
            self._pending.append(pa.table(data, schema=self._schema))
            if (
                sum(t.num_rows for t in self._pending) >= PARQUET_GROUP_ROWS
                or sum(t.nbytes for t in self._pending) >= PARQUET_GROUP_BYTES
            ):
                self._flush_group()
        self.rows_written += len(rows)

    def _flush_group(self) -> None:
        """Write the buffered Parquet rows as one row group."""
        if self._pending:
            import pyarrow as pa

            table = pa.concat_tables(self._pending)
            self._writer.write_table(table, row_group_size=table.num_rows)
            self._pending = []

    def close(self) -> Path:
        """Finish the file and move it into place (a killed run leaves only ``.partial``)."""
        if self.format in ("csv", "tsv"):
            self._fh.close()
        elif self.format == "xlsx":
            self._wb.save(self._tmp)
        else:
            self._flush_group()
            self._writer.close()
        self._tmp.replace(self.path)
        return self.path


def _arrow_type(kind: str) -> Any:
    import pyarrow as pa

    return {
        "string": pa.string(),
        "int": pa.int64(),
        "float": pa.float64(),
        "bool": pa.bool_(),
        "timestamp": pa.timestamp("us"),
    }[kind]


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float) and value != value:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _xlsx_cell(value: Any) -> Any:
    value = _cell(value)
    if isinstance(value, str):
        value = _XLSX_ILLEGAL.sub("", value)
        if len(value) > 32767:  # Excel's cell limit
            value = value[:32760] + "…"
    return value if value != "" else None


def _parquet_value(value: Any, kind: str) -> Any:
    if value is None or (isinstance(value, float) and value != value):
        return None
    if kind == "string":
        if isinstance(value, datetime):
            return value.isoformat(sep=" ")
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "bool":
        return bool(value)
    return value
