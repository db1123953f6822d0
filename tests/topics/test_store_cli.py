"""Topics in the store (views, assignments by `voc analyze`) and the `voc topics` commands."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from voc.config import VocConfig
from voc.pipeline import analyze
from voc.store import Store
from voc.topics import TopicConfig, TopicModeler
from voc.topics import store as topic_store
from voc.topics.scorer import TopicScorer

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"

VIEWS = (
    "topic_by_touchpoint",
    "topic_by_channel",
    "topic_weekly",
    "topic_sentiment",
    "topic_emotion",
)


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """data/sample analysed without models: complaints are chosen by rating / NPS."""
    path = tmp_path_factory.mktemp("store") / "voc.duckdb"
    analyze([SAMPLE], config=VocConfig.load(), store_path=path)
    return path


def test_fit_on_store_writes_topics_and_views(sample_store: Path, embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "voc.duckdb"
    path.write_bytes(sample_store.read_bytes())
    with Store(path) as st:
        ids, texts, rule = topic_store.load_complaints(st)
        assert rule == "rating" and len(texts) >= 80
        tm = TopicModeler(TopicConfig(seed=42, min_topic_size=8), embedding_model=embedder).fit(
            texts, ids
        )
        topic_store.write_topics(st, tm, str(tmp_path / "voc_topics"))
        assert st.count("topic_assignments") == len(ids)
        fit = json.loads(st.query("SELECT value FROM voc_meta WHERE key = 'topics_fit_stats'")["value"][0])
        assert fit["n_docs"] == len(ids) and fit["layout_seeds"] == [42, 43, 44, 45, 46]
        assert fit["layout_agreement"] == tm.fit_stats_["layout_agreement"]
        topics = st.query("SELECT * FROM topics ORDER BY topic_id")
        assert set(topics["topic_id"]) == set(range(-1, tm.n_topics))
        for view in VIEWS:
            df = st.query(f"SELECT * FROM {view}")
            assert len(df) > 0, view
            assert {"model_id", "topic_id", "label", "n"} <= set(df.columns)
        weekly = st.query("SELECT * FROM topic_weekly")
        assert weekly["week"].nunique() >= 10  # the sample covers 14 weeks
        by_tp = st.query("SELECT touchpoint, sum(n) AS n FROM topic_by_touchpoint GROUP BY ALL")
        assert int(by_tp["n"].sum()) == len(ids)
        assert "delivery" in set(by_tp["touchpoint"])

        # a complaint assigned later by `voc analyze`, then a merge: it follows its topic
        extra = st.query(
            "SELECT record_id FROM feedback WHERE record_id NOT IN "
            "(SELECT record_id FROM topic_assignments) LIMIT 1"
        )["record_id"][0]
        topic_store.write_assignments(st, tm.model_id_, [extra], [1], [0.9])
        tm.rename(0, "最大の不満")
        new_id = tm.merge([0, 1])
        topic_store.update_curation(st, tm, tm.last_mapping_)
        moved = st.query(f"SELECT topic_id FROM topic_assignments WHERE record_id = '{extra}'")
        assert int(moved["topic_id"][0]) == new_id
        topics = st.query("SELECT * FROM topics")
        assert len(topics) == tm.n_topics + 1
        assert "最大の不満" in set(topics["label"])
        assert st.count("topic_by_touchpoint", f"topic_id = {new_id}") > 0


def test_topic_scorer_in_analyze(fitted, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = fitted.save(tmp_path / "voc_topics")
    scorer = TopicScorer.load(folder)
    scorer.modeler.embedding_model = fitted.embedding_model  # the session's vector cache
    out = tmp_path / "out.csv"
    store = tmp_path / "voc.duckdb"
    report = analyze(
        [SAMPLE / "reviews_ec.csv"],
        config=VocConfig.load(),
        store_path=store,
        output=out,
        scorers=[scorer],
    )
    assert report.rows == 182
    df = pd.read_csv(out, encoding="utf-8-sig")
    assert {"topic_id", "topic_label"} <= set(df.columns)
    low = df[df["評価"] <= 2]
    assert low["topic_id"].notna().all()  # every complaint got a topic (or -1)
    assert df[df["評価"] >= 4]["topic_id"].isna().all()  # praise is not a complaint
    summary = scorer.summary()
    assert summary["complaints"] == len(low)
    assert 0 <= summary["no_topic_share"] <= 1
    with Store(store, read_only=True) as st:
        assert st.count("topic_assignments") == len(low)
        drift = st.query("SELECT * FROM topic_drift")
        assert int(drift["complaints"].iloc[0]) == len(low)
        for view in VIEWS:
            assert view in st.tables()
        assert st.count("topics", f"model_id = '{fitted.model_id_}'") == fitted.n_topics + 1
    assert report.scorers["TopicScorer"]["complaints"] == len(low)

    # a re-run: unchanged rows keep their stored topics, nothing is embedded or counted again
    again = TopicScorer.load(folder)
    calls: list[int] = []
    transform = again.modeler.transform
    again.modeler.transform = lambda texts: (calls.append(len(texts)), transform(texts))[1]  # type: ignore[method-assign]
    out2 = tmp_path / "out2.csv"
    report2 = analyze([SAMPLE / "reviews_ec.csv"], config=VocConfig.load(), store_path=store, output=out2,
                      scorers=[again])
    assert report2.unchanged == 182 and calls == []
    assert again.summary()["complaints"] == 0
    df2 = pd.read_csv(out2, encoding="utf-8-sig")
    assert df2["topic_id"].fillna(-99).tolist() == df["topic_id"].fillna(-99).tolist()
    assert df2["topic_label"].fillna("").tolist() == df["topic_label"].fillna("").tolist()


def test_cli_fit_show_rename_merge_assign(voc_env: Path, tmp_path: Path, written) -> None:  # type: ignore[no-untyped-def]
    from voc.cli import app

    texts, domains = written(per_domain=20)
    src = tmp_path / "complaints.csv"
    with src.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["no", "分野", "本文"])
        for i, (t, d) in enumerate(zip(texts, domains, strict=True)):
            w.writerow([i, d, t])
        w.writerow([len(texts), "empty", ""])
    runner = CliRunner()
    model = tmp_path / "model"
    out = tmp_path / "topics.csv"
    res = runner.invoke(
        app,
        [
            "topics",
            "fit",
            str(src),
            "--text-col",
            "本文",
            "-o",
            str(out),
            "--model-dir",
            str(model),
            "--seed",
            "42",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "layout: seed " in res.output and "the most central of 5 (seeds 42-46;" in res.output
    df = pd.read_csv(out, encoding="utf-8-sig")
    assert len(df) == len(texts) + 1 and list(df.columns) == [
        "no",
        "分野",
        "本文",
        "topic_id",
        "topic_label",
    ]
    assert df["topic_id"].iloc[-1] == -1  # the empty row is kept, unassigned
    assert (df["topic_id"] == -1).mean() <= 0.16
    assert (model / "voc_topics.json").is_file()

    res = runner.invoke(app, ["topics", "show", "--model-dir", str(model)])
    assert res.exit_code == 0 and "keywords:" in res.output
    res = runner.invoke(app, ["topics", "rename", "0", "配送の不満", "--model-dir", str(model)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["topics", "merge", "1", "2", "--model-dir", str(model)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["topics", "show", "--model-dir", str(model)])
    assert "配送の不満 *" in res.output

    new = tmp_path / "new.csv"
    more, _ = written(per_domain=5, skip=40)
    pd.DataFrame({"本文": more}).to_csv(new, index=False)
    out2 = tmp_path / "assigned.csv"
    res = runner.invoke(
        app,
        [
            "topics",
            "assign",
            str(new),
            "--text-col",
            "本文",
            "--model-dir",
            str(model),
            "-o",
            str(out2),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "fit no existing topic" in res.output
    assert len(pd.read_csv(out2, encoding="utf-8-sig")) == len(more)


def test_topic_scorer_without_store(fitted) -> None:  # type: ignore[no-untyped-def]
    """score_frame (distributed engines) passes no store: the row's sentiment decides."""
    from types import SimpleNamespace as NS

    def row(i: int, text: str, sentiment: str) -> NS:
        rec = NS(record_id=f"x{i}", is_voc=True, text_normalized=text, rating=None, nps=None)
        return NS(ok=True, output={"sentiment": sentiment}, records=[rec])

    chunk = [
        row(0, "配達員が置き配したら荷物が盗まれた", "negative"),
        row(1, "店員さんがとても親切でした", "positive"),
    ]
    scorer = TopicScorer(fitted)
    scorer.score(chunk, None, "distributed")
    assert chunk[0].output["topic_id"] is not None and chunk[0].output["topic_label"]
    assert "topic_id" not in chunk[1].output
    assert scorer.summary()["complaints"] == 1


def test_analyze_finds_the_store_topic_model(fitted, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`voc analyze --store S` assigns topics with the model `voc topics fit` recorded in S."""
    import shutil

    from voc.cli import _store_topic_model
    from voc.topics.store import set_current_model

    store = tmp_path / "voc.duckdb"
    assert _store_topic_model(store) is None  # no store yet
    folder = fitted.save(tmp_path / "voc_topics")
    with Store(store) as st:
        set_current_model(st, fitted.model_id_, str(folder))
    assert _store_topic_model(store) == folder
    shutil.rmtree(folder)
    assert _store_topic_model(store) is None  # a model folder that is gone is not used
