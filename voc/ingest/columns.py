"""Map a dump's columns to the feedback record, and parse their values.

Headers are recognised after NFKC, lower-casing and removing spaces, ``_`` and ``-``, so
``レビュー本文``, ``Review_Text`` and ``ＣＯＭＭＥＮＴ`` all work. Explicit options always win.

>>> recognize_columns(["投稿日時", "評価", "レビュー本文", "レビューID"]).text
'レビュー本文'
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from typing import Any

from voc.errors import InputError

# field -> recognised header names (normalised form), most specific first
SYNONYMS: dict[str, tuple[str, ...]] = {
    "text": (
        "text", "本文", "レビュー本文", "レビュー内容", "コメント", "コメント本文", "レビュー", "内容",
        "ご意見", "意見", "ご意見ご要望", "自由記述", "自由回答", "回答内容", "感想", "お問い合わせ内容",
        "問い合わせ内容", "投稿内容", "投稿本文", "発話", "発話内容", "発言", "メッセージ", "会話",
        "通話内容", "文字起こし", "transcript", "message", "body", "content", "review", "reviewtext",
        "reviewbody", "comment", "comments", "feedback", "verbatim", "utterance", "tweet", "posttext",
    ),
    "title": ("タイトル", "件名", "見出し", "レビュータイトル", "title", "subject", "headline", "summary"),
    "id": (
        "id", "レビューid", "投稿id", "回答id", "回答者id", "コメントid", "チケットid", "問い合わせid",
        "問合せid", "管理番号", "reviewid", "postid", "responseid", "commentid", "ticketid", "tweetid",
        "feedbackid", "recordid", "uid", "no", "番号",
    ),
    "conversation_id": (
        "conversationid", "会話id", "通話id", "チャットid", "セッションid", "callid", "chatid", "sessionid",
        "threadid", "対応id", "受付番号",
    ),
    "speaker": ("speaker", "話者", "発話者", "発言者", "role", "speakerrole", "送信者", "sender", "from"),
    "turn": ("turn", "ターン", "発話番号", "発話順", "順番", "seq", "sequence", "turnid", "turnno", "messageno"),
    "created_at": (
        "createdat", "created", "date", "datetime", "timestamp", "time", "日付", "日時", "投稿日", "投稿日時",
        "回答日", "回答日時", "受付日時", "受付日", "通話日時", "通話日", "作成日時", "作成日", "レビュー日",
        "レビュー日時", "postedat", "posted", "reviewdate", "submittedat", "submitted", "送信日時",
    ),
    "rating": (
        "rating", "stars", "star", "starrating", "評価", "星", "星の数", "星評価", "レビュー評価", "おすすめ度",
        "総合評価", "満足度評価", "score", "reviewrating", "reviewscore",
    ),
    "nps": (
        "nps", "推奨度", "npsscore", "推奨意向", "おすすめ度合い", "他人に勧める可能性", "recommend",
        "likelihoodtorecommend", "ltr", "npsスコア",
    ),
    "channel": ("channel", "チャネル", "チャンネル", "媒体", "source", "ソース", "sourcechannel"),
    "touchpoint": (
        "touchpoint", "タッチポイント", "接点", "顧客接点", "touchpoints", "接点区分", "対象接点",
    ),
}

# Columns whose whole value is personal data: masked when PII masking is on.
PERSONAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "＜氏名＞": ("氏名", "名前", "お名前", "顧客名", "会員名", "name", "fullname", "customername", "username",
               "user", "ユーザー名", "投稿者", "author", "reviewer", "レビュアー", "user_name", "担当"),
    "＜電話番号＞": ("電話", "電話番号", "携帯番号", "tel", "phone", "phonenumber", "mobile"),
    "＜メール＞": ("メール", "メールアドレス", "email", "mail", "emailaddress", "e-mail"),
    "＜住所＞": ("住所", "address", "所在地", "お届け先", "配送先住所"),
    "＜郵便番号＞": ("郵便番号", "postalcode", "zip", "zipcode", "postcode"),
}

CHANNEL_VALUES: dict[str, str] = {
    "review": "review", "reviews": "review", "レビュー": "review", "口コミ": "review", "クチコミ": "review",
    "sns": "sns", "twitter": "sns", "x": "sns", "instagram": "sns", "facebook": "sns", "line": "sns",
    "tiktok": "sns", "youtube": "sns", "ツイッター": "sns", "インスタ": "sns",
    "call": "call", "phone": "call", "電話": "call", "コール": "call", "通話": "call", "コールセンター": "call",
    "survey": "survey", "アンケート": "survey", "nps": "survey", "調査": "survey",
    "chat": "chat", "チャット": "chat", "livechat": "chat",
    "email": "email", "mail": "email", "メール": "email", "問い合わせフォーム": "email", "form": "email",
    "other": "other", "その他": "other",
}

TOUCHPOINT_VALUES: dict[str, str] = {
    "店舗": "store", "店": "store", "実店舗": "store", "store": "store", "shop": "store",
    "ec": "ec_site", "ecサイト": "ec_site", "通販": "ec_site", "ネット通販": "ec_site", "ウェブ": "ec_site",
    "web": "ec_site", "サイト": "ec_site", "オンラインストア": "ec_site", "ecsite": "ec_site",
    "アプリ": "app", "app": "app", "スマホアプリ": "app", "モバイルアプリ": "app",
    "コールセンター": "call_center", "電話窓口": "call_center", "カスタマーセンター": "call_center",
    "callcenter": "call_center", "サポート": "call_center", "問い合わせ窓口": "call_center",
    "配送": "delivery", "配達": "delivery", "物流": "delivery", "delivery": "delivery", "shipping": "delivery",
    "決済": "payment", "支払い": "payment", "支払": "payment", "payment": "payment", "お支払い": "payment",
    "商品": "product", "製品": "product", "product": "product", "品質": "product",
}


def header_key(name: str) -> str:
    """Normalised header used for matching: NFKC, lower case, no spaces/_/-/・."""
    return re.sub(r"[\s_\-・/()（）]+", "", unicodedata.normalize("NFKC", str(name)).lower())


@dataclass(frozen=True)
class ColumnMap:
    """Which input column feeds each field of the feedback record (None: absent)."""

    text: str | None = None
    title: str | None = None
    id: str | None = None
    conversation_id: str | None = None
    speaker: str | None = None
    turn: str | None = None
    created_at: str | None = None
    rating: str | None = None
    nps: str | None = None
    channel: str | None = None
    touchpoint: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def find_text_column(columns: Sequence[str]) -> str | None:
    return recognize_columns(columns).text


def recognize_columns(
    columns: Sequence[str], overrides: Mapping[str, str | None] | None = None
) -> ColumnMap:
    """Guess the column of every record field from the headers; ``overrides`` win.

    Raises:
        InputError: an override names a column the file does not have.
    """
    keys = {header_key(c): c for c in reversed(list(columns))}  # first occurrence wins
    found: dict[str, str | None] = {}
    used: set[str] = set()
    overrides = {k: v for k, v in (overrides or {}).items() if v}
    for fld, col in overrides.items():
        if fld not in SYNONYMS:
            raise InputError("E110", f"unknown record field {fld!r}", hint=f"Fields: {', '.join(SYNONYMS)}")
        if col not in columns:
            match = keys.get(header_key(col))
            if match is None:
                raise InputError(
                    "E111",
                    f"there is no column {col!r} for {fld}",
                    hint="Columns in this file: " + ", ".join(map(str, columns)),
                )
            col = match
        found[fld] = col
        used.add(col)
    for fld, names in SYNONYMS.items():
        if fld in found:
            continue
        for name in names:
            col = keys.get(header_key(name))
            if col is not None and col not in used:
                found[fld] = col
                used.add(col)
                break
    if "text" not in found:
        found["text"] = _text_by_content_name(columns, used)
    return ColumnMap(**found)


def _text_by_content_name(columns: Sequence[str], used: set[str]) -> str | None:
    """Fallback: a header that merely contains a text-ish word (e.g. 「商品レビュー（自由記述）」)."""
    hints = ("本文", "コメント", "レビュー", "意見", "記述", "内容", "感想", "text", "comment", "review")
    for col in columns:
        if col in used:
            continue
        k = header_key(col)
        if any(h in k for h in hints) and "id" not in k and "日" not in k:
            return col
    return None


def personal_column_placeholder(column: str) -> str | None:
    """Placeholder for a column whose values are personal data, e.g. 「氏名」 -> ＜氏名＞."""
    k = header_key(column)
    for placeholder, names in PERSONAL_COLUMNS.items():
        if k in {header_key(n) for n in names}:
            return placeholder
    return None


def with_overrides(cmap: ColumnMap, **cols: str | None) -> ColumnMap:
    return replace(cmap, **{k: v for k, v in cols.items() if v})


# ---------------------------------------------------------------------------------------
# Value parsing (None on failure; the caller records a warning)
# ---------------------------------------------------------------------------------------
def is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def as_text(value: Any) -> str:
    if is_blank(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_STARS_RE = re.compile(r"^[★☆]+$")
_NUM_RE = re.compile(r"-?\d+(?:\.\d+)?")


def parse_number(value: Any, lo: float, hi: float) -> float | None:
    """A number in [lo, hi] from 4, "4.0", "４", "星4つ", "★★★★☆", "4/5"; else None."""
    if is_blank(value):
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        num = float(value)
    else:
        s = unicodedata.normalize("NFKC", str(value)).strip()
        if _STARS_RE.match(s):
            num = float(s.count("★"))
        else:
            m = _NUM_RE.search(s)
            if not m:
                return None
            num = float(m.group(0))
    if math.isnan(num) or not lo <= num <= hi:
        return None
    return num


_DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d",
    "%Y年%m月%d日 %H時%M分", "%Y年%m月%d日 %H:%M", "%Y年%m月%d日",
)


def parse_datetime(value: Any) -> datetime | None:
    """A naive datetime in Japan time from the usual export formats; None if unparseable.

    Aware timestamps are converted to Asia/Tokyo first, so ``2026-06-01T00:30:00+00:00``
    becomes 09:30 that day.
    """
    if is_blank(value):
        return None
    if isinstance(value, datetime):
        return _to_jst_naive(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 20000 < value < 80000:  # Excel serial date
            from datetime import timedelta

            return datetime(1899, 12, 30) + timedelta(days=float(value))
        if value > 1e9:  # unix time, seconds or milliseconds
            from datetime import UTC

            secs = value / 1000 if value > 1e11 else value
            return _to_jst_naive(datetime.fromtimestamp(secs, tz=UTC))
        return None
    s = unicodedata.normalize("NFKC", str(value)).strip()
    try:
        return _to_jst_naive(datetime.fromisoformat(s.replace("Z", "+00:00")))
    except ValueError:
        pass
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(s, fmt)
        except ValueError:
            continue
    return None


def _to_jst_naive(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        return dt
    from zoneinfo import ZoneInfo

    return dt.astimezone(ZoneInfo("Asia/Tokyo")).replace(tzinfo=None)


def parse_channel(value: Any) -> str | None:
    if is_blank(value):
        return None
    return CHANNEL_VALUES.get(header_key(str(value)))


def parse_touchpoint(value: Any, known: Sequence[str] = ()) -> str | None:
    """Touchpoint code for a value: a code itself (delivery), or a Japanese name (配送)."""
    if is_blank(value):
        return None
    k = header_key(str(value))
    if k in known:
        return k
    return TOUCHPOINT_VALUES.get(k, k)
