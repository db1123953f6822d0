"""voc.metrics without Streamlit: hand-built stores whose numbers are worked out by hand,
plus the sample analysed into the explorer's fixture store (tests/app/fixture_store.py)."""

from __future__ import annotations

import csv
import importlib.util
import io
import math
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from voc import metrics as m
from voc.errors import StoreError
from voc.metrics import Filters
from voc.store import Store

_spec = importlib.util.spec_from_file_location(
    "voc_fixture_store", Path(__file__).parent / "app" / "fixture_store.py"
)
fixture_store = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(fixture_store)  # type: ignore[union-attr]

PROBS = {"negative": (0.9, 0.05, 0.05), "neutral": (0.2, 0.6, 0.2), "positive": (0.05, 0.05, 0.9)}


def make_store(path: Path, rows: list[dict], topics: dict[int, str] | None = None) -> Path:
    """A store from plain rows: id, ch, tp, at, nps, rating, sent, emo, topic, text, voc."""
    with Store(path) as st:
        for r in rows:
            text = r.get("text", f"テキスト {r['id']}")
            st.con.execute(
                "INSERT INTO feedback (record_id, voc_id, is_voc, channel, touchpoint, created_at, rating, nps, "
                "title, text, text_normalized, keywords) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    r["id"],
                    r["id"],
                    r.get("voc", True),
                    r.get("ch", "survey"),
                    r.get("tp", "other"),
                    r.get("at"),
                    r.get("rating"),
                    r.get("nps"),
                    r.get("title"),
                    text,
                    text,
                    r.get("keywords", []),
                ],
            )
            if r.get("sent"):
                pn, pu, pp = PROBS[r["sent"]]
                st.con.execute(
                    "INSERT INTO results (record_id, model_version, sentiment, sentiment_score, p_negative, p_neutral, "
                    "p_positive, emotion, emotion_probs) VALUES (?, 'test@1', ?, ?, ?, ?, ?, ?, '{}')",
                    [r["id"], r["sent"], pp - pn, pn, pu, pp, r.get("emo")],
                )
            if r.get("topic") is not None:
                st.con.execute(
                    "INSERT INTO topic_assignments VALUES (?, 'tm1', ?, 0.9, TIMESTAMP '2026-03-20 00:00:00')",
                    [r["id"], r["topic"]],
                )
        for tid, label in (topics or {}).items():
            st.con.execute(
                "INSERT INTO topics VALUES ('tm1', ?, ?, '[\"kw\"]', 0, '[]')", [tid, label]
            )
    return path


def d(day: int, month: int = 3) -> datetime:
    return datetime(2026, month, day, 12, 0)


# Week A = Mon 2026-03-02..03-08, week B = 03-09..03-15.
SMALL = [
    {
        "id": "a1",
        "ch": "survey",
        "tp": "delivery",
        "at": d(2),
        "nps": 2,
        "sent": "negative",
        "emo": "怒り",
        "topic": 0,
    },
    {
        "id": "a2",
        "ch": "survey",
        "tp": "delivery",
        "at": d(3),
        "nps": 5,
        "sent": "negative",
        "emo": "悲しみ",
        "topic": 0,
    },
    {
        "id": "a3",
        "ch": "survey",
        "tp": "store",
        "at": d(4),
        "nps": 9,
        "sent": "positive",
        "emo": "喜び",
        "topic": 1,
    },
    {
        "id": "a4",
        "ch": "review",
        "tp": "product",
        "at": d(5),
        "rating": 1,
        "sent": "negative",
        "emo": "悲しみ",
        "topic": 2,
    },
    {
        "id": "a5",
        "ch": "review",
        "tp": "product",
        "at": d(6),
        "rating": 5,
        "sent": "positive",
        "emo": "喜び",
        "topic": -1,
    },
    {
        "id": "b1",
        "ch": "survey",
        "tp": "delivery",
        "at": d(9),
        "nps": 0,
        "sent": "negative",
        "emo": "怒り",
        "topic": 0,
        "text": "配送が遅れて届いた箱が潰れていた",
        "keywords": ["配送", "遅れる", "届く", "箱", "潰れる"],
    },
    {
        "id": "b2",
        "ch": "survey",
        "tp": "delivery",
        "at": d(10),
        "nps": 6,
        "sent": "negative",
        "emo": "怒り",
        "topic": 0,
    },
    {
        "id": "b3",
        "ch": "survey",
        "tp": "delivery",
        "at": d(10),
        "nps": 3,
        "sent": "negative",
        "emo": "悲しみ",
        "topic": 0,
        "text": "ﾊﾟｯｷﾝが固い",
        "keywords": ["パッキン", "固い"],
    },
    {
        "id": "b4",
        "ch": "survey",
        "tp": "store",
        "at": d(11),
        "nps": 10,
        "sent": "positive",
        "emo": "安心",
        "topic": 1,
    },
    {
        "id": "b5",
        "ch": "survey",
        "tp": "store",
        "at": d(12),
        "nps": 8,
        "sent": "neutral",
        "emo": "平静",
        "topic": 1,
    },
    {
        "id": "b6",
        "ch": "review",
        "tp": "product",
        "at": d(13),
        "rating": 4,
        "sent": "positive",
        "emo": "喜び",
        "topic": 2,
    },
    {"id": "b7", "ch": "sns", "tp": "app", "at": d(14), "sent": "neutral", "emo": "平静"},
    {
        "id": "op",
        "ch": "call",
        "tp": "call_center",
        "at": d(10),
        "voc": False,
        "sent": "neutral",
        "emo": "平静",
    },
    {
        "id": "b8",
        "ch": "sns",
        "tp": "app",
        "at": None,
        "sent": "negative",
        "emo": "怒り",
        "topic": 3,
    },
]
LABELS = {0: "配送・遅延", 1: "店舗・接客", 2: "品質", 3: "アプリ", -1: "その他"}
WEEK_B = Filters(period=(date(2026, 3, 9), date(2026, 3, 15)))


@pytest.fixture()
def small(tmp_path: Path):
    path = make_store(tmp_path / "small.duckdb", SMALL, LABELS)
    con = m.open_snapshot(path)
    yield con, path
    con.close()


def test_docstring_examples() -> None:
    import doctest

    assert doctest.testmod(m).failed == 0


def test_filters_previous_period_has_the_same_length() -> None:
    assert WEEK_B.previous() == Filters(period=(date(2026, 3, 2), date(2026, 3, 8)))
    assert Filters().previous() is None
    assert m.default_period(date(2026, 9, 6), 4) == (date(2026, 8, 10), date(2026, 9, 6))


@pytest.mark.parametrize(
    ("counts", "score", "low", "high"),
    [
        ((31, 19, 50), -19.0, -36.24, -1.76),  # the sample survey: NPS -19, se = sqrt(.7739/100)
        ((4, 2, 4), 0.0, -55.44, 55.44),  # var = (0.4 + 0.4 - 0) / 10
        ((10, 0, 0), 100.0, 100.0, 100.0),
        ((0, 0, 0), None, None, None),
    ],
)
def test_nps_and_its_interval(counts, score, low, high) -> None:
    n = m.nps_from_counts(*counts)
    assert n.score == score
    if low is None:
        assert n.ci_low is None
    else:
        assert n.ci_low == pytest.approx(low, abs=0.01)
        assert n.ci_high == pytest.approx(high, abs=0.01)


def test_overview_against_the_previous_period(small) -> None:
    con, _ = small
    ov = m.overview(con, WEEK_B)
    # volume: b1..b7 (b8 has no date, op is an operator turn)
    assert (ov.current.volume, ov.previous.volume) == (7, 5)
    assert ov.volume.delta == 2 and ov.volume.relative == pytest.approx(0.4)
    assert ov.current.sentiment_counts == {"negative": 3, "neutral": 2, "positive": 2}
    assert ov.negative_share.delta == pytest.approx(3 / 7 - 3 / 5)
    # NPS B: 10 | 8 | 0 6 3 -> (1 - 3) / 5; A: 9 | - | 2 5 -> (1 - 2) / 3
    assert ov.current.nps.score == pytest.approx(-40.0)
    assert ov.previous.nps.score == pytest.approx(-100 / 3)
    assert ov.nps.delta == pytest.approx(-40 + 100 / 3)
    assert ov.nps.significant is False
    assert ov.rating.current == 4.0 and ov.rating.previous == 3.0
    assert ov.previous_complete
    pp = ov.pain_points
    assert pp[["topic_id", "label", "complaints", "previous", "delta"]].values.tolist() == [
        [0, "配送・遅延", 3, 2, 1]
    ]


def test_overview_without_data_before_does_not_compare(small) -> None:
    con, _ = small
    f = Filters(period=(date(2026, 3, 2), date(2026, 3, 8)))
    ov = m.overview(con, f)
    assert ov.current.volume == 5 and not ov.previous_complete
    assert ov.volume.delta is None and ov.nps.delta is None


@pytest.mark.parametrize(
    ("filters", "volume"),
    [
        (Filters(), 13),  # every voice, dated or not
        (WEEK_B, 7),
        (WEEK_B.with_(touchpoints=("delivery",)), 3),
        (WEEK_B.with_(channels=("review", "sns")), 2),
        (WEEK_B.with_(sentiments=("negative",)), 3),
        (WEEK_B.with_(emotions=("怒り",)), 2),
        (WEEK_B.with_(topics=(1,)), 2),
        (Filters(search="遅れる"), 1),  # by the stored lemma
        (Filters(search="パッキン"), 1),  # half-width text, NFKC-normalised search
        (Filters(search="配送 潰れ"), 1),
        (Filters(search="'; DROP TABLE feedback; --"), 0),  # a parameter, never SQL
        (Filters(search="テキスト B2"), 1),  # Latin letters: case-insensitive (RE2)
        (Filters(search="(b1"), 0),  # regex characters are literal
        (Filters(search="b.*"), 0),
    ],
)
def test_filters_count(small, filters, volume) -> None:
    con, _ = small
    assert m.count(con, filters) == volume
    assert m.headline(con, filters).volume == volume


def test_pain_points_cells(small) -> None:
    con, _ = small
    cells = m.pain_points(con, WEEK_B).sort_values(["touchpoint", "topic_id"])
    got = [
        (r.touchpoint, r.topic_id, r.label, r.volume, r.complaints, round(r.negativity, 3))
        for r in cells.itertuples()
    ]
    assert got == [
        ("delivery", 0, "配送・遅延", 3, 3, 0.9),
        ("product", 2, "品質", 1, 0, 0.05),
        ("store", 1, "店舗・接客", 2, 0, 0.125),
    ]


def test_weekly_fills_every_week_and_value(small) -> None:
    con, _ = small
    wk = m.weekly(con, Filters(), "sentiment")
    table = {(str(r.week.date()), r.key): r.n for r in wk.itertuples()}
    assert table == {
        ("2026-03-02", "negative"): 3,
        ("2026-03-02", "neutral"): 0,
        ("2026-03-02", "positive"): 2,
        ("2026-03-09", "negative"): 3,
        ("2026-03-09", "neutral"): 2,
        ("2026-03-09", "positive"): 2,
    }
    shares = wk[wk["week"] == "2026-03-09"].set_index("key")["share"]
    assert shares["negative"] == pytest.approx(3 / 7)


def test_sentiment_share_and_emotion_mix(small) -> None:
    con, _ = small
    share = m.sentiment_share(con, WEEK_B)
    assert share[["sentiment", "n"]].values.tolist() == [
        ["negative", 3],
        ["neutral", 2],
        ["positive", 2],
    ]
    emo = m.emotion_mix(con, WEEK_B).set_index("emotion")["n"].to_dict()
    assert emo == {"怒り": 2, "悲しみ": 1, "平静": 2, "安心": 1, "喜び": 1}


def test_verbatims_are_paginated(small) -> None:
    con, _ = small
    page = m.verbatims(con, Filters(), page=2, page_size=5, order="newest")
    assert (page.total, page.pages, page.page, len(page.rows)) == (13, 3, 2, 5)
    last = m.verbatims(con, Filters(), page=99, page_size=5)
    assert last.page == 3 and len(last.rows) == 3
    assert last.rows["record_id"].iloc[-1] == "b8"  # undated voices last
    worst = m.verbatims(con, WEEK_B, page=1, page_size=3, order="most_negative")
    assert set(worst.rows["sentiment"]) == {"negative"}


def test_topics_overview_and_labels(small) -> None:
    con, _ = small
    labels = m.topic_labels(con)
    assert labels == {0: "配送・遅延", 1: "店舗・接客", 2: "品質", 3: "アプリ", -1: m.NO_TOPIC_JA}
    t = m.topics_overview(con, Filters())
    assert t["topic_id"].tolist()[-1] == -1
    row = t[t["topic_id"] == 0].iloc[0]
    assert (row["voices"], row["complaints"], row["keywords"]) == (5, 5, ["kw"])  # a1 a2 b1 b2 b3


# -- spikes ---------------------------------------------------------------------------------
def _exact_tail(k: int, n: int, p: float) -> float:
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))


@pytest.fixture()
def spiky(tmp_path: Path):
    """9 weeks x 20 voices: topic 0 has 2 complaints a week, then 10 in week 9; topic 1 has
    1 a week throughout; the rest are neutral voices without a topic."""
    rows = []
    for w in range(9):
        at = datetime(2026, 1, 5, 10) + timedelta(weeks=w)
        x0 = 10 if w == 8 else 2
        for i in range(20):
            if i < x0:
                rows.append(
                    {
                        "id": f"w{w}t0_{i}",
                        "tp": "delivery",
                        "at": at,
                        "sent": "negative",
                        "emo": "怒り",
                        "topic": 0,
                    }
                )
            elif i == 19:
                rows.append(
                    {
                        "id": f"w{w}t1",
                        "tp": "app",
                        "at": at,
                        "sent": "negative",
                        "emo": "悲しみ",
                        "topic": 1,
                    }
                )
            else:
                rows.append(
                    {
                        "id": f"w{w}n{i}",
                        "tp": "store",
                        "at": at,
                        "sent": "neutral",
                        "emo": "平静",
                        "topic": -1,
                    }
                )
    path = make_store(tmp_path / "spiky.duckdb", rows, {0: "配送", 1: "アプリ"})
    con = m.open_snapshot(path)
    yield con
    con.close()


def test_spike_exact_conditional_test(spiky) -> None:
    sp = m.spikes(spiky, Filters())
    flagged = sp[sp["status"] == "spike"]
    assert [(str(r.week.date()), r.key) for r in flagged.itertuples()] == [("2026-03-02", 0)]
    r = flagged.iloc[0]
    # x = 10 vs 16 in 8 baseline weeks; exposures: other voices 10 this week, 8 x 18 before
    p0 = 10 / (10 + 144)
    assert (r["complaints"], r["baseline_complaints"], r["baseline_weeks"]) == (10, 16, 8)
    assert r["p"] == pytest.approx(_exact_tail(10, 26, p0), rel=1e-9)
    assert r["expected"] == pytest.approx(16 * 10 / 144)
    other = sp[(sp["key"] == 1) & (sp["week"] == r["week"])].iloc[0]
    assert other["p"] == pytest.approx(_exact_tail(1, 9, 19 / (19 + 152)), rel=1e-9)
    assert r["q"] == pytest.approx(min(2 * r["p"], 1.0))  # BH over the 2 topics of that week
    # weeks 5-8 are tested (4+ baseline weeks) and normal; weeks 1-4 are not tested
    assert sorted({str(w.date()) for w in sp["week"]}) == [
        "2026-02-02",
        "2026-02-09",
        "2026-02-16",
        "2026-02-23",
        "2026-03-02",
    ]
    assert set(sp[sp["week"] < r["week"]]["status"]) == {"normal"}
    assert "2026-03-02 の週" in m.spike_sentence(r) and "10 件" in m.spike_sentence(r)


def test_spikes_by_touchpoint_and_benjamini_hochberg(spiky) -> None:
    sp = m.spikes(spiky, Filters(), by="touchpoint")
    assert set(sp[sp["status"] == "spike"]["key"]) == {"delivery"}
    assert m.benjamini_hochberg([0.01, 0.04, 0.03, 0.2]) == pytest.approx(
        [0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.2]
    )


# -- drivers --------------------------------------------------------------------------------
def test_drivers_welch_interval(tmp_path: Path) -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    low = [2, 3, 4, 3, 3]
    high = [8, 9, 10, 9, 9, 8, 10]
    rows = [
        {"id": f"l{i}", "nps": v, "at": d(2), "sent": "negative", "topic": 0}
        for i, v in enumerate(low)
    ]
    rows += [
        {"id": f"h{i}", "nps": v, "at": d(2), "sent": "positive", "topic": 1}
        for i, v in enumerate(high)
    ]
    path = make_store(tmp_path / "drv.duckdb", rows, {0: "配送・遅延・到着", 1: "接客"})
    con = m.open_snapshot(path)
    dr = m.drivers(con, Filters(), outcome="nps")
    first = dr.iloc[0]
    ref = scipy_stats.ttest_ind(low, high, equal_var=False).confidence_interval(0.95)
    assert first["label"] == "配送・遅延・到着" and first["n"] == 5 and first["n_rest"] == 7
    assert first["diff"] == pytest.approx(-6.0)
    assert (first["ci_low"], first["ci_high"]) == (pytest.approx(ref.low), pytest.approx(ref.high))
    assert first["impact"] == pytest.approx(-6.0 * 5 / 12)
    assert first["nps"] == pytest.approx(-100.0) and first["nps_rest"] == pytest.approx(500 / 7)
    assert first["clear"]
    assert first["sentence"] == (
        f"「配送・遅延・到着」に触れた回答は、推奨度（0〜10）が他の回答より平均 6.0 点低い"
        f"（95%信頼区間 {-ref.high:.1f}〜{-ref.low:.1f} 点、n=5）。"
    )
    assert first["sentence_en"].startswith(
        "Voices about “配送・遅延・到着” give a likelihood to recommend (0-10) 6.0 points lower"
    )
    assert dr.iloc[1]["diff"] == pytest.approx(6.0)
    con.close()


def test_driver_sentence_when_unclear() -> None:
    row = {"label": "決済", "diff": -0.4, "ci_low": -1.1, "ci_high": 0.3, "n": 12, "clear": False}
    assert m.driver_sentence(row, "rating", "touchpoint") == (
        "接点「決済」の回答は、星評価（1〜5）が他の回答より平均 0.4 点低い（95%信頼区間 -0.3〜1.1 点、n=12）。"
        "ただし差ははっきりしません（0 の可能性があります）。"
    )


# -- search and highlight -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "query", "spans"),
    [
        ("配送が遅れて届いた", "遅れる", [(3, 5)]),  # lemma match: 遅れ(る)
        ("配送が遅れて届いた", "配送 届く", [(0, 2), (6, 8)]),
        ("ＡＰＰが落ちる", "app", [(0, 3)]),  # full-width, case-insensitive
        ("ﾊﾟｯｷﾝが固い", "パッキン", [(0, 5)]),  # half-width kana with a combining mark
        ("アプリアプリ", "アプリ", [(0, 6)]),  # adjacent matches merge
        ("配送が遅い", "", []),
        ("", "配送", []),
    ],
)
def test_highlight_spans(text, query, spans) -> None:
    assert m.highlight_spans(text, query) == spans


@pytest.mark.parametrize(
    ("text", "query", "html"),
    [
        ("<b>配送</b>が遅い", "配送", "&lt;b&gt;<mark>配送</mark>&lt;/b&gt;が遅い"),
        (
            '<img src=x onerror="alert(1)">遅い',
            "遅い",
            "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;<mark>遅い</mark>",
        ),
        ("一行目\n二行目", "二行", "一行目<br><mark>二行</mark>目"),
        ("<mark>", "mark", "&lt;<mark>mark</mark>&gt;"),
    ],
)
def test_highlight_html_escapes_customer_text(text, query, html) -> None:
    assert m.highlight_html(text, query) == html


# -- export and corrections ----------------------------------------------------------------
def test_export_csv_and_excel(small) -> None:
    con, _ = small
    df = m.export_frame(con, WEEK_B)
    assert list(df.columns) == [
        "record_id",
        "日時",
        "チャネル",
        "接点",
        "星評価",
        "推奨度",
        "感情極性",
        "スコア",
        "感情",
        "トピック",
        "本文",
    ]
    assert len(df) == 7 and set(df["接点"]) == {"配送", "店舗", "商品", "アプリ"}
    raw = m.to_csv_bytes(df)
    assert raw.startswith(b"\xef\xbb\xbf")
    assert len(list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))) == 8
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(m.to_excel_bytes(df)))
    assert wb.active.max_row == 8 and wb.active["K1"].value == "本文"
    searched = m.export_frame(
        con, Filters(search="遅れる", topics=(0,))
    )  # every filter, joined with topics
    assert searched["record_id"].tolist() == ["b1"] and searched["トピック"].tolist() == [
        "配送・遅延"
    ]


def test_excel_cells_are_never_formulas() -> None:
    import openpyxl
    import pandas as pd

    raw = m.to_excel_bytes(pd.DataFrame({"本文": ['=HYPERLINK("http://x")', "普通の声"]}))
    ws = openpyxl.load_workbook(io.BytesIO(raw)).active
    assert ws["A2"].value == '\'=HYPERLINK("http://x")' and ws["A2"].data_type == "s"


def test_corrections_roundtrip_and_training_export(small, tmp_path: Path) -> None:
    con, path = small
    con.close()
    t0 = datetime(2026, 3, 20, 9, 0)
    m.save_corrections(
        path,
        [
            m.Correction(
                "b5", "sentiment", "negative", "ana", old_value="neutral", corrected_at=t0
            ),
            m.Correction("b5", "emotion", "怒り", "ana", old_value="平静", corrected_at=t0),
            m.Correction("b7", "topic", "アプリ", "ana", corrected_at=t0),
        ],
    )
    m.save_corrections(
        path,
        [
            m.Correction(
                "b5",
                "sentiment",
                "positive",
                "ken",
                old_value="negative",
                corrected_at=datetime(2026, 3, 21, 9, 0),
                note="皮肉ではない",
            )
        ],
    )
    snap = m.open_snapshot(path)
    b5 = m.records(snap, ["b5"]).iloc[0]
    assert (b5["sentiment"], b5["model_sentiment"], b5["emotion"], b5["corrected"]) == (
        "positive",
        "neutral",
        "怒り",
        True,
    )
    assert m.records(snap, ["b7"]).iloc[0]["topic_id"] == 3
    assert m.headline(snap, WEEK_B).sentiment_counts == {"negative": 3, "neutral": 1, "positive": 3}
    out = m.corrections_export(snap)
    assert list(out.columns) == [
        "record_id",
        "text",
        "sentiment",
        "emotion",
        "topic",
        "corrected_by",
        "corrected_at",
    ]
    rows = {r.record_id: r for r in out.itertuples()}
    assert set(rows) == {"b5", "b7"}
    assert (
        rows["b5"].sentiment,
        rows["b5"].emotion,
        rows["b5"].topic,
        rows["b5"].corrected_by,
    ) == ("positive", "怒り", "店舗・接客", "ken")
    assert (rows["b7"].sentiment, rows["b7"].topic, rows["b7"].corrected_by) == (
        "neutral",
        "アプリ",
        "ana",
    )
    assert len(m.correction_history(snap, "b5")) == 3
    # the training reader counts the file as corrections (source kind "corrections")
    target = tmp_path / "corrections.csv"
    target.write_bytes(m.corrections_csv(snap))
    from voc.classify.data import load_labelled

    data = load_labelled([target])
    assert [s.kind for s in data.sources] == ["corrections"]
    assert len(data.examples) == 2
    snap.close()


@pytest.mark.parametrize(
    ("correction", "code"),
    [
        (m.Correction("b5", "sentiment", "angry", "ana"), "E451"),
        (m.Correction("b5", "emotion", "嫌悪", "ana"), "E451"),
        (m.Correction("b5", "topic", "ないトピック", "ana"), "E451"),
        (m.Correction("b5", "rating", "5", "ana"), "E451"),
        (m.Correction("b5", "sentiment", "negative", "  "), "E451"),
        (m.Correction("nope", "sentiment", "negative", "ana"), "E452"),
    ],
)
def test_bad_corrections_are_refused(small, correction, code) -> None:
    con, path = small
    con.close()
    with pytest.raises(StoreError) as err:
        m.save_corrections(path, [correction])
    assert err.value.code == code


def test_busy_store_is_reported(small) -> None:
    import subprocess
    import sys

    con, path = small
    con.close()
    holder = subprocess.Popen(  # another process (voc analyze) holds the store
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ok', flush=True); time.sleep(60)",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ok"
        with pytest.raises(StoreError) as err:
            m.save_corrections(path, [m.Correction("b5", "sentiment", "negative", "ana")])
        assert err.value.code == "E450"
        with pytest.raises(StoreError) as err:
            m.open_snapshot(path)
        assert err.value.code == "E402"
    finally:
        holder.kill()
        holder.wait()


def test_snapshot_errors(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as err:
        m.open_snapshot(tmp_path / "missing.duckdb")
    assert err.value.code == "E401"
    import duckdb

    duckdb.connect(str(tmp_path / "other.duckdb")).close()
    with pytest.raises(StoreError) as err:
        m.open_snapshot(tmp_path / "other.duckdb")
    assert err.value.code == "E453"


def test_snapshot_releases_the_file(small) -> None:
    _, path = small
    with Store(path) as st:  # a writer can open the store while a snapshot is in use
        assert st.count("feedback") == 14


def test_metrics_on_a_store_connection(small) -> None:
    _, path = small
    with Store(path, read_only=True) as st:
        assert m.count(st, WEEK_B) == 7


# -- the sample (fixture store) -------------------------------------------------------------
@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    path = fixture_store.build_fixture_store(tmp_path_factory.mktemp("sample") / "voc.duckdb")
    con = m.open_snapshot(path)
    yield con
    con.close()


def test_sample_summary(sample) -> None:
    s = m.summary(sample)
    assert (s.first_day, s.last_day) == (date(2026, 6, 1), date(2026, 9, 6))
    assert s.voices == 540  # reviews 182 + SNS 121 + survey 100 + customer turns 102 + 35
    assert set(s.touchpoints) == {
        "store",
        "ec_site",
        "app",
        "call_center",
        "delivery",
        "payment",
        "product",
    }
    # the survey: 31 promoters, 19 passives, 50 detractors (data/sample/README.md)
    assert m.nps(sample, Filters()).score == pytest.approx(-19.0)


def test_sample_delivery_spike_in_week_9(sample) -> None:
    sp = m.spikes(sample, Filters())
    spikes = sp[sp["status"] == "spike"]
    assert ("2026-07-27", "配送・遅延・到着") in {
        (str(r.week.date()), r.label) for r in spikes.itertuples()
    }
    by_tp = m.spikes(sample, Filters(), by="touchpoint")
    assert ("2026-07-27", "delivery") in {
        (str(r.week.date()), r.key) for r in by_tp[by_tp["status"] == "spike"].itertuples()
    }
