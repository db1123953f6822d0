"""Personal-data masking for Japanese customer text.

Each match is replaced by a typed placeholder such as ``＜電話番号＞`` so that the sentence
still reads naturally for the classifier and for a CX analyst, while the data itself never
reaches the store.

The patterns run on NFKC-normalised text (full-width digits are already ASCII), in an order
where longer, more specific forms win: e-mail, card, individual number, phone, postal
code, address, then the user's own patterns (order numbers, member ids ...).

>>> PiiMasker().mask("お電話は０９０－１２３４－５６７８まで").text  # doctest: +SKIP
'お電話は＜電話番号＞まで'
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from voc.errors import ConfigError
from voc.text.tokenize import JapaneseTokenizer

# Dashes people type between digit groups: ASCII, hyphens, minus, long-vowel mark, dashes.
_D = r"[-‐‑‒–—―−ーｰ－ 　]"
_DASH = f"{_D}?"

PLACEHOLDERS: dict[str, str] = {
    "email": "＜メール＞",
    "card": "＜カード番号＞",
    "individual_number": "＜個人番号＞",
    "phone": "＜電話番号＞",
    "postal_code": "＜郵便番号＞",
    "address": "＜住所＞",
    "person": "＜氏名＞",
    "url": "＜URL＞",
    "mention": "＜ユーザー＞",
}

_NOT_DIGIT_BEFORE = r"(?<![0-9A-Za-z])"
_NOT_DIGIT_AFTER = r"(?![0-9])"

BUILTIN_PATTERNS: dict[str, str] = {
    "email": r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}",
    # 16-digit cards in 4-4-4-4 groups, 15-digit (4-6-5), or 14-16 digits in one run.
    "card": (
        _NOT_DIGIT_BEFORE
        + r"(?:\d{4}(?:" + _DASH + r"\d{4}){3}"
        + r"|\d{4}" + _DASH + r"\d{6}" + _DASH + r"\d{5}"
        + r"|\d{14,16})"
        + _NOT_DIGIT_AFTER
    ),
    # マイナンバー: 12 digits in one run, or 4-4-4 with one kind of separator.
    "individual_number": (
        r"(?<![0-9A-Za-z\-])(?:\d{12}|\d{4}(?P<sep>[-‐−ー－ ])\d{4}(?P=sep)\d{4})" + _NOT_DIGIT_AFTER
    ),
    # Japanese phone numbers: +81 or 0 prefix, 0120/0800 toll free, mobiles 0[789]0,
    # landlines with 1-4 digit area codes in or out of parentheses: 03(1234)5678, (03)1234-5678.
    "phone": (
        r"(?<![0-9A-Za-z\-])(?:"
        + r"(?:(?:\+81|\(\+81\))" + _DASH + r"\(?0?\)?\d{1,4}\)?|\(0\d{1,4}\)|0\d{1,4})"
        + _DASH
        + r"(?:\(\d{1,4}\)|\d{1,4})"
        + _DASH
        + r"\d{3,4}"
        + r"|0\d{9,10})"
        + _NOT_DIGIT_AFTER
    ),
    "postal_code": r"(?:〒\s*\d{3}" + _DASH + r"\d{4}|(?<![0-9])\d{3}[-‐−ー－]\d{4})" + _NOT_DIGIT_AFTER,
    # Street addresses: prefecture/city words followed by 丁目 / 番地 / 番 / 号 blocks.
    "address": (
        r"(?:(?:東京都|北海道|(?:京都|大阪)府|[^\s、。]{2,3}県)?[^\s、。「」()（）]{1,12}?[市区町村郡])?"
        r"[^\s、。「」()（）]{0,8}?\d{1,4}丁目(?:"
        + _DASH
        + r"?\d{1,4}(?:番地?|"
        + _D
        + r")?(?:\d{1,4}号?)?)?"
        r"|[^\s、。「」()（）]{1,10}?\d{1,5}番地(?:の?\d{1,4})?"
    ),
}

DEFAULT_ORDER: tuple[str, ...] = (
    "email",
    "card",
    "individual_number",
    "phone",
    "postal_code",
    "address",
)


@dataclass(frozen=True)
class MaskResult:
    """Masked text and how many spans of each type were replaced."""

    text: str
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


class PiiMasker:
    """Replace personal data with typed placeholders.

    ``extra`` adds the user's own patterns, ``{name: regex}`` or ``{name: (regex,
    placeholder)}``; e.g. ``{"注文番号": r"[A-Z]-\\d{8}-\\d{4}"}`` masks order numbers as
    ``＜注文番号＞``. ``types`` limits the built-in types that run.
    """

    def __init__(
        self,
        types: Iterable[str] | None = None,
        extra: Mapping[str, str | tuple[str, str]] | None = None,
        mask_persons: bool = True,
    ) -> None:
        chosen = tuple(types) if types is not None else DEFAULT_ORDER
        unknown = [t for t in chosen if t not in BUILTIN_PATTERNS]
        if unknown:
            raise ConfigError(
                "E010",
                f"unknown PII type(s) {unknown}",
                hint=f"Known types: {', '.join(BUILTIN_PATTERNS)}",
            )
        self.mask_persons = mask_persons
        self._tokenizer: JapaneseTokenizer | None = None
        self._rules: list[tuple[str, re.Pattern[str], str]] = []
        for name, spec in (extra or {}).items():
            pattern, placeholder = (spec, f"＜{name}＞") if isinstance(spec, str) else spec
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise ConfigError(
                    "E011",
                    f"the PII pattern {name!r} is not a valid regular expression: {exc}",
                    hint="Check the [pii.patterns] section of your config",
                ) from exc
            self._rules.append((name, compiled, placeholder))
        for name in chosen:
            self._rules.append((name, re.compile(BUILTIN_PATTERNS[name]), PLACEHOLDERS[name]))

    def mask(self, text: str) -> MaskResult:
        """Mask ``text``. Works on raw text too: full-width digits and signs are matched
        through an ASCII view of the same length, and the original characters are kept
        outside the masked spans."""
        counts: Counter[str] = Counter()
        view = text.translate(_ASCII_VIEW)
        for name, pattern, placeholder in self._rules:
            spans = [m.span() for m in pattern.finditer(view)]
            if spans:
                counts[name] += len(spans)
                text = _replace_spans(text, spans, placeholder)
                view = _replace_spans(view, spans, placeholder)
        if self.mask_persons:
            if self._tokenizer is None:
                self._tokenizer = JapaneseTokenizer()
            text, n = _mask_person_names(text, self._tokenizer)
            if n:
                counts["person"] += n
        return MaskResult(text, dict(counts))


# Full-width digits, letters and signs -> ASCII, one character for one (spans stay valid).
_ASCII_VIEW = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}


def _replace_spans(text: str, spans: list[tuple[int, int]], placeholder: str) -> str:
    parts, last = [], 0
    for start, end in spans:
        parts.append(text[last:start])
        parts.append(placeholder)
        last = end
    parts.append(text[last:])
    return "".join(parts)


# Person names (best effort): UniDic tags family and given names as 名詞-固有名詞-人名. A run
# of such tokens is masked when an honorific follows (山田様, 佐藤花子さん) or when it is a full
# name (family + given name). A bare family name without honorific is left alone: too many
# are also place or company names.
_HONORIFICS = frozenset({"様", "さま", "さん", "殿", "氏", "君", "くん", "ちゃん", "先生"})


def _mask_person_names(text: str, tokenizer: JapaneseTokenizer) -> tuple[str, int]:
    tokens = tokenizer.tokenize(text)
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(tokens):
        if tokens[i].pos3 != "人名":
            i += 1
            continue
        j = i
        while j < len(tokens) and tokens[j].pos3 == "人名":
            j += 1
        run = tokens[i:j]
        honorific = j < len(tokens) and tokens[j].surface in _HONORIFICS
        if honorific or len(run) >= 2:  # 山田様 / 山田太郎 (family + given name)
            spans.append((run[0].start, run[-1].end))
        i = j
    for start, end in reversed(spans):
        text = text[:start] + PLACEHOLDERS["person"] + text[end:]
    return text, len(spans)

