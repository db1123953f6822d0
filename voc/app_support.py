"""Streamlit glue shared by the explorer's pages (``app.py``, ``app_pages/``).

Pages only wire widgets to :mod:`voc.metrics`; this module holds what they share: the
store and its in-memory snapshot (``st.cache_resource``), cached queries keyed by the
filters (``st.cache_data``), the sidebar filters, access control, Plotly styling with
Japanese fonts and fixed colours, and safe rendering of customer text (always escaped,
never raw HTML or Markdown).

The page-level data functions (:func:`overview_data` ...) take a plain DuckDB connection,
so the speed benchmark times exactly what each page computes, without a Streamlit server.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import streamlit as st

from voc import metrics
from voc.errors import VocError
from voc.metrics import Filters

logger = logging.getLogger(__name__)

DEFAULT_STORE = "out/voc.duckdb"
FONT_FAMILY = '"Noto Sans CJK JP", "Noto Sans JP", "Hiragino Sans", "Yu Gothic", Meiryo, sans-serif'
# a qualitative palette for topics/touchpoints (sentiment and emotion have fixed colours)
PALETTE = (
    "#4C78A8",
    "#F58518",
    "#54A24B",
    "#B279A2",
    "#E45756",
    "#72B7B2",
    "#EECA3B",
    "#9D755D",
    "#FF9DA6",
    "#BAB0AC",
)
PRESETS: dict[str, int | None] = {"直近4週": 4, "直近13週": 13, "全期間": None, "期間を指定": -1}
PAGE_SIZE = 20
FILTER_KEYS = (
    "f_period_preset",
    "f_period_range",
    "f_channels",
    "f_touchpoints",
    "f_sentiments",
    "f_emotions",
    "f_topics",
)


# -- the store -------------------------------------------------------------------------------
@dataclass(frozen=True)
class StoreRef:
    """A store file and its version (mtime and size of the file and its WAL): the cache key."""

    path: str
    version: tuple[int, ...]


def store_ref(path: str | Path) -> StoreRef:
    p = Path(path).expanduser().resolve()
    version: list[int] = []
    for q in (p, Path(str(p) + ".wal")):
        try:
            s = q.stat()
            version += [s.st_mtime_ns, s.st_size]
        except OSError:
            version += [0, 0]
    return StoreRef(str(p), tuple(version))


def default_store_path() -> str:
    return os.environ.get("VOC_STORE") or DEFAULT_STORE


@st.cache_resource(max_entries=2, show_spinner="ストアを読み込んでいます… Loading the store…")
def _load_snapshot(path: str, version: tuple[int, ...]) -> Any:
    return metrics.open_snapshot(path, threads=min(os.cpu_count() or 1, 4))


@st.cache_resource
def _last_good() -> dict[str, tuple[StoreRef, Any]]:
    """The last snapshot loaded per store path (used while the store is busy)."""
    return {}


def snapshot(ref: StoreRef, *, notify: bool = False) -> Any:
    """The in-memory working set of the store (shared by every session, read-only).

    When the store is busy (another process writing), the last snapshot loaded is used
    (with a notice when ``notify``); with none, the StoreError propagates.
    """
    try:
        con = _load_snapshot(ref.path, ref.version)
    except VocError as exc:
        last = _last_good().get(ref.path)
        if last is None or getattr(exc, "code", "") != "E402":
            raise
        if notify:
            st.warning(
                "ストアが別のプロセスで更新中のため、前回読み込んだデータを表示しています。 "
                "The store is busy; showing the data loaded before.",
                icon=":material/hourglass:",
            )
        return last[1]
    _last_good()[ref.path] = (ref, con)
    return con


def call(name: str, ref: StoreRef, filters: Filters | None = None, **kwargs: Any) -> Any:
    """``voc.metrics.<name>(snapshot, filters, **kwargs)`` (or a page-data function) through
    ``st.cache_data``, keyed by the store version, the filters and the arguments."""
    return _cached_call(name, ref, filters, tuple(sorted(kwargs.items())))


@st.cache_data(max_entries=1024, show_spinner=False)
def _cached_call(
    name: str, ref: StoreRef, filters: Filters | None, kwargs: tuple[tuple[str, Any], ...]
) -> Any:
    con = snapshot(ref)
    fn = PAGE_DATA[name] if name in PAGE_DATA else getattr(metrics, name)
    return fn(con, filters, **dict(kwargs)) if filters is not None else fn(con, **dict(kwargs))


def clear_caches() -> None:
    """After a write (upload, correction): queries are keyed by the store version anyway,
    but drop what was cached so memory is returned."""
    st.cache_data.clear()


# -- page-level data (what each page computes; timed by benchmarks/explorer_speed.py) ------------
def overview_data(con: Any, f: Filters, last_day: date | None = None) -> dict[str, Any]:
    tf = metrics.trend_filters(f, last_day)
    return {
        "overview": metrics.overview(con, f),
        "sentiment": metrics.sentiment_share(con, f),
        "emotions": metrics.emotion_mix(con, f),
        "weekly": metrics.weekly(con, tf, "sentiment"),
    }


def pain_points_data(con: Any, f: Filters) -> dict[str, Any]:
    return {
        "cells": metrics.pain_points(con, f),
        "verbatims": metrics.verbatims(con, f, 1, 10, "most_negative"),
    }


def topics_data(
    con: Any, f: Filters, topic_id: int | None = None, last_day: date | None = None
) -> dict[str, Any]:
    table = metrics.topics_overview(con, f)
    out: dict[str, Any] = {"table": table}
    if topic_id is None and len(table):
        topic_id = int(table["topic_id"].iloc[0])
    if topic_id is not None:
        tf = metrics.trend_filters(f.with_(topics=(topic_id,)), last_day)
        sel = f.with_(topics=(topic_id,))
        out["weekly"] = metrics.weekly(con, tf, "sentiment")
        out["emotions"] = metrics.emotion_mix(con, sel)
        row = table[table["topic_id"] == topic_id]
        reps = list(row["representative"].iloc[0]) if len(row) else []
        out["representative"] = (
            metrics.records(con, reps)
            if reps
            else metrics.verbatims(con, sel, 1, 3, "most_negative").rows
        )
    return out


def trends_data(
    con: Any, f: Filters, last_day: date | None = None, by: str = "topic"
) -> dict[str, Any]:
    tf = metrics.trend_filters(f, last_day)
    return {
        "sentiment": metrics.weekly(con, tf, "sentiment"),
        "emotion": metrics.weekly(con, tf, "emotion"),
        "topics": metrics.weekly(con, tf, by, complaints_only=True),
        "spikes": metrics.spikes(con, tf, by=by),
    }


def drivers_data(con: Any, f: Filters, outcome: str = "nps", by: str = "topic") -> dict[str, Any]:
    return {
        "drivers": metrics.drivers(con, f, outcome=outcome, by=by),
        "responses": metrics.outcome_count(con, f, outcome),
    }


def explore_data(
    con: Any, f: Filters, page: int = 1, order: str = "newest", page_size: int = PAGE_SIZE
) -> dict[str, Any]:
    return {"page": metrics.verbatims(con, f, page, page_size, order)}


PAGE_DATA: dict[str, Callable[..., Any]] = {
    "overview_data": overview_data,
    "pain_points_data": pain_points_data,
    "topics_data": topics_data,
    "trends_data": trends_data,
    "drivers_data": drivers_data,
    "explore_data": explore_data,
}


# -- access control --------------------------------------------------------------------------
def _secret(*path: str) -> Any:
    try:
        node: Any = st.secrets
        for part in path:
            node = node[part]
        return node
    except Exception:  # noqa: BLE001 - no secrets.toml, or the key is missing
        return None


def access_granted() -> bool:
    """Optional access control. Returns True when the session may see the explorer.

    * ``[auth]`` in ``.streamlit/secrets.toml`` (OIDC: Google, Microsoft Entra, Okta ...):
      users sign in with ``st.login``; ``[voc] allowed_emails`` (or ``VOC_ALLOWED_EMAILS``,
      comma-separated) limits who may enter.
    * else a shared password: ``VOC_APP_PASSWORD`` or ``[voc] password`` in secrets.
    * else open (a local, single-user explorer).
    """
    if _secret("auth") is not None:
        try:
            import authlib  # noqa: F401  (st.login needs it)
        except ImportError:
            st.error(
                "[E900] サインイン（[auth]）が設定されていますが、Authlib がありません。 "
                "Sign-in is configured but needs Authlib. Install it with: "
                "pip install 'streamlit[auth]==1.67.0'"
            )
            return False
        if not getattr(st.user, "is_logged_in", False):
            st.title("voc explorer")
            st.write("このエクスプローラーを使うにはログインしてください。 Please sign in.")
            st.button("ログイン / Sign in", key="login_button", on_click=st.login, type="primary")
            return False
        allowed = _allowed_emails()
        email = str(getattr(st.user, "email", "") or "").lower()
        if allowed and email not in allowed:
            st.error(
                f"{html.escape(email)} にはアクセス権がありません。 This account is not allowed."
            )
            st.button("ログアウト / Sign out", key="logout_button", on_click=st.logout)
            return False
        return True
    password = os.environ.get("VOC_APP_PASSWORD") or _secret("voc", "password")
    if not password:
        return True
    if st.session_state.get("_voc_auth") == _digest(str(password)):
        return True
    st.title("voc explorer")
    entered = st.text_input("パスワード / Password", type="password", key="app_password")
    if entered:
        if hmac.compare_digest(entered.encode(), str(password).encode()):
            st.session_state["_voc_auth"] = _digest(str(password))
            del st.session_state["app_password"]
            st.rerun()
        st.error("パスワードが違います。 Wrong password.")
    return False


def access_control_on() -> bool:
    """True when sign-in or a password protects the explorer (a shared deployment)."""
    return _secret("auth") is not None or bool(
        os.environ.get("VOC_APP_PASSWORD") or _secret("voc", "password")
    )


def _digest(secret: str) -> str:
    return hashlib.sha256(("voc-explorer:" + secret).encode()).hexdigest()


def _allowed_emails() -> set[str]:
    raw = os.environ.get("VOC_ALLOWED_EMAILS") or _secret("voc", "allowed_emails") or ""
    items = raw if isinstance(raw, list | tuple) else str(raw).split(",")
    return {str(x).strip().lower() for x in items if str(x).strip()}


def analyst_name() -> str:
    """Who is correcting: the signed-in user's e-mail, else what they typed in the sidebar."""
    if getattr(st.user, "is_logged_in", False) and getattr(st.user, "email", None):
        return str(st.user.email)
    return str(st.session_state.get("analyst_name") or "").strip()


# -- store selection and sidebar filters -----------------------------------------------------
@dataclass(frozen=True)
class Context:
    ref: StoreRef
    summary: metrics.StoreSummary
    filters: Filters


def open_store(*, show_filters: bool = True, extended: bool = False) -> Context | None:
    """Sidebar (store, period, channel, touchpoint [+ sentiment, emotion, topic]) -> Context.

    Shows a clear notice and returns None when there is no store to read yet.
    """
    filters_box = st.sidebar.container()
    path = store_sidebar()
    if not Path(path).expanduser().exists():
        st.info(
            f"ストアがまだありません: {md_escape(path)} 。 `make demo` か `voc analyze <dump> --store <このファイル>` "
            "で作るか、アップロードページからファイルを追加してください。 "
            "No store yet: run `make demo`, or add a dump on the Upload page.",
            icon=":material/database:",
        )
        return None
    ref = store_ref(path)
    try:
        snapshot(ref, notify=True)
        summary = _cached_summary(ref)
    except VocError as exc:
        st.error(str(exc), icon=":material/error:")
        return None
    filters = (
        sidebar_filters(summary, extended=extended, container=filters_box)
        if show_filters
        else Filters()
    )
    return Context(ref, summary, filters)


@st.cache_data(max_entries=8, show_spinner=False)
def _cached_summary(ref: StoreRef) -> metrics.StoreSummary:
    return metrics.summary(snapshot(ref))


def store_sidebar() -> str:
    """The store field (and the analyst's name) in the sidebar; returns the store path."""
    shared = access_control_on()
    with st.sidebar, st.expander("ストア / Store", expanded=False):
        if shared:  # a shared explorer reads the store its operator set ($VOC_STORE) only
            st.caption(md_escape(default_store_path()))
        else:
            st.text_input(
                "DuckDB ファイル",
                value=default_store_path(),
                key="store_path",
                persist_state="session",
                help="`voc analyze --store` で作ったファイル。環境変数 VOC_STORE で既定値を変えられます。",
            )
        if not getattr(st.user, "is_logged_in", False):
            st.text_input(
                "あなたの名前（修正の記録用）", key="analyst_name", persist_state="session"
            )
    return current_store_path()


def current_store_path() -> str:
    """The store this session reads: the sidebar's choice, or $VOC_STORE when shared."""
    if access_control_on():
        return default_store_path()
    return str(st.session_state.get("store_path") or default_store_path())


def sidebar_filters(
    summary: metrics.StoreSummary, *, extended: bool = False, container: Any = None
) -> Filters:
    """The filter widgets (values kept for the whole session across pages)."""
    sb = container if container is not None else st.sidebar
    sb.subheader("絞り込み / Filters")
    period: tuple[date, date] | None = None
    if summary.last_day is not None and summary.first_day is not None:
        preset = sb.selectbox(
            "期間", list(PRESETS), index=0, key="f_period_preset", persist_state="session"
        )
        weeks = PRESETS.get(preset)
        if weeks == -1:
            chosen = sb.date_input(
                "期間を指定",
                value=(max(summary.first_day, summary.last_day.replace(day=1)), summary.last_day),
                min_value=summary.first_day,
                max_value=summary.last_day,
                key="f_period_range",
                persist_state="session",
            )
            if isinstance(chosen, tuple | list) and len(chosen) == 2:
                period = (chosen[0], chosen[1])
        elif weeks:
            period = metrics.default_period(summary.last_day, weeks)
        if period is not None:
            sb.caption(
                f"{period[0]:%Y-%m-%d} 〜 {period[1]:%Y-%m-%d}（{(period[1] - period[0]).days + 1} 日）"
            )
    else:
        sb.caption("日付のある声がないため、期間では絞り込めません。")
    channels = sb.multiselect(
        "チャネル",
        list(summary.channels),
        format_func=metrics.channel_ja,
        key="f_channels",
        placeholder="すべて",
        persist_state="session",
    )
    touchpoints = sb.multiselect(
        "接点",
        list(summary.touchpoints),
        format_func=metrics.touchpoint_ja,
        key="f_touchpoints",
        placeholder="すべて",
        persist_state="session",
    )
    sentiments: list[str] = []
    emotions: list[str] = []
    topics: list[int] = []
    if extended:
        sentiments = sb.multiselect(
            "感情極性",
            list(metrics.SENTIMENTS),
            format_func=metrics.sentiment_ja,
            key="f_sentiments",
            placeholder="すべて",
            persist_state="session",
        )
        emotions = sb.multiselect(
            "感情",
            list(metrics.EMOTIONS),
            key="f_emotions",
            placeholder="すべて",
            persist_state="session",
        )
        labels = dict(summary.topics)
        topics = sb.multiselect(
            "トピック",
            list(labels),
            format_func=lambda t: labels.get(t, str(t)),
            key="f_topics",
            placeholder="すべて",
            persist_state="session",
        )
    return Filters(
        period=period,
        channels=tuple(channels),
        touchpoints=tuple(touchpoints),
        sentiments=tuple(sentiments),
        emotions=tuple(emotions),
        topics=tuple(int(t) for t in topics),
    )


def describe_filters(f: Filters) -> str:
    parts = []
    if f.period:
        parts.append(f"{f.period[0]:%Y-%m-%d}〜{f.period[1]:%Y-%m-%d}")
    else:
        parts.append("全期間")
    if f.channels:
        parts.append("チャネル: " + "・".join(metrics.channel_ja(c) for c in f.channels))
    if f.touchpoints:
        parts.append("接点: " + "・".join(metrics.touchpoint_ja(t) for t in f.touchpoints))
    return " / ".join(parts)


# -- safe text -------------------------------------------------------------------------------
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md_escape(text: Any) -> str:
    """Text shown through ``st.markdown``/captions: Markdown and HTML characters escaped."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def plot_text(text: Any) -> str:
    """Text inside Plotly labels (Plotly reads a few HTML tags such as <a>): escaped."""
    return html.escape(str(text), quote=False)


CARD_CSS = """<style>
.voc-card{border:1px solid #e3e5e8;border-radius:8px;padding:10px 14px;margin:2px 0 6px 0;background:#fff;
 font-family:"Noto Sans CJK JP","Noto Sans JP","Hiragino Sans",Meiryo,sans-serif;line-height:1.65}
.voc-card .meta{font-size:0.8rem;color:#5f6368;margin-bottom:4px}
.voc-card .chip{display:inline-block;border-radius:10px;padding:0 8px;margin-right:4px;font-size:0.78rem;color:#fff}
.voc-card .plain{display:inline-block;border-radius:10px;padding:0 8px;margin-right:4px;font-size:0.78rem;background:#eef0f2;color:#333}
.voc-card .text{font-size:0.95rem;color:#202124;white-space:normal;word-break:break-word}
.voc-card .title{font-weight:700}
.voc-card mark{background:#ffe58a;padding:0 1px;border-radius:2px}
.voc-kw{display:inline-block;border-radius:10px;padding:1px 9px;margin:2px 4px 2px 0;background:#eef0f2;font-size:0.85rem}
</style>"""


def card_html(row: Mapping[str, Any], query: str = "", tokenizer: Any = None) -> str:
    """One verbatim card: escaped text with search matches marked, and its scores."""
    sent = row.get("sentiment")
    emo = row.get("emotion")
    chips = []
    if isinstance(sent, str):
        color = metrics.SENTIMENT_COLORS.get(sent, "#777")
        score = row.get("sentiment_score")
        score_s = "" if metrics.missing(score) else f" {float(score):+.2f}"
        chips.append(
            f'<span class="chip" style="background:{color}">{html.escape(metrics.sentiment_ja(sent))}{score_s}</span>'
        )
    if isinstance(emo, str):
        color = metrics.EMOTION_COLORS.get(emo, "#777")
        chips.append(f'<span class="chip" style="background:{color}">{html.escape(emo)}</span>')
    label = row.get("topic_label")
    tid = row.get("topic_id")
    if (
        isinstance(label, str)
        and label
        and not metrics.missing(tid)
        and int(tid) != metrics.NO_TOPIC
    ):
        chips.append(f'<span class="plain">{html.escape(label)}</span>')
    if not metrics.missing(row.get("corrected")) and bool(row.get("corrected")):
        chips.append('<span class="plain">修正済み</span>')
    meta = []
    created = row.get("created_at")
    if not metrics.missing(created):
        stamp = str(created)[:16]
        meta.append(
            html.escape(stamp[:10] if stamp.endswith("00:00") else stamp)
        )  # date-only sources
    meta.append(html.escape(metrics.channel_ja(row.get("channel"))))
    meta.append(html.escape(metrics.touchpoint_ja(row.get("touchpoint"))))
    rating = row.get("rating")
    if not metrics.missing(rating):
        rating = float(rating)
        meta.append("★" * round(rating) + f" ({rating:g})")
    nps = row.get("nps")
    if not metrics.missing(nps):
        meta.append(f"推奨度 {float(nps):g}")
    body = str(row.get("text") or "")
    title = row.get("title")
    head = ""
    if isinstance(title, str) and title.strip() and body.startswith(title):
        head = f'<div class="title">{_marked(title, query, tokenizer)}</div>'
        body = body[len(title) :].lstrip("\n")
    text = head + _marked(body, query, tokenizer)
    return (
        '<div class="voc-card">'
        f'<div class="meta">{" · ".join(meta)}</div>'
        f"<div>{''.join(chips)}</div>"
        f'<div class="text">{text}</div></div>'
    )


def _marked(text: str, query: str, tokenizer: Any) -> str:
    return (
        metrics.highlight_html(text, query, tokenizer)
        if query
        else html.escape(text).replace("\n", "<br>")
    )


def render_cards(
    rows: Any, *, query: str = "", key_prefix: str = "card", relabel: Context | None = None
) -> None:
    """Verbatim cards; with ``relabel``, each card can be corrected (the relabel loop)."""
    st.html(CARD_CSS)
    tok = search_tokenizer() if query else None
    for row in rows.to_dict("records"):
        if relabel is None:
            st.html(card_html(row, query, tok))
            continue
        rid = str(row["record_id"])
        left, right = st.columns([14, 1], vertical_alignment="center")
        left.html(card_html(row, query, tok))
        if st.session_state.get("relabel_record") == rid:
            relabel_form(relabel, row)
        else:
            right.button(
                "修正",
                key=f"{key_prefix}_fix_{rid}",
                type="tertiary",
                icon=":material/edit:",
                help="この声のラベル（感情極性・感情・トピック）を修正",
                on_click=_open_relabel,
                args=(rid,),
            )


def _open_relabel(record_id: str) -> None:
    st.session_state["relabel_record"] = record_id


def relabel_form(ctx: Context, row: Mapping[str, Any]) -> None:
    """Correct the sentiment, emotion or topic of one voice; stored with who and when."""
    labels = dict(ctx.summary.topics)
    topic_names = [lab for t, lab in labels.items() if t != metrics.NO_TOPIC] + [
        metrics.NO_TOPIC_JA
    ]
    with st.container(border=True, key="relabel_box"):
        st.markdown(
            "**ラベルの修正** — 正しいラベルを選んで保存します（学習用データとして書き出せます）"
        )
        c1, c2, c3 = st.columns(3)
        cur_s = row.get("sentiment") if isinstance(row.get("sentiment"), str) else None
        cur_e = row.get("emotion") if isinstance(row.get("emotion"), str) else None
        cur_t = None if metrics.missing(row.get("topic_id")) else labels.get(int(row["topic_id"]))
        sent = c1.selectbox(
            "感情極性",
            list(metrics.SENTIMENTS),
            format_func=metrics.sentiment_ja,
            index=list(metrics.SENTIMENTS).index(cur_s) if cur_s in metrics.SENTIMENTS else 0,
            key="fix_sentiment",
        )
        emo = c2.selectbox(
            "感情",
            list(metrics.EMOTIONS),
            index=list(metrics.EMOTIONS).index(cur_e) if cur_e in metrics.EMOTIONS else 0,
            key="fix_emotion",
        )
        top = c3.selectbox(
            "トピック",
            topic_names,
            index=topic_names.index(cur_t) if cur_t in topic_names else len(topic_names) - 1,
            key="fix_topic",
        )
        note = st.text_input("メモ（任意）", key="fix_note")
        who = analyst_name()
        if not who:
            who = st.text_input("あなたの名前", key="fix_by")
        b1, b2 = st.columns([1, 1])
        save = b1.button("保存", key="fix_save", type="primary")
        b2.button("キャンセル", key="fix_cancel", on_click=_open_relabel, args=(None,))
        if save:
            changes = []
            for fld, new, old in (
                ("sentiment", sent, cur_s),
                ("emotion", emo, cur_e),
                ("topic", top, cur_t),
            ):
                if new != old:
                    changes.append(
                        metrics.Correction(
                            str(row["record_id"]), fld, new, who or "", old_value=old, note=note
                        )
                    )
            if not changes:
                st.info("変更はありません。")
                return
            try:
                n = metrics.save_corrections(ctx.ref.path, changes)
            except VocError as exc:
                st.error(str(exc))
                return
            st.session_state["relabel_record"] = None
            st.session_state["_relabel_done"] = n
            clear_caches()
            st.rerun()


# -- models (st.cache_resource: loaded once, shared by all sessions) ---------------------------
@st.cache_resource(show_spinner=False)
def _load_tokenizer() -> Any:
    from voc.text.tokenize import JapaneseTokenizer

    return JapaneseTokenizer()


def search_tokenizer() -> Any:
    try:
        return _load_tokenizer()
    except Exception:  # noqa: BLE001 - pragma: no cover - fugashi missing
        return None


def topic_model_dir(store_path: str | Path | None = None) -> Path | None:
    """The saved topic model: ``$VOC_TOPIC_MODEL``, else ``voc_topics/`` next to the store
    (where ``voc topics fit`` saves it), else ``models/voc-topics``."""
    env = os.environ.get("VOC_TOPIC_MODEL")
    if env:
        return Path(env) if Path(env).exists() else None
    store = Path(store_path or current_store_path())
    for c in (store.parent / "voc_topics", Path("models/voc-topics")):
        if c.exists():
            return c
    return None


@st.cache_resource(show_spinner="感情モデルを読み込んでいます… Loading the model…")
def _load_classifier(path: str) -> Any:
    from voc.classify.predict import Classifier

    return Classifier.load(path)


def load_classifier() -> tuple[Any, str | None]:
    """The sentiment/emotion model ($VOC_MODEL or the shipped one), or (None, why not).

    A missing folder is reported at once (without importing torch); a model that appears
    later is picked up on the next run."""
    from voc.classify.predict import default_model_dir

    folder = default_model_dir()
    if not folder.exists():
        return None, f"[E313] model folder not found ({folder})"
    try:
        return _load_classifier(str(folder)), None
    except Exception as exc:  # noqa: BLE001 - missing base weights, broken files
        logger.info("no sentiment model: %s", exc)
        return None, str(exc)


def score_with(classifier: Any, text: str) -> Any:
    return classifier.predict([text], sentence_level=True)[0]


@st.cache_resource(show_spinner="トピックモデルを読み込んでいます… Loading the topic model…")
def _load_topic_model(path: str) -> Any:
    from voc.topics import TopicModeler

    return TopicModeler.load(path)


def nearest_topic(text: str) -> str | None:
    """The nearest topic of a text, in words: from the saved topic model when there is one,
    else from the keywords of the store's topics (and it says so)."""
    folder = topic_model_dir()
    if folder is not None:
        try:
            model = _load_topic_model(str(folder))
            tid, sim = _first_topic(model.transform([text]))
            if tid is not None:
                labels = getattr(model, "labels_", None)
                label = labels.get(tid) if isinstance(labels, Mapping) else None
                label = label or _store_topic_label(tid) or f"トピック {tid}"
                if tid == metrics.NO_TOPIC:
                    return f"どのトピックにも当てはまりません（{metrics.NO_TOPIC_JA}、トピックモデル {folder.name}）"
                extra = f"、類似度 {sim:.2f}" if isinstance(sim, float) else ""
                return f"「{label}」（トピックモデル {folder.name}{extra}）"
        except Exception as exc:  # noqa: BLE001 - an optional feature must not break the page
            logger.info("topic model unavailable: %s", exc)
    path = current_store_path()
    if not Path(path).exists():
        return None
    try:
        con = snapshot(store_ref(path))
        tok = search_tokenizer()
        lemmas = tok.lemmas(text) if tok is not None else []
        found = metrics.nearest_topics_by_keywords(con, lemmas)
    except Exception as exc:  # noqa: BLE001 - pragma: no cover
        logger.info("keyword topic match failed: %s", exc)
        return None
    if not found:
        return "近いトピックは見つかりませんでした（ストアのトピックのキーワードと一致する語がありません）。"
    best = "、".join(f"「{label}」" for _, label, _ in found)
    return f"{best}（トピックモデルを読み込めないため、ストアのトピックのキーワードとの一致で推定）"


def _first_topic(result: Any) -> tuple[int | None, float | None]:
    """(topic, similarity) of the first text from ``TopicModeler.transform`` ->
    ``(topic_ids, similarities)``."""
    topics, sims = result, None
    if isinstance(result, tuple) and len(result) == 2:
        topics, sims = result
    if topics is None or not len(topics):
        return None, None
    sim = None
    if sims is not None and len(sims):
        try:
            sim = float(sims[0])
        except (TypeError, ValueError):
            sim = None
    return int(topics[0]), sim


def _store_topic_label(tid: int) -> str | None:
    path = current_store_path()
    if not Path(path).exists():
        return None
    try:
        return metrics.topic_labels(snapshot(store_ref(path))).get(tid)
    except Exception:  # noqa: BLE001 - an optional feature must not break the page
        return None


def upload_scorers(store_path: str | Path | None = None) -> tuple[list[Any], str | None]:
    """Scorers for an upload: the cached sentiment model (+ the saved topic model).

    Without a sentiment model the dump is still ingested (no scores), with a notice."""
    notice = None
    scorers: list[Any] = []
    clf, err = load_classifier()
    if clf is not None:
        from voc.classify.scorer import SentimentScorer

        scorers.append(SentimentScorer(clf))
    else:
        notice = (
            "感情モデルが見つかりません（no sentiment model found）。テキストは取り込みますが、"
            f"感情は判定されません。詳細: {err}"
        )
    folder = topic_model_dir(store_path)
    if folder is not None:
        try:
            from voc.pipeline import default_scorers

            scorers += default_scorers(sentiment=False, topics=folder)
        except Exception as exc:  # noqa: BLE001 - an optional feature must not break the page
            notice = (
                notice + " " if notice else ""
            ) + f"トピックモデルを読み込めませんでした: {exc}"
    return scorers, notice


# -- light HTML charts (the Overview's small bars: cheaper to draw than a Plotly figure) ----
BARS_CSS = """<style>
.voc-share{display:flex;height:34px;border-radius:6px;overflow:hidden;margin:4px 0 6px 0;
 font-family:"Noto Sans CJK JP","Noto Sans JP","Hiragino Sans",Meiryo,sans-serif}
.voc-share div{display:flex;align-items:center;justify-content:center;color:#fff;font-size:0.85rem;
 white-space:nowrap;overflow:hidden}
.voc-legend{font-size:0.8rem;color:#5f6368;margin-bottom:8px}
.voc-legend span.sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin:0 4px 0 10px}
.voc-bars{width:100%;border-collapse:collapse;font-size:0.9rem;
 font-family:"Noto Sans CJK JP","Noto Sans JP","Hiragino Sans",Meiryo,sans-serif}
.voc-bars td{padding:3px 4px;vertical-align:middle}
.voc-bars td.l{width:5.5em;white-space:nowrap}
.voc-bars td.v{width:6.5em;text-align:right;color:#5f6368;white-space:nowrap}
.voc-bars div.b{height:16px;border-radius:3px}
.voc-table{width:100%;border-collapse:collapse;font-size:0.9rem;
 font-family:"Noto Sans CJK JP","Noto Sans JP","Hiragino Sans",Meiryo,sans-serif}
.voc-table th{text-align:left;font-weight:500;color:#5f6368;border-bottom:1px solid #e3e5e8;padding:4px 6px}
.voc-table td{border-bottom:1px solid #f0f1f3;padding:5px 6px}
.voc-table td.n,.voc-table th.n{text-align:right;white-space:nowrap}
.voc-up{color:#D1495B}.voc-down{color:#2E86AB}
</style>"""


def share_bar_html(parts: Sequence[tuple[str, float, int, str]]) -> str:
    """One stacked bar of shares: (label, share 0-1, count, colour) -> safe HTML."""
    cells, legend = [], []
    for label, share, n, color in parts:
        if share <= 0:
            continue
        if share >= 0.3:
            text = f"{html.escape(label)} {share * 100:.0f}%（{n:,}件）"
        elif share >= 0.18:
            text = f"{html.escape(label)} {share * 100:.0f}%"
        else:
            text = f"{share * 100:.0f}%" if share >= 0.05 else ""
        cells.append(
            f'<div style="width:{share * 100:.2f}%;background:{color}" title="{html.escape(label)} {share * 100:.1f}%">{text}</div>'
        )
        legend.append(
            f'<span class="sw" style="background:{color}"></span>{html.escape(label)} {n:,}件'
        )
    return (
        BARS_CSS
        + f'<div class="voc-share">{"".join(cells)}</div><div class="voc-legend">{"".join(legend)}</div>'
    )


def bars_html(rows: Sequence[tuple[str, int, float, str]]) -> str:
    """Horizontal bars: (label, count, share 0-1, colour) -> safe HTML, longest = full width."""
    top = max((n for _, n, _, _ in rows), default=0) or 1
    body = "".join(
        f'<tr><td class="l">{html.escape(label)}</td>'
        f'<td><div class="b" style="width:{max(n / top * 100, 0.5):.1f}%;background:{color}"></div></td>'
        f'<td class="v">{n:,}件 {share * 100:.0f}%</td></tr>'
        for label, n, share, color in rows
    )
    return BARS_CSS + f'<table class="voc-bars">{body}</table>'


def pain_table_html(pp: Any, compare: bool) -> str:
    """The Overview's top pain points: topic, complaints, previous period, change (safe HTML)."""
    head = "<tr><th>トピック</th><th class='n'>不満の件数</th>" + (
        "<th class='n'>前期間</th><th class='n'>増減</th></tr>" if compare else "</tr>"
    )
    rows = []
    for r in pp.to_dict("records"):
        cells = (
            f"<td>{html.escape(str(r['label']))}</td><td class='n'>{int(r['complaints']):,}</td>"
        )
        if compare and not metrics.missing(r.get("delta")):
            d = int(r["delta"])
            cls = "voc-up" if d > 0 else ("voc-down" if d < 0 else "")
            arrow = "▲" if d > 0 else ("▼" if d < 0 else "±")
            cells += f"<td class='n'>{int(r['previous']):,}</td><td class='n {cls}'>{arrow} {abs(d):,}</td>"
        rows.append(f"<tr>{cells}</tr>")
    return BARS_CSS + f'<table class="voc-table">{head}{"".join(rows)}</table>'


# -- Plotly ------------------------------------------------------------------------------------
def style(fig: Any, *, height: int = 360, legend: bool = True) -> Any:
    """Japanese fonts, white background, light grid, compact margins (the same look on every
    page). One ``layout.update`` call: Plotly templates cost tens of ms per figure."""
    axis = {
        "gridcolor": "#ebedf0",
        "zerolinecolor": "#d5d8dc",
        "linecolor": "#d5d8dc",
        "automargin": True,
    }
    fig.layout.update(
        {
            "font": {"family": FONT_FAMILY, "size": 13, "color": "#202124"},
            "paper_bgcolor": "#ffffff",
            "plot_bgcolor": "#ffffff",
            "height": height,
            "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
            "showlegend": legend,
            "legend": {
                "orientation": "h",
                "yanchor": "bottom",
                "y": 1.02,
                "xanchor": "left",
                "x": 0,
                "title": {"text": ""},
                "traceorder": "normal",
            },
            "hoverlabel": {"font": {"family": FONT_FAMILY}},
            "xaxis": axis,
            "yaxis": axis,
        }
    )
    return fig


def weekly_sentiment_bars(weekly: Any) -> Any:
    """Stacked weekly bars per sentiment (columns ``week``, ``key``, ``n``), in the
    sentiment colours every page uses."""
    import plotly.graph_objects as go

    from voc import metrics

    fig = go.Figure()
    for key in metrics.SENTIMENTS:
        part = weekly[weekly["key"] == key]
        if len(part):
            fig.add_bar(
                x=part["week"],
                y=part["n"],
                name=metrics.SENTIMENT_JA[key],
                marker_color=metrics.SENTIMENT_COLORS[key],
                hovertemplate="%{x|%Y-%m-%d}週: %{y}件<extra>" + metrics.SENTIMENT_JA[key] + "</extra>",
            )
    fig.update_layout(barmode="stack", yaxis={"title": "件数"})
    return week_axis(fig, weekly["week"])


def week_axis(
    fig: Any, weeks: Sequence[Any], title: str | None = "週（月曜始まり）", max_ticks: int = 14
) -> Any:
    """Ticks on the Mondays that start the weeks (at most ``max_ticks`` labels; with the
    year when the weeks span more than one)."""
    import pandas as pd

    ws = sorted(set(pd.to_datetime(list(weeks))))
    if not ws:
        return fig
    step = max(1, -(-len(ws) // max_ticks))
    ticks = ws[::step]
    fmt = "%y/%m/%d" if ws[-1].year != ws[0].year else "%m/%d"
    fig.layout.xaxis.update(
        {
            "tickvals": ticks,
            "ticktext": [t.strftime(fmt) for t in ticks],
            "title": {"text": title or ""},
        }
    )
    return fig


def plot(fig: Any, key: str, **kwargs: Any) -> Any:
    return st.plotly_chart(fig, key=key, theme=None, config={"displaylogo": False}, **kwargs)


def fmt_pct(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{x * 100:.{digits}f}%"


def fmt_delta_pt(d: float | None, scale: float = 100.0, unit: str = "pt") -> str | None:
    return None if d is None else f"{d * scale:+.1f} {unit}"


def palette_for(keys: Sequence[Any]) -> dict[Any, str]:
    return {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(keys)}
