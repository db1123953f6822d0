"""トレンド Trends: weekly sentiment, emotions and complaint volumes, with spike alerts."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from voc import app_support as ui
from voc import metrics

st.title("トレンド Trends")
ctx = ui.open_store()
if ctx is None:
    st.stop()
f = ctx.filters
if ctx.summary.last_day is None:
    st.info("日付のある声がないため、週ごとの推移は表示できません。")
    st.stop()
by = st.radio(
    "不満の内訳と急増検知の単位",
    ["topic", "touchpoint"],
    format_func={"topic": "トピック", "touchpoint": "接点"}.get,
    horizontal=True,
    key="trend_by",
)
data = ui.call("trends_data", ctx.ref, f, last_day=ctx.summary.last_day, by=by)
tf = metrics.trend_filters(f, ctx.summary.last_day)
st.caption(
    ui.describe_filters(tf)
    + "（推移と基準が見えるよう、週ごとのグラフと急増アラートは期間の終わりまでの最低12週を表示）"
)

# -- alerts ---------------------------------------------------------------------------------
sp = data["spikes"]
alerts = (
    sp[sp["status"] != "normal"].sort_values(["week", "q"], ascending=[False, True])
    if len(sp)
    else sp
)
st.subheader("急増アラート")
if alerts is None or alerts.empty:
    st.success(
        "期間内に、ふだんの水準を統計的に上回った不満の急増はありません。",
        icon=":material/check_circle:",
    )
else:
    for r in alerts.to_dict("records"):
        text = ui.md_escape(metrics.spike_sentence(r))
        if r["status"] == "spike":
            st.error("**急増** " + text, icon=":material/warning:")
        else:
            st.warning("**要注意** " + text, icon=":material/visibility:")
st.caption(
    "検定: 各トピック（接点）の週の不満件数を、同じトピックの直前8週（最低4週）と比べる"
    "「2つのポアソン率の正確な条件付き検定」（二項検定。その週と基準期間の他の声の件数で調整）。"
    "同じ週に検定したトピック間で Benjamini-Hochberg 補正を行い、q < 0.10・3件以上・1.5倍以上を **急増**、"
    "補正前 p < 0.05 を **要注意** とします。急増と判定した週は以後の基準から除きます。"
)

# -- complaints per topic/touchpoint ----------------------------------------------------------
st.subheader("不満の件数（週ごと）" + ("・トピック別" if by == "topic" else "・接点別"))
wk = data["topics"]
if wk.empty:
    st.caption("不満の声がありません。")
else:
    if by == "topic":
        wk = wk[wk["key"] != metrics.NO_TOPIC]
    keys = list(dict.fromkeys(wk["key"]))
    colors = ui.palette_for(keys)
    fig = go.Figure()
    for k in keys:
        part = wk[wk["key"] == k]
        name = ui.plot_text(part["label"].iloc[0])
        fig.add_scatter(
            x=part["week"],
            y=part["n"],
            name=name,
            mode="lines+markers",
            line={"color": colors[k], "width": 2},
            hovertemplate="%{x|%Y-%m-%d}週: %{y}件<extra>" + name + "</extra>",
        )
        if len(sp):
            hits = sp[(sp["key"] == k) & (sp["status"] == "spike")]
            if len(hits):
                fig.add_scatter(
                    x=hits["week"],
                    y=hits["complaints"],
                    mode="markers",
                    showlegend=False,
                    marker={
                        "symbol": "circle-open",
                        "size": 18,
                        "color": "#D1495B",
                        "line": {"width": 3},
                    },
                    hovertemplate="急増: %{y}件<extra>" + name + "</extra>",
                )
    fig.update_layout(yaxis={"title": "不満の件数", "rangemode": "tozero"})
    ui.week_axis(fig, wk["week"])
    ui.plot(ui.style(fig, height=360), key="trend_topics")
    st.caption("赤い丸 = 急増と判定された週。")

left, right = st.columns(2)
with left:
    st.subheader("感情極性の割合")
    s = data["sentiment"]
    fig = go.Figure()
    for key in metrics.SENTIMENTS:
        part = s[s["key"] == key]
        if len(part):
            fig.add_scatter(
                x=part["week"],
                y=part["share"] * 100,
                name=metrics.SENTIMENT_JA[key],
                stackgroup="one",
                mode="lines",
                line={"color": metrics.SENTIMENT_COLORS[key], "width": 0.5},
                fillcolor=metrics.SENTIMENT_COLORS[key],
                customdata=part["n"],
                hovertemplate="%{x|%Y-%m-%d}週: %{y:.0f}%（%{customdata}件）<extra>"
                + metrics.SENTIMENT_JA[key]
                + "</extra>",
            )
    fig.update_layout(yaxis={"range": [0, 100], "ticksuffix": "%"})
    ui.week_axis(fig, s["week"], title=None, max_ticks=7)
    ui.plot(ui.style(fig, height=300), key="trend_sentiment")
with right:
    st.subheader("感情の件数")
    e = data["emotion"]
    fig = go.Figure()
    for key in [k for k in metrics.EMOTIONS if k in set(e["key"])] + [
        k for k in dict.fromkeys(e["key"]) if k not in metrics.EMOTIONS
    ]:
        part = e[e["key"] == key]
        fig.add_bar(
            x=part["week"],
            y=part["n"],
            name=ui.plot_text(key),
            marker_color=metrics.EMOTION_COLORS.get(key, "#888"),
            hovertemplate="%{x|%Y-%m-%d}週: %{y}件<extra>" + ui.plot_text(key) + "</extra>",
        )
    fig.update_layout(barmode="stack", yaxis={"title": "件数"})
    ui.week_axis(fig, e["week"], title=None, max_ticks=7)
    ui.plot(ui.style(fig, height=300), key="trend_emotions")

with st.expander("検定したすべての週（表）"):
    if len(sp):
        show = sp.assign(week=sp["week"].dt.strftime("%Y-%m-%d"))[
            ["week", "label", "complaints", "expected", "ratio", "p", "q", "status"]
        ]
        st.dataframe(
            show.rename(
                columns={
                    "week": "週",
                    "label": "対象",
                    "complaints": "不満",
                    "expected": "基準からの期待値",
                    "ratio": "倍率",
                    "status": "判定",
                }
            ),
            hide_index=True,
            width="stretch",
            key="trend_table",
            column_config={
                "基準からの期待値": st.column_config.NumberColumn(format="%.1f"),
                "倍率": st.column_config.NumberColumn(format="%.2f"),
                "p": st.column_config.NumberColumn(format="%.4f"),
                "q": st.column_config.NumberColumn(format="%.4f"),
            },
        )
