"""Call and chat transcripts: who said what.

Two shapes exist in the wild:

* one row per turn, with a speaker column (``agent`` / ``customer``, オペレーター / お客様 ...);
* a whole transcript in one cell, one turn per line, each starting with a speaker prefix
  such as ``オペレーター：``, ``お客様：``, ``顧客:``, ``OP:``, ``CU:``.

Customer turns are the voice of the customer and are scored; operator turns are kept as
context.

>>> [(t.role, t.text) for t in split_transcript("OP:お電話ありがとうございます\\nCU:荷物が届きません")]
[('operator', 'お電話ありがとうございます'), ('customer', '荷物が届きません')]
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

OPERATOR_NAMES = (
    "オペレーター", "オペレータ", "オペ", "op", "operator", "agent", "ag", "担当", "担当者", "係", "係員",
    "スタッフ", "staff", "店員", "受付", "サポート", "support", "cs担当", "rep", "representative", "a",
    "bot", "ボット", "自動応答",
)
CUSTOMER_NAMES = (
    "お客様", "お客さま", "おきゃくさま", "顧客", "客", "cu", "cust", "customer", "user", "ユーザー",
    "利用者", "本人", "caller", "client", "c", "u", "会員",
)

_ROLE_OF = {
    **{unicodedata.normalize("NFKC", n).lower(): "operator" for n in OPERATOR_NAMES},
    **{unicodedata.normalize("NFKC", n).lower(): "customer" for n in CUSTOMER_NAMES},
}
_NAMES = sorted(_ROLE_OF, key=len, reverse=True)
_PREFIX_RE = re.compile(
    r"^\s*[\[【(（<＜]?\s*(?P<name>"
    + "|".join(re.escape(n) for n in _NAMES)
    + r")\s*\d{0,2}\s*[\]】)）>＞]?\s*[:：]\s*",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Turn:
    """One utterance of a transcript."""

    index: int
    speaker: str
    role: str  # "customer", "operator" or "unknown"
    text: str


def speaker_role(value: object) -> str:
    """'customer', 'operator' or 'unknown' for a speaker label such as 「お客様」 or 'agent'."""
    if value is None:
        return "unknown"
    key = unicodedata.normalize("NFKC", str(value)).strip().lower()
    key = re.sub(r"[\s\d:：()（）\[\]【】]+$", "", key)
    return _ROLE_OF.get(key, "unknown")


def looks_like_transcript(text: str) -> bool:
    """True when at least two lines start with a speaker prefix, from both sides."""
    roles = set()
    hits = 0
    for line in text.splitlines():
        m = _PREFIX_RE.match(unicodedata.normalize("NFKC", line))
        if m:
            hits += 1
            roles.add(_ROLE_OF[m.group("name").lower()])
    return hits >= 2 and len(roles) == 2


def split_transcript(text: str) -> list[Turn]:
    """Split a one-cell transcript into turns. Lines without a prefix continue the turn."""
    turns: list[tuple[str, str, list[str]]] = []
    for line in text.splitlines():
        norm = unicodedata.normalize("NFKC", line)
        m = _PREFIX_RE.match(norm)
        if m:
            name = m.group("name")
            # cut the prefix off the original line (same length after NFKC for these chars)
            body = norm[m.end():]
            turns.append((name, _ROLE_OF[name.lower()], [body.strip()]))
        elif turns:
            if line.strip():
                turns[-1][2].append(line.strip())
        elif line.strip():
            turns.append(("", "unknown", [line.strip()]))
    return [
        Turn(index=i, speaker=name, role=role, text="\n".join(parts).strip())
        for i, (name, role, parts) in enumerate(turns, start=1)
    ]
