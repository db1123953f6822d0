"""Every number the explorer shows, computed with DuckDB SQL from the store's base tables.

The explorer never computes a figure itself: its pages call these functions, which are
tested without Streamlit (``tests/test_metrics.py``). Each takes a DuckDB connection (or a
:class:`voc.store.Store`) and a frozen :class:`Filters`, and returns plain dataclasses or
small DataFrames (aggregates and one page of verbatims, never the whole store).

The unit counted is a *voice*: one customer utterance stored with ``is_voc`` (a review,
an SNS post, a survey comment, one customer turn of a call or chat). Labels are the
model's ``results`` with the analysts' latest corrections applied over them.

Working set
-----------
:func:`open_snapshot` copies what the explorer needs into an in-memory DuckDB database and
closes the file at once, so the explorer never holds a lock on the store (``voc analyze``
can write while it is open). On a connection to the store file itself, the same relation
is created as a temporary view by :func:`ensure_items`.

Statistics (what the pages say, and why)
-----------------------------------------
* **NPS** = % promoters (9-10) - % detractors (0-6), with a 95% Wald interval from the
  multinomial variance ``(p_pro + p_det - (p_pro - p_det)^2) / n``.
* **Spikes**: for each topic (or touchpoint) and week, the week's complaints (negative
  voices) are compared with the same topic's complaints in the 8 weeks before
  (at least 4 weeks with data) by the *exact conditional test for two Poisson rates*
  (Przyborowski & Wilenski): given ``x_week + x_base``, ``x_week`` is binomial with
  ``p = E_week / (E_week + E_base)``, where the exposures ``E`` are the numbers of all other
  voices in those weeks (so a week with more feedback overall does not alert by itself).
  The one-sided p-values of the topics tested in one week are corrected with
  Benjamini-Hochberg; a *spike* is ``q < 0.10`` with at least 3 complaints and 1.5x the
  baseline rate; ``p < 0.05`` before correction is shown as *watch*. Weeks already
  flagged as spikes are left out of later baselines (so week 10 is not compared with the
  spike of week 9).
* **Drivers**: mean outcome (NPS 0-10 score or star rating) of voices that mention a topic
  (or come from a touchpoint) minus the mean of all other voices, with a Welch 95% CI;
  ``impact`` = difference x share of voices, i.e. how much the overall mean moves.

>>> f = Filters(period=(date(2026, 8, 10), date(2026, 9, 6)), touchpoints=("delivery",))
>>> f.previous().period
(datetime.date(2026, 7, 13), datetime.date(2026, 8, 9))
"""

from __future__ import annotations

import csv
import functools
import html
import io
import logging
import math
import re
import unicodedata
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from voc.errors import StoreError

logger = logging.getLogger(__name__)

# -- labels and colours (one place: every page uses these) -------------------------------
SENTIMENTS: tuple[str, ...] = ("negative", "neutral", "positive")
EMOTIONS: tuple[str, ...] = ("怒り", "悲しみ", "平静", "安心", "喜び")
SENTIMENT_JA: dict[str, str] = {
    "negative": "ネガティブ",
    "neutral": "ニュートラル",
    "positive": "ポジティブ",
}
SENTIMENT_COLORS: dict[str, str] = {
    "negative": "#D1495B",
    "neutral": "#9AA0A6",
    "positive": "#2E86AB",
}
# the same colours keyed by the Japanese names (charts label their legends in Japanese)
SENTIMENT_COLORS_JA: dict[str, str] = {SENTIMENT_JA[k]: v for k, v in SENTIMENT_COLORS.items()}
EMOTION_COLORS: dict[str, str] = {
    "怒り": "#B2182B",
    "悲しみ": "#6A51A3",
    "平静": "#9AA0A6",
    "安心": "#2A9D8F",
    "喜び": "#F4A261",
}
TOUCHPOINT_JA: dict[str, str] = {
    "store": "店舗",
    "ec_site": "ECサイト",
    "app": "アプリ",
    "call_center": "コールセンター",
    "delivery": "配送",
    "payment": "決済",
    "product": "商品",
    "other": "その他",
}
CHANNEL_JA: dict[str, str] = {
    "review": "レビュー",
    "sns": "SNS",
    "call": "通話",
    "survey": "アンケート",
    "chat": "チャット",
    "email": "メール",
    "other": "その他",
}
NO_TOPIC = -1
NO_TOPIC_JA = "未分類"  # as voc.topics labels topic -1 (fits no topic)
CORRECTION_FIELDS: tuple[str, ...] = ("sentiment", "emotion", "topic")
CORRECTIONS_EXPORT_COLUMNS: tuple[str, ...] = (
    "record_id",
    "text",
    "sentiment",
    "emotion",
    "topic",
    "corrected_by",
    "corrected_at",
)


def missing(value: Any) -> bool:
    """True for None, NaN, pandas NA/NaT (what a NULL becomes in a DataFrame)."""
    if value is None:
        return True
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists and other non-scalars are values
        return False


def touchpoint_ja(code: str | None) -> str:
    return TOUCHPOINT_JA.get(code or "other", code or "その他")


def channel_ja(code: str | None) -> str:
    return CHANNEL_JA.get(code or "other", code or "その他")


def sentiment_ja(code: str | None) -> str:
    return SENTIMENT_JA.get(code or "", code or "未判定")


# -- filters --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Filters:
    """What the analyst selected. Hashable, so it keys ``st.cache_data``.

    ``period`` is an inclusive (first day, last day) pair; ``None`` means all dates (voices
    without a date are then included too). Empty tuples mean "no restriction".
    ``search`` is free text: whitespace-separated terms, all of which must match.
    """

    period: tuple[date, date] | None = None
    channels: tuple[str, ...] = ()
    touchpoints: tuple[str, ...] = ()
    sentiments: tuple[str, ...] = ()
    emotions: tuple[str, ...] = ()
    topics: tuple[int, ...] = ()
    search: str = ""

    def with_(self, **changes: Any) -> Filters:
        return replace(self, **changes)

    def previous(self) -> Filters | None:
        """The same filters over the period of equal length just before this one."""
        if self.period is None:
            return None
        start, end = self.period
        days = (end - start).days + 1
        return replace(self, period=(start - timedelta(days=days), start - timedelta(days=1)))

    @property
    def days(self) -> int | None:
        return None if self.period is None else (self.period[1] - self.period[0]).days + 1


def where_clause(f: Filters, *, ignore: Iterable[str] = ()) -> tuple[str, list[Any]]:
    """SQL condition over ``voc_items`` and its parameters (user input only as parameters)."""
    skip = set(ignore)
    clauses: list[str] = []
    params: list[Any] = []
    if f.period is not None and "period" not in skip:
        start, end = f.period
        clauses.append("created_at >= ? AND created_at < ?")
        params += [
            datetime.combine(start, datetime.min.time()),
            datetime.combine(end + timedelta(days=1), datetime.min.time()),
        ]
    for name, column, cast in (
        ("channels", "channel", "VARCHAR[]"),
        ("touchpoints", "touchpoint", "VARCHAR[]"),
        ("sentiments", "sentiment", "VARCHAR[]"),
        ("emotions", "emotion", "VARCHAR[]"),
        ("topics", "topic_id", "INTEGER[]"),
    ):
        values = getattr(f, name)
        if values and name not in skip:
            clauses.append(f"list_contains(?::{cast}, {column})")
            params.append(list(values))
    if f.search.strip() and "search" not in skip:
        for term in parse_search(f.search):
            # case only matters for Latin letters; Japanese terms skip lower() on every row
            # case only matters for Latin (and other cased) letters: those terms use a
            # case-insensitive RE2 match (much faster than lower() on every row)
            if _has_cased(term.norm):
                parts = ["regexp_matches(text_norm, ?)"]
                params.append("(?i)" + _re2_literal(term.norm))
            else:
                parts = ["contains(text_norm, ?)"]
                params.append(term.norm)
            for lemma in term.lemmas:
                parts.append("list_contains(keywords, ?)")
                params.append(lemma)
            clauses.append("(" + " OR ".join(parts) + ")")
    return (" AND ".join(clauses) or "TRUE"), params


def _has_cased(text: str) -> bool:
    return any(ch.lower() != ch.upper() for ch in text)


def _re2_literal(text: str) -> str:
    r"""``text`` as an RE2 pattern that matches it literally.

    >>> print(_re2_literal("a.b(c)*"))
    a\.b\(c\)\*
    """
    return "".join("\\" + ch if ch in "\\.^$|?*+()[]{}" else ch for ch in text)


# -- the working set -------------------------------------------------------------------------
_BASE_TABLES = ("feedback", "results", "topics", "topic_assignments", "corrections")


def _current_model_sql(src: str) -> str:
    return (
        f"(SELECT model_id FROM {src}topic_assignments GROUP BY model_id "
        f"ORDER BY max(assigned_at) DESC NULLS LAST, count(*) DESC, model_id LIMIT 1)"
    )


def items_sql(src: str = "") -> str:
    """SELECT of the explorer's relation ``voc_items`` from the base tables under ``src``."""
    cur = _current_model_sql(src)
    return f"""
WITH lc AS (
    SELECT record_id,
        arg_max(new_value, corrected_at) FILTER (WHERE field = 'sentiment') AS c_sentiment,
        arg_max(new_value, corrected_at) FILTER (WHERE field = 'emotion') AS c_emotion,
        arg_max(new_value, corrected_at) FILTER (WHERE field = 'topic') AS c_topic
    FROM {src}corrections GROUP BY record_id
),
ta AS (SELECT * FROM {src}topic_assignments WHERE model_id = {cur}),
tp AS (SELECT * FROM {src}topics WHERE model_id = {cur})
SELECT
    f.record_id, f.conversation_id, f.channel, f.touchpoint,
    f.created_at, CAST(date_trunc('week', f.created_at) AS DATE) AS week,
    f.rating, f.nps, f.title, f.text, coalesce(f.text_normalized, f.text) AS text_norm,
    f.keywords,
    r.model_version,
    r.sentiment AS model_sentiment,
    coalesce(lc.c_sentiment, r.sentiment) AS sentiment,
    CASE WHEN lc.c_sentiment IS NULL THEN r.sentiment_score
         ELSE CASE lc.c_sentiment WHEN 'negative' THEN -1.0 WHEN 'positive' THEN 1.0 ELSE 0.0 END
    END AS sentiment_score,
    CASE WHEN lc.c_sentiment IS NULL
         THEN coalesce(r.p_negative, CASE WHEN r.sentiment IS NULL THEN NULL ELSE CAST(r.sentiment = 'negative' AS DOUBLE) END)
         ELSE CAST(lc.c_sentiment = 'negative' AS DOUBLE)
    END AS negativity,
    r.sentiment_mixed,
    r.emotion AS model_emotion,
    coalesce(lc.c_emotion, r.emotion) AS emotion,
    ta.topic_id AS model_topic_id,
    ta.probability AS topic_probability,
    coalesce(tc.topic_id, CASE WHEN lc.c_topic = '{NO_TOPIC_JA}' OR lc.c_topic = '-1' THEN -1 END, ta.topic_id) AS topic_id,
    (lc.record_id IS NOT NULL) AS corrected
FROM {src}feedback f
LEFT JOIN {src}results r ON r.record_id = f.record_id
LEFT JOIN ta ON ta.record_id = f.record_id
LEFT JOIN lc ON lc.record_id = f.record_id
LEFT JOIN tp tc ON tc.label = lc.c_topic
WHERE f.is_voc AND coalesce(f.text, '') <> ''
"""


def topics_sql(src: str = "") -> str:
    return f"SELECT * FROM {src}topics WHERE model_id = {_current_model_sql(src)}"


def open_snapshot(path: str | Path, *, threads: int | None = None) -> Any:
    """Copy the explorer's working set of the store at ``path`` into memory.

    The store file is opened read-only, copied and detached within this call. Raises
    :class:`StoreError` (E401 missing, E402 busy or unreadable, E453 not a voc store).
    """
    import duckdb

    p = Path(path)
    if not p.exists():
        raise StoreError(
            "E401", "the store does not exist yet", path=str(p), hint="Run `voc analyze` first"
        )
    con = duckdb.connect(":memory:")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    try:
        con.execute("ATTACH ? AS src (READ_ONLY)", [str(p)])
    except duckdb.Error as exc:
        con.close()
        raise StoreError(
            "E402",
            f"the store could not be opened: {exc}",
            path=str(p),
            hint="Another process may be writing to it (voc analyze); try again when it has finished",
        ) from exc
    try:
        have = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'src'"
            ).fetchall()
        }
        missing = [t for t in _BASE_TABLES if t not in have]
        if missing:
            raise StoreError(
                "E453",
                f"the store has no {', '.join(missing)} table(s)",
                path=str(p),
                hint="Run `voc analyze` with this version of voc on it first",
            )
        con.execute("CREATE TABLE voc_items AS " + items_sql("src."))
        con.execute("CREATE TABLE voc_topics AS " + topics_sql("src."))
        con.execute("CREATE TABLE corrections AS SELECT * FROM src.corrections")
        con.execute(
            "CREATE TABLE voc_meta AS "
            + (
                "SELECT key, value FROM src.voc_meta"
                if "voc_meta" in have
                else "SELECT NULL::VARCHAR key, NULL::VARCHAR value WHERE FALSE"
            )
        )
        runs = "runs" in have
        con.execute(
            "CREATE TABLE voc_runs AS "
            + (
                "SELECT run_id, started_at, finished_at, status, command FROM src.runs"
                if runs
                else "SELECT NULL::VARCHAR run_id, NULL::TIMESTAMP started_at, NULL::TIMESTAMP finished_at, "
                "NULL::VARCHAR status, NULL::VARCHAR command WHERE FALSE"
            )
        )
    finally:
        con.execute("DETACH src")
    return con


def ensure_items(con: Any) -> Any:
    """``voc_items``/``voc_topics`` on a connection to the store itself (temporary views).

    Temporary views belong to that one connection, so queries on such a connection run on
    it directly; a snapshot (:func:`open_snapshot`) is queried through a cursor per query,
    which lets threads share it.
    """
    con = getattr(con, "con", con)  # a voc Store
    names = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() UNION ALL SELECT view_name FROM duckdb_views()"
        ).fetchall()
    }
    if "voc_items" not in names:
        con.execute("CREATE TEMP VIEW voc_items AS " + items_sql())
    if "voc_topics" not in names:
        con.execute("CREATE TEMP VIEW voc_topics AS " + topics_sql())
    return con


def _run(con: Any, sql: str, params: Sequence[Any]) -> Any:
    """Execute on a cursor of a snapshot (thread-safe); on a store connection, whose
    temporary views only that connection sees, on the connection itself."""
    import duckdb

    con = getattr(con, "con", con)
    cur = con.cursor()
    try:
        return cur.execute(sql, list(params)), cur
    except duckdb.CatalogException:
        cur.close()
    ensure_items(con)
    return con.execute(sql, list(params)), None


def _q(con: Any, sql: str, params: Sequence[Any] = ()) -> Any:
    """Run a query -> DataFrame (on a snapshot through its own cursor: thread-safe)."""
    res, cur = _run(con, sql, params)
    try:
        return res.df()
    finally:
        if cur is not None:
            cur.close()


def _one(con: Any, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...]:
    res, cur = _run(con, sql, params)
    try:
        row = res.fetchone()
        return tuple(row) if row is not None else ()
    finally:
        if cur is not None:
            cur.close()


# -- what is in the store --------------------------------------------------------------------
@dataclass(frozen=True)
class StoreSummary:
    voices: int
    first_day: date | None
    last_day: date | None
    channels: tuple[str, ...]
    touchpoints: tuple[str, ...]
    topics: tuple[tuple[int, str], ...]  # (topic_id, label), -1 last
    has_sentiment: bool
    has_nps: bool
    has_rating: bool
    corrections: int  # voices with at least one correction
    model_versions: tuple[str, ...]


def summary(con: Any) -> StoreSummary:
    """Counts and the values present, for the filter widgets and empty-store notices."""
    n, lo, hi, n_sent, n_nps, n_rating = _one(
        con,
        "SELECT count(*), min(created_at)::DATE, max(created_at)::DATE, count(sentiment), "
        "count(nps), count(rating) FROM voc_items",
    )
    chans = _q(con, "SELECT DISTINCT channel FROM voc_items WHERE channel IS NOT NULL ORDER BY 1")[
        "channel"
    ]
    tps = _q(
        con, "SELECT DISTINCT touchpoint FROM voc_items WHERE touchpoint IS NOT NULL ORDER BY 1"
    )["touchpoint"]
    order = {k: i for i, k in enumerate(TOUCHPOINT_JA)}
    topics = topic_labels(con)
    versions = _q(
        con,
        "SELECT DISTINCT model_version FROM voc_items WHERE model_version IS NOT NULL ORDER BY 1",
    )
    ncorr = _one(con, "SELECT count(DISTINCT record_id) FROM corrections")[0]
    return StoreSummary(
        voices=int(n),
        first_day=lo,
        last_day=hi,
        channels=tuple(
            sorted(chans, key=lambda c: (list(CHANNEL_JA).index(c) if c in CHANNEL_JA else 99, c))
        ),
        touchpoints=tuple(sorted(tps, key=lambda t: (order.get(t, 99), t))),
        topics=tuple(topics.items()),
        has_sentiment=bool(n_sent),
        has_nps=bool(n_nps),
        has_rating=bool(n_rating),
        corrections=int(ncorr),
        model_versions=tuple(versions["model_version"]),
    )


def topic_labels(con: Any) -> dict[int, str]:
    """topic_id -> label of the current topic model (-1 last, with a readable name)."""
    df = _q(con, "SELECT topic_id, label FROM voc_topics ORDER BY topic_id")
    out = {
        int(t): (str(lab) if isinstance(lab, str) and lab else f"トピック {t}")
        for t, lab in zip(df["topic_id"], df["label"], strict=True)
        if t != NO_TOPIC
    }
    present = _q(con, "SELECT DISTINCT topic_id FROM voc_items WHERE topic_id IS NOT NULL")[
        "topic_id"
    ]
    for t in sorted(int(x) for x in present):
        if t != NO_TOPIC and t not in out:
            out[t] = f"トピック {t}"
    if NO_TOPIC in {int(x) for x in present} or NO_TOPIC in set(df["topic_id"]):
        out[NO_TOPIC] = NO_TOPIC_JA
    return out


def default_period(last_day: date | None, weeks: int = 4) -> tuple[date, date] | None:
    """The last ``weeks`` weeks ending on the store's last day (the morning view)."""
    if last_day is None:
        return None
    return (last_day - timedelta(days=7 * weeks - 1), last_day)


# -- overview --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Nps:
    n: int
    promoters: int
    passives: int
    detractors: int
    score: float | None  # -100..100
    ci_low: float | None
    ci_high: float | None
    se: float | None


def nps_from_counts(promoters: int, passives: int, detractors: int, z: float = 1.959964) -> Nps:
    """NPS with its 95% interval from counts.

    >>> nps_from_counts(31, 19, 50).score
    -19.0
    """
    n = promoters + passives + detractors
    if n == 0:
        return Nps(0, 0, 0, 0, None, None, None, None)
    pp, pd_ = promoters / n, detractors / n
    score = (pp - pd_) * 100
    var = (pp + pd_ - (pp - pd_) ** 2) / n
    se = math.sqrt(max(var, 0.0)) * 100
    return Nps(
        n,
        promoters,
        passives,
        detractors,
        round(score, 6),
        max(-100.0, score - z * se),
        min(100.0, score + z * se),
        se,
    )


def nps(con: Any, f: Filters) -> Nps:
    where, params = where_clause(f)
    row = _one(
        con,
        f"SELECT count(*) FILTER (WHERE nps >= 9), count(*) FILTER (WHERE nps >= 7 AND nps < 9), "
        f"count(*) FILTER (WHERE nps < 7) FROM voc_items WHERE nps IS NOT NULL AND {where}",
        params,
    )
    return nps_from_counts(int(row[0]), int(row[1]), int(row[2]))


@dataclass(frozen=True)
class Snapshot:
    """The headline figures of one period."""

    volume: int
    scored: int
    sentiment_counts: dict[str, int]
    nps: Nps
    rating_mean: float | None
    rating_n: int

    def share(self, sentiment: str) -> float | None:
        return self.sentiment_counts.get(sentiment, 0) / self.scored if self.scored else None


def headline(con: Any, f: Filters) -> Snapshot:
    where, params = where_clause(f)
    row = _one(
        con,
        "SELECT count(*), count(sentiment), "
        "count(*) FILTER (WHERE sentiment = 'negative'), count(*) FILTER (WHERE sentiment = 'neutral'), "
        "count(*) FILTER (WHERE sentiment = 'positive'), avg(rating), count(rating), "
        "count(*) FILTER (WHERE nps >= 9), count(*) FILTER (WHERE nps >= 7 AND nps < 9), "
        f"count(*) FILTER (WHERE nps < 7) FROM voc_items WHERE {where}",
        params,
    )
    return Snapshot(
        volume=int(row[0]),
        scored=int(row[1]),
        sentiment_counts={"negative": int(row[2]), "neutral": int(row[3]), "positive": int(row[4])},
        nps=nps_from_counts(int(row[7]), int(row[8]), int(row[9])),
        rating_mean=None if row[5] is None else float(row[5]),
        rating_n=int(row[6]),
    )


@dataclass(frozen=True)
class Change:
    """Current value, previous value and the difference (``None`` when not comparable)."""

    current: float | None
    previous: float | None
    delta: float | None
    relative: float | None = None  # delta / previous, for volumes
    significant: bool | None = None  # NPS: the 95% interval of the difference excludes 0


def _change(cur: float | None, prev: float | None, *, relative: bool = False) -> Change:
    if cur is None or prev is None:
        return Change(cur, prev, None)
    d = cur - prev
    rel = (d / prev) if (relative and prev) else None
    return Change(cur, prev, d, rel)


@dataclass(frozen=True)
class Overview:
    current: Snapshot
    previous: Snapshot | None
    previous_complete: bool  # the store has data for the whole previous period
    volume: Change
    negative_share: Change  # shares in 0..1
    positive_share: Change
    nps: Change  # NPS points
    rating: Change
    pain_points: Any  # DataFrame: topic_id, label, complaints, previous, delta


def overview(con: Any, f: Filters, top: int = 5) -> Overview:
    """Volume, sentiment shares, NPS and top pain points, each against the previous period."""
    cur = headline(con, f)
    pf = f.previous()
    prev = headline(con, pf) if pf is not None else None
    complete = False
    if pf is not None and pf.period is not None:
        lo = _one(con, "SELECT min(created_at)::DATE FROM voc_items")[0]
        complete = lo is not None and lo <= pf.period[0]
    usable = prev if (prev is not None and complete) else None
    nps_change = _change(cur.nps.score, usable.nps.score if usable else None)
    if nps_change.delta is not None and cur.nps.se and usable and usable.nps.se:
        se = math.hypot(cur.nps.se, usable.nps.se)
        nps_change = replace(nps_change, significant=abs(nps_change.delta) > 1.959964 * se)
    return Overview(
        current=cur,
        previous=prev,
        previous_complete=complete,
        volume=_change(float(cur.volume), float(usable.volume) if usable else None, relative=True),
        negative_share=_change(cur.share("negative"), usable.share("negative") if usable else None),
        positive_share=_change(cur.share("positive"), usable.share("positive") if usable else None),
        nps=nps_change,
        rating=_change(cur.rating_mean, usable.rating_mean if usable else None),
        pain_points=top_pain_points(con, f, top=top, compare=complete),
    )


def top_pain_points(con: Any, f: Filters, top: int = 5, compare: bool = True) -> Any:
    """The topics with most complaints (negative voices) and their change vs the previous period."""
    import pandas as pd

    where, params = where_clause(f, ignore=("sentiments",))
    cur = _q(
        con,
        "SELECT topic_id, count(*) AS complaints FROM voc_items "
        f"WHERE sentiment = 'negative' AND topic_id IS NOT NULL AND topic_id <> -1 AND {where} "
        "GROUP BY topic_id ORDER BY complaints DESC, topic_id LIMIT ?",
        [*params, top],
    )
    labels = topic_labels(con)
    cur["label"] = [labels.get(int(t), f"トピック {t}") for t in cur["topic_id"]]
    pf = f.previous()
    if compare and pf is not None and len(cur):
        pw, pp = where_clause(pf, ignore=("sentiments",))
        prev = _q(
            con,
            "SELECT topic_id, count(*) AS previous FROM voc_items "
            f"WHERE sentiment = 'negative' AND list_contains(?::INTEGER[], topic_id) AND {pw} GROUP BY topic_id",
            [[int(t) for t in cur["topic_id"]], *pp],
        )
        cur = cur.merge(prev, on="topic_id", how="left")
        cur["previous"] = cur["previous"].fillna(0).astype(int)
        cur["delta"] = cur["complaints"] - cur["previous"]
    else:
        cur["previous"] = pd.Series([None] * len(cur), dtype="object")
        cur["delta"] = pd.Series([None] * len(cur), dtype="object")
    return cur[["topic_id", "label", "complaints", "previous", "delta"]]


def sentiment_share(con: Any, f: Filters) -> Any:
    """sentiment, n, share (of scored voices), in the order negative/neutral/positive."""
    import pandas as pd

    where, params = where_clause(f)
    df = _q(
        con,
        f"SELECT sentiment, count(*) AS n FROM voc_items WHERE sentiment IS NOT NULL AND {where} GROUP BY 1",
        params,
    )
    out = pd.DataFrame({"sentiment": list(SENTIMENTS)}).merge(df, on="sentiment", how="left")
    out["n"] = out["n"].fillna(0).astype(int)
    total = out["n"].sum()
    out["share"] = out["n"] / total if total else 0.0
    out["label"] = [SENTIMENT_JA[s] for s in out["sentiment"]]
    return out


def emotion_mix(con: Any, f: Filters) -> Any:
    """emotion, n, share for the filtered voices (the five emotions first, in a fixed order)."""
    import pandas as pd

    where, params = where_clause(f)
    df = _q(
        con,
        f"SELECT emotion, count(*) AS n FROM voc_items WHERE emotion IS NOT NULL AND {where} GROUP BY 1",
        params,
    )
    known = pd.DataFrame({"emotion": list(EMOTIONS)})
    extra = df[~df["emotion"].isin(EMOTIONS)][["emotion"]]
    out = pd.concat([known, extra], ignore_index=True).merge(df, on="emotion", how="left")
    out["n"] = out["n"].fillna(0).astype(int)
    total = out["n"].sum()
    out["share"] = out["n"] / total if total else 0.0
    return out


# -- pain points -----------------------------------------------------------------------------
def pain_points(con: Any, f: Filters) -> Any:
    """Touchpoint x topic cells: volume, complaints, negativity (mean P(negative)), score.

    Voices without a topic (or with topic -1) are left out; ``summary`` says how many.
    """
    where, params = where_clause(f)
    df = _q(
        con,
        "SELECT coalesce(touchpoint, 'other') AS touchpoint, topic_id, count(*) AS volume, "
        "count(*) FILTER (WHERE sentiment = 'negative') AS complaints, avg(negativity) AS negativity, "
        "avg(sentiment_score) AS mean_score FROM voc_items "
        f"WHERE topic_id IS NOT NULL AND topic_id <> -1 AND {where} GROUP BY ALL ORDER BY volume DESC",
        params,
    )
    labels = topic_labels(con)
    df["label"] = [labels.get(int(t), f"トピック {t}") for t in df["topic_id"]]
    df["touchpoint_ja"] = [touchpoint_ja(t) for t in df["touchpoint"]]
    df["negative_share"] = df["complaints"] / df["volume"]
    return df


# -- weekly trends ---------------------------------------------------------------------------
def weekly(con: Any, f: Filters, by: str = "sentiment", *, complaints_only: bool = False) -> Any:
    """Voices per ISO week (Monday) and ``by`` value (sentiment, emotion, topic, touchpoint).

    Every week of the period appears for every value (zeros filled), so lines do not skip.
    """
    import pandas as pd

    column = {
        "sentiment": "sentiment",
        "emotion": "emotion",
        "topic": "topic_id",
        "touchpoint": "touchpoint",
    }[by]
    where, params = where_clause(f)
    extra = " AND sentiment = 'negative'" if complaints_only else ""
    df = _q(
        con,
        f"SELECT week, {column} AS key, count(*) AS n FROM voc_items "
        f"WHERE week IS NOT NULL AND {column} IS NOT NULL{extra} AND {where} GROUP BY ALL",
        params,
    )
    weeks = _week_range(con, f)
    if not weeks:
        return pd.DataFrame({"week": pd.Series(dtype="datetime64[us]"), "key": [], "n": []})
    keys = sorted(df["key"].unique().tolist(), key=lambda k: _key_order(by, k))
    grid = pd.MultiIndex.from_product(
        [pd.to_datetime(weeks), keys], names=["week", "key"]
    ).to_frame(index=False)
    df["week"] = pd.to_datetime(df["week"])
    out = grid.merge(df, on=["week", "key"], how="left")
    out["n"] = out["n"].fillna(0).astype(int)
    totals = out.groupby("week")["n"].transform("sum")
    out["share"] = (out["n"] / totals.where(totals > 0)).fillna(0.0)
    if by == "topic":
        labels = topic_labels(con)
        out["label"] = [labels.get(int(k), f"トピック {k}") for k in out["key"]]
    elif by == "sentiment":
        out["label"] = [SENTIMENT_JA.get(k, k) for k in out["key"]]
    elif by == "touchpoint":
        out["label"] = [touchpoint_ja(k) for k in out["key"]]
    else:
        out["label"] = out["key"]
    return out


def _key_order(by: str, k: Any) -> tuple[int, Any]:
    if by == "sentiment":
        return (SENTIMENTS.index(k) if k in SENTIMENTS else 9, k)
    if by == "emotion":
        return (EMOTIONS.index(k) if k in EMOTIONS else 9, k)
    if by == "touchpoint":
        return (list(TOUCHPOINT_JA).index(k) if k in TOUCHPOINT_JA else 99, k)
    return (0, k)


def _week_range(con: Any, f: Filters) -> list[date]:
    if f.period is not None:
        lo, hi = f.period
    else:
        lo, hi = _one(con, "SELECT min(week), max(week) FROM voc_items")
        if lo is None:
            return []
    start = lo - timedelta(days=lo.weekday())
    out = []
    d = start
    while d <= hi:
        out.append(d)
        d += timedelta(days=7)
    return out


def trend_filters(f: Filters, last_day: date | None, min_weeks: int = 12) -> Filters:
    """The filters of a weekly chart: the period, widened to at least ``min_weeks`` weeks
    ending on its last day (a 4-week period still shows a trend and a baseline)."""
    if f.period is None:
        return f
    start, end = f.period
    start = min(start, end - timedelta(days=7 * min_weeks - 1))
    start -= timedelta(days=start.weekday())
    return f.with_(period=(start, end))


# -- spikes ----------------------------------------------------------------------------------
def binom_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), exactly."""
    from scipy.stats import binom

    if k <= 0:
        return 1.0
    return float(binom.sf(k - 1, n, p))


def benjamini_hochberg(pvalues: Sequence[float]) -> list[float]:
    """BH-adjusted q-values, in the input order.

    >>> [round(q, 3) for q in benjamini_hochberg([0.01, 0.04, 0.03, 0.2])]
    [0.04, 0.053, 0.053, 0.2]
    """
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    q = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, pvalues[i] * m / rank)
        q[i] = min(running, 1.0)
    return q


@dataclass(frozen=True)
class SpikeSettings:
    baseline_weeks: int = 8
    min_baseline_weeks: int = 4
    fdr: float = 0.10
    watch_p: float = 0.05
    min_count: int = 3
    min_ratio: float = 1.5


def spikes(
    con: Any,
    f: Filters,
    by: str = "topic",
    settings: SpikeSettings | None = None,
    *,
    history_from: date | None = None,
) -> Any:
    """Weekly complaint spikes per topic (or touchpoint): one row per tested (key, week).

    Weeks of the filter's period are tested; their baselines may reach before the period
    (as far back as ``history_from``, default: all history). Columns: week, key, label,
    complaints, baseline_complaints, baseline_weeks, expected, ratio, p, q, status
    ('spike', 'watch' or 'normal'). See the module docstring for the test.
    """
    import pandas as pd

    s = settings or SpikeSettings()
    column = "topic_id" if by == "topic" else "touchpoint"
    hist = f.with_(
        period=None if f.period is None else (history_from or date(1900, 1, 1), f.period[1])
    )
    where, params = where_clause(
        hist, ignore=("sentiments", "topics") if by == "topic" else ("sentiments", "touchpoints")
    )
    both = _q(
        con,
        f"SELECT week, {column} AS key, grouping({column}) AS is_total, "
        f"count(*) FILTER (WHERE sentiment = 'negative') AS x, count(*) AS n "
        f"FROM voc_items WHERE week IS NOT NULL AND {where} GROUP BY GROUPING SETS ((week, {column}), (week))",
        params,
    )
    totals = both[both["is_total"] == 1].rename(columns={"n": "total"})
    df = both[both["is_total"] == 0]
    if by == "topic":
        df = df[df["key"].notna() & (df["key"] != NO_TOPIC)]
        if f.topics:
            df = df[df["key"].isin(f.topics)]
    elif f.touchpoints:
        df = df[df["key"].isin(f.touchpoints)]
    cols = [
        "week",
        "key",
        "label",
        "complaints",
        "baseline_complaints",
        "baseline_weeks",
        "expected",
        "ratio",
        "p",
        "q",
        "status",
    ]
    if df.empty:
        return pd.DataFrame(columns=cols)
    import numpy as np
    from scipy.stats import binom

    def day(w: Any) -> int:  # weeks as day numbers: cheap window arithmetic
        return pd.Timestamp(w).toordinal()

    total = {day(w): int(t) for w, t in zip(totals["week"], totals["total"], strict=True)}
    weeks = sorted(total)
    counts = {(day(w), k): int(x) for w, k, x in zip(df["week"], df["key"], df["x"], strict=True)}
    keys = sorted(df["key"].unique().tolist(), key=lambda k: _key_order(by, k))
    first_tested = (
        None
        if f.period is None
        else (f.period[0] - timedelta(days=f.period[0].weekday())).toordinal()
    )
    flagged: set[tuple[Any, int]] = set()
    rows: list[dict[str, Any]] = []
    lo = 0
    for i, w in enumerate(weeks):
        while weeks[lo] < w - 7 * s.baseline_weeks:
            lo += 1
        if first_tested is not None and w < first_tested:
            continue
        base_weeks = weeks[lo:i]
        week_rows = []
        for k in keys:
            bw = [b for b in base_weeks if (k, b) not in flagged]
            if len(bw) < s.min_baseline_weeks:
                continue
            x = counts.get((w, k), 0)
            xb = sum(counts.get((b, k), 0) for b in bw)
            e_w = total[w] - x
            e_b = sum(total[b] for b in bw) - xb
            if e_w <= 0 or e_b <= 0:
                continue
            expected = xb * e_w / e_b
            week_rows.append(
                {
                    "week": w,
                    "key": k,
                    "complaints": x,
                    "baseline_complaints": xb,
                    "baseline_weeks": len(bw),
                    "expected": expected,
                    "ratio": (x / expected) if expected > 0 else (math.inf if x > 0 else 1.0),
                    "p0": e_w / (e_w + e_b),
                }
            )
        if not week_rows:
            continue
        x_arr = np.array([r["complaints"] for r in week_rows])
        n_arr = x_arr + np.array([r["baseline_complaints"] for r in week_rows])
        p_arr = np.where(
            x_arr > 0, binom.sf(x_arr - 1, n_arr, [r.pop("p0") for r in week_rows]), 1.0
        )
        qs = benjamini_hochberg([float(p) for p in p_arr])
        for r, p, q in zip(week_rows, p_arr, qs, strict=True):
            r["p"], r["q"] = float(p), q
            big = r["complaints"] >= s.min_count and r["ratio"] >= s.min_ratio
            if big and q < s.fdr:
                r["status"] = "spike"
                flagged.add((r["key"], w))
            elif big and r["p"] < s.watch_p:
                r["status"] = "watch"
            else:
                r["status"] = "normal"
            rows.append(r)
    for r in rows:
        r["week"] = pd.Timestamp(date.fromordinal(r["week"]))
    out = pd.DataFrame(rows, columns=[c for c in cols if c != "label"])
    labels = topic_labels(con) if by == "topic" else {}
    out["label"] = [
        labels.get(int(k), f"トピック {k}") if by == "topic" else touchpoint_ja(k)
        for k in out["key"]
    ]
    if f.period is not None and len(out):
        out = out[out["week"].dt.date <= f.period[1]]
    return out[cols].reset_index(drop=True)


def spike_sentence(row: Mapping[str, Any], lang: str = "ja") -> str:
    """One alert in plain words."""
    wk = pd_date(row["week"])
    if lang == "en":
        return (
            f"Week of {wk:%Y-%m-%d}: {row['label']} had {row['complaints']} complaints, "
            f"{row['ratio']:.1f}x its usual {row['expected']:.1f} (p {fmt_p(row['p'])}, q {fmt_p(row['q'])})."
        )
    return (
        f"{wk:%Y-%m-%d} の週: 「{row['label']}」の不満が {row['complaints']} 件。"
        f"いつもの水準（{row['expected']:.1f} 件）の {row['ratio']:.1f} 倍"
        f"（p {fmt_p(row['p'])}、補正後 q {fmt_p(row['q'])}）。"
    )


def fmt_p(p: float) -> str:
    """``= 0.013`` or ``< 0.001``."""
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"


def pd_date(value: Any) -> date:
    return value.date() if hasattr(value, "date") and callable(value.date) else value


# -- drivers ---------------------------------------------------------------------------------
OUTCOMES: dict[str, tuple[str, str, str]] = {
    # outcome: (column, Japanese name, English name)
    "nps": ("nps", "推奨度（0〜10）", "likelihood to recommend (0-10)"),
    "rating": ("rating", "星評価（1〜5）", "star rating (1-5)"),
}


def outcome_count(con: Any, f: Filters, outcome: str = "nps") -> int:
    """How many of the filtered voices have the outcome (an NPS score or a star rating)."""
    where, params = where_clause(f)
    col = OUTCOMES[outcome][0]
    return int(_one(con, f"SELECT count({col}) FROM voc_items WHERE {where}", params)[0])


def welch_ci(
    m1: float, s1: float, n1: int, m2: float, s2: float, n2: int, level: float = 0.95
) -> tuple[float, float, float]:
    """Difference m1 - m2 with Welch's confidence interval: (diff, low, high)."""
    from scipy.stats import t as student_t

    diff = m1 - m2
    v1, v2 = (s1**2) / n1, (s2**2) / n2
    se = math.sqrt(v1 + v2)
    if se == 0:
        return diff, diff, diff
    df = (v1 + v2) ** 2 / (
        (v1**2 / (n1 - 1) if n1 > 1 else 0) + (v2**2 / (n2 - 1) if n2 > 1 else 0) or 1e-12
    )
    tq = float(student_t.ppf(0.5 + level / 2, df))
    return diff, diff - tq * se, diff + tq * se


def drivers(con: Any, f: Filters, outcome: str = "nps", by: str = "topic", min_n: int = 5) -> Any:
    """What pulls the outcome down: one row per topic (or touchpoint) with enough voices.

    Columns: key, label, n, n_rest, mean, mean_rest, diff, ci_low, ci_high, share, impact,
    nps, nps_rest (outcome nps only), clear (the interval excludes 0), sentence, sentence_en.
    Sorted by impact, most harmful first. The topic filter is ignored for topic drivers
    (a driver compares a topic with the rest).
    """
    import pandas as pd

    col = OUTCOMES[outcome][0]
    column = "topic_id" if by == "topic" else "touchpoint"
    ignore = ("topics",) if by == "topic" else ("touchpoints",)
    where, params = where_clause(f, ignore=ignore)
    df = _q(
        con,
        f"""
        WITH base AS (SELECT {column} AS key, {col} AS y FROM voc_items WHERE {col} IS NOT NULL AND {where}),
        tot AS (SELECT count(*) AS n, sum(y) AS s, sum(y * y) AS ss,
                       count(*) FILTER (WHERE y >= 9) AS pro, count(*) FILTER (WHERE y < 7) AS det FROM base)
        SELECT b.key, count(*) AS n, sum(b.y) AS s, sum(b.y * b.y) AS ss,
               count(*) FILTER (WHERE b.y >= 9) AS pro, count(*) FILTER (WHERE b.y < 7) AS det,
               any_value(tot.n) AS tn, any_value(tot.s) AS ts, any_value(tot.ss) AS tss,
               any_value(tot.pro) AS tpro, any_value(tot.det) AS tdet
        FROM base b, tot WHERE b.key IS NOT NULL GROUP BY b.key
        """,
        params,
    )
    if by == "topic":
        df = df[df["key"] != NO_TOPIC]
    cols = [
        "key",
        "label",
        "n",
        "n_rest",
        "mean",
        "mean_rest",
        "diff",
        "ci_low",
        "ci_high",
        "share",
        "impact",
        "nps",
        "nps_rest",
        "clear",
        "sentence",
        "sentence_en",
    ]
    rows = []
    labels = topic_labels(con) if by == "topic" else {}
    for r in df.itertuples(index=False):
        n, tn = int(r.n), int(r.tn)
        n2 = tn - n
        if n < min_n or n2 < min_n:
            continue
        m1 = r.s / n
        m2 = (r.ts - r.s) / n2
        s1 = math.sqrt(max((r.ss - n * m1 * m1) / (n - 1), 0.0)) if n > 1 else 0.0
        s2 = math.sqrt(max(((r.tss - r.ss) - n2 * m2 * m2) / (n2 - 1), 0.0)) if n2 > 1 else 0.0
        diff, lo, hi = welch_ci(m1, s1, n, m2, s2, n2)
        label = (
            labels.get(int(r.key), f"トピック {r.key}") if by == "topic" else touchpoint_ja(r.key)
        )
        nps_g = nps_rest = None
        if outcome == "nps":
            nps_g = (r.pro - r.det) / n * 100
            nps_rest = ((r.tpro - r.pro) - (r.tdet - r.det)) / n2 * 100
        row = {
            "key": r.key,
            "label": label,
            "n": n,
            "n_rest": n2,
            "mean": m1,
            "mean_rest": m2,
            "diff": diff,
            "ci_low": lo,
            "ci_high": hi,
            "share": n / tn,
            "impact": diff * n / tn,
            "nps": nps_g,
            "nps_rest": nps_rest,
            "clear": bool(lo > 0 or hi < 0),
        }
        row["sentence"] = driver_sentence(row, outcome, by, "ja")
        row["sentence_en"] = driver_sentence(row, outcome, by, "en")
        rows.append(row)
    out = pd.DataFrame(rows, columns=cols)
    return out.sort_values(["impact", "diff"]).reset_index(drop=True)


def driver_sentence(
    row: Mapping[str, Any], outcome: str = "nps", by: str = "topic", lang: str = "ja"
) -> str:
    """A driver in words a CX analyst reads aloud.

    >>> driver_sentence({"label": "配送・遅延・到着", "diff": -2.1, "ci_low": -2.8, "ci_high": -1.4,
    ...                  "n": 23, "clear": True}, "nps")
    '「配送・遅延・到着」に触れた回答は、推奨度（0〜10）が他の回答より平均 2.1 点低い（95%信頼区間 1.4〜2.8 点、n=23）。'
    """
    name_ja, name_en = OUTCOMES[outcome][1], OUTCOMES[outcome][2]
    d, lo, hi = row["diff"], row["ci_low"], row["ci_high"]
    if lang == "en":
        who = f"Voices about “{row['label']}”" if by == "topic" else f"Voices from {row['label']}"
        word = "lower" if d < 0 else "higher"
        a, b = (-hi, -lo) if d < 0 else (lo, hi)
        text = f"{who} give a {name_en} {abs(d):.1f} points {word} on average than the rest (95% CI {a:.1f} to {b:.1f}, n={row['n']})."
        if not row["clear"]:
            text += " The difference is not clear: it could be zero."
        return text
    who = f"「{row['label']}」に触れた回答" if by == "topic" else f"接点「{row['label']}」の回答"
    word = "低い" if d < 0 else "高い"
    a, b = (-hi, -lo) if d < 0 else (lo, hi)
    text = f"{who}は、{name_ja}が他の回答より平均 {abs(d):.1f} 点{word}（95%信頼区間 {a:.1f}〜{b:.1f} 点、n={row['n']}）。"
    if not row["clear"]:
        text += "ただし差ははっきりしません（0 の可能性があります）。"
    return text


# -- topics ----------------------------------------------------------------------------------
def topics_fit(con: Any) -> dict[str, Any]:
    """How the store's topics were fitted (``voc topics fit``): complaints, the seeds whose
    layouts were compared and their agreement; ``{}`` when not recorded."""
    import json

    rows = _q(con, "SELECT value FROM voc_meta WHERE key = 'topics_fit_stats'", [])
    if rows.empty:
        return {}
    try:
        out = json.loads(rows["value"].iloc[0])
    except (TypeError, ValueError):
        return {}
    return out if isinstance(out, dict) else {}


def topics_overview(con: Any, f: Filters) -> Any:
    """One row per topic: label, keywords, model size, voices and complaints under the filters."""
    import json

    import pandas as pd

    where, params = where_clause(f, ignore=("topics",))
    counts = _q(
        con,
        "SELECT topic_id, count(*) AS voices, count(*) FILTER (WHERE sentiment = 'negative') AS complaints, "
        f"avg(negativity) AS negativity FROM voc_items WHERE topic_id IS NOT NULL AND {where} GROUP BY 1",
        params,
    )
    topics = _q(con, "SELECT topic_id, label, keywords, size, representative FROM voc_topics")
    labels = topic_labels(con)
    ids = sorted({int(t) for t in labels}, key=lambda t: (t == NO_TOPIC, t))
    out = pd.DataFrame({"topic_id": ids})
    out["label"] = [labels[t] for t in ids]
    meta = {
        int(t): (kw, size, rep)
        for t, kw, size, rep in zip(
            topics["topic_id"],
            topics["keywords"],
            topics["size"],
            topics["representative"],
            strict=True,
        )
    }
    out["keywords"] = [_json_list(meta.get(t, (None,))[0]) for t in ids]
    out["size"] = [meta.get(t, (None, None))[1] for t in ids]
    out["representative"] = [_json_list(meta.get(t, (None, None, None))[2]) for t in ids]
    out = out.merge(counts, on="topic_id", how="left")
    out[["voices", "complaints"]] = out[["voices", "complaints"]].fillna(0).astype(int)
    del json
    out["_none"] = out["topic_id"] == NO_TOPIC
    out = out.sort_values(["_none", "complaints", "voices"], ascending=[True, False, False])
    return out.drop(columns="_none").reset_index(drop=True)


def nearest_topics_by_keywords(
    con: Any, lemmas: Sequence[str], top: int = 3
) -> list[tuple[int, str, float]]:
    """Topics whose keywords occur among ``lemmas``: (topic_id, label, score), best first.

    A fallback for the Score text page when no saved topic model can be loaded: each
    keyword found scores ``1 / (rank + 1)`` (a topic's first keywords weigh most).
    """
    words = set(lemmas)
    if not words:
        return []
    df = _q(con, "SELECT topic_id, label, keywords FROM voc_topics WHERE topic_id <> -1")
    scored = []
    for t, label, kw in zip(df["topic_id"], df["label"], df["keywords"], strict=True):
        s = sum(1.0 / (i + 1) for i, k in enumerate(_json_list(kw)) if k in words)
        if s > 0:
            scored.append((int(t), str(label), s))
    scored.sort(key=lambda x: (-x[2], x[0]))
    return scored[:top]


def _json_list(value: Any) -> list[Any]:
    import json

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if isinstance(value, list | tuple):
        return list(value)
    try:
        out = json.loads(value)
    except (TypeError, ValueError):
        return []
    return list(out) if isinstance(out, list) else []


def records(con: Any, record_ids: Sequence[str]) -> Any:
    """Verbatim rows for given record ids (a topic's representative voices), in that order."""
    import pandas as pd

    if not record_ids:
        return _empty_verbatims()
    df = _q(
        con,
        f"SELECT {_VERBATIM_COLS} FROM voc_items WHERE list_contains(?::VARCHAR[], record_id)",
        [list(record_ids)],
    )
    order = {r: i for i, r in enumerate(record_ids)}
    df["_o"] = [order.get(r, 0) for r in df["record_id"]]
    return pd.DataFrame(df.sort_values("_o").drop(columns="_o").reset_index(drop=True))


# -- verbatims, search, highlight --------------------------------------------------------------
_VERBATIM_COLS = (
    "record_id, created_at, channel, touchpoint, rating, nps, title, text, sentiment, sentiment_score, "
    "model_sentiment, emotion, model_emotion, topic_id, model_topic_id, corrected, model_version"
)
ORDERS: dict[str, str] = {
    "newest": "created_at DESC NULLS LAST, record_id",
    "oldest": "created_at ASC NULLS LAST, record_id",
    "most_negative": "sentiment_score ASC NULLS LAST, created_at DESC NULLS LAST, record_id",
    "most_positive": "sentiment_score DESC NULLS LAST, created_at DESC NULLS LAST, record_id",
}
ORDERS_JA: dict[str, str] = {
    "newest": "新しい順",
    "oldest": "古い順",
    "most_negative": "ネガティブな順",
    "most_positive": "ポジティブな順",
}


@dataclass(frozen=True)
class Page:
    rows: Any  # DataFrame of at most page_size verbatims
    total: int
    page: int
    pages: int
    page_size: int


def _empty_verbatims() -> Any:
    import pandas as pd

    return pd.DataFrame(columns=[c.strip() for c in _VERBATIM_COLS.split(",")] + ["topic_label"])


def count(con: Any, f: Filters) -> int:
    where, params = where_clause(f)
    return int(_one(con, f"SELECT count(*) FROM voc_items WHERE {where}", params)[0])


def verbatims(
    con: Any,
    f: Filters,
    page: int = 1,
    page_size: int = 20,
    order: str = "newest",
    total: int | None = None,
) -> Page:
    """One page of the filtered voices (1-based ``page``, clamped to the last page).
    ``total``: the count of ``f`` when the caller has it (saves a scan)."""
    where, params = where_clause(f)
    total = count(con, f) if total is None else int(total)
    pages = max(1, math.ceil(total / page_size))
    page = min(max(1, int(page)), pages)
    df = _q(
        con,
        f"SELECT {_VERBATIM_COLS} FROM voc_items WHERE {where} ORDER BY {ORDERS[order]} LIMIT ? OFFSET ?",
        [*params, int(page_size), (page - 1) * int(page_size)],
    )
    labels = topic_labels(con)
    df["topic_label"] = [("" if missing(t) else labels.get(int(t), "")) for t in df["topic_id"]]
    return Page(df, total, page, pages, page_size)


@dataclass(frozen=True)
class SearchTerm:
    raw: str
    norm: str  # NFKC, lower case: matched as a substring
    lemmas: tuple[str, ...]  # content-word lemmas: matched against stored keywords


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def parse_search(query: str, tokenizer: Any = None) -> tuple[SearchTerm, ...]:
    """Whitespace-separated terms; each matches as text or by its lemmas (遅れる finds 遅れて).

    >>> [t.norm for t in parse_search("  配送　ＡＰＰ ")]
    ['配送', 'app']
    """
    terms = []
    for raw in re.split(r"\s+", unicodedata.normalize("NFKC", query or "").strip()):
        if raw:
            lemmas = _lemmas_with(tokenizer, raw) if tokenizer is not None else _term_lemmas(raw)
            terms.append(SearchTerm(raw, _norm(raw), lemmas))
    return tuple(terms)


def _lemmas_with(tokenizer: Any, term: str) -> tuple[str, ...]:
    """The lemma of a one-word term (遅れる, 届いた -> 届く); none for longer terms, which
    match as text only (so 二行 never highlights every 行)."""
    try:
        tokens = tokenizer.tokenize(term)
        if len(tokens) == 1 and tokenizer.is_content(tokens[0]):
            return tuple(dict.fromkeys(t for t in (tokens[0].lemma, tokens[0].lemma_norm) if t))
        return ()
    except Exception:  # pragma: no cover - fugashi missing: substring search only
        logger.debug("no lemmas for search term %r", term, exc_info=True)
        return ()


@functools.lru_cache(maxsize=1024)
def _term_lemmas(term: str) -> tuple[str, ...]:
    # caches strings only; the tokenizer (a native MeCab handle) is built per miss (~1 ms)
    try:
        from voc.text.tokenize import JapaneseTokenizer
    except ImportError:  # pragma: no cover
        return ()
    return _lemmas_with(JapaneseTokenizer(), term)


def _new_tokenizer() -> Any:
    from voc.text.tokenize import JapaneseTokenizer

    return JapaneseTokenizer()


def highlight_spans(
    text: str, query: str | Sequence[SearchTerm], tokenizer: Any = None
) -> list[tuple[int, int]]:
    """Character spans of ``text`` matching the search (substrings and lemma matches), merged.

    >>> highlight_spans("配送が遅れて届いた", "遅れる 配送")
    [(0, 2), (3, 5)]
    """
    if not text:
        return []
    terms = parse_search(query, tokenizer) if isinstance(query, str) else tuple(query)
    if not terms:
        return []
    # a per-character NFKC/lower image of the text keeps offsets aligned with the original;
    # a combining mark (half-width ﾟ ﾞ) is composed with the character before it (ﾊﾟ -> ぱ)
    pieces: list[tuple[str, int, int]] = []
    for i, ch in enumerate(text):
        p = _norm(ch)
        if pieces and p and unicodedata.combining(p[0]):
            prev, s, _e = pieces[-1]
            pieces[-1] = (unicodedata.normalize("NFC", prev + p), s, i + 1)
        else:
            pieces.append((p, i, i + 1))
    image = "".join(p for p, _, _ in pieces)
    owner: list[tuple[int, int]] = []
    for p, s, e in pieces:
        owner.extend([(s, e)] * len(p))
    spans: list[tuple[int, int]] = []
    for term in terms:
        if not term.norm:
            continue
        start = image.find(term.norm)
        while start >= 0:
            end = start + len(term.norm)
            spans.append((owner[start][0], owner[end - 1][1]))
            start = image.find(term.norm, end)
    wanted = {lem for t in terms for lem in t.lemmas}
    if wanted:
        try:
            tok = tokenizer or _new_tokenizer()
            for token in tok.tokenize(text):
                if token.lemma in wanted or token.lemma_norm in wanted:
                    spans.append((token.start, token.end))
        except Exception:  # pragma: no cover
            logger.debug("lemma highlighting skipped", exc_info=True)
    spans.sort()
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def highlight_html(text: str, query: str | Sequence[SearchTerm], tokenizer: Any = None) -> str:
    """``text`` as safe HTML: every character escaped, matches wrapped in ``<mark>``.

    >>> highlight_html("<b>配送</b>が遅い", "配送")
    '&lt;b&gt;<mark>配送</mark>&lt;/b&gt;が遅い'
    """
    text = text or ""
    out: list[str] = []
    pos = 0
    for s, e in highlight_spans(text, query, tokenizer):
        out.append(html.escape(text[pos:s]))
        out.append("<mark>" + html.escape(text[s:e]) + "</mark>")
        pos = e
    out.append(html.escape(text[pos:]))
    return "".join(out).replace("\n", "<br>")


# -- export ----------------------------------------------------------------------------------
EXPORT_COLUMNS: dict[str, str] = {
    "record_id": "record_id",
    "created_at": "日時",
    "channel": "チャネル",
    "touchpoint": "接点",
    "rating": "星評価",
    "nps": "推奨度",
    "sentiment": "感情極性",
    "sentiment_score": "スコア",
    "emotion": "感情",
    "topic_label": "トピック",
    "text": "本文",
}


def export_frame(con: Any, f: Filters, limit: int = 200_000) -> Any:
    """The filtered voices as a table for CSV/Excel (masked text; Japanese headers)."""
    where, params = where_clause(f)
    df = _q(
        con,
        f"SELECT v.record_id, v.created_at, v.channel, v.touchpoint, v.rating, v.nps, v.sentiment, "
        f"v.sentiment_score, v.emotion, t.label AS topic_label, v.text "
        f"FROM (SELECT * FROM voc_items WHERE {where}) v "
        f"LEFT JOIN voc_topics t ON t.topic_id = v.topic_id "
        f"ORDER BY v.created_at DESC NULLS LAST, v.record_id LIMIT ?",
        [*params, int(limit)],
    )
    df["channel"] = [channel_ja(c) for c in df["channel"]]
    df["touchpoint"] = [touchpoint_ja(t) for t in df["touchpoint"]]
    df["sentiment"] = [SENTIMENT_JA.get(s, s) if isinstance(s, str) else s for s in df["sentiment"]]
    return df.rename(columns=EXPORT_COLUMNS)


def to_csv_bytes(df: Any) -> bytes:
    """UTF-8 with BOM, so Excel in Japan opens it with the right characters."""
    return df.to_csv(index=False).encode("utf-8-sig")


def to_excel_bytes(df: Any, sheet: str = "VoC") -> bytes:
    buf = io.BytesIO()
    out = df.copy()
    for c in out.columns:  # Excel has no time zones; cells that start with = are not formulas
        if (
            str(out[c].dtype).startswith("datetime64")
            and getattr(out[c].dt, "tz", None) is not None
        ):
            out[c] = out[c].dt.tz_localize(None)
        elif out[c].dtype == object or str(out[c].dtype).startswith("str"):
            out[c] = [("'" + v) if isinstance(v, str) and v[:1] in "=+-@" else v for v in out[c]]
    with _excel_writer(buf) as writer:
        out.to_excel(writer, index=False, sheet_name=sheet)
    return buf.getvalue()


def _excel_writer(buf: io.BytesIO) -> Any:
    import pandas as pd

    return pd.ExcelWriter(buf, engine="openpyxl")


# -- corrections (the relabel loop) ----------------------------------------------------------
@dataclass(frozen=True)
class Correction:
    record_id: str
    field: str
    new_value: str
    corrected_by: str
    old_value: str | None = None
    note: str = ""
    corrected_at: datetime = field(default_factory=datetime.now)
    correction_id: str = field(default_factory=lambda: uuid.uuid4().hex)


def validate_correction(c: Correction, topic_labels_: Iterable[str] = ()) -> None:
    """Raise StoreError E451 for a field or value the relabel loop does not accept."""
    if c.field not in CORRECTION_FIELDS:
        raise StoreError(
            "E451",
            f"cannot correct the field {c.field!r}",
            hint=f"Use one of {', '.join(CORRECTION_FIELDS)}",
        )
    if not c.corrected_by.strip():
        raise StoreError(
            "E451", "a correction needs the name of the analyst who made it", hint="Enter your name"
        )
    allowed: Iterable[str]
    if c.field == "sentiment":
        allowed = SENTIMENTS
    elif c.field == "emotion":
        allowed = EMOTIONS
    else:
        allowed = [*topic_labels_, NO_TOPIC_JA]
    allowed = list(allowed)
    if (c.field != "topic" or topic_labels_) and c.new_value not in allowed:
        raise StoreError(
            "E451",
            f"{c.new_value!r} is not a {c.field} label",
            hint=f"Use one of {', '.join(allowed)}",
        )


def save_corrections(store_path: str | Path, corrections: Sequence[Correction]) -> int:
    """Write corrections with a short-lived read-write connection (one transaction).

    Raises StoreError E450 when another process holds the store (``voc analyze`` running)
    and E452 when a record id is not in the store.
    """
    import duckdb

    if not corrections:
        return 0
    try:
        con = duckdb.connect(str(store_path))
    except duckdb.Error as exc:
        raise StoreError(
            "E450",
            f"the store is busy: {exc}",
            path=str(store_path),
            hint="Another process is writing to it (voc analyze?). Try again in a minute",
        ) from exc
    try:
        ids = sorted({c.record_id for c in corrections})
        found = {
            r[0]
            for r in con.execute(
                "SELECT record_id FROM feedback WHERE list_contains(?::VARCHAR[], record_id)", [ids]
            ).fetchall()
        }
        missing = [i for i in ids if i not in found]
        if missing:
            raise StoreError(
                "E452", f"no voice with record_id {missing[0]!r} in the store", path=str(store_path)
            )
        labels = (
            [
                r[0]
                for r in con.execute(
                    f"SELECT label FROM ({topics_sql()}) WHERE label IS NOT NULL AND topic_id <> -1"
                ).fetchall()
            ]
            if any(c.field == "topic" for c in corrections)
            else []
        )
        for c in corrections:
            validate_correction(c, labels)
        con.execute("BEGIN TRANSACTION")
        con.executemany(
            "INSERT INTO corrections VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                [
                    c.correction_id,
                    c.record_id,
                    c.field,
                    c.old_value,
                    c.new_value,
                    c.corrected_by.strip(),
                    c.corrected_at,
                    c.note,
                ]
                for c in corrections
            ],
        )
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return len(corrections)


def corrections_export(con: Any) -> Any:
    """The training file of the relabel loop: one row per corrected voice.

    Columns ``record_id,text,sentiment,emotion,topic,corrected_by,corrected_at``: the
    latest correction of each field applied over the model's labels; ``corrected_by`` and
    ``corrected_at`` are those of the voice's latest correction. ``text`` is the normalised,
    PII-masked text the models read. ``voc train`` counts these rows as "corrections".
    """
    df = _q(
        con,
        """
        WITH last AS (SELECT record_id, arg_max(corrected_by, corrected_at) AS corrected_by,
                             max(corrected_at) AS corrected_at FROM corrections GROUP BY record_id)
        SELECT v.record_id, v.text_norm AS text, v.sentiment, v.emotion,
               CASE WHEN v.topic_id = -1 THEN NULL ELSE t.label END AS topic,
               last.corrected_by, last.corrected_at
        FROM last JOIN voc_items v ON v.record_id = last.record_id
        LEFT JOIN voc_topics t ON t.topic_id = v.topic_id
        ORDER BY last.corrected_at, v.record_id
        """,
    )
    return df[list(CORRECTIONS_EXPORT_COLUMNS)]


def corrections_csv(con: Any) -> bytes:
    """:func:`corrections_export` as UTF-8 CSV (with BOM) for ``voc train``."""
    df = corrections_export(con)
    buf = io.StringIO()
    df.to_csv(buf, index=False, quoting=csv.QUOTE_MINIMAL, date_format="%Y-%m-%dT%H:%M:%S")
    return buf.getvalue().encode("utf-8-sig")


def correction_history(con: Any, record_id: str) -> Any:
    return _q(
        con,
        "SELECT field, old_value, new_value, corrected_by, corrected_at, note FROM corrections "
        "WHERE record_id = ? ORDER BY corrected_at DESC",
        [record_id],
    )
