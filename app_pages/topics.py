"""トピック Topics: label, keywords, weekly trend, emotion mix and representative verbatims."""

from __future__ import annotations

import html

import plotly.graph_objects as go
import streamlit as st

from voc import app_support as ui
from voc import metrics
from voc.topics.config import UNSTEADY_AGREEMENT

st.title("トピック Topics")
ctx = ui.open_store()
if ctx is None:
    st.stop()
f = ctx.filters
st.caption(ui.describe_filters(f))
labels = dict(ctx.summary.topics)
if not labels:
    st.info(
        "このストアにはトピックがありません。`voc analyze --topics <モデル>` でトピックを付けてください。"
    )
    st.stop()

fit = ui.call("topics_fit", ctx.ref)
if fit.get("layout_seeds") and float(fit.get("layout_agreement", 1.0)) < UNSTEADY_AGREEMENT:
    st.warning(
        f"このトピックは {int(fit.get('n_docs', 0)):,} 件の不満から作られました。件数が少ないため、"
        f"分け方は乱数の種によって大きく変わります（{len(fit['layout_seeds'])} 通りの分け方の一致度 "
        f"{float(fit['layout_agreement']):.2f}、1.00 で完全一致）。最初の整理として読み、"
        "不満が増えたら `voc topics refit` で作り直してください。",
        icon=":material/info:",
    )

table = ui.call("topics_overview", ctx.ref, f)
ids = [int(t) for t in table["topic_id"] if int(t) != metrics.NO_TOPIC] + (
    [metrics.NO_TOPIC] if metrics.NO_TOPIC in labels else []
)
if st.session_state.get("topic_select") not in ids:
    st.session_state.pop("topic_select", None)
tid = st.selectbox(
    "トピックを開く",
    ids,
    format_func=lambda t: (
        f"{labels.get(t, t)}（不満 {int(table.loc[table.topic_id == t, 'complaints'].iloc[0])} 件）"
        if (table.topic_id == t).any()
        else labels.get(t, str(t))
    ),
    key="topic_select",
)
data = ui.call("topics_data", ctx.ref, f, topic_id=tid, last_day=ctx.summary.last_day)
row = table[table["topic_id"] == tid].iloc[0]

st.header(labels.get(tid, str(tid)))
kws = row["keywords"] or []
if kws:
    st.html(
        ui.CARD_CSS
        + "".join(f'<span class="voc-kw">{html.escape(str(k))}</span>' for k in kws[:12])
    )
c1, c2, c3, c4 = st.columns(4)
c1.metric("声の件数", f"{int(row['voices']):,}", border=True, help="今の絞り込み条件での件数")
c2.metric("うち不満", f"{int(row['complaints']):,}", border=True)
neg = row.get("negativity")
c3.metric(
    "ネガティブ度",
    "—" if metrics.missing(neg) else f"{neg:.0%}",
    border=True,
    help="各声のネガティブ確率の平均",
)
size = row.get("size")
c4.metric(
    "モデル上の件数",
    "—" if metrics.missing(size) else f"{int(size):,}",
    border=True,
    help="トピックモデルがこのトピックに割り当てた件数（全期間）",
)

left, right = st.columns([3, 2])
with left:
    st.subheader("週ごとの件数")
    ui.plot(ui.style(ui.weekly_sentiment_bars(data["weekly"]), height=300), key="topic_weekly")
with right:
    st.subheader("感情の内訳")
    em = data["emotions"]
    em = em[em["n"] > 0]
    if em.empty:
        st.caption("感情が判定された声がありません。")
    else:
        fig = go.Figure(
            go.Pie(
                labels=em["emotion"],
                values=em["n"],
                hole=0.5,
                sort=False,
                marker={"colors": [metrics.EMOTION_COLORS.get(e, "#888") for e in em["emotion"]]},
                texttemplate="%{label}<br>%{percent:.0%}",
                hovertemplate="%{label}: %{value}件<extra></extra>",
            )
        )
        fig.update_layout(margin={"t": 20, "b": 20})
        ui.plot(ui.style(fig, height=300, legend=False), key="topic_emotions")

st.subheader("代表的な声")
reps = data.get("representative")
if reps is not None and len(reps):
    ui.render_cards(
        reps.assign(
            topic_label=[
                "" if metrics.missing(t) else labels.get(int(t), "") for t in reps["topic_id"]
            ]
        ),
        key_prefix="topic",
        relabel=ctx,
    )
else:
    st.caption("代表的な声はありません。")


def _open_in_explore() -> None:
    st.session_state["f_topics"] = [tid]


if st.button(
    "このトピックの声をすべて見る（探索ページ）",
    key="topic_to_explore",
    on_click=_open_in_explore,
    icon=":material/search:",
):
    st.switch_page("app_pages/explore.py")

with st.expander("すべてのトピック"):
    show = table.assign(
        keywords=[("・".join(map(str, k[:6])) if k else "") for k in table["keywords"]]
    )
    st.dataframe(
        show[["label", "keywords", "voices", "complaints", "negativity"]].rename(
            columns={
                "label": "トピック",
                "keywords": "キーワード",
                "voices": "件数",
                "complaints": "不満",
                "negativity": "ネガティブ度",
            }
        ),
        hide_index=True,
        width="stretch",
        key="topics_table",
        column_config={
            "ネガティブ度": st.column_config.ProgressColumn(
                format="percent", min_value=0, max_value=1
            )
        },
    )
