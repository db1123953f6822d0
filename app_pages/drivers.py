"""ドライバー Drivers: which topics and touchpoints pull NPS or ratings down, with a
difference in means and its 95% confidence interval (Welch), in plain words."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from voc import app_support as ui
from voc import metrics

MIN_RESPONSES = 30  # fewer answers than this in the period: use up to 26 weeks

st.title("ドライバー Drivers")
ctx = ui.open_store()
if ctx is None:
    st.stop()
f = ctx.filters
outcomes = [o for o, ok in (("nps", ctx.summary.has_nps), ("rating", ctx.summary.has_rating)) if ok]
if not outcomes:
    st.info("推奨度（NPS）も星評価もない声だけなので、ドライバー分析はできません。")
    st.stop()
c1, c2 = st.columns(2)
outcome = c1.radio(
    "何への影響を見るか",
    outcomes,
    format_func={"nps": "NPS（推奨度 0〜10）", "rating": "星評価（1〜5）"}.get,
    horizontal=True,
    key="drv_outcome",
)
by = c2.radio(
    "要因",
    ["topic", "touchpoint"],
    format_func={"topic": "トピック", "touchpoint": "接点"}.get,
    horizontal=True,
    key="drv_by",
)
st.caption(
    ui.describe_filters(f)
    + ("（要因のトピック絞り込みは無視）" if by == "topic" and f.topics else "")
)
data = ui.call("drivers_data", ctx.ref, f, outcome=outcome, by=by)
dr = data["drivers"]
if data["responses"] < MIN_RESPONSES and f.period is not None:
    # too few answers in a short period for an interval that says anything: widen it
    wide = metrics.trend_filters(f, ctx.summary.last_day, min_weeks=26)
    wider = ui.call("drivers_data", ctx.ref, wide, outcome=outcome, by=by)
    if wider["responses"] > data["responses"]:
        dr = wider["drivers"]
        start = max(wide.period[0], ctx.summary.first_day or wide.period[0])
        st.info(
            f"選んだ期間の回答は {data['responses']} 件と少ないため、"
            f"{start:%Y-%m-%d}〜{wide.period[1]:%Y-%m-%d}（最大26週、{wider['responses']} 件）で計算しました。"
        )
if dr.empty:
    st.info(
        "比べられるだけの件数（各グループ5件以上）がありません。期間や絞り込みを広げてください。"
    )
    st.stop()

clear_bad = dr[dr["clear"] & (dr["diff"] < 0)]
st.subheader("下げている要因")
if clear_bad.empty:
    st.success(
        "はっきり下げている要因は見つかりませんでした（95%信頼区間がすべて 0 をまたいでいます）。"
    )
else:
    for r in clear_bad.to_dict("records"):
        st.markdown("- " + ui.md_escape(r["sentence"]))
unit = "点" if outcome == "nps" else "つ星"
fig = go.Figure(
    go.Bar(
        x=dr["diff"],
        y=[ui.plot_text(lab) for lab in dr["label"]],
        orientation="h",
        marker_color=[
            "#D1495B" if (c and d < 0) else ("#2E86AB" if c else "#B8BCC2")
            for c, d in zip(dr["clear"], dr["diff"], strict=True)
        ],
        error_x={
            "type": "data",
            "symmetric": False,
            "array": dr["ci_high"] - dr["diff"],
            "arrayminus": dr["diff"] - dr["ci_low"],
            "color": "#555",
        },
        customdata=list(zip(dr["n"], dr["ci_low"], dr["ci_high"], strict=True)),
        hovertemplate="%{y}: 平均 %{x:+.2f}"
        + unit
        + "（95%CI %{customdata[1]:+.2f}〜%{customdata[2]:+.2f}、n=%{customdata[0]}）<extra></extra>",
    )
)
fig.add_vline(x=0, line_color="#333", line_width=1)
fig.update_layout(
    xaxis={"title": f"他の回答との平均の差（{unit}）"}, yaxis={"autorange": "reversed"}
)
ui.plot(ui.style(fig, height=max(260, 60 + 40 * len(dr)), legend=False), key="drv_chart")
st.caption(
    "棒 = その要因に当てはまる声と、それ以外の声の平均の差。ひげ = 95%信頼区間（Welch の t 区間）。"
    "赤 = はっきり下げている、灰 = 差がはっきりしない。並び順は影響度（差 × 件数の割合 = 全体の平均をどれだけ動かしているか）。"
    "相関であって因果ではありません。"
)
with st.expander("詳しい数値"):
    cols = {
        "label": "要因",
        "n": "件数",
        "mean": "平均",
        "mean_rest": "それ以外の平均",
        "diff": "差",
        "ci_low": "95%CI 下限",
        "ci_high": "95%CI 上限",
        "impact": "影響度",
    }
    if outcome == "nps":
        cols.update({"nps": "NPS", "nps_rest": "それ以外のNPS"})
    st.dataframe(
        dr[list(cols)].rename(columns=cols),
        hide_index=True,
        width="stretch",
        key="drv_table",
        column_config={
            c: st.column_config.NumberColumn(format="%.2f")
            for c in cols.values()
            if c not in ("要因", "件数")
        },
    )
    for r in dr.to_dict("records"):
        st.caption(ui.md_escape(r["sentence_en"]))
