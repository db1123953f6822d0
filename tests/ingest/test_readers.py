"""Readers on files of every format and encoding, generated here."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from voc.errors import InputError
from voc.ingest import open_dump, recognize_columns

ROWS = [
    {"レビューID": "R1", "投稿日時": "2026/06/03 14:22", "評価": "1", "レビュー本文": "配送が遅れて箱が潰れていた。"},
    {"レビューID": "R2", "投稿日時": "2026/06/04 09:10", "評価": "5", "レビュー本文": "とても使いやすい。\nまた買います！"},
    {"レビューID": "R3", "投稿日時": "2026/06/05 20:00", "評価": "3", "レビュー本文": "普通です、可もなく不可もなく"},
]
HEADER = list(ROWS[0])


def write_csv(path: Path, encoding: str, delimiter: str = ",", rows=ROWS) -> Path:
    with open(path, "w", encoding=encoding, newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=HEADER, delimiter=delimiter, lineterminator="\r\n")
        w.writeheader()
        w.writerows(rows)
    return path


def texts(path: Path, **kw) -> list[str]:
    dump = open_dump(path, **kw)
    return [r.values["レビュー本文"] for r in dump.rows()]


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("cp932", "cp932"), ("shift_jis", "cp932")],
)
def test_csv_encodings_are_detected(tmp_path: Path, encoding: str, expected: str) -> None:
    path = write_csv(tmp_path / "r.csv", encoding)
    dump = open_dump(path)
    assert dump.encoding == expected
    assert dump.columns == HEADER
    assert texts(path) == [r["レビュー本文"] for r in ROWS]


@pytest.mark.parametrize("delimiter", [",", "\t", ";", "|"])
def test_delimiter_is_sniffed(tmp_path: Path, delimiter: str) -> None:
    path = write_csv(tmp_path / "r.txt", "utf-8", delimiter)
    dump = open_dump(path)
    assert dump.delimiter == delimiter
    assert [r.values["評価"] for r in dump.rows()] == ["1", "5", "3"]


def test_tsv_extension(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.tsv", "utf-8", "\t")
    assert open_dump(path).delimiter == "\t"


def test_row_numbers_count_records_not_lines(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", "utf-8")
    assert [r.row for r in open_dump(path).rows()] == [1, 2, 3]


def test_undecodable_bytes_are_flagged_per_row(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", "cp932")
    data = path.read_bytes().replace("普通".encode("cp932"), b"\x81\xff\xfe")
    path.write_bytes(data)
    rows = list(open_dump(path).rows())
    assert len(rows) == 3
    assert not rows[0].issues and not rows[1].issues
    (issue,) = rows[2].issues
    assert issue.code == "E202" and issue.column == "レビュー本文"
    assert "\ufffd" in rows[2].values["レビュー本文"]


def test_mixed_utf8_and_cp932_lines_are_recovered(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    head = "id,本文\r\n1,最初の行はUTF-8です\r\n".encode()
    tail = "2,二行目はShift_JISで書かれた\r\n".encode("cp932")
    path.write_bytes(head + tail)
    rows = list(open_dump(path).rows())
    assert [r.values["本文"] for r in rows] == ["最初の行はUTF-8です", "二行目はShift_JISで書かれた"]
    assert not any(r.issues for r in rows)


def test_extra_fields_are_kept_in_the_last_column(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("id,本文\n1,良い,とても良い\n2,普通\n", encoding="utf-8")
    rows = list(open_dump(path).rows())
    assert rows[0].values["本文"] == "良い,とても良い"
    assert rows[0].issues[0].code == "E206" and not rows[0].issues[0].fatal
    assert rows[1].values["本文"] == "普通"


def test_nul_bytes_are_dropped(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes("id,本文\n1,NUL\x00入り\n".encode())
    (row,) = open_dump(path).rows()
    assert row.values["本文"] == "NUL入り"


def test_empty_and_header_only_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    dump = open_dump(empty)
    assert list(dump.rows()) == [] and dump.notes == ["the file is empty"]
    header_only = tmp_path / "header.csv"
    header_only.write_text("id,本文\n", encoding="utf-8")
    assert list(open_dump(header_only).rows()) == []


def test_binary_file_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "image.csv"
    path.write_bytes(bytes(range(256)) * 50)
    with pytest.raises(InputError, match="E103.*binary"):
        open_dump(path)


def test_missing_and_unknown_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="E101"):
        open_dump(tmp_path / "nope.csv")
    weird = tmp_path / "data.docx"
    weird.write_bytes(b"x")
    with pytest.raises(InputError, match="E102.*docx"):
        open_dump(weird)


def test_jsonl_with_a_broken_line(tmp_path: Path) -> None:
    path = tmp_path / "sns.jsonl"
    lines = [
        json.dumps({"post_id": "p1", "text": "最高！😊 #ミドリ生活館"}, ensure_ascii=False),
        '{"post_id": "p2", "text": "壊れた行',
        "",
        json.dumps({"post_id": "p3", "text": "配送遅すぎ", "likes": 3}, ensure_ascii=False),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    dump = open_dump(path)
    assert dump.columns == ["post_id", "text", "likes"]
    rows = list(dump.rows())
    assert [r.row for r in rows] == [1, 2, 3]
    assert rows[0].values["text"] == "最高！😊 #ミドリ生活館"
    assert rows[1].issues[0].code == "E206" and "line 2" in rows[1].issues[0].message
    assert rows[2].values["likes"] == 3


def test_json_array(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"items": [{"コメント": "良い"}, {"コメント": "悪い"}]}, ensure_ascii=False), "utf-8")
    assert [r.values["コメント"] for r in open_dump(path).rows()] == ["良い", "悪い"]


def test_xlsx_sheets_and_merged_cells(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "6月"
    ws.append(["日付", "コメント", "評価"])
    ws.append(["2026-06-01", "接客が丁寧だった", 5])
    ws.append([None, "レジが混んでいた", 2])
    ws.merge_cells("A2:A3")  # one date for two rows, as people format reports
    ws2 = wb.create_sheet("7月")
    ws2.append(["日付", "コメント", "評価"])
    ws2.append(["2026-07-01", "品切れが多い", 1])
    summary = wb.create_sheet("集計")
    summary.append(["合計", 3])
    path = tmp_path / "survey.xlsx"
    wb.save(path)
    dump = open_dump(path)
    assert dump.sheets == ["6月", "7月"]
    assert any("集計" in n for n in dump.notes)
    rows = list(dump.rows())
    assert [r.values["コメント"] for r in rows] == ["接客が丁寧だった", "レジが混んでいた", "品切れが多い"]
    assert rows[1].values["日付"] == "2026-06-01"  # merged cell filled
    assert [r.values["sheet"] for r in rows] == ["6月", "6月", "7月"]


def test_parquet(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "r.parquet"
    pq.write_table(pa.table({"id": [1, 2], "text": ["良い商品", "届かない"], "rating": [5.0, 1.0]}), path)
    rows = list(open_dump(path).rows())
    assert [r.values["text"] for r in rows] == ["良い商品", "届かない"]


HEADER_TABLE = [
    (["レビューID", "投稿日時", "評価", "レビュー本文"], {"id": "レビューID", "created_at": "投稿日時", "rating": "評価", "text": "レビュー本文"}),
    (["回答ID", "回答日", "推奨度", "ご意見", "接点"], {"id": "回答ID", "created_at": "回答日", "nps": "推奨度", "text": "ご意見", "touchpoint": "接点"}),
    (["post_id", "posted_at", "user", "text", "touchpoint"], {"id": "post_id", "created_at": "posted_at", "text": "text", "touchpoint": "touchpoint"}),
    (["conversation_id", "turn", "speaker", "text"], {"conversation_id": "conversation_id", "turn": "turn", "speaker": "speaker", "text": "text"}),
    (["Review Text", "Star Rating", "Channel"], {"text": "Review Text", "rating": "Star Rating", "channel": "Channel"}),
    (["ＣＯＭＭＥＮＴ", "日付"], {"text": "ＣＯＭＭＥＮＴ", "created_at": "日付"}),
    (["商品レビュー（自由記述）", "No"], {"text": "商品レビュー（自由記述）", "id": "No"}),
]


@pytest.mark.parametrize(("columns", "expected"), HEADER_TABLE)
def test_headers_are_recognised(columns: list[str], expected: dict[str, str]) -> None:
    found = {k: v for k, v in recognize_columns(columns).as_dict().items() if v}
    assert found == expected


def test_explicit_columns_win_and_are_checked() -> None:
    cmap = recognize_columns(["本文", "メモ"], {"text": "メモ"})
    assert cmap.text == "メモ"
    with pytest.raises(InputError, match="E111.*ない列"):
        recognize_columns(["本文"], {"text": "ない列"})
