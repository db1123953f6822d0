"""Every explorer page through Streamlit's AppTest, against the fixture store.

Widgets are driven by their keys; the numbers on the pages are compared with voc.metrics
computed on the same store (the library is tested by hand-made tables in test_metrics.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from voc import metrics as m
from voc.metrics import Filters

from .conftest import APP

pytestmark = pytest.mark.filterwarnings("ignore")


def run(page: str | None = None, **session: object) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=90)
    for k, v in session.items():
        at.session_state[k] = v
    at.run()
    if page:
        at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metric(at: AppTest, label_start: str) -> str:
    found = [x.value for x in at.metric if x.label.startswith(label_start)]
    assert found, [x.label for x in at.metric]
    return found[0]


def texts(at: AppTest) -> str:
    return "\n".join(
        [x.value for x in at.markdown]
        + [x.value for x in at.caption]
        + [x.value for x in at.html]
        + [x.value for x in at.subheader]
        + [x.value for x in at.header]
        + [x.value for x in at.info]
        + [x.value for x in at.warning]
        + [x.value for x in at.error]
        + [x.value for x in at.success]
    )


@pytest.fixture()
def snap(store: Path):
    con = m.open_snapshot(store)
    yield con
    con.close()


LAST4 = Filters(period=(m.default_period(__import__("datetime").date(2026, 9, 6), 4)))


def test_overview_numbers_and_a_filter_change(store: Path, snap) -> None:
    at = run()
    assert at.title[0].value == "概要 Overview"
    assert at.selectbox(key="f_period_preset").value == "直近4週"
    assert metric(at, "件数") == f"{m.count(snap, LAST4):,}" == "161"
    nps = m.nps(snap, LAST4)
    assert metric(at, "NPS") == f"{nps.score:+.0f}"
    assert "2026-07-13〜2026-08-09 と比較" in texts(at)
    table = next(h.value for h in at.html if '<table class="voc-table">' in h.value)
    pp = m.overview(snap, LAST4).pain_points
    first = pp.iloc[0]
    assert first["label"] == "配送・遅延・到着"
    assert f"<td>{first['label']}</td><td class='n'>{first['complaints']}</td>" in table
    assert f"<td class='n'>{first['previous']}</td>" in table
    # change filters: delivery only, then all dates
    at.multiselect(key="f_touchpoints").set_value(["delivery"]).run()
    assert metric(at, "件数") == str(m.count(snap, LAST4.with_(touchpoints=("delivery",))))
    at.selectbox(key="f_period_preset").set_value("全期間").run()
    assert metric(at, "件数") == str(m.count(snap, Filters(touchpoints=("delivery",))))
    assert "全期間" in texts(at)


def test_filters_survive_a_page_switch(store: Path) -> None:
    at = run()
    at.multiselect(key="f_channels").set_value(["review"]).run()
    at.switch_page("app_pages/topics.py").run()
    assert at.multiselect(key="f_channels").value == ["review"]


def test_pain_points_cell_opens_its_verbatims(store: Path, snap) -> None:
    at = run("pain_points")
    assert at.title[0].value == "ペインポイント Pain points"
    at.selectbox(key="pp_touchpoint").set_value("delivery")
    at.selectbox(key="pp_topic").set_value(0).run()
    assert any(h.value == "配送 × 配送・遅延・到着" for h in at.subheader)
    sel = LAST4.with_(touchpoints=("delivery",), topics=(0,))
    n = m.count(snap, sel)
    assert f"{n} 件・うち不満" in texts(at)
    cards = [h.value for h in at.html if 'class="voc-card"' in h.value]
    assert len(cards) == min(n, 10)
    first = m.verbatims(snap, sel, 1, 10, "most_negative").rows["text"].iloc[0].split("\n")[-1]
    assert first[:10] in cards[0]


def test_topics_page_opens_a_topic(store: Path, snap) -> None:
    at = run("topics")
    at.selectbox(key="topic_select").set_value(1).run()
    assert at.header[0].value == "アプリ・動作・クーポン"
    assert "クーポン" in texts(at)  # keyword chips
    row = m.topics_overview(snap, LAST4).set_index("topic_id").loc[1]
    assert metric(at, "声の件数") == f"{int(row['voices']):,}"
    assert metric(at, "うち不満") == f"{int(row['complaints']):,}"
    assert any("代表的な声" == s.value for s in at.subheader)
    assert sum('class="voc-card"' in h.value for h in at.html) >= 1


def test_topics_page_says_when_the_layout_is_unsteady(store: Path) -> None:
    """`voc topics fit` records how much its five layouts agreed; below 0.5 the page tells
    the analyst to read the topics as a first sorting. A steady fit shows no such note."""
    import json

    from voc.store import Store
    from voc.topics.store import set_current_model

    stats = {"n_docs": 265, "layout_seeds": [42, 43, 44, 45, 46], "layout_seed": 45, "layout_agreement": 0.45}
    with Store(store) as st:
        set_current_model(st, "fixture-topics-v1", None, stats)
        assert json.loads(st.query("SELECT value FROM voc_meta WHERE key = 'topics_fit_stats'")["value"][0]) == stats
    at = run("topics")
    notes = [w.value for w in at.warning]
    assert any("265 件の不満" in w and "0.45" in w and "5 通り" in w for w in notes), notes
    with Store(store) as st:
        set_current_model(st, "fixture-topics-v1", None, {**stats, "layout_agreement": 0.8})
    at = run("topics")
    assert not any("一致度" in w.value for w in at.warning)


def test_trends_page_shows_the_delivery_spike(store: Path) -> None:
    at = run("trends")
    alerts = [e.value for e in at.error]
    assert any("配送・遅延・到着" in a and "2026\\-07\\-27" in a for a in alerts), alerts
    assert "Benjamini\\-Hochberg" in texts(at) or "Benjamini-Hochberg" in texts(at)
    at.radio(key="trend_by").set_value("touchpoint").run()
    assert any("「配送」" in e.value for e in at.error)


def test_drivers_page_in_plain_words(store: Path, snap) -> None:
    at = run("drivers", f_period_preset="全期間")
    assert at.radio(key="drv_outcome").value == "nps"
    dr = m.drivers(snap, Filters(), "nps", "topic")
    shown = texts(at)
    for sentence in dr[dr["clear"] & (dr["diff"] < 0)]["sentence"]:
        assert sentence[:12].replace("・", "・") in shown.replace("\\", "")
    at.radio(key="drv_outcome").set_value("rating")
    at.radio(key="drv_by").set_value("touchpoint").run()
    assert not at.exception
    assert "star rating (1-5)" in texts(at).replace("\\", "")


def test_drivers_widen_a_short_period(store: Path) -> None:
    at = run("drivers")
    assert any("最大26週" in i.value for i in at.info)


def test_explore_search_highlight_and_pagination(store: Path, snap) -> None:
    at = run("explore")
    at.text_input(key="ex_search").set_value("届く").run()
    f = LAST4.with_(search="届く")
    n = m.count(snap, f)
    assert n > 0
    assert f"**{n:,} 件**" in texts(at)
    cards = [h.value for h in at.html if 'class="voc-card"' in h.value]
    assert cards and all("<mark>" in c for c in cards)
    # sidebar filters of Explore
    at.text_input(key="ex_search").set_value("").run()
    at.multiselect(key="f_sentiments").set_value(["negative"])
    at.multiselect(key="f_emotions").set_value(["悲しみ"])
    at.multiselect(key="f_topics").set_value([0]).run()
    f = LAST4.with_(sentiments=("negative",), emotions=("悲しみ",), topics=(0,))
    assert f"**{m.count(snap, f):,} 件**" in texts(at)
    # pagination: 20 a page
    at.multiselect(key="f_sentiments").set_value([])
    at.multiselect(key="f_emotions").set_value([])
    at.multiselect(key="f_topics").set_value([]).run()
    total = m.count(snap, LAST4)
    assert at.pagination(key="ex_page").value == 1
    first = [h.value for h in at.html if 'class="voc-card"' in h.value]
    at.pagination(key="ex_page").set_value(2).run()
    second = [h.value for h in at.html if 'class="voc-card"' in h.value]
    assert len(first) == 20 and len(second) == min(20, total - 20) and first != second
    assert "2/9 ページ" in texts(at)
    assert (
        at.download_button(key="ex_csv") is not None
        and at.download_button(key="ex_xlsx") is not None
    )


def test_relabel_loop_stores_who_and_when(store: Path) -> None:
    at = run("explore", f_period_preset="全期間")
    at.text_input(key="ex_search").set_value("物流センター").run()
    button = next(b for b in at.button if b.key and b.key.startswith("ex_fix_"))
    rid = button.key.removeprefix("ex_fix_")
    button.click().run()
    assert at.selectbox(key="fix_sentiment") is not None
    at.selectbox(key="fix_sentiment").set_value("positive")
    at.selectbox(key="fix_emotion").set_value("安心")
    at.text_input(key="fix_note").set_value("お詫びへの感謝")
    at.text_input(key="fix_by").set_value("analyst-a")
    at.button(key="fix_save").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("修正を 2 件保存しました" in s.value for s in at.success)
    con = m.open_snapshot(store)
    rec = m.records(con, [rid]).iloc[0]
    assert (rec["sentiment"], rec["emotion"], bool(rec["corrected"])) == ("positive", "安心", True)
    hist = m.correction_history(con, rid)
    assert set(hist["corrected_by"]) == {"analyst-a"} and set(hist["field"]) == {
        "sentiment",
        "emotion",
    }
    out = m.corrections_export(con)
    assert out["record_id"].tolist() == [rid] and out["corrected_by"].iloc[0] == "analyst-a"
    con.close()
    assert any("修正済み" in h.value for h in at.html)
    assert any("修正した声 1 件" in e.label for e in at.expander)


def test_score_text_without_a_model(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from voc import app_support

    monkeypatch.setattr(
        app_support, "load_classifier", lambda: (None, "[E301] model folder not found")
    )
    at = run("score_text")
    at.text_area(key="score_text").set_value("配送が遅れて届きました。連絡は 090-1234-5678 まで。")
    at.button(key="score_go").click().run()
    assert any("no sentiment model found" in w.value for w in at.warning)
    assert any(
        "＜電話番号＞" in h.value and "090-1234" not in h.value for h in at.html
    )  # PII masked
    assert any("配送・遅延・到着" in md.value for md in at.markdown)  # nearest topic by keywords


def test_score_text_with_a_model(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from voc import app_support
    from voc.classify.predict import Prediction, SentenceResult

    class FakeClassifier:
        def predict(self, texts, sentence_level=False):
            return [
                Prediction(
                    sentiment="negative",
                    sentiment_score=-0.5,
                    mixed=True,
                    sentiment_probs={"negative": 0.6, "neutral": 0.3, "positive": 0.1},
                    emotion="怒り",
                    emotion_probs={
                        "平静": 0.1,
                        "怒り": 0.6,
                        "喜び": 0.1,
                        "悲しみ": 0.1,
                        "安心": 0.1,
                    },
                    sentences=[
                        SentenceResult("商品は気に入っています。", "positive", 0.8, "喜び"),
                        SentenceResult("ただ配送が遅れました。", "negative", -0.7, "怒り"),
                    ],
                )
                for _ in texts
            ]

    monkeypatch.setattr(app_support, "load_classifier", lambda: (FakeClassifier(), None))
    at = run("score_text")
    at.text_area(key="score_text").set_value("商品は気に入っています。ただ配送が遅れました。")
    at.button(key="score_go").click().run()
    html = "\n".join(h.value for h in at.html)
    assert "ネガティブ" in html and "混在" in html
    assert (
        "商品は気に入っています。" in html and "ただ配送が遅れました。" in html and "喜び" in html
    )
    assert not at.warning


def test_upload_adds_a_dump_everywhere(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, snap
) -> None:
    from voc import app_support

    monkeypatch.setattr(app_support, "load_classifier", lambda: (None, "no model in tests"))
    before = m.count(snap, Filters())
    dump = "回答ID,回答日,推奨度,ご意見\nU1,2026/09/01,2,配送が遅い\nU2,2026/09/02,10,店員さんが親切\nU3,2026/09/03,7,\n"
    at = run("upload")
    at.file_uploader(key="upload_files").set_value(
        ("new_survey.csv", dump.encode("utf-8"), "text/csv")
    ).run()
    at.button(key="upload_go").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("no sentiment model found" in w.value for w in at.warning)
    assert any("3 行を読み、2 行を分析しました" in s.value for s in at.success), [
        s.value for s in at.success
    ]
    at.switch_page("app_pages/overview.py").run()
    at.selectbox(key="f_period_preset").set_value("全期間").run()
    assert metric(at, "件数") == f"{before + 2:,}"


def test_password_gate(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOC_APP_PASSWORD", "s3cret")
    at = AppTest.from_file(str(APP), default_timeout=90).run()
    assert at.text_input(key="app_password") is not None and not at.metric
    at.text_input(key="app_password").set_value("wrong").run()
    assert any("Wrong password" in e.value for e in at.error) and not at.metric
    at.text_input(key="app_password").set_value("s3cret").run()
    assert at.title[0].value == "概要 Overview" and at.metric
    # a shared explorer reads $VOC_STORE only: no field to point it at another file
    assert "store_path" not in [t.key for t in at.text_input]


def test_customer_text_is_escaped(store: Path) -> None:
    import duckdb

    con = duckdb.connect(str(store))
    con.execute(
        "UPDATE feedback SET text = $t, text_normalized = $t, title = NULL WHERE record_id = (SELECT record_id "
        "FROM feedback WHERE is_voc AND channel = 'sns' ORDER BY created_at DESC LIMIT 1)",
        {"t": '<img src=x onerror="alert(1)"> [リンク](https://evil.example) **太字** 遅い'},
    )
    con.close()
    at = run("explore")
    at.text_input(key="ex_search").set_value("太字").run()
    cards = [h.value for h in at.html if 'class="voc-card"' in h.value]
    assert len(cards) == 1
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in cards[0] and "<img" not in cards[0]
    assert "[リンク](https://evil.example)" in cards[0]  # st.html shows Markdown as plain text
    assert not re.search(r"<a\b", cards[0])


def test_no_store_yet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOC_STORE", str(tmp_path / "none.duckdb"))
    monkeypatch.delenv("VOC_APP_PASSWORD", raising=False)
    at = AppTest.from_file(str(APP), default_timeout=90).run()
    assert any("No store yet" in i.value for i in at.info)


def test_sign_in_configured_without_authlib_says_what_to_install(store: Path) -> None:
    at = AppTest.from_file(str(APP), default_timeout=90)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x"}
    at.run()
    assert not at.metric  # nothing of the store is shown before sign-in
    try:
        import authlib  # noqa: F401
    except ImportError:
        assert any("streamlit[auth]" in e.value for e in at.error)
    else:
        assert at.button(key="login_button") is not None
