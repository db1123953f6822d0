from __future__ import annotations

import csv
from pathlib import Path

import pytest

from voc.config import VocConfig
from voc.ingest import RecordBuilder, looks_like_transcript, open_dump, recognize_columns, split_transcript
from voc.ingest.transcripts import speaker_role

ONE_CELL = """オペレーター：お電話ありがとうございます。ミドリ生活館サポートセンターです。
お客様：先週注文した掃除機がまだ届かないんですけど。
オペレーター：ご不便をおかけして申し訳ございません。お調べいたします。
お客様：もう一週間ですよ。
急いでるんです。
オペレーター：明日のお届けとなります。
お客様：わかりました、お願いします。"""

SHORT_PREFIXES = "OP:お電話ありがとうございます\nCU:アプリにログインできません\nOP:再起動をお試しください\nCU:直りました、ありがとう"


SPEAKER_TABLE = [
    ("オペレーター", "operator"), ("OP", "operator"), ("agent", "operator"), ("担当者", "operator"),
    ("お客様", "customer"), ("顧客", "customer"), ("CU", "customer"), ("customer", "customer"),
    ("ユーザー", "customer"), ("店長", "unknown"), (None, "unknown"),
]


@pytest.mark.parametrize(("label", "role"), SPEAKER_TABLE)
def test_speaker_roles(label: str | None, role: str) -> None:
    assert speaker_role(label) == role


def test_one_cell_transcript_is_split_into_turns() -> None:
    assert looks_like_transcript(ONE_CELL)
    turns = split_transcript(ONE_CELL)
    assert [t.role for t in turns] == ["operator", "customer", "operator", "customer", "operator", "customer"]
    assert turns[3].text == "もう一週間ですよ。\n急いでるんです。"  # continuation line joins its turn
    assert turns[1].text == "先週注文した掃除機がまだ届かないんですけど。"


def test_short_prefixes() -> None:
    turns = split_transcript(SHORT_PREFIXES)
    assert [(t.role, t.text) for t in turns][:2] == [
        ("operator", "お電話ありがとうございます"),
        ("customer", "アプリにログインできません"),
    ]


@pytest.mark.parametrize(
    "text",
    ["普通のレビューです。星3つ。", "A: これはメモ\nA: もう一行", "タイトル: 最悪でした\n本文: 届かない"],
)
def test_plain_text_is_not_a_transcript(text: str) -> None:
    assert not looks_like_transcript(text)


def _builder(path: Path, columns: list[str]) -> RecordBuilder:
    return RecordBuilder(VocConfig.load(), path, columns, recognize_columns(columns))


def test_one_cell_shape_gives_one_output_row_and_a_record_per_turn(tmp_path: Path) -> None:
    path = tmp_path / "calls.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([["通話ID", "通話日時", "内容"], ["C-1", "2026-06-01 10:00", ONE_CELL]])
    dump = open_dump(path)
    builder = _builder(path, dump.columns)
    (prepared,) = [builder.prepare(r) for r in dump.rows()]
    assert prepared.ok
    assert prepared.output["n_turns"] == 6 and prepared.output["role"] == "transcript"
    assert prepared.output["channel"] == "call"
    assert prepared.output["text_normalized"].startswith("先週注文した掃除機がまだ届かないんですけど。")
    assert "お調べいたします" not in prepared.output["text_normalized"]  # operator turns are context
    recs = prepared.records
    assert len(recs) == 6
    assert [r.is_voc for r in recs] == [False, True, False, True, False, True]
    assert {r.conversation_id for r in recs} == {"C-1"}
    assert [r.voc_id for r in recs][:2] == ["C-1#t1", "C-1#t2"]
    assert recs[1].touchpoint == "delivery"
    assert recs[0].keywords == []  # operator turns are not mined for topics


def test_turn_per_row_shape(tmp_path: Path) -> None:
    path = tmp_path / "chat_turns.csv"
    rows = [
        ["conversation_id", "turn", "speaker", "text", "created_at"],
        ["K1", "1", "agent", "お問い合わせありがとうございます", "2026-07-01T10:00:00+09:00"],
        ["K1", "2", "customer", "二重請求されています。返金してください", "2026-07-01T10:01:00+09:00"],
        ["K1", "3", "agent", "確認いたします", "2026-07-01T10:02:00+09:00"],
        ["K1", "4", "bot?", "自動メッセージ", "2026-07-01T10:03:00+09:00"],
    ]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    dump = open_dump(path)
    builder = _builder(path, dump.columns)
    prepared = [builder.prepare(r) for r in dump.rows()]
    assert len(prepared) == 4  # one output row per input row
    assert [p.output["role"] for p in prepared] == ["operator", "customer", "operator", "unknown"]
    assert [p.records[0].is_voc for p in prepared] == [False, True, False, True]
    assert prepared[1].records[0].touchpoint == "payment"
    assert prepared[1].output["voc_id"] == "K1#2"
    assert prepared[1].output["channel"] == "chat"
    assert "neither a known operator" in prepared[3].output["warning"]
