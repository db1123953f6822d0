#!/usr/bin/env python3
"""Hostile dumps: files that real exports and real customers produce, and that must never
lose a row or stop a batch.

Each ``case_*`` function writes its files into a folder and returns a :class:`Case` that
says, independently of voc, how many rows a person reading the files would count, which
rows must carry an error or a warning (and which code), which files must be refused as a
whole, and the exit status ``voc analyze`` must give.

Covered: CP932 with undecodable bytes, mixed UTF-8/CP932 lines, EUC-JP, BOMs (UTF-8,
UTF-16 LE/BE, UTF-16 without one, a BOM and a header in the middle of joined exports), NUL
bytes (in cells and as padding), a binary file among good
ones, unbalanced quotes, 1 MB cells, empty and header-only files, duplicate ids, Excel
with several sheets, merged cells and a title above the table, JSONL with broken lines and
lone surrogates, emoji ZWJ sequences, variation selectors, other scripts.

    python tests/hostile/make_hostile.py OUT_DIR      # write every case under OUT_DIR/<case>/

Standard library only, plus openpyxl for the Excel case.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HEADER = ["レビューID", "投稿日時", "評価", "レビュー本文"]
TEXTS = [
    "配送が遅れて箱が潰れていた。",
    "とても使いやすい。また買います！",
    "普通です、可もなく不可もなく",
    "店員さんの対応が丁寧でした（笑）",
    "アプリにログインできない。何度やってもエラー",
    "返金がまだされていません。どうなっているのか",
    "コスパ最高ｗｗｗ",
    "サイズが合わなかったので交換をお願いした",
]


@dataclass
class Expect:
    """What one output row must show: an error code, warning codes, text it must keep."""

    error: str | None = None
    warnings: tuple[str, ...] = ()
    error_mentions: tuple[str, ...] = ()  # words the error/warning must contain (column ...)
    text_has: str | None = None  # substring of the output's text column


@dataclass
class Case:
    name: str
    files: list[Path]
    rows: int  # data rows a person counts in the files (blank lines are not rows)
    # (file name, source_row) -> Expect; for a workbook the file name is "book.xlsx#sheet"
    expect: dict[tuple[str, int], Expect] = field(default_factory=dict)
    file_errors: dict[str, str] = field(default_factory=dict)  # file name -> error code
    exit_ok: bool = True
    ids: dict[tuple[str, int], str] = field(default_factory=dict)  # expected voc_id by row


def _rows(n: int, seed: int = 0, start: int = 1, prefix: str = "R") -> list[list[str]]:
    rng = random.Random(seed)
    return [
        [f"{prefix}{i}", f"2026/06/{1 + i % 28:02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}", str(1 + i % 5),
         f"{TEXTS[i % len(TEXTS)]}（{i}件目）"]
        for i in range(start, start + n)
    ]


def _csv_text(rows: list[list[str]], header: list[str] = HEADER, delimiter: str = ",", eol: str = "\r\n") -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator=eol)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------
def case_cp932_undecodable(d: Path) -> Case:
    rows = _rows(20, 1, prefix="C")
    data = _csv_text(rows).encode("cp932")
    # bytes that are neither CP932, UTF-8 nor EUC-JP inside row 5 and row 12's text
    for i in (5, 12):
        marker = rows[i - 1][3].encode("cp932")
        data = data.replace(marker, marker[:6] + b"\x81\xff\xfe\x82" + marker[6:])
    p = d / "reviews_cp932.csv"
    p.write_bytes(data)
    ex = {(p.name, i): Expect(warnings=("E202",), error_mentions=("レビュー本文",)) for i in (5, 12)}
    return Case("cp932_undecodable", [p], 20, ex)


def case_mixed_encodings(d: Path) -> Case:
    rows = _rows(30, 2, prefix="M")
    head = _csv_text(rows[:10]).encode("utf-8")
    mid = _csv_text(rows[10:20], header=[]).split("\r\n", 1)[1].encode("cp932")
    tail = _csv_text(rows[20:], header=[]).split("\r\n", 1)[1].encode("utf-8")
    p = d / "mixed.csv"
    p.write_bytes(head + mid + tail)
    ex = {(p.name, i): Expect(text_has=rows[i - 1][3][:8]) for i in (1, 11, 15, 20, 21, 30)}
    return Case("mixed_encodings", [p], 30, ex)


def case_boms(d: Path) -> Case:
    rows = _rows(6, 3, prefix="BO")
    text = _csv_text(rows)
    files = []
    for name, enc in (("bom_utf8.csv", "utf-8-sig"), ("bom_utf16le.csv", "utf-16-le"), ("bom_utf16be.csv", "utf-16-be"),
                      ("utf16_no_bom.csv", "utf-16-le")):
        p = d / name
        bom = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE}.get(enc, b"") if "no_bom" not in name else b""
        p.write_bytes(bom + text.encode(enc))
        files.append(p)
    pj = d / "bom.jsonl"
    pj.write_bytes(codecs.BOM_UTF8 + "".join(json.dumps(dict(zip(HEADER, r)), ensure_ascii=False) + "\n" for r in rows).encode())
    files.append(pj)
    ex = {(p.name, i): Expect(text_has=rows[i - 1][3][:8]) for p in files for i in (1, 6)}
    return Case("boms", files, 6 * len(files), ex)


def case_nul_bytes(d: Path) -> Case:
    rows = _rows(10, 4, prefix="N")
    rows[2][3] = "NUL\x00入りの\x00本文"
    rows[6][1] = "2026/06/07\x00"
    p = d / "nul.csv"
    p.write_bytes(_csv_text(rows).encode("utf-8"))
    # a dump padded with NUL bytes after the last line, as a crashed writer leaves it
    pad = d / "nul_padded.csv"
    pad.write_bytes(_csv_text(_rows(3, 5, prefix="NP")).encode("utf-8") + b"\x00" * 4096)
    ex = {(p.name, 3): Expect(text_has="NUL入りの本文")}
    return Case("nul_bytes", [p, pad], 13, ex)


def case_binary_among_good(d: Path) -> Case:
    good1 = d / "a_good.csv"
    good1.write_text(_csv_text(_rows(5, 6, prefix="X")), encoding="utf-8")
    png = d / "b_image.csv"
    rng = random.Random(7)
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(rng.randrange(256) for _ in range(3000)))
    noise = d / "c_noise.jsonl"
    noise.write_bytes(bytes(rng.randrange(256) for _ in range(5000)))
    xlsx = d / "d_fake.xlsx"
    xlsx.write_bytes(b"this is not a workbook")
    good2 = d / "e_good.jsonl"
    good2.write_text("".join(json.dumps({"id": f"J{i}", "text": TEXTS[i]}, ensure_ascii=False) + "\n" for i in range(4)), "utf-8")
    return Case(
        "binary_among_good",
        [good1, png, noise, xlsx, good2],
        9,
        file_errors={png.name: "E103", noise.name: "E103", xlsx.name: "E105"},
    )


def case_unbalanced_quotes(d: Path) -> Case:
    rows = _rows(300, 9, prefix="U")
    lines = _csv_text(rows).split("\r\n")
    # row 10: a quote opens the text and is never closed; row 150 quotes properly with a
    # line break inside (a legitimate multi-line cell); row 299 opens a quote at the end
    lines[10] = 'U10,2026/06/10 10:00,3,"壊れた引用で始まる本文'
    lines[150] = 'U150,2026/06/15 10:00,4,"正しく閉じた引用\n二行目もある"'
    lines[299] = 'U299,2026/06/29 10:00,2,"最後の行も閉じない'
    p = d / "unbalanced.csv"
    p.write_text("\r\n".join(lines), encoding="utf-8")
    # a short one: the quote swallows only two lines
    short_rows = _rows(5, 10, prefix="V")
    sl = _csv_text(short_rows).split("\r\n")
    sl[2] = 'V2,2026/06/02 10:00,5,"引用符が閉じない'
    q = d / "unbalanced_short.csv"
    q.write_text("\r\n".join(sl), encoding="utf-8")
    ex = {
        (p.name, 10): Expect(warnings=("E206",), error_mentions=("quote",), text_has="壊れた引用"),
        (p.name, 11): Expect(text_has=rows[10][3][:8]),
        (p.name, 150): Expect(text_has="二行目もある"),
        (p.name, 298): Expect(text_has=rows[297][3][:8]),
        (p.name, 299): Expect(warnings=("E206",), text_has="最後の行も閉じない"),
        (p.name, 300): Expect(text_has=rows[299][3][:8]),
        (q.name, 2): Expect(warnings=("E206",)),
        (q.name, 3): Expect(text_has=short_rows[2][3][:8]),
    }
    ids = {(p.name, i): f"U{i}" for i in (9, 10, 11, 12, 151, 300)}
    return Case("unbalanced_quotes", [p, q], 305, ex, ids=ids)


def case_huge_cells(d: Path) -> Case:
    rows = _rows(5, 11, prefix="H")
    rows[1][3] = ("長い本文です。" * 150_000)[:1_000_000]  # 1 MB of characters
    p = d / "huge.csv"
    p.write_text(_csv_text(rows), encoding="utf-8")
    j = d / "huge.jsonl"
    j.write_text(
        json.dumps({"id": "H1", "text": "短い"}, ensure_ascii=False) + "\n"
        + json.dumps({"id": "H2", "text": "x" * 1_000_000}) + "\n",
        encoding="utf-8",
    )
    ex = {(p.name, 2): Expect(warnings=("E203",)), (j.name, 2): Expect(warnings=("E203",))}
    return Case("huge_cells", [p, j], 7, ex)


def case_empty_alone(d: Path) -> Case:
    p = d / "empty.csv"
    p.write_bytes(b"")
    return Case("empty_alone", [p], 0, exit_ok=False)


def case_header_only_alone(d: Path) -> Case:
    p = d / "header_only.csv"
    p.write_text(",".join(HEADER) + "\r\n", encoding="utf-8")
    return Case("header_only_alone", [p], 0, exit_ok=False)


def case_empty_among_good(d: Path) -> Case:
    e = d / "a_empty.csv"
    e.write_bytes(b"")
    b = d / "b_bom_only.csv"
    b.write_bytes(codecs.BOM_UTF8)
    h = d / "c_header_only.tsv"
    h.write_text("\t".join(HEADER) + "\n", encoding="utf-8")
    j = d / "d_blank_lines.jsonl"
    j.write_text("\n\n  \n", encoding="utf-8")
    g = d / "e_good.csv"
    g.write_text(_csv_text(_rows(4, 12, prefix="E")), encoding="utf-8")
    return Case("empty_among_good", [e, b, h, j, g], 4)


def case_duplicate_ids(d: Path) -> Case:
    rows = _rows(8, 13, prefix="D")
    rows[5][0] = "D2"  # row 6 repeats row 2's id
    rows[7][0] = "D2"  # and row 8 again
    rows[6] = list(rows[3])  # row 7 repeats row 4 entirely (same id, same text)
    p = d / "dups.csv"
    p.write_text(_csv_text(rows), encoding="utf-8")
    ex = {
        (p.name, 6): Expect(warnings=("E204",), error_mentions=("duplicate id D2", "row 2")),
        (p.name, 7): Expect(warnings=("E204",), error_mentions=("duplicate id D4", "row 4")),
        (p.name, 8): Expect(warnings=("E204",), error_mentions=("duplicate id D2", "row 2")),
    }
    ids = {(p.name, 2): "D2", (p.name, 6): "D2~2", (p.name, 8): "D2~3", (p.name, 7): "D4~2"}
    return Case("duplicate_ids", [p], 8, ex, ids=ids)


def case_excel(d: Path) -> Case:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "6月"
    ws.append(["6月 店舗アンケート結果"])  # a title above the table, merged across it
    ws.merge_cells("A1:D1")
    ws.append([])
    ws.append(["回答ID", "日付", "コメント", "評価"])
    ws.append(["A1", "2026-06-01", "接客が丁寧だった", 5])
    ws.append(["A2", None, "レジが混んでいた", 2])
    ws.merge_cells("B4:B5")  # one date for two rows
    ws.append(["A3", "2026-06-02", "品揃えが良い", 4])
    ws.append(["A4", "2026-06-02", None, 3])  # no text: an error row, not a dropped one
    ws.append(["A5", "2026-06-03", "長いコメント。", 1])
    ws.append(["A6", "2026-06-03", None, 1])
    ws.merge_cells("C8:C9")  # a comment merged over two rows
    ws.append([None, None, None, None])  # a blank row inside the table
    ws.append(["A7", "2026-06-04", 12345, 3])  # a number where the text should be
    ws2 = wb.create_sheet("7月")
    ws2.append(["回答ID", "日付", "コメント", "評価"])
    ws2.append(["B1", "2026-07-01", "品切れが多い😡", 1])
    ws2.append(["B2", "2026-07-02", "👨‍👩‍👧‍👦家族で来店", "五"])  # a rating that is not a number
    summary = wb.create_sheet("集計")
    summary.append(["合計", 3])
    summary.append(["平均", 2.5])
    wb.create_sheet("空")
    p = d / "survey.xlsx"
    wb.save(p)
    f = p.name
    ex = {
        (f + "#6月", 1): Expect(text_has="接客が丁寧だった"),
        (f + "#6月", 2): Expect(text_has="レジが混んでいた"),
        (f + "#6月", 4): Expect(error="E201", error_mentions=("コメント",)),
        (f + "#6月", 5): Expect(text_has="長いコメント"),
        (f + "#6月", 6): Expect(text_has="長いコメント"),
        (f + "#6月", 8): Expect(text_has="12345"),
        (f + "#7月", 1): Expect(text_has="品切れが多い😡"),
        (f + "#7月", 2): Expect(warnings=("E204",), error_mentions=("評価",), text_has="👨‍👩‍👧‍👦"),
    }
    return Case("excel", [p], 9, ex)


def case_jsonl_broken(d: Path) -> Case:
    good = lambda i: json.dumps({"post_id": f"P{i}", "text": TEXTS[i % len(TEXTS)], "likes": i}, ensure_ascii=False)  # noqa: E731
    lines = [
        good(1),
        '{"post_id": "P2", "text": "途中で切れた行',  # truncated
        good(3),
        "",  # blank: not a row
        '["not", "an", "object"]',
        '{"post_id": "P6", "text": "surrogate \\ud800 here"}',  # a lone surrogate escape
        '{"post_id": "P7", "text": "pair \\ud83d\\ude00 ok"}',  # a valid surrogate pair
        '{"post_id": "P8", "text": "末尾にゴミ"} garbage',
        "null",
        good(10),
        '{"post_id": "P11", "text": "low \\udc81 surrogate"}',
        '{"post_id": "P12", "text": {"nested": "object"}}',
    ]
    p = d / "posts.jsonl"
    raw = "\r\n".join(lines).encode("utf-8")
    raw += b"\r\n" + '{"post_id": "P13", "text": "壊れたバイト'.encode() + b"\xff\xfe" + '入り"}'.encode()
    p.write_bytes(raw + b"\r\n")
    ex = {
        (p.name, 2): Expect(error="E206", error_mentions=("line 2",)),
        (p.name, 4): Expect(error="E206", error_mentions=("line 5",)),
        (p.name, 5): Expect(warnings=("E202",), text_has="surrogate"),
        (p.name, 6): Expect(text_has="pair 😀 ok"),
        (p.name, 7): Expect(error="E206", error_mentions=("line 8",)),
        (p.name, 8): Expect(error="E206", error_mentions=("line 9",)),
        (p.name, 10): Expect(warnings=("E202",), text_has="low"),
        (p.name, 12): Expect(warnings=("E202",), text_has="入り"),
    }
    return Case("jsonl_broken", [p], 12, ex)


SCRIPTS = [
    "家族👨‍👩‍👧‍👦で使ってます",
    "国旗🇯🇵とキーキャップ1️⃣",
    "肌色👍🏽いいね",
    "ハート❤️と❤︎の違い",
    "異体字 葛󠄀城 と 辻󠄀",
    "مرحبا، المنتج رائع",
    "สินค้าดีมาก ส่งเร็ว",
    "배송이 너무 늦어요",
    "Доставка была быстрой",
    "שלום \u200fעולם",
    "e\u0301te\u0301 combining",
    "ゼロ幅\u200bスペース",
    "\u202eRTL override",
    "顔文字(´・ω・`)ｼｮﾎﾞｰﾝ",
    "👍",
    "\u200b\u3000 ",  # nothing visible: an empty text
]


def case_scripts(d: Path) -> Case:
    rows = [[f"S{i}", "2026/06/01 10:00", "3", t] for i, t in enumerate(SCRIPTS, start=1)]
    p = d / "scripts.csv"
    p.write_text(_csv_text(rows), encoding="utf-8")
    j = d / "scripts.jsonl"
    j.write_text("".join(json.dumps({"id": r[0], "text": r[3]}) + "\n" for r in rows), encoding="utf-8")
    ex: dict[tuple[str, int], Expect] = {}
    for f in (p, j):
        for i, t in enumerate(SCRIPTS, start=1):
            ex[(f.name, i)] = Expect(text_has=t.strip("\u200b\u3000 ")[:4] or None)
        ex[(f.name, len(SCRIPTS))] = Expect(error="E201")
    return Case("scripts", [p, j], 2 * len(SCRIPTS), ex)


def case_joined_exports(d: Path) -> Case:
    """Two exports joined with cat: the second keeps its BOM and its header line."""
    first = _rows(4, 14, prefix="J")
    second = _rows(3, 15, start=5, prefix="J")
    p = d / "joined.csv"
    p.write_bytes(codecs.BOM_UTF8 + _csv_text(first).encode() + codecs.BOM_UTF8 + _csv_text(second).encode())
    ex = {(p.name, 5): Expect(error="E206", error_mentions=("header",)), (p.name, 6): Expect(text_has=second[0][3][:8])}
    return Case("joined_exports", [p], 8, ex, ids={(p.name, 6): "J5", (p.name, 8): "J7"})


def case_euc_jp(d: Path) -> Case:
    rows = _rows(8, 16, prefix="EU")
    p = d / "legacy_euc.csv"
    p.write_bytes(_csv_text(rows).encode("euc_jp"))
    return Case("euc_jp", [p], 8, {(p.name, i): Expect(text_has=rows[i - 1][3][:8]) for i in range(1, 9)})


def case_ragged_csv(d: Path) -> Case:
    p = d / "ragged.csv"
    text = (
        "レビューID,投稿日時,評価,レビュー本文,,レビュー本文\r"  # duplicate and blank headers, CR-only line ends
        "G1,2026/06/01,5,良い商品でした,,\r"
        "G2,2026/06/02,1,悪い,で,す,ね,\r"  # too many fields
        "G3,2026/06/03\r"  # too few fields: no text
        "\r"
        "G4,2026/06/04,3,\"引用\"\"内\"\"の引用\",,\r"
        "G5,2026/06/05,4,中途半端な\"引用\"符,,\r"
    )
    p.write_text(text, encoding="utf-8")
    ex = {
        (p.name, 1): Expect(text_has="良い商品"),
        (p.name, 2): Expect(warnings=("E206",)),
        (p.name, 3): Expect(error="E201"),
        (p.name, 4): Expect(text_has='引用"内"の引用'),
        (p.name, 5): Expect(text_has='中途半端な"引用"符'),
    }
    return Case("ragged_csv", [p], 5, ex)


CASES: dict[str, Callable[[Path], Case]] = {
    name.removeprefix("case_"): fn for name, fn in sorted(globals().items()) if name.startswith("case_")
}


def write_case(name: str, root: Path) -> Case:
    d = root / name
    d.mkdir(parents=True, exist_ok=True)
    return CASES[name](d)


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "hostile_dumps")
    for name in CASES:
        case = write_case(name, out)
        print(f"{name}: {len(case.files)} files, {case.rows} rows")
