"""概要 Overview: volume, sentiment share, NPS and the top pain points, each against the
previous period of the same length."""

from __future__ import annotations

import streamlit as st

from voc import app_support as ui
from voc import metrics

st.title("概要 Overview")
ctx = ui.open_store()
if ctx is None:
    st.stop()
f = ctx.filters
data = ui.call("overview_data", ctx.ref, f, last_day=ctx.summary.last_day)
ov: metrics.Overview = data["overview"]
cur = ov.current

prev_f = f.previous()
if prev_f is not None and prev_f.period is not None:
    note = f"前期間 {prev_f.period[0]:%Y-%m-%d}〜{prev_f.period[1]:%Y-%m-%d} と比較"
    if not ov.previous_complete:
        note += "（前期間のデータがないため増減は表示しません）"
else:
    note = "全期間を表示中（前期間との比較は期間を選ぶと表示されます）"
st.caption(f"{ui.describe_filters(f)} ・ {note}")

if cur.volume == 0:
    st.info("この条件に当てはまる声はありません。期間やチャネルの絞り込みを広げてください。")
    st.stop()

c1, c2, c3, c4, c5 = st.columns(5)
c1.metric(
    "件数 Volume",
    f"{cur.volume:,}",
    delta=None
    if ov.volume.delta is None
    else f"{ov.volume.delta:+,.0f} ({ov.volume.relative:+.0%})"
    if ov.volume.relative is not None
    else f"{ov.volume.delta:+,.0f}",
    delta_color="off",
    help="顧客の声（レビュー・投稿・アンケート回答・通話/チャットの顧客発話）の数",
    border=True,
)
c2.metric(
    "ネガティブ率",
    ui.fmt_pct(cur.share("negative")),
    delta=ui.fmt_delta_pt(ov.negative_share.delta),
    delta_color="inverse",
    help=f"感情極性が判定された {cur.scored:,} 件のうちネガティブの割合",
    border=True,
)
c3.metric(
    "ポジティブ率",
    ui.fmt_pct(cur.share("positive")),
    delta=ui.fmt_delta_pt(ov.positive_share.delta),
    help=f"感情極性が判定された {cur.scored:,} 件のうちポジティブの割合",
    border=True,
)
n = cur.nps
if n.score is not None:
    sig = (
        ""
        if ov.nps.significant is None
        else ("（差は統計的に有意）" if ov.nps.significant else "（差は誤差の範囲）")
    )
    c4.metric(
        "NPS",
        f"{n.score:+.0f}",
        delta=None if ov.nps.delta is None else f"{ov.nps.delta:+.1f} pt",
        help=(
            f"推奨者 {n.promoters}（9-10点）・中立者 {n.passives}（7-8点）・批判者 {n.detractors}（0-6点）、n={n.n}。"
            f" 95%信頼区間 {n.ci_low:+.0f}〜{n.ci_high:+.0f}。{sig}"
        ),
        border=True,
    )
else:
    c4.metric("NPS", "—", help="この条件には推奨度（0-10）の回答がありません", border=True)
if cur.rating_mean is not None:
    c5.metric(
        "平均星評価",
        f"{cur.rating_mean:.2f}",
        delta=None if ov.rating.delta is None else f"{ov.rating.delta:+.2f}",
        help=f"星評価のある {cur.rating_n:,} 件の平均（1〜5）",
        border=True,
    )
else:
    c5.metric("平均星評価", "—", help="この条件には星評価がありません", border=True)
if n.score is not None:
    st.caption(
        f"NPS {n.score:+.0f}（95%信頼区間 {n.ci_low:+.0f}〜{n.ci_high:+.0f}、回答 {n.n} 件）{sig}"
    )

left, right = st.columns([3, 2])
with left:
    st.subheader("感情極性の内訳")
    share = data["sentiment"]
    st.html(
        ui.share_bar_html(
            [
                (r.label, float(r.share), int(r.n), metrics.SENTIMENT_COLORS[r.sentiment])
                for r in share.itertuples()
            ]
        )
    )

    st.subheader("週ごとの感情極性")
    ui.plot(ui.style(ui.weekly_sentiment_bars(data["weekly"]), height=300), key="ov_weekly")
with right:
    st.subheader("主なペインポイント")
    pp = ov.pain_points
    if len(pp):
        st.html(ui.pain_table_html(pp, compare=ov.previous_complete))
        st.caption("不満 = ネガティブと判定された声。トピックごとの件数と前期間からの増減。")
    else:
        st.caption("この期間にトピックの付いた不満はありません。")
    st.subheader("感情の内訳")
    em = data["emotions"]
    em = em[em["n"] > 0]
    st.html(
        ui.bars_html(
            [
                (
                    str(r.emotion),
                    int(r.n),
                    float(r.share),
                    metrics.EMOTION_COLORS.get(r.emotion, "#888"),
                )
                for r in em.itertuples()
            ]
        )
    )
