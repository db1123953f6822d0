"""ペインポイント Pain points: touchpoint x topic, sized by volume and coloured by negativity.
Choosing a cell (click it, or pick it below) opens its verbatims."""

from __future__ import annotations

import math

import plotly.graph_objects as go
import streamlit as st

from voc import app_support as ui
from voc import metrics

st.title("ペインポイント Pain points")
ctx = ui.open_store()
if ctx is None:
    st.stop()
f = ctx.filters
st.caption(ui.describe_filters(f))
cells = ui.call("pain_points", ctx.ref, f)
if cells.empty:
    st.info(
        "この条件ではトピックの付いた声がありません。トピックモデルを当てる（`voc analyze --topics`）か、絞り込みを広げてください。"
    )
    st.stop()

tps = [t for t in ctx.summary.touchpoints if t in set(cells["touchpoint"])] + sorted(
    set(cells["touchpoint"]) - set(ctx.summary.touchpoints)
)
topic_order = cells.groupby("label")["complaints"].sum().sort_values(ascending=True).index.tolist()
biggest = max(int(cells["volume"].max()), 1)
fig = go.Figure(
    go.Scatter(
        x=[ui.plot_text(metrics.touchpoint_ja(t)) for t in cells["touchpoint"]],
        y=[ui.plot_text(lab) for lab in cells["label"]],
        mode="markers+text",
        text=[str(v) for v in cells["volume"]],
        textfont={"size": 11, "color": "#202124"},
        textposition="middle center",
        marker={
            "symbol": "square",
            "size": [16 + 44 * math.sqrt(v / biggest) for v in cells["volume"]],
            "color": cells["negativity"],
            "colorscale": [[0, "#2E86AB"], [0.5, "#F1F1F1"], [1, "#D1495B"]],
            "cmin": 0,
            "cmax": 1,
            "colorbar": {"title": {"text": "ネガティブ度"}, "tickformat": ".0%"},
            "line": {"width": 1, "color": "#ffffff"},
        },
        customdata=list(
            zip(
                cells["touchpoint"],
                cells["topic_id"],
                cells["complaints"],
                cells["negativity"],
                strict=True,
            )
        ),
        hovertemplate="%{x} × %{y}<br>件数 %{text}・不満 %{customdata[2]}件<br>ネガティブ度 %{customdata[3]:.0%}<extra></extra>",
    )
)
fig.update_layout(
    xaxis={
        "categoryorder": "array",
        "categoryarray": [ui.plot_text(metrics.touchpoint_ja(t)) for t in tps],
        "title": "接点",
        "side": "top",
    },
    yaxis={
        "categoryorder": "array",
        "categoryarray": [ui.plot_text(t) for t in topic_order],
        "title": None,
    },
)
event = ui.plot(
    ui.style(fig, height=max(320, 70 + 48 * len(topic_order)), legend=False),
    key="pp_chart",
    on_select="rerun",
    selection_mode="points",
)
st.caption(
    "四角の大きさ = 声の件数、色 = ネガティブ度（各声のネガティブ確率の平均。赤いほど不満が強い）。"
    "四角をクリックするか、下で接点とトピックを選ぶと、その声を表示します。"
)

# a click on a cell selects it in the pickers below (once per new click)
points = (event or {}).get("selection", {}).get("points", []) if event else []
if points:
    cd = points[0].get("customdata")
    if cd and st.session_state.get("_pp_last_click") != list(cd[:2]):
        st.session_state["_pp_last_click"] = list(cd[:2])
        st.session_state["pp_touchpoint"] = cd[0]
        st.session_state["pp_topic"] = int(cd[1])
        st.session_state["pp_page"] = 1

labels = dict(ctx.summary.topics)
ranked = cells.sort_values("complaints", ascending=False)
c1, c2 = st.columns(2)


def _reset_page() -> None:
    st.session_state["pp_page"] = 1


tp = c1.selectbox(
    "接点",
    tps,
    format_func=metrics.touchpoint_ja,
    key="pp_touchpoint",
    on_change=_reset_page,
    index=tps.index(ranked["touchpoint"].iloc[0]) if ranked["touchpoint"].iloc[0] in tps else 0,
)
topic_ids = [
    int(t)
    for t in cells.drop_duplicates("topic_id").sort_values("complaints", ascending=False)[
        "topic_id"
    ]
]
tid = c2.selectbox(
    "トピック",
    topic_ids,
    format_func=lambda t: labels.get(t, str(t)),
    key="pp_topic",
    on_change=_reset_page,
    index=topic_ids.index(int(ranked["topic_id"].iloc[0])),
)
cell = cells[(cells["touchpoint"] == tp) & (cells["topic_id"] == tid)]
sel = f.with_(touchpoints=(tp,), topics=(tid,))
if cell.empty:
    st.info(f"{metrics.touchpoint_ja(tp)} × {labels.get(tid, tid)} には声がありません。")
else:
    r = cell.iloc[0]
    st.subheader(f"{metrics.touchpoint_ja(tp)} × {labels.get(tid, tid)}")
    st.caption(
        f"{int(r['volume'])} 件・うち不満 {int(r['complaints'])} 件・ネガティブ度 {r['negativity']:.0%}（ネガティブな順）"
    )
    page_size = 10
    n_pages = max(1, math.ceil(int(r["volume"]) / page_size))
    if int(st.session_state.get("pp_page") or 1) > n_pages:
        st.session_state["pp_page"] = 1
    page_no = int(st.session_state.get("pp_page") or 1)
    page = ui.call(
        "verbatims", ctx.ref, sel, page=page_no, page_size=page_size, order="most_negative"
    )
    ui.render_cards(page.rows, key_prefix="pp", relabel=ctx)
    if page.pages > 1:
        st.pagination(page.pages, key="pp_page")

with st.expander("表で見る（すべてのセル）"):
    table = cells.sort_values("complaints", ascending=False)[
        ["touchpoint_ja", "label", "volume", "complaints", "negativity"]
    ]
    st.dataframe(
        table.rename(
            columns={
                "touchpoint_ja": "接点",
                "label": "トピック",
                "volume": "件数",
                "complaints": "不満",
                "negativity": "ネガティブ度",
            }
        ),
        hide_index=True,
        width="stretch",
        key="pp_table",
        column_config={
            "ネガティブ度": st.column_config.ProgressColumn(
                format="percent", min_value=0, max_value=1
            )
        },
    )
