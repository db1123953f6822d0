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
    utf16 = _utf16_without_bom(sample)
    if utf16:
        return utf16
    # NUL padding after the last line (a writer that crashed, a preallocated file) is not
    # what makes a file binary: judge the bytes before it
    sample = sample.rstrip(b"\x00") or sample
    control = sum(sample.count(bytes([b])) for b in _CONTROL_BYTES)
    nul = sample.count(b"\x00")
    if (control >= 16 and control / len(sample) > 0.02) or nul / len(sample) > 0.1:
        raise InputError(
            "E103",
            "this looks like a binary file, not a text export",
            path=where,
            hint="Export the data as CSV, Excel, JSON Lines or Parquet",
        )
    final = len(sample) < _SAMPLE_BYTES
    clean: dict[str, str] = {}
    for enc in ("utf-8", "cp932", "euc_jp"):
        decoder = codecs.getincrementaldecoder(enc)(errors="strict")
        try:
            text = decoder.decode(sample, final=final)
        except UnicodeDecodeError:
            continue
        if enc != "utf-8" and _PUA_RE.search(text):
            continue  # CP932 "decodes" stray 0xFD-0xFF bytes as private-use characters
        clean[enc] = text
    if "utf-8" in clean:
        return "utf-8"
    if clean:
        # EUC-JP text also decodes as CP932 (as half-width katakana mojibake) and the other
        # way round now and then: the reading with more kana is the Japanese one
        return max(clean, key=lambda enc: (len(_KANA_RE.findall(clean[enc])), enc == "cp932"))
    # Mostly UTF-8 or mostly CP932 with a few broken bytes: the one with fewer errors, when
    # the errors are few (the lines are decoded one by one later, and the bad bytes reported)
    errors = {
        enc: codecs.getincrementaldecoder(enc)(errors="replace").decode(sample, final=final).count("\ufffd")
        for enc in ("utf-8", "cp932", "euc_jp")
    }
    best = min(errors, key=errors.get)  # type: ignore[arg-type]
    if errors[best] <= max(16, len(sample) // 100):
        return best
    try:
        from charset_normalizer import from_bytes

        guess = from_bytes(sample).best()
    except ImportError:  # pragma: no cover - dependency of voc
        guess = None
    if guess is not None and guess.encoding:
        return guess.encoding
    return best


def _utf16_without_bom(sample: bytes) -> str | None:
    """'utf-16-le' or 'utf-16-be' for UTF-16 text without a BOM (NUL in every other byte
    of its ASCII characters: line ends, commas, digits), else None."""
    head = sample[:4096]
    if len(head) < 8:
        return None
    head = head[: len(head) // 2 * 2]
    even, odd = head[0::2], head[1::2]
    for zeros, enc in ((odd, "utf-16-le"), (even, "utf-16-be")):
        other = even if zeros is odd else odd
        if zeros.count(0) > 0.3 * len(zeros) and other.count(0) < 0.05 * len(other):
            try:
                head.decode(enc)
            except UnicodeDecodeError:
                continue
            text = head.decode(enc)
            if any(c in text for c in "\n,\t") and sum(c.isprintable() or c in "\r\n\t" for c in text) > 0.95 * len(text):
                return enc
    return None


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
        text = _decode_strict(raw, enc)
        if text is not None:
            return text, True
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


_NEWLINE_RE = re.compile(rb"\r\n|\r|\n")
_LF_RE = re.compile(rb"\n")


def _line_encodings(encoding: str) -> list[str]:
    """Encodings to try on each line, in order: UTF-8 first (a CP932 line is almost never
    valid UTF-8, a UTF-8 line often decodes as CP932 mojibake), then the file's own."""
    main = "utf-8" if encoding == "utf-8-sig" else encoding
    return list(dict.fromkeys(["utf-8", main, *_FALLBACK_ENCODINGS]))


_PUA_RE = re.compile("[\ue000-\uf8ff]")
_KANA_RE = re.compile("[\u3041-\u3096\u30a1-\u30fa]")


def _decode_strict(raw: bytes, encoding: str) -> str | None:
    """``raw`` decoded, or None. CP932 maps the stray bytes 0xFD-0xFF and its user-defined
    area to private-use characters instead of failing: such a decoding is not text."""
    try:
        text = raw.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None
    if not encoding.startswith("utf") and _PUA_RE.search(text):
        return None
    return text


def _decode_lenient(raw: bytes, encoding: str) -> str:
    try:
        return raw.decode(encoding, errors="surrogateescape")
    except LookupError:
        return raw.decode("utf-8", errors="surrogateescape")


def _bad_chars(text: str) -> int:
    return len(_SURROGATE_RE.findall(text)) + len(_PUA_RE.findall(text))


def _raw_lines(path: Path, newline: re.Pattern[bytes], block: int = 1 << 20) -> Iterator[bytes]:
    """Physical lines of a file as bytes, with their line ends (\r\n, \n, or \r alone)."""
    with path.open("rb") as fh:
        rest = b""
        while True:
            chunk = fh.read(block)
            data = rest + chunk
            if not chunk:
                if data:
                    yield data
                return
            start = 0
            for m in newline.finditer(data):
                if m.end() == len(data) and data.endswith(b"\r"):
                    break  # a \r at the end of a block may be the first half of \r\n
                yield data[start : m.end()]
                start = m.end()
            rest = data[start:]


def _text_lines(dump: Dump, universal: bool = True) -> Iterator[str]:
    """Decoded physical lines with their line ends, NUL characters dropped.

    Each line is decoded on its own, so a dump whose lines were written in different
    encodings (UTF-8 and CP932 pasted together) reads right; a line no encoding can decode
    keeps its bad bytes as surrogate escapes, which :func:`_clean_values` reports per field.
    UTF-16 files are decoded as a whole (their line ends are two bytes).
    """
    encoding = dump.encoding or "utf-8"
    if encoding.replace("_", "-").lower().startswith("utf-16"):
        with _open_text(dump) as fh:
            for line in fh:
                yield line.replace("\x00", "") if "\x00" in line else line
        return
    encodings = _line_encodings(encoding)
    first = True
    for raw in _raw_lines(dump.path, _NEWLINE_RE if universal else _LF_RE):
        if first:
            raw = raw.removeprefix(codecs.BOM_UTF8)
            first = False
        if b"\x00" in raw:
            raw = raw.replace(b"\x00", b"")
        for enc in encodings:
            text = _decode_strict(raw, enc)
            if text is not None:
                yield text
                break
        else:
            # no encoding reads the whole line: the one that leaves the fewest bad bytes
            # wins, and the bad bytes stay as surrogate escapes for the per-field report
            yield min((_decode_lenient(raw, enc) for enc in encodings), key=lambda t: _bad_chars(t))


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
    reader = csv.reader(_text_lines(dump), delimiter=dump.delimiter or ",")
    try:
        for raw in reader:
            if any(c.strip() for c in raw):
                header = [_recover_field(c, dump.encoding or "utf-8")[0] if _SURROGATE_RE.search(c) else c for c in raw]
                return _unique_headers(header)
    except csv.Error:
        return []
    return []


class _LineFeed:
    """The lines a ``csv.reader`` reads, numbered, with a record of the lines each record
    took and a way to put lines back (to parse them again after an unbalanced quote)."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = enumerate(lines, start=1)
        self._back: list[tuple[int, str]] = []
        self.taken: list[tuple[int, str]] = []

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        item = self._back.pop() if self._back else next(self._lines)
        self.taken.append(item)
        return item[1]

    def put_back(self, items: list[tuple[int, str]]) -> None:
        self._back.extend(reversed(items))


def _parse_line(line: str, delimiter: str) -> list[str]:
    """One physical line as CSV fields; a quote left open runs to the end of the line."""
    try:
        return next(csv.reader([line.rstrip("\r\n")], delimiter=delimiter), [])
    except csv.Error:
        return line.rstrip("\r\n").split(delimiter)


_SHAPE_RE = ((re.compile(r"[0-9０-９]+"), "9"), (re.compile(r"[A-Za-zＡ-Ｚａ-ｚ]+"), "A"), (re.compile(r"[^9A\s/:.\-]+"), "x"))


def _shape(value: str) -> str:
    """The look of a value: R10 and R11 -> A9, 2026/06/10 -> 9/9/9."""
    value = value.strip()
    for pattern, mark in _SHAPE_RE:
        value = pattern.sub(mark, value)
    return value


def _swallowed(lines: list[tuple[int, str]], ncols: int, delimiter: str) -> int | None:
    """Index in ``lines`` of the first line that a quote left open swallowed, or None.

    A record may legitimately run over several lines (a review with line breaks inside a
    quoted cell). But when one of the lines inside it reads, on its own, as a record (the
    header's number of fields, and a first field that looks like the first line's, such as
    R11 after R10), a quote that was never closed joined the rows after it into one cell:
    those lines are to be read again.
    """
    if len(lines) < 2:
        return None
    first = _parse_line(lines[0][1], delimiter)
    shape = _shape(first[0]) if first else ""
    need = 1 if ncols == 1 else max(2, ncols - 1)
    for k, (_, line) in enumerate(lines[1:], start=1):
        if not line.strip():
            continue
        fields = _parse_line(line, delimiter)
        if ncols == 1:  # every line is a record: only an odd count of quotes tells
            return k if sum(ln.count('"') for _, ln in lines) % 2 else None
        if need <= len(fields) <= ncols and _shape(fields[0]) == shape:
            return k
    return None


def _csv_rows(dump: Dump) -> Iterator[RawRow]:
    if not dump.columns:
        return
    ncols = len(dump.columns)
    delimiter = dump.delimiter or ","
    feed = _LineFeed(_text_lines(dump))
    reader = csv.reader(feed, delimiter=delimiter)
    header_seen = False
    header_fields: list[str] = []
    row_no = 0
    while True:
        feed.taken = []
        issues: list[RowIssue] = []
        try:
            raw = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if not header_seen:
                continue
            row_no += 1
            start_line = feed.taken[0][0] if feed.taken else 0
            yield RawRow(
                row_no,
                dict.fromkeys(dump.columns),
                [RowIssue(ROW_BROKEN_RECORD, f"line {start_line} could not be parsed as CSV: {exc}")],
            )
            continue
        lines = list(feed.taken)
        start_line = lines[0][0] if lines else 0
        if raw and raw[0].startswith("\ufeff"):
            raw[0] = raw[0].lstrip("\ufeff")  # a BOM inside the file: exports joined with cat
        if not header_seen:
            if any(c.strip() for c in raw):
                header_seen = True
                header_fields = [c.strip() for c in raw]
            continue
        cut = _swallowed(lines, ncols, delimiter)
        if cut is not None:
            # the quote opened on the first line never closed: that line is one row (with
            # the lines before the next record-like line as its continuation), and the
            # lines after are parsed again as the records they are
            raw = _parse_line(lines[0][1], delimiter)
            continuation = [line.rstrip("\r\n") for _, line in lines[1:cut]]
            if continuation and raw:
                raw[-1] = "\n".join([raw[-1], *continuation])
            feed.put_back(lines[cut:])
            issues.append(
                RowIssue(
                    ROW_BROKEN_RECORD,
                    f"line {start_line} opens a quote (\") that is never closed; the {len(lines) - cut} "
                    f"line(s) after it were read again as rows of their own",
                    fatal=False,
                )
            )
        elif len(lines) > 200 and (len(raw) != ncols or sum(line.count('"') for _, line in lines) % 2):
            issues.append(
                RowIssue(
                    ROW_BROKEN_RECORD,
                    f"the record starting at line {start_line} runs over {len(lines)} lines; "
                    "an unbalanced quote (\") probably swallowed the rows after it",
                    fatal=False,
                )
            )
        if not any(c.strip() for c in raw):
            continue  # blank line between records: not a row
        row_no += 1
        if [c.strip() for c in raw] == header_fields:
            issues.append(
                RowIssue(
                    ROW_BROKEN_RECORD,
                    f"line {start_line} repeats the header (two exports joined into one file?); not analysed",
                )
            )
            yield RawRow(row_no, dict.fromkeys(dump.columns), issues)
            continue
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
                raw = raw[: ncols - 1] + [delimiter.join(raw[ncols - 1 :])]
            else:
                raw = raw[:ncols]
        elif len(raw) < ncols:
            raw = raw + [""] * (ncols - len(raw))
        values: dict[str, Any] = dict(zip(dump.columns, raw, strict=True))
        _clean_values(values, dump.encoding or "utf-8", issues)
        yield RawRow(row_no, values, issues)


# ---------------------------------------------------------------------------------------
# JSON Lines / JSON
# ---------------------------------------------------------------------------------------
def _jsonl_lines(dump: Dump) -> Iterator[tuple[int, str]]:
    yield from enumerate(_text_lines(dump, universal=False), start=1)


def _jsonl_columns(dump: Dump) -> list[str]:
    cols: dict[str, None] = {}
    for _, line in _jsonl_lines(dump):
        line = line.strip().lstrip("\ufeff")
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


_LONE_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")


def _replace_surrogates(values: dict[str, Any], issues: list[RowIssue]) -> None:
    """JSON strings may hold lone surrogates: an escape such as \\ud800 (half of a
    character pair) or a byte no encoding could decode. They are not text (no file, no
    database can store them): each becomes U+FFFD and the column is reported."""
    for col, value in values.items():
        if isinstance(value, str) and _LONE_SURROGATE_RE.search(value):
            values[col] = _LONE_SURROGATE_RE.sub("\ufffd", value)
            issues.append(
                RowIssue(
                    ROW_UNDECODABLE,
                    "some characters are not text (a lone surrogate such as \\ud800, or bytes that "
                    "could not be decoded); they were replaced by �",
                    column=col,
                    fatal=False,
                )
            )


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
            obj = json.loads(stripped)
        except ValueError as exc:
            msg = getattr(exc, "msg", str(exc))
            where = f", column {exc.colno}" if hasattr(exc, "colno") else ""
            issues.append(RowIssue(ROW_BROKEN_RECORD, f"line {line_no} is not valid JSON ({msg}{where})"))
            yield RawRow(row_no, values, issues)
            continue
        if not isinstance(obj, dict):
            kind = "null" if obj is None else type(obj).__name__
            issues.append(RowIssue(ROW_BROKEN_RECORD, f"line {line_no} is JSON but not an object (it is a {kind})"))
            yield RawRow(row_no, values, issues)
            continue
        values.update(_flatten(obj))
        _replace_surrogates(values, issues)
        _clean_values(values, dump.encoding or "utf-8", issues)
        yield RawRow(row_no, values, issues)


def _json_records(dump: Dump) -> list[Any]:
    try:
        data = json.loads("".join(_text_lines(dump, universal=False)).lstrip("\ufeff"))
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
            _replace_surrogates(values, issues)
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
    header_idx = _header_index(rows)
    if header_idx is None:
        return 0, [], []
    header = _unique_headers(["" if v is None else str(v) for v in rows[header_idx][1]])
    data = [(r, v) for r, v in rows[header_idx + 1 :] if any(x not in (None, "") for x in v)]
    return rows[header_idx][0], header, data


def _header_index(rows: list[tuple[int, list[Any]]], look: int = 20) -> int | None:
    """The header row of a sheet: reports often put a title (merged across the table) and
    blank rows above it. The first of the top rows with at least two distinct names and a
    text column wins; else the first with two distinct names; else the first non-empty."""
    from voc.ingest.columns import find_text_column

    filled = [i for i, (_, v) in enumerate(rows) if any(x not in (None, "") for x in v)][:look]
    if not filled:
        return None
    distinct = [i for i in filled if len({str(x) for x in rows[i][1] if x not in (None, "")}) >= 2]
    for i in distinct:
        names = _unique_headers(["" if v is None else str(v) for v in rows[i][1]])
        if find_text_column(names) is not None:
            return i
    return distinct[0] if distinct else filled[0]


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
        header_row, header, data = _sheet_table(wb[title])
        for r_idx, vals in data:
            values: dict[str, Any] = dict.fromkeys(dump.columns)
            values.update(zip(header, vals, strict=False))
            if "sheet" in dump.columns and "sheet" not in header:
                values["sheet"] = title
            issues: list[RowIssue] = []
            _clean_values(values, "utf-8", issues)
            # data rows count from the header (row 1 is the first row under it)
            yield RawRow(r_idx - header_row, values, issues, sheet=title)


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
