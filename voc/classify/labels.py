"""Label sets and the parsing of label values people put in their files.

Sentiment defaults to negative / neutral / positive; emotion defaults to the five labels of
the NAIST emotional dialogue corpus. Any other label set works for training: labels are
whatever the data holds, stored in the model's config.

>>> parse_sentiment("ポジティブ"), parse_sentiment(-1), parse_sentiment("neu")
('positive', 'negative', 'neutral')
>>> sentiment_from_rating(2), sentiment_from_rating(3), sentiment_from_nps(9)
('negative', 'neutral', 'positive')
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

SENTIMENT_LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
EMOTION_LABELS: tuple[str, ...] = ("平静", "怒り", "喜び", "悲しみ", "安心")

# Emotion label -> sentiment, used to derive sentiment targets from emotion-only data.
EMOTION_TO_SENTIMENT: dict[str, str] = {
    "平静": "neutral",
    "怒り": "negative",
    "悲しみ": "negative",
    "喜び": "positive",
    "安心": "positive",
}

_SENTIMENT_SYNONYMS: dict[str, str] = {
    **dict.fromkeys(
        ["negative", "neg", "n", "bad", "ネガティブ", "ネガ", "否定", "否定的", "悪い", "不満", "-1", "-1.0"],
        "negative",
    ),
    **dict.fromkeys(
        ["neutral", "neu", "0", "0.0", "ニュートラル", "中立", "普通", "どちらでもない", "mixed", "none"],
        "neutral",
    ),
    **dict.fromkeys(
        ["positive", "pos", "p", "good", "ポジティブ", "ポジ", "肯定", "肯定的", "良い", "満足", "1", "1.0", "+1"],
        "positive",
    ),
}

# English / WRIME names of the NAIST emotions (WRIME's 8 Plutchik labels map where they can)
_EMOTION_SYNONYMS: dict[str, str] = {
    "calm": "平静", "neutral": "平静", "平常": "平静", "中立": "平静",
    "anger": "怒り", "angry": "怒り", "怒": "怒り",
    "joy": "喜び", "happy": "喜び", "happiness": "喜び", "喜": "喜び", "嬉しい": "喜び",
    "sadness": "悲しみ", "sad": "悲しみ", "悲": "悲しみ", "悲しい": "悲しみ",
    "relief": "安心", "安堵": "安心", "trust": "安心", "信頼": "安心",
}


def _key(value: Any) -> str:
    return unicodedata.normalize("NFKC", str(value)).strip().lower()


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def parse_sentiment(value: Any) -> str | None:
    """Canonical sentiment for a label value, or None when it is not a sentiment label."""
    if is_missing(value):
        return None
    return _SENTIMENT_SYNONYMS.get(_key(value))


def canonical_emotion(value: str) -> str:
    """NAIST name for an emotion label when there is one (joy -> 喜び), else the value."""
    k = _key(value)
    return _EMOTION_SYNONYMS.get(k, unicodedata.normalize("NFKC", str(value)).strip())


_SPLIT_RE = re.compile(r"[-,、|/;；・\s]+")


def parse_label_votes(value: Any, labels: Sequence[str] | None = None) -> dict[str, float] | None:
    """A label distribution from one cell: ``"喜び"``, ``"平静-喜び-平静"`` (votes),
    ``"怒り,悲しみ"`` (multi-label), or a JSON-ish mapping ``{"喜び": 2, "平静": 1}``.

    >>> parse_label_votes("平静-喜び-平静")
    {'平静': 0.6666666666666666, '喜び': 0.3333333333333333}
    """
    if is_missing(value):
        return None
    if isinstance(value, Mapping):
        counts = {canonical_emotion(k): float(v) for k, v in value.items() if float(v) > 0}
    else:
        parts = [p for p in _SPLIT_RE.split(str(value).strip()) if p]
        counts = {}
        for p in parts:
            label = canonical_emotion(p)
            counts[label] = counts.get(label, 0.0) + 1.0
    if labels is not None:
        counts = {k: v for k, v in counts.items() if k in labels}
    total = sum(counts.values())
    if total <= 0:
        return None
    return {k: v / total for k, v in counts.items()}


def sentiment_from_rating(rating: Any) -> str | None:
    """1-2 stars negative, 3 neutral, 4-5 positive."""
    try:
        r = float(rating)
    except (TypeError, ValueError):
        return None
    if math.isnan(r) or not 1 <= r <= 5:
        return None
    return "negative" if r < 2.5 else "neutral" if r < 3.5 else "positive"


def sentiment_from_nps(score: Any) -> str | None:
    """NPS 0-6 detractor -> negative, 7-8 passive -> neutral, 9-10 promoter -> positive."""
    try:
        s = float(score)
    except (TypeError, ValueError):
        return None
    if math.isnan(s) or not 0 <= s <= 10:
        return None
    return "negative" if s <= 6 else "neutral" if s <= 8 else "positive"
