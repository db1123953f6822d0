"""Reading feedback dumps: formats, encodings, column mapping, transcripts."""

from __future__ import annotations

from voc.ingest.columns import ColumnMap, recognize_columns
from voc.ingest.readers import Dump, RawRow, detect_encoding, open_dump
from voc.ingest.records import OUTPUT_COLUMNS, FeedbackRecord, Prepared, RecordBuilder
from voc.ingest.transcripts import Turn, looks_like_transcript, split_transcript

__all__ = [
    "OUTPUT_COLUMNS",
    "ColumnMap",
    "Dump",
    "FeedbackRecord",
    "Prepared",
    "RawRow",
    "RecordBuilder",
    "Turn",
    "detect_encoding",
    "looks_like_transcript",
    "open_dump",
    "recognize_columns",
    "split_transcript",
]
