"""One test per reader/record fix found with the hostile dumps (see tests/hostile/make_hostile.py)."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pandas as pd
import pytest

from voc.ingest import open_dump
from voc.pipeline import analyze

HEADER = "id,本文,評価\r\n"


def rows_of(path: Path) -> list:
    return list(open_dump(path).rows())


# -- encodings ----------------------------------------------------------------------------
def test_utf8_lines_in_a_cp932_file_read_right(tmp_path: Path) -> None:
    """A UTF-8 line decodes as CP932 without error (as mojibake): lines are decoded one by
    one, UTF-8 first."""
    p = tmp_path / "mixed.csv"
    p.write_bytes(
        (HEADER + "1,シフトJISの行です,3\r\n").encode("cp932")
        + "2,こちらはUTF-8で書かれた行,4\r\n".encode()
        + "3,またシフトJIS,5\r\n".encode("cp932")
    )
    rows = rows_of(p)
    assert [r.values["本文"] for r in rows] == ["シフトJISの行です", "こちらはUTF-8で書かれた行", "またシフトJIS"]
    assert not any(r.issues for r in rows)


def test_bytes_cp932_maps_to_private_use_are_reported(tmp_path: Path) -> None:
    """CP932 'decodes' the stray bytes 0xFD-0xFF as private-use characters: not text."""
    p = tmp_path / "bad.csv"
    p.write_bytes(HEADER.encode() + "1,壊れた".encode() + b"\xff\xfe" + "バイト,3\r\n2,普通,4\r\n".encode())
    rows = rows_of(p)
    assert rows[0].values["本文"] == "壊れた\ufffdバイト"  # one � per run of bad bytes
    assert rows[0].issues[0].code == "E202" and rows[0].issues[0].column == "本文"
    assert rows[1].values["本文"] == "普通" and not rows[1].issues


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_is_text_not_binary(tmp_path: Path, encoding: str) -> None:
    p = tmp_path / "u16.csv"
    p.write_bytes((HEADER + "1,良い商品,5\r\n2,届かない,1\r\n").encode(encoding))
    dump = open_dump(p)
    assert dump.encoding == encoding and dump.columns == ["id", "本文", "評価"]
    assert [r.values["本文"] for r in dump.rows()] == ["良い商品", "届かない"]


def test_nul_padding_after_the_last_line_is_not_binary(tmp_path: Path) -> None:
    p = tmp_path / "padded.csv"
    p.write_bytes((HEADER + "1,良い,5\r\n").encode() + b"\x00" * 8192)
    assert [r.values["本文"] for r in rows_of(p)] == ["良い"]


def test_old_mac_line_ends(tmp_path: Path) -> None:
    p = tmp_path / "cr.csv"
    p.write_bytes("id,本文\r1,一行目\r2,二行目\r".encode())
    assert [r.values["本文"] for r in rows_of(p)] == ["一行目", "二行目"]


# -- unbalanced quotes ----------------------------------------------------------------------
def _write(tmp_path: Path, lines: list[str], name: str = "q.csv") -> Path:
    p = tmp_path / name
    p.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return p


def test_unclosed_quote_does_not_swallow_the_rows_after_it(tmp_path: Path) -> None:
    lines = ["id,本文,評価"] + [f"R{i},本文{i},3" for i in range(1, 50)]
    lines[5] = 'R5,"閉じない引用,3'
    rows = rows_of(_write(tmp_path, lines))
    assert len(rows) == 49
    assert [r.values["id"] for r in rows] == [f"R{i}" for i in range(1, 50)]
    assert rows[4].values["本文"] == "閉じない引用,3"
    (issue,) = rows[4].issues
    assert issue.code == "E206" and not issue.fatal and "line 6" in issue.message and "quote" in issue.message
    assert all(not r.issues for i, r in enumerate(rows) if i != 4)


def test_quote_closed_by_a_later_quoted_cell(tmp_path: Path) -> None:
    """The stray quote pairs with the opening quote of a later, legitimate cell."""
    lines = ["id,本文,評価", "R1,普通,3", 'R2,"閉じない,3', "R3,本文3,3", 'R4,"正しい引用\n二行目",4', "R5,最後,5"]
    rows = rows_of(_write(tmp_path, lines))
    assert [r.values["id"] for r in rows] == ["R1", "R2", "R3", "R4", "R5"]
    assert rows[3].values["本文"] == "正しい引用\n二行目"
    assert rows[1].issues[0].code == "E206"


def test_multi_line_cells_with_commas_are_left_alone(tmp_path: Path) -> None:
    text = "一行目, カンマあり\n二行目, さらに, カンマ\nR9,に見える行,3"
    p = tmp_path / "ok.csv"
    p.write_text(f'id,本文,評価\r\nR1,"{text}",5\r\nR2,次,4\r\n', encoding="utf-8")
    rows = rows_of(p)
    # the lines inside the cell do not read as records of this file (wrong first field or
    # wrong number of fields): the cell stays whole
    assert [r.values["id"] for r in rows] == ["R1", "R2"]
    assert rows[0].values["本文"] == text and not rows[0].issues


def test_unclosed_quote_with_continuation_lines(tmp_path: Path) -> None:
    lines = ["id,本文,評価", 'R1,"二行にわたる', "続きの行", "R2,次の行,4"]
    rows = rows_of(_write(tmp_path, lines))
    assert [r.values["id"] for r in rows] == ["R1", "R2"]
    assert rows[0].values["本文"] == "二行にわたる\n続きの行"


def test_single_column_file_with_an_unclosed_quote(tmp_path: Path) -> None:
    lines = ["コメント", "良い", '"閉じない', "普通", "悪い"]
    rows = rows_of(_write(tmp_path, lines))
    assert [r.values["コメント"] for r in rows] == ["良い", "閉じない", "普通", "悪い"]
    assert rows[1].issues[0].code == "E206"


def test_legit_long_quoted_cell_is_not_flagged(tmp_path: Path) -> None:
    transcript = "\n".join(f"OP:{i}番目の発言です" for i in range(300))
    p = tmp_path / "call.csv"
    p.write_text(f'id,本文\r\nC1,"{transcript}"\r\nC2,短い\r\n', encoding="utf-8")
    rows = rows_of(p)
    assert len(rows) == 2 and not rows[0].issues and rows[0].values["本文"] == transcript


# -- JSON ---------------------------------------------------------------------------------
def test_lone_surrogates_in_json_become_replacement_characters(tmp_path: Path) -> None:
    p = tmp_path / "s.jsonl"
    p.write_text('{"id": 1, "text": "a\\ud800b"}\n{"id": 2, "text": "ok \\ud83d\\ude00"}\n', encoding="utf-8")
    rows = rows_of(p)
    assert rows[0].values["text"] == "a\ufffdb" and rows[0].issues[0].code == "E202"
    assert rows[0].issues[0].column == "text" and not rows[0].issues[0].fatal
    assert rows[1].values["text"] == "ok 😀" and not rows[1].issues
    j = tmp_path / "s.json"
    j.write_text('[{"text": "x\\udc81y"}]', encoding="utf-8")
    (row,) = rows_of(j)
    assert row.values["text"] == "x\ufffdy" and row.issues[0].code == "E202"


def test_jsonl_with_bom_and_crlf(tmp_path: Path) -> None:
    p = tmp_path / "b.jsonl"
    p.write_bytes(codecs.BOM_UTF8 + b'{"text": "one"}\r\n{"text": "two"}\r\n')
    assert [r.values["text"] for r in rows_of(p)] == ["one", "two"]


# -- Excel --------------------------------------------------------------------------------
def test_excel_title_above_the_table(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["店舗アンケート 6月"])
    ws.merge_cells("A1:C1")
    ws.append([])
    ws.append(["No", "ご意見", "評価"])
    ws.append([1, "良かった", 5])
    ws.append([2, "待たされた", 2])
    p = tmp_path / "t.xlsx"
    wb.save(p)
    dump = open_dump(p)
    assert dump.columns == ["No", "ご意見", "評価"]
    rows = list(dump.rows())
    assert [(r.row, r.values["ご意見"]) for r in rows] == [(1, "良かった"), (2, "待たされた")]


# -- records ------------------------------------------------------------------------------
def test_duplicate_ids_are_stored_apart_and_said(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    p.write_text(HEADER + "A,一つ目,3\r\nB,二つ目,3\r\nA,三つ目,3\r\nA,四つ目,3\r\n", encoding="utf-8")
    analyze([p], store_path=tmp_path / "s.duckdb", output=tmp_path / "o.csv")
    out = pd.read_csv(tmp_path / "o.csv", dtype=str, keep_default_na=False)
    assert out["voc_id"].tolist() == ["A", "B", "A~2", "A~3"]
    assert out["warning"].tolist()[:2] == ["", ""]
    assert "duplicate id A, also on row 1; stored as A~2" in out["warning"][2]
    assert "duplicate id A, also on row 1; stored as A~3" in out["warning"][3]


def test_first_rows_survive_buffer_flushes(tmp_path: Path) -> None:
    from voc.ingest.seen import SeenIds

    seen = SeenIds(buffer=7, folder=tmp_path)
    for i in range(1, 200):
        assert seen.see(f"id{i}", i, "シート1" if i % 2 else None) == (1, None)
    assert seen.runs < 8  # merged two by two
    assert seen.see("id1", 500) == (2, (1, "シート1"))
    assert seen.see("id100", 501) == (2, (100, None))
    assert seen.see("id199", 502, "シート2") == (2, (199, "シート1"))
    assert seen.see("id1", 503) == (3, (1, "シート1"))
    assert seen.see("nope", 504) == (1, None)


def test_text_with_nothing_visible_is_an_empty_text(tmp_path: Path) -> None:
    p = tmp_path / "e.jsonl"
    p.write_text(json.dumps({"text": "\u200b\u3000\ufeff "}) + "\n" + json.dumps({"text": "👍"}) + "\n", "utf-8")
    analyze([p], store_path=tmp_path / "s.duckdb", output=tmp_path / "o.csv")
    out = pd.read_csv(tmp_path / "o.csv", dtype=str, keep_default_na=False)
    assert "E201" in out["error"][0] and "invisible" in out["error"][0]
    assert out["error"][1] == "" and out["text_normalized"][1] == "👍"


def test_euc_jp_is_not_read_as_cp932_mojibake(tmp_path: Path) -> None:
    """EUC-JP bytes also decode as CP932 (half-width katakana soup): the reading with kana wins."""
    p = tmp_path / "euc.csv"
    p.write_bytes((HEADER + "1,配送が遅れて箱が潰れていた,1\r\n").encode("euc_jp"))
    dump = open_dump(p)
    assert dump.encoding == "euc_jp"
    assert [r.values["本文"] for r in dump.rows()] == ["配送が遅れて箱が潰れていた"]


def test_joined_exports_header_line_is_an_error_row(tmp_path: Path) -> None:
    p = tmp_path / "joined.csv"
    p.write_bytes(
        codecs.BOM_UTF8 + (HEADER + "1,一つ目,3\r\n").encode() + codecs.BOM_UTF8 + (HEADER + "2,二つ目,4\r\n").encode()
    )
    rows = rows_of(p)
    assert [r.values["id"] for r in rows] == ["1", None, "2"]  # no BOM left in the id
    assert rows[1].issues[0].code == "E206" and rows[1].issues[0].fatal and "header" in rows[1].issues[0].message
