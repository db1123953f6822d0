"""Topics in the results store: which complaints to fit on, topics, assignments and views.

Complaints are the customer's utterances (``feedback.is_voc``) whose sentiment is negative
or mixed (``results``); a store without any sentiment results falls back to low scores
(rating <= 2 or NPS <= 6).

After a fit or an assignment, the views that the explorer reads are rewritten as plain
tables for the current topic model (all carry ``model_id``, ``topic_id`` and ``label``;
``topic_id = -1`` is 未分類, complaints that fit no topic):

``topic_by_touchpoint``  n complaints per topic and touchpoint, share within the touchpoint
``topic_by_channel``     the same per channel
``topic_weekly``         per topic and ISO week (``week`` = its Monday), share within the week
``topic_sentiment``      topic x sentiment (negative/neutral/positive, ``mixed`` flag),
                         with the mean sentiment score
``topic_emotion``        topic x top emotion, share within the topic
``topic_drift``          per run of ``voc analyze``: complaints assigned, how many fit no
                         topic, their share, and whether a refit is recommended

``voc_meta`` gets ``topics_model_id`` (the current model) and ``topics_model_dir``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from voc.topics.config import OUTLIER_LABEL

logger = logging.getLogger(__name__)

VIEW_TABLES: tuple[str, ...] = (
    "topic_by_touchpoint",
    "topic_by_channel",
    "topic_weekly",
    "topic_sentiment",
    "topic_emotion",
)

_DRIFT_DDL = """
CREATE TABLE IF NOT EXISTS topic_drift (
    run_id        VARCHAR PRIMARY KEY,
    model_id      VARCHAR,
    complaints    INTEGER,
    no_topic      INTEGER,
    share         DOUBLE,
    baseline      DOUBLE,
    refit_recommended BOOLEAN,
    updated_at    TIMESTAMP
)
"""


def has_sentiment(store: Any) -> bool:
    return "results" in store.tables() and store.count("results", "sentiment IS NOT NULL") > 0


def complaint_sql(use_sentiment: bool) -> str:
    """SQL selecting ``record_id, text`` of the complaints (stable order)."""
    cond = (
        "(r.sentiment = 'negative' OR coalesce(r.sentiment_mixed, false))"
        if use_sentiment
        else "(f.rating <= 2 OR f.nps <= 6)"
    )
    return f"""
        SELECT f.record_id, f.text_normalized AS text
        FROM feedback f LEFT JOIN results r ON r.record_id = f.record_id
        WHERE coalesce(f.is_voc, true)
          AND f.text_normalized IS NOT NULL AND length(trim(f.text_normalized)) > 0
          AND {cond}
        ORDER BY f.record_id
    """


def load_complaints(store: Any) -> tuple[list[str], list[str], str]:
    """``(record_ids, texts, rule)`` of the store's complaints; ``rule`` says how they were
    chosen (``sentiment`` or ``rating``)."""
    use = has_sentiment(store)
    df = store.query(complaint_sql(use))
    return df["record_id"].tolist(), df["text"].tolist(), "sentiment" if use else "rating"


def topic_rows(tm: Any) -> list[dict[str, Any]]:
    """Rows of the ``topics`` table for ``tm`` (plus -1, 未分類)."""
    sizes = np.bincount(tm.topics_[tm.topics_ >= 0], minlength=tm.n_topics)
    rows = [
        {
            "model_id": tm.model_id_,
            "topic_id": info.topic_id,
            "label": info.label,
            "keywords": json.dumps(list(info.keywords), ensure_ascii=False),
            "size": int(sizes[info.topic_id]),
            "representative": json.dumps(
                [r for r in info.representative_ids if r], ensure_ascii=False
            ),
        }
        for info in tm.topic_info()
    ]
    rows.append(
        {
            "model_id": tm.model_id_,
            "topic_id": -1,
            "label": OUTLIER_LABEL,
            "keywords": "[]",
            "size": int(np.sum(tm.topics_ == -1)),
            "representative": "[]",
        }
    )
    return rows


def write_topics(store: Any, tm: Any, model_dir: str | None = None) -> None:
    """Replace the store's ``topics`` and ``topic_assignments`` with ``tm``'s fit
    (``probability`` = cosine similarity to the topic centroid when known)."""
    model_id = tm.model_id_
    sims = tm.document_similarity()
    now = datetime.now()
    assignments = [
        {
            "record_id": rid,
            "model_id": model_id,
            "topic_id": int(t),
            "probability": float(s),
            "assigned_at": now,
        }
        for rid, t, s in zip(tm.record_ids_, tm.topics_.tolist(), sims.tolist(), strict=True)
        if rid
    ]
    with store._lock:
        store.con.execute("DELETE FROM topics")
        store.con.execute("DELETE FROM topic_assignments")
    store.upsert_rows("topics", topic_rows(tm), key=("model_id", "topic_id"))
    if assignments:
        store.upsert_rows("topic_assignments", assignments, key=("record_id",))
    set_current_model(store, model_id, model_dir, tm.fit_stats_)
    write_views(store, model_id)


def update_curation(store: Any, tm: Any, mapping: dict[int, int] | None = None) -> None:
    """After a rename or merge of the store's current model: relabel ``topics``, move the
    assignments of merged topics to their new ids (``mapping`` old -> new, including the
    complaints that ``voc analyze`` assigned since the fit) and rewrite the views."""
    if "topics" not in store.tables():
        return
    model_id = tm.model_id_
    with store._lock:
        if mapping:
            pairs = sorted((int(a), int(b)) for a, b in mapping.items() if a != b)
            if pairs:
                case = " ".join(f"WHEN {a} THEN {b}" for a, b in pairs)
                store.con.execute(
                    f"UPDATE topic_assignments SET topic_id = CASE topic_id {case} ELSE topic_id END "
                    "WHERE model_id = ? AND topic_id >= 0",
                    [model_id],
                )
        store.con.execute("DELETE FROM topics WHERE model_id = ?", [model_id])
    store.upsert_rows("topics", topic_rows(tm), key=("model_id", "topic_id"))
    write_views(store, model_id)


def set_current_model(
    store: Any, model_id: str, model_dir: str | None, fit_stats: dict[str, Any] | None = None
) -> None:
    meta = [{"key": "topics_model_id", "value": model_id}]
    if model_dir:
        meta.append({"key": "topics_model_dir", "value": str(model_dir)})
    if fit_stats is not None:  # how the topics were fitted (the explorer shows the agreement)
        keep = ("n_docs", "layout_seeds", "layout_seed", "layout_agreement", "n_topics", "outlier_share")
        stats = {k: fit_stats[k] for k in keep if k in fit_stats}
        meta.append({"key": "topics_fit_stats", "value": json.dumps(stats)})
    store.upsert_rows("voc_meta", meta, key=("key",))


def current_model_dir(store: Any) -> str | None:
    if "voc_meta" not in store.tables():
        return None
    rows = store.con.execute("SELECT value FROM voc_meta WHERE key = 'topics_model_dir'").fetchall()
    return rows[0][0] if rows else None


def write_assignments(
    store: Any,
    model_id: str,
    record_ids: Sequence[str],
    topic_ids: Sequence[int],
    similarities: Sequence[float],
    topics_rows: Sequence[dict[str, Any]] | None = None,
) -> None:
    """Upsert new complaints' topics (``probability`` holds the cosine similarity)."""
    now = datetime.now()
    rows = [
        {
            "record_id": r,
            "model_id": model_id,
            "topic_id": int(t),
            "probability": float(s),
            "assigned_at": now,
        }
        for r, t, s in zip(record_ids, topic_ids, similarities, strict=True)
    ]
    if topics_rows and store.count("topics", f"model_id = '{model_id}'") == 0:
        store.upsert_rows("topics", list(topics_rows), key=("model_id", "topic_id"))
        set_current_model(store, model_id, None)
    store.upsert_rows("topic_assignments", rows, key=("record_id",))


def write_drift(
    store: Any,
    run_id: str,
    model_id: str,
    complaints: int,
    no_topic: int,
    baseline: float | None,
    refit_share: float,
) -> bool:
    """Record the no-topic share of this run; returns whether a refit is recommended."""
    share = no_topic / complaints if complaints else 0.0
    recommend = complaints > 0 and share > refit_share
    with store._lock:
        store.con.execute(_DRIFT_DDL)
    store.upsert_rows(
        "topic_drift",
        [
            {
                "run_id": run_id,
                "model_id": model_id,
                "complaints": complaints,
                "no_topic": no_topic,
                "share": share,
                "baseline": baseline,
                "refit_recommended": recommend,
                "updated_at": datetime.now(),
            }
        ],
        key=("run_id",),
    )
    return recommend


def write_views(store: Any, model_id: str) -> None:
    """(Re)write every view table for ``model_id`` (see the module docstring)."""
    con = store.con
    has_results = "results" in store.tables()
    base = f"""
        SELECT a.record_id, a.model_id, a.topic_id,
               coalesce(t.label, CASE WHEN a.topic_id = -1 THEN '{OUTLIER_LABEL}' END) AS label,
               coalesce(f.touchpoint, 'unknown') AS touchpoint,
               coalesce(f.channel, 'unknown') AS channel,
               CAST(date_trunc('week', f.created_at) AS DATE) AS week
               {
        ", r.sentiment, r.sentiment_mixed, r.sentiment_score, r.emotion"
        if has_results
        else ", NULL::VARCHAR AS sentiment, NULL::BOOLEAN AS sentiment_mixed, NULL::DOUBLE AS sentiment_score,"
        " NULL::VARCHAR AS emotion"
    }
        FROM topic_assignments a
        JOIN feedback f ON f.record_id = a.record_id
        LEFT JOIN topics t ON t.model_id = a.model_id AND t.topic_id = a.topic_id
        {"LEFT JOIN results r ON r.record_id = a.record_id" if has_results else ""}
        WHERE a.model_id = ?
    """
    views = {
        "topic_by_touchpoint": """
            agg AS (SELECT model_id, topic_id, label, touchpoint, count(*)::INTEGER AS n FROM base GROUP BY ALL)
            SELECT *, n / sum(n) OVER (PARTITION BY touchpoint) AS share_of_touchpoint,
                   n / sum(n) OVER (PARTITION BY topic_id) AS share_of_topic
            FROM agg ORDER BY touchpoint, n DESC, topic_id""",
        "topic_by_channel": """
            agg AS (SELECT model_id, topic_id, label, channel, count(*)::INTEGER AS n FROM base GROUP BY ALL)
            SELECT *, n / sum(n) OVER (PARTITION BY channel) AS share_of_channel,
                   n / sum(n) OVER (PARTITION BY topic_id) AS share_of_topic
            FROM agg ORDER BY channel, n DESC, topic_id""",
        "topic_weekly": """
            agg AS (SELECT model_id, topic_id, label, week, count(*)::INTEGER AS n
                    FROM base WHERE week IS NOT NULL GROUP BY ALL)
            SELECT *, n / sum(n) OVER (PARTITION BY week) AS share_of_week
            FROM agg ORDER BY week, topic_id""",
        "topic_sentiment": """
            agg AS (SELECT model_id, topic_id, label, coalesce(sentiment, 'unknown') AS sentiment,
                           coalesce(sentiment_mixed, false) AS mixed, count(*)::INTEGER AS n,
                           avg(sentiment_score) AS mean_sentiment_score
                    FROM base GROUP BY ALL)
            SELECT model_id, topic_id, label, sentiment, mixed, n,
                   n / sum(n) OVER (PARTITION BY topic_id) AS share_of_topic, mean_sentiment_score
            FROM agg ORDER BY topic_id, sentiment, mixed""",
        "topic_emotion": """
            agg AS (SELECT model_id, topic_id, label, coalesce(emotion, 'unknown') AS emotion,
                           count(*)::INTEGER AS n FROM base GROUP BY ALL)
            SELECT *, n / sum(n) OVER (PARTITION BY topic_id) AS share_of_topic
            FROM agg ORDER BY topic_id, n DESC, emotion""",
    }
    with store._lock:
        con.execute("BEGIN TRANSACTION")
        try:
            for name, sql in views.items():
                con.execute(
                    f"CREATE OR REPLACE TABLE {name} AS WITH base AS ({base}), {sql}", [model_id]
                )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
