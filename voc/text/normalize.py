"""Normalization of Japanese customer text.

Order of the steps (each is a setting in :class:`NormalizeConfig`):

1. control characters, NUL bytes and lone surrogates removed (a lone surrogate becomes
   U+FFFD and is reported),
2. NFKC (full-width ASCII -> ASCII, half-width katakana -> full-width), except for the
   spacing accents kaomoji are built from (´ ¨ ¯), which NFKC would split into a space and a
   combining mark, and except for voc's own placeholders (so that normalising twice gives
   the same text),
3. URLs -> ＜URL＞, @mentions -> ＜ユーザー＞, #hashtags keep their words (#配送遅延 -> 配送遅延),
4. runs of one repeated character bounded (ーーーー -> ーーー, !!!!!! -> !!!, wwwww -> www),
   digits excepted,
5. spaces collapsed, lines stripped, blank lines collapsed,
6. personal data masked (:mod:`voc.text.pii`), last, so that normalizing twice gives the
   same text.

Emoji (with their ZWJ sequences and variation selectors) and kaomoji are kept: they carry
emotion, and the classifier's SentencePiece vocabulary knows many of them.

>>> normalize("ﾏｼﾞで最悪！！！！！　ｗｗｗｗ https://example.com/x #配送遅延").text
'マジで最悪!!! www ＜URL＞ 配送遅延'
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

from voc.text.pii import PLACEHOLDERS, PiiMasker

# Characters NFKC would turn into " " + combining mark; kaomoji need them intact.
_SPACING_ACCENTS = "".join(
    chr(cp)
    for cp in range(0x00A0, 0x3100)
    if (n := unicodedata.normalize("NFKC", chr(cp))).startswith(" ")
    and len(n) > 1
    and unicodedata.combining(n[1])
)
_PROTECT_RE = re.compile(
    "(" + "|".join(re.escape(p) for p in PLACEHOLDERS.values()) + r"|＜[^＜＞\s]{1,12}＞"
    f"|[{re.escape(_SPACING_ACCENTS)}])"
)
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\u2028\u2029\ufeff]")
_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")
_URL_RE = re.compile(r"(?:https?|ftp)://[^\s<>\"'「」（）()、。]+|www\.[A-Za-z0-9\-]+\.[A-Za-z][^\s<>\"'「」（）()、。]*")
# Neither a mention nor a hashtag right after a placeholder: masking runs last, and a
# ＜電話番号＞ put where 0000000000@abc had a digit would let a second pass see one.
_MENTION_RE = re.compile(r"(?<![A-Za-z0-9_.@＞])@[A-Za-z0-9_]{1,30}")
_HASHTAG_RE = re.compile(r"(?<![&\w＞])[#＃]([^\s#＃!?！？。、,.「」()（）\[\]]+)")
_REPEAT_RE = re.compile(r"(\D)\1{3,}")
_SPACES_RE = re.compile(r"[ \t\u3000\u00a0]+")
_BLANK_LINES_RE = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class NormalizeConfig:
    """Settings of :func:`normalize`; every field is documented in default_config.toml."""

    nfkc: bool = True
    replace_urls: bool = True
    replace_mentions: bool = True
    strip_hashtag_marks: bool = True
    max_repeat: int = 3
    mask_pii: bool = True
    pii_types: tuple[str, ...] | None = None
    pii_patterns: Mapping[str, str] = field(default_factory=dict)
    mask_person_names: bool = True


@dataclass(frozen=True)
class Normalized:
    """Result of :func:`normalize`."""

    text: str
    pii_counts: Mapping[str, int] = field(default_factory=dict)
    had_surrogates: bool = False

    @property
    def pii_total(self) -> int:
        return sum(self.pii_counts.values())


def nfkc_keep_kaomoji(text: str) -> str:
    """NFKC that leaves placeholders and kaomoji accents (´ ¨ ¯ ...) untouched."""
    parts = _PROTECT_RE.split(text)
    # split() with one capture group: even indices are free text, odd ones protected
    return "".join(
        part if i % 2 else unicodedata.normalize("NFKC", part) for i, part in enumerate(parts)
    )


class Normalizer:
    """Reusable normalizer (compiles the PII patterns once)."""

    def __init__(self, config: NormalizeConfig | None = None) -> None:
        self.config = config or NormalizeConfig()
        cfg = self.config
        self.masker = (
            PiiMasker(
                types=cfg.pii_types,
                extra=dict(cfg.pii_patterns),
                mask_persons=cfg.mask_person_names,
            )
            if cfg.mask_pii
            else None
        )

    def __call__(self, text: str) -> Normalized:
        cfg = self.config
        had_surrogates = bool(_SURROGATE_RE.search(text))
        if had_surrogates:
            text = _SURROGATE_RE.sub("\ufffd", text)
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        text = _CONTROL_RE.sub("", text.replace("\t", " "))
        if cfg.nfkc:
            text = nfkc_keep_kaomoji(text)
        if cfg.replace_urls:
            text = _URL_RE.sub(PLACEHOLDERS["url"], text)
        if cfg.replace_mentions:
            text = _MENTION_RE.sub(PLACEHOLDERS["mention"], text)
        if cfg.strip_hashtag_marks:
            text = _HASHTAG_RE.sub(r" \1", text)
        if cfg.max_repeat > 0:
            keep = cfg.max_repeat
            text = _REPEAT_RE.sub(lambda m: m.group(1) * keep, text) if keep < 4 else _bound(text, keep)
        text = _SPACES_RE.sub(" ", text)
        text = "\n".join(line.strip() for line in text.split("\n"))
        text = _BLANK_LINES_RE.sub("\n\n", text).strip()
        # masking last: every step above changes text that masking looks at (ーーーー and
        # 京京京京 shrink, #山田太郎 loses its mark), so masking first made normalize(x) and
        # normalize(normalize(x)) differ. Masking itself makes nothing the steps above touch.
        pii_counts: dict[str, int] = {}
        if self.masker is not None:
            masked = self.masker.mask(text)
            text, pii_counts = masked.text, dict(masked.counts)
        return Normalized(text=text, pii_counts=pii_counts, had_surrogates=had_surrogates)


def _bound(text: str, keep: int) -> str:
    return re.sub(r"(\D)\1{%d,}" % keep, lambda m: m.group(1) * keep, text)


def normalize(text: str, config: NormalizeConfig | None = None) -> Normalized:
    """Normalize one text with default (or given) settings. See the module docstring."""
    return Normalizer(config)(text)


# ---------------------------------------------------------------------------------------
# Sentence splitting
# ---------------------------------------------------------------------------------------
_OPEN = "「『（(【［[〈《\"“"
_CLOSE = "」』）)】］]〉》\"”"
_PAIRS = dict(zip("「『（(【［[〈《“", "」』）)】］]〉》”", strict=True))
_TERMINALS = set("。！？!?．")
_TRAILERS = set("!?！？。．…‥〜~ー笑wｗ") | set(_CLOSE)
_TRIVIAL_RE = re.compile(r"^[\W_wｗ笑]*$")


def split_sentences(text: str, max_chars: int = 500) -> list[str]:
    """Split Japanese text into sentences.

    Boundaries are 。！？!? and line breaks, but never inside 「」『』（）: a quoted
    sentence stays part of the sentence that quotes it. Trailing marks (！！, ｗ, 笑, emoji,
    closing brackets) stay with their sentence. A sentence longer than ``max_chars`` is cut
    at the last 、 (or hard) so no piece exceeds it.

    >>> split_sentences("店員さんに「少々お待ちください。」と言われた。30分待った!ひどい")
    ['店員さんに「少々お待ちください。」と言われた。', '30分待った!', 'ひどい']
    """
    sentences: list[str] = []
    buf: list[str] = []
    stack: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\n":
            if stack:  # unbalanced bracket across a line break: give up the bracket
                stack.clear()
            _flush(buf, sentences)
            i += 1
            continue
        buf.append(ch)
        if ch in _PAIRS and not (ch == '"' and stack and stack[-1] == '"'):
            stack.append(_PAIRS[ch] if ch != '"' else '"')
        elif stack and ch == stack[-1]:
            stack.pop()
        elif ch in _TERMINALS and not stack:
            j = i + 1
            while j < n and (text[j] in _TRAILERS or _is_emoji(text[j])):
                buf.append(text[j])
                j += 1
            _flush(buf, sentences)
            i = j
            continue
        i += 1
    _flush(buf, sentences)
    return _cap_length(_merge_trivial(sentences), max_chars)


def _is_emoji(ch: str) -> bool:
    cp = ord(ch)
    return (
        0x1F000 <= cp <= 0x1FAFF
        or 0x2600 <= cp <= 0x27BF
        or cp in (0x200D, 0xFE0F, 0x20E3)
        or 0x1F3FB <= cp <= 0x1F3FF
    )


def _flush(buf: list[str], out: list[str]) -> None:
    s = "".join(buf).strip()
    buf.clear()
    if s:
        out.append(s)


def _merge_trivial(sentences: list[str]) -> list[str]:
    """Attach fragments with no words (「ｗｗｗ」, 「😡😡」) to the previous sentence."""
    out: list[str] = []
    for s in sentences:
        if out and _TRIVIAL_RE.match(s) and not any(c.isalnum() for c in s if c not in "wｗ"):
            out[-1] = f"{out[-1]} {s}"
        else:
            out.append(s)
    return out


def _cap_length(sentences: list[str], max_chars: int) -> list[str]:
    out: list[str] = []
    for s in sentences:
        while len(s) > max_chars:
            cut = s.rfind("、", 0, max_chars)
            cut = cut + 1 if cut > max_chars // 2 else max_chars
            out.append(s[:cut])
            s = s[cut:]
        if s:
            out.append(s)
    return out
