"""The explorer's fixture store: the bundled sample, analysed, plus *fixture* labels.

``build_fixture_store(path)`` runs the real :func:`voc.pipeline.analyze` on ``data/sample/``
(ingest, normalize, PII masking, tokenize: everything but the models), then writes
deterministic ``results`` and ``topics``/``topic_assignments`` rows with simple rules so
the explorer's numbers can be checked by hand:

* sentiment: from the star rating (1-2 negative, 3 neutral, 4-5 positive) or the NPS score
  (0-6 / 7-8 / 9-10) when the row has one, otherwise from a small keyword rule;
* emotion: negative -> 怒り when the text has an angry word, else 悲しみ; positive -> 安心
  for relief/thanks words, else 喜び; neutral -> 平静;
* topic: the first keyword rule of :data:`TOPIC_RULES` that matches the text, else -1.

This is **fixture data, not model output**: the labels are rules written for tests and the
speed benchmark, never shown to users as predictions.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
TOPIC_MODEL_ID = "fixture-topics-v1"
MODEL_VERSION = "fixture-rules@1"

NEGATIVE_WORDS = (
    "遅い",
    "遅れ",
    "遅延",
    "届かない",
    "届きません",
    "最悪",
    "壊れ",
    "破損",
    "潰れ",
    "不良",
    "二重",
    "落ち",
    "重い",
    "ひどい",
    "残念",
    "不満",
    "困",
    "使えない",
    "待た",
    "つながらない",
    "繋がらない",
    "不親切",
    "雑",
    "がっかり",
    "二度と",
    "エラー",
    "汚れ",
    "毛玉",
    "焦げ",
    "違う",
    "面倒",
    "品切れ",
    "不在票",
    "折れ",
    "なんで",
    "返品",
)
POSITIVE_WORDS = (
    "ありがとう",
    "助かり",
    "助かる",
    "満足",
    "便利",
    "最高",
    "良い",
    "よかった",
    "早い",
    "丁寧",
    "快適",
    "神",
    "嬉しい",
    "気に入",
    "おすすめ",
    "安心",
    "ふかふか",
)
ANGRY_WORDS = ("最悪", "ふざけ", "怒", "二度と", "ひどい", "何度", "なんで", "😡")
RELIEF_WORDS = ("安心", "助か", "丁寧", "対応", "ありがとう")

# (topic_id, label, keywords used as the rule and shown as the topic's keywords)
TOPIC_RULES: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (
        0,
        "配送・遅延・到着",
        ("配送", "配達", "届", "遅延", "到着", "物流", "発送", "梱包", "宅配", "不在票"),
    ),
    (1, "アプリ・動作・クーポン", ("アプリ", "クーポン", "ログイン", "ログアウト", "落ち")),
    (2, "決済・返金・請求", ("決済", "返金", "請求", "引き落", "二重", "支払")),
    (3, "店舗・接客・レジ", ("店員", "レジ", "接客", "店舗", "売り場", "品切れ")),
    (4, "品質・破損・不良", ("壊れ", "不良", "破損", "毛玉", "焦げ", "故障", "品質", "折れ")),
    (5, "電話・問い合わせ", ("電話", "つなが", "問い合わせ", "オペレーター", "待た")),
)


def rule_sentiment(text: str, rating: float | None, nps: float | None) -> str:
    """Fixture sentiment (see the module docstring)."""
    if rating is not None and not math.isnan(rating):
        return "negative" if rating <= 2 else ("neutral" if rating == 3 else "positive")
    if nps is not None and not math.isnan(nps):
        return "negative" if nps <= 6 else ("neutral" if nps <= 8 else "positive")
    neg = sum(w in text for w in NEGATIVE_WORDS)
    pos = sum(w in text for w in POSITIVE_WORDS)
    return "negative" if neg > pos else ("positive" if pos > neg else "neutral")


def rule_emotion(text: str, sentiment: str) -> str:
    if sentiment == "negative":
        return "怒り" if any(w in text for w in ANGRY_WORDS) else "悲しみ"
    if sentiment == "positive":
        return "安心" if any(w in text for w in RELIEF_WORDS) else "喜び"
    return "平静"


def rule_topic(text: str) -> int:
    for topic_id, _label, words in TOPIC_RULES:
        if any(w in text for w in words):
            return topic_id
    return -1


PROBS = {
    "negative": (0.8, 0.15, 0.05),
    "neutral": (0.15, 0.7, 0.15),
    "positive": (0.05, 0.15, 0.8),
}


def label_store(path: str | Path, model_version: str = MODEL_VERSION) -> None:
    """Write the fixture ``results``/``topics``/``topic_assignments`` for every VoC record."""
    from voc.store import Store

    now = datetime(2026, 9, 7, 9, 0, 0)
    with Store(path) as st:
        rows = st.con.execute(
            "SELECT record_id, text, rating, nps FROM feedback WHERE is_voc ORDER BY record_id"
        ).fetchall()
        results, assigns = [], []
        members: dict[int, list[str]] = {}
        for record_id, text, rating, nps in rows:
            text = text or ""
            sent = rule_sentiment(text, rating, nps)
            emo = rule_emotion(text, sent)
            p_neg, p_neu, p_pos = PROBS[sent]
            emotion_probs = {
                e: (0.6 if e == emo else 0.1) for e in ("平静", "怒り", "喜び", "悲しみ", "安心")
            }
            results.append(
                {
                    "record_id": record_id,
                    "model_version": model_version,
                    "sentiment": sent,
                    "sentiment_score": p_pos - p_neg,
                    "sentiment_mixed": False,
                    "p_negative": p_neg,
                    "p_neutral": p_neu,
                    "p_positive": p_pos,
                    "emotion": emo,
                    "emotion_probs": json.dumps(emotion_probs, ensure_ascii=False),
                    "run_id": "fixture",
                    "scored_at": now,
                }
            )
            topic = rule_topic(text)
            members.setdefault(topic, []).append(record_id)
            assigns.append(
                {
                    "record_id": record_id,
                    "model_id": TOPIC_MODEL_ID,
                    "topic_id": topic,
                    "probability": 0.9 if topic >= 0 else 0.0,
                    "assigned_at": now,
                }
            )
        st.upsert_rows("results", results, key=("record_id",))
        st.upsert_rows("topic_assignments", assigns, key=("record_id",))
        topics = [
            {
                "model_id": TOPIC_MODEL_ID,
                "topic_id": tid,
                "label": label,
                "keywords": json.dumps(list(words), ensure_ascii=False),
                "size": len(members.get(tid, [])),
                "representative": json.dumps(sorted(members.get(tid, []))[:3]),
            }
            for tid, label, words in TOPIC_RULES
        ]
        topics.append(
            {
                "model_id": TOPIC_MODEL_ID,
                "topic_id": -1,
                "label": "その他",
                "keywords": "[]",
                "size": len(members.get(-1, [])),
                "representative": "[]",
            }
        )
        st.upsert_rows("topics", topics, key=("model_id", "topic_id"))


def build_fixture_store(path: str | Path) -> Path:
    """Analyse ``data/sample/`` into ``path`` (no models) and add the fixture labels."""
    from voc.pipeline import analyze

    path = Path(path)
    analyze([SAMPLE], store_path=path, scorers=[])
    label_store(path)
    return path
