"""テキスト判定 Score text: paste a text, see its sentiment, emotions (per sentence) and the
nearest topic. The text is normalised and PII-masked first, exactly as `voc analyze` does."""

from __future__ import annotations

import html

import plotly.graph_objects as go
import streamlit as st

from voc import app_support as ui
from voc import metrics

st.title("テキスト判定 Score text")
st.caption(
    "お客様の声を貼り付けると、感情極性・感情（文ごと）・近いトピックを判定します。個人情報は判定の前にマスクされます。"
)

text = st.text_area(
    "判定するテキスト",
    key="score_text",
    height=140,
    placeholder="例: 商品はとても気に入っています。ただ配送が3日も遅れて、連絡もありませんでした。",
)
go_ = st.button("判定する", key="score_go", type="primary", icon=":material/psychology:")
if go_:
    st.session_state["_scored_text"] = text
scored = st.session_state.get("_scored_text")
if not scored or not scored.strip():
    st.stop()

from voc.text.normalize import normalize

masked = normalize(scored)
if masked.pii_total:
    st.caption(f"個人情報を {masked.pii_total} 箇所マスクしました。")
st.html(
    ui.CARD_CSS
    + f'<div class="voc-card"><div class="text">{html.escape(masked.text).replace(chr(10), "<br>")}</div></div>'
)

clf, err = ui.load_classifier()
if clf is None:
    st.warning(
        "感情モデルが見つかりません（no sentiment model found）。`voc models prepare` と `voc train` でモデルを用意するか、"
        f"環境変数 VOC_MODEL でモデルのフォルダを指定してください。詳細: {err}",
        icon=":material/error:",
    )
else:
    pred = ui.score_with(clf, masked.text)
    if pred.error:
        st.error(pred.error)
    else:
        c1, c2 = st.columns(2)
        with c1:
            st.subheader("感情極性")
            sent = pred.sentiment or ""
            st.html(
                ui.CARD_CSS
                + f'<span class="chip" style="background:{metrics.SENTIMENT_COLORS.get(sent, "#777")};font-size:1.1rem;padding:2px 12px;border-radius:12px;color:#fff">'
                f"{html.escape(metrics.sentiment_ja(sent))}</span>"
                + (
                    f" スコア {pred.sentiment_score:+.2f}"
                    if pred.sentiment_score is not None
                    else ""
                )
                + (" ・ 混在（ポジとネガが両方ある）" if pred.mixed else "")
            )
            probs = pred.sentiment_probs
            keys = [k for k in metrics.SENTIMENTS if k in probs] + [
                k for k in probs if k not in metrics.SENTIMENTS
            ]
            fig = go.Figure(
                go.Bar(
                    x=[probs[k] for k in keys],
                    y=[metrics.sentiment_ja(k) for k in keys],
                    orientation="h",
                    marker_color=[metrics.SENTIMENT_COLORS.get(k, "#888") for k in keys],
                    text=[f"{probs[k]:.0%}" for k in keys],
                    textposition="outside",
                )
            )
            fig.update_layout(xaxis={"range": [0, 1.1], "tickformat": ".0%"})
            ui.plot(ui.style(fig, height=200, legend=False), key="score_sent_chart")
        with c2:
            st.subheader("感情")
            eprobs = pred.emotion_probs
            ekeys = [k for k in metrics.EMOTIONS if k in eprobs] + [
                k for k in eprobs if k not in metrics.EMOTIONS
            ]
            fig = go.Figure(
                go.Bar(
                    x=[eprobs[k] for k in ekeys],
                    y=ekeys,
                    orientation="h",
                    marker_color=[metrics.EMOTION_COLORS.get(k, "#888") for k in ekeys],
                    text=[f"{eprobs[k]:.0%}" for k in ekeys],
                    textposition="outside",
                )
            )
            fig.update_layout(
                xaxis={"range": [0, 1.1], "tickformat": ".0%"}, yaxis={"autorange": "reversed"}
            )
            ui.plot(ui.style(fig, height=240, legend=False), key="score_emo_chart")
        st.subheader("文ごとの判定")
        sentences = pred.sentences or []
        if not sentences:
            st.caption("1文だけのテキストです（全体の判定と同じ）。")
        else:
            rows = []
            for s in sentences:
                color = metrics.SENTIMENT_COLORS.get(s.sentiment, "#777")
                ecolor = metrics.EMOTION_COLORS.get(s.emotion or "", "#777")
                rows.append(
                    '<div class="voc-card">'
                    f'<span class="chip" style="background:{color}">{html.escape(metrics.sentiment_ja(s.sentiment))} {s.sentiment_score:+.2f}</span>'
                    f'<span class="chip" style="background:{ecolor}">{html.escape(s.emotion or "—")}</span>'
                    f'<div class="text">{html.escape(s.text)}</div></div>'
                )
            st.html(ui.CARD_CSS + "".join(rows))

st.subheader("近いトピック")
topic = ui.nearest_topic(masked.text)
if topic is None:
    st.caption("トピックモデルもトピック付きのストアもないため、判定できません。")
else:
    st.markdown(ui.md_escape(topic))
