"""The Parquet output of ``voc analyze -o``: chunks are gathered into row groups."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

import voc.output as output
from voc.output import OutputWriter

TEXTS = ["配送が遅くて困りました", "店員さんの対応がとても丁寧でした", "アプリが起動しない😡", "普通です"]


def _rows(start: int, n: int) -> list[dict[str, object]]:
    return [{"id": f"R{i}", "text": TEXTS[i % len(TEXTS)], "score": i / 10} for i in range(start, start + n)]


def test_parquet_chunks_become_few_row_groups_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(output, "PARQUET_GROUP_ROWS", 500)
    w = OutputWriter(tmp_path / "out.parquet", ["id", "text", "score"], {"score": "float"})
    for k in range(7):  # 7 chunks of 200 rows: groups of 600, 600 and the last 200
        w.write(_rows(200 * k, 200))
    assert not (tmp_path / "out.parquet").exists()  # only the .partial until close
    w.close()
    f = pq.ParquetFile(tmp_path / "out.parquet")
    assert [f.metadata.row_group(i).num_rows for i in range(f.metadata.num_row_groups)] == [600, 600, 200]
    table = f.read()
    assert table.column("id").to_pylist() == [f"R{i}" for i in range(1400)]
    assert table.column("text").to_pylist()[:4] == TEXTS
    assert table.column("score").to_pylist()[13] == pytest.approx(1.3)


def test_a_chunk_of_big_texts_is_written_without_waiting_for_more_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(output, "PARQUET_GROUP_BYTES", 1 << 20)
    w = OutputWriter(tmp_path / "out.parquet", ["id", "text"])
    big = "長文のレビューです。" * 40_000  # ~1.2 MB of UTF-8 in one cell
    w.write([{"id": "B1", "text": big}])
    assert w._pending == []  # flushed at once: the buffer stays bounded in bytes too
    w.write([{"id": "B2", "text": "短い"}])
    w.close()
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.column("id").to_pylist() == ["B1", "B2"]
    assert table.column("text").to_pylist()[0] == big


def test_an_empty_parquet_output_still_has_its_columns(tmp_path: Path) -> None:
    w = OutputWriter(tmp_path / "out.parquet", ["id", "text"])
    w.close()
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.num_rows == 0 and table.column_names == ["id", "text"]
