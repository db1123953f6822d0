"""Personal-data masking for Japanese customer text.

Each match is replaced by a typed placeholder such as ``＜電話番号＞`` so that the sentence
still reads naturally for the classifier and for a CX analyst, while the data itself never
reaches the store.

The user's own patterns (order numbers, member ids ...) run first, then the built-in
types in an order where longer, more specific forms win: e-mail, card, individual
number, phone, postal code, address; person names last (UniDic + honorifics). Raw text
works as well as normalized text: patterns match an ASCII view of the text in which
full-width digits, letters and signs are their ASCII twins, one character for one.

Recall per type on the seeded test set data/pii_testset/ is measured by
benchmarks/pii_recall.py (and held by tests/text/test_pii_recall.py).

>>> PiiMasker().mask("お電話は０９０－１２３４－５６７８まで").text  # doctest: +SKIP
'お電話は＜電話番号＞まで'
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from voc.errors import ConfigError
from voc.text.tokenize import JapaneseTokenizer, Token

# Dashes people type between digit groups: ASCII, hyphens, minus, long-vowel marks, dashes.
_DASHES = "-‐‑‒–—―−ーｰ－"
_D = f"[{_DASHES} 　]"  # a dash or a space
_DASH = f"{_D}?"
_HY = f"[{_DASHES}]"  # a dash, no space
_HYPHEN = f"{_HY}?"
_PSEP = f"[{_DASHES}. 　]?"  # phone numbers are also written 090.1234.5678

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

# Digit runs: never start inside a word, a number, a signed number or a hyphenated code
# (SJ-1234, 2026-06-01), never stop inside a number.
_START = r"(?<![0-9A-Za-z+\-.])"
_START_TEL = r"(?:(?<=TEL)|(?<=Tel)|(?<=tel)|" + _START + ")"
_END = r"(?![0-9])"
# What may not follow a bare number pair such as 123-4567 or 1-2: units and counters.
_UNIT_AFTER = r"(?![0-9.,]|[円個件人名本枚台回度日時分秒週年月歳%％倍位番号点kgmlLKGM])"

_STREET_UNIT_AFTER = r"(?![0-9.,]|[円個件人本枚台回度日時分秒週年月歳%％倍位点kgmlLKGM])"

# Counters that make a number a quantity, not a lot number (3店舗, 2階, 30代).
_COUNTER = "[円個件人名本枚台回度日時分秒週年月歳%％倍位点代店軒棟階箇ヶかカ社種色型万億千百kgmlLKGMcC]"

# What may follow a bare number for it to be a lot number: a break, a particle, the end.
_BOUNDARY = "(?=[\\s、。，,．！!？?)）」』]|[のにでへをがはもまよ]|$)"

# Address parts. Prefectures are listed; a municipality is a kanji name (or one of the
# kana-named cities) ending in 市 区 町 村, after an optional 郡 and before an optional
# ward (大阪市北区); the town a run of kanji/katakana, with の ヶ が inside (丸の内,
# 光が丘). Street numbers: 1丁目2番3号, 1丁目2-3, 二丁目, 1-2-3(-405), 123番地(の4).
_PREFECTURES = (
    "北海道|東京都|京都府|大阪府|(?:青森|岩手|宮城|秋田|山形|福島|茨城|栃木|群馬|埼玉|千葉|神奈川|新潟|富山|石川"
    "|福井|山梨|長野|岐阜|静岡|愛知|三重|滋賀|兵庫|奈良|和歌山|鳥取|島根|岡山|広島|山口|徳島|香川|愛媛|高知|福岡"
    "|佐賀|長崎|熊本|大分|宮崎|鹿児島|沖縄)県"
)
_KANJI = "\u3005\u3006\u4e00-\u9fff\uf900-\ufaff\u30f5\u30f6\u30b1"  # kanji, 々 〆 ヵ ヶ ケ
_KANA_CITIES = "さいたま|つくば(?:みらい)?|いわき|ひたちなか|かすみがうら|みどり|いすみ|うきは|えびの|むつ|つがる|みやま|かほく|あわら|たつの|うるま|あま|にかほ|みよし|せたな"
_MUNI_NAME = f"(?:[{_KANJI}]{{2,5}}|[津北南東西中堺港緑旭泉栄]|(?:{_KANA_CITIES})|[{_KANJI}]{{1,3}}[ァ-ヴー]{{2,6}})"
_MUNI = f"(?:{_MUNI_NAME}郡)?{_MUNI_NAME}[市区町村](?:{_MUNI_NAME}区)?"
_TOWN_CHAR = (
    f"(?:[{_KANJI}ァ-ヴー]|(?<=[{_KANJI}ァ-ヴー])(?:[のが](?=[{_KANJI}ァ-ヴー])|[りる](?=[{_KANJI}ァ-ヴー0-9]))"
    "|[ぁ-ゖ]{3,})"
)
_TOWN = f"(?:{_TOWN_CHAR}|\\d{{1,2}}条[東西南北]?){{0,12}}?"
_KNUM = "[一二三四五六七八九十〇]{1,3}"
_NUM = f"(?:\\d{{1,4}}|{_KNUM})"
_STREET = (
    "(?:"
    # 1丁目2番3号 / 1丁目2-3 / 1丁目2番地3 / 二丁目
    f"{_NUM}丁目(?:{_HYPHEN}\\d{{1,5}}(?:番地?(?:の?\\d{{1,4}}号?)?|{_HY}\\d{{1,4}}(?:{_HY}\\d{{1,4}})?号?))?"
    # 123番地 / 123番地の4 / 123番地4 / 2番3号
    f"|\\d{{1,5}}番地(?:の?\\d{{1,4}}号?)?(?:{_HY}\\d{{1,4}})?"
    f"|\\d{{1,5}}番\\d{{1,4}}号"
    # 1-2-3, 1-2-3-405, 1-2 (not 1-2日)
    f"|\\d{{1,4}}(?:{_HY}\\d{{1,4}}){{1,3}}号?(?!{_HY}?\\d){_STREET_UNIT_AFTER}"
    ")"
)
# Building and room after the street number: ハイツさくら 102号室, 第二松本ビル5F, 〇〇 1203
_BUILDING_NAME = "[^\\s\\d、。，,．.！!？?「」『』()（）\\[\\]【】<>＜＞:：;；/／のにでへをがはもと][^\\s、。，,！!？?「」『』()（）\\[\\]【】<>＜＞:：;；/／]{0,19}?"
_ROOM = (
    "(?:\\d{1,4}(?:号室|号棟|階|[FＦ](?![A-Za-z]))"
    "|[A-Z]?\\d{3,4}(?=[\\s、。，,！!？?)）」』]|[のにでへをがはもまよ]|$))"
)
_BUILDING = f"(?:[ 　]?(?:{_BUILDING_NAME})?[ 　]?{_ROOM}(?:[ 　]?{_ROOM})?)?"
_LEAD = "(?:(?:現|旧|新)?住所|送付先|お?届け?先|配送先|宛先|勤務先|所在地|実家|自宅)[:：]?[ 　]*"
_ADDRESS = (
    f"(?:{_LEAD})?(?P<pii>"
    f"(?:(?:{_PREFECTURES})(?:{_MUNI}{_TOWN}|[^\\s\\d、。，,「」()（）<>＜＞]{{1,20}}?)"  # 東京都渋谷区神宮前 ...
    f"|{_MUNI}{_TOWN}"  # 渋谷区神宮前 ...
    f"|(?<![{_KANJI}ァ-ヴー])[{_KANJI}ァ-ヴー]{{1,6}}(?={_NUM}丁目|\\d{{1,5}}番地))"  # 神宮前1丁目 ...
    f"{_STREET}{_BUILDING}"
    # 祇園町北側625, 字具志頭123: a bare lot number right after municipality and town
    f"|(?:{_PREFECTURES})?{_MUNI}[{_KANJI}ァ-ヴー]{{2,12}}?(?!(?:19|20)\\d\\d(?!\\d))[1-9]\\d{{0,3}}{_BOUNDARY}{_BUILDING})"
)

BUILTIN_PATTERNS: dict[str, str] = {
    # the local part starts at a word start and is bounded: a long run of letters or digits
    # with no @ must not cost quadratic time
    "email": (
        r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){0,8}\.[A-Za-z]{2,24}"
    ),
    # 16-digit cards in 4-4-4-4 groups, 15-digit Amex (4-6-5), 14-digit Diners (4-6-4), or
    # 14-16 digits in one run.
    "card": (
        _START
        + r"(?:\d{4}(?:" + _DASH + r"\d{4}){3}"
        + r"|\d{4}" + _DASH + r"\d{6}" + _DASH + r"\d{4,5}"
        + r"|\d{14,16})"
        + _END
    ),
    # マイナンバー: 12 digits in one run, or 4-4-4 with one kind of separator.
    "individual_number": (
        _START + f"(?:\\d{{12}}|\\d{{4}}(?P<sep>{_D})\\d{{4}}(?P=sep)\\d{{4}})" + _END
    ),
    # Japanese phone numbers: +81 or 0 prefix, 0120/0800 toll free, mobiles 0[789]0,
    # landlines with 1-4 digit area codes in or out of parentheses: 03(1234)5678,
    # (03)1234-5678. Only 10 or 11 digits in all count (see _valid_phone).
    "phone": (
        _START_TEL
        + r"(?:"
        + r"(?:\+81|\(\+81\))" + _PSEP + r"(?:\(0\)" + _PSEP + r"|0)?\(?\d{1,4}\)?" + _PSEP + r"\d{1,4}" + _PSEP + r"\d{3,4}"
        + r"|(?:\(0\d{1,4}\)|0\d{1,4})" + _PSEP + r"(?:\(\d{1,4}\)|\d{1,4})" + _PSEP + r"\d{3,4}"
        + r"|0\d{9,10})"
        + _END
    ),
    "postal_code": (
        r"〒[ 　]?\d{3}" + _DASH + r"\d{4}" + _END
        + r"|(?:郵便番号|郵便)[はが]?[:： 　]*(?P<pii>\d{3}" + _DASH + r"\d{4})" + _END
        + r"|" + _START + r"\d{3}" + _HY + r"\d{4}" + _UNIT_AFTER
    ),
    "address": _ADDRESS,
}

# Extra checks on a match, by type: a pattern alone cannot count digits across groups.
_VALIDATORS: dict[str, Callable[[str], bool]] = {}


def _valid_phone(match: str) -> bool:
    digits = re.sub(r"\D", "", match)
    if match.lstrip("(").startswith("+81"):
        digits = "0" + digits[2:].removeprefix("0")
    return len(digits) in (10, 11)


_VALIDATORS["phone"] = _valid_phone

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
        # A placeholder changes the neighbours of what is left: 0000000000+8190... holds a
        # second phone number once the first is masked, and MeCab may read a name once the
        # word next to it became ＜氏名＞. Masking runs again until nothing changes, so that
        # masking a masked text changes nothing (a second pass is rare and cheap).
        for _ in range(_MAX_PASSES):
            text, changed = self._mask_patterns(text, counts)
            if self.mask_persons:
                if self._tokenizer is None:
                    self._tokenizer = JapaneseTokenizer()
                text, n = _mask_person_names(text, self._tokenizer)
                if n:
                    counts["person"] += n
                    changed = True
            if not changed:
                break
        return MaskResult(text, dict(counts))

    def _mask_patterns(self, text: str, counts: Counter[str]) -> tuple[str, bool]:
        view = text.translate(_ASCII_VIEW)
        changed = False
        for name, pattern, placeholder in self._rules:
            spans = _find(name, pattern, view)
            if spans:
                changed = True
                counts[name] += len(spans)
                text = _replace_spans(text, spans, placeholder)
                view = _replace_spans(view, spans, placeholder)
        return text, changed


_MAX_PASSES = 5

# Full-width digits, letters and signs -> ASCII, one character for one (spans stay valid).
_ASCII_VIEW = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}


def _find(name: str, pattern: re.Pattern[str], view: str) -> list[tuple[int, int]]:
    """Spans to mask: the ``pii`` group when the pattern has one (the words around it, such
    as 郵便番号, only anchor the match), filtered by the type's validator."""
    valid = _VALIDATORS.get(name)
    has_group = "pii" in pattern.groupindex
    spans: list[tuple[int, int]] = []
    for m in pattern.finditer(view):
        span = m.span("pii") if has_group and m.group("pii") is not None else m.span()
        if span[0] == span[1] or (valid is not None and not valid(view[span[0] : span[1]])):
            continue
        spans.append(span)
    return spans


def _replace_spans(text: str, spans: list[tuple[int, int]], placeholder: str) -> str:
    parts, last = [], 0
    for start, end in spans:
        parts.append(text[last:start])
        parts.append(placeholder)
        last = end
    parts.append(text[last:])
    return "".join(parts)


# Person names (best effort). UniDic tags family and given names as 名詞-固有名詞-人名, and
# many surnames that are also places (山口, 千葉) as 固有名詞-地名; katakana names may be
# 固有名詞-一般 (ヤマダ) or unknown words. A run of proper-noun tokens (spaces and ・ may join
# them: 山田 太郎, ナカムラ・ミサキ) is masked when an honorific follows (山田様, 佐藤花子さん,
# 千葉さま), or without one when it is a full name (two 人名 tokens: 山田太郎). A katakana
# word before an honorific is masked unless it is a common noun (ドライバーさん, スタッフさん).
# A bare family name without honorific is left alone: too many are also place or company
# names. Known misses: given names that are also common nouns (愛さん), rare kanji names
# the dictionary splits into pieces.
_HONORIFICS = frozenset({"様", "さま", "さん", "殿", "氏", "君", "くん", "ちゃん", "先生"})
# Job titles used like honorifics after a surname (田中店長). A place name before a store
# title is a store (渋谷店長), so those need a 人名 token.
_TITLES = frozenset({"部長", "課長", "係長", "社長", "主任", "先生", "院長", "室長"})
_STORE_TITLES = frozenset({"店長", "副店長", "支配人"})
# Companies customers call さん (ヤマトさんの配達): not persons.
_COMPANIES = frozenset(
    "ヤマト クロネコ 佐川 西濃 福山 アマゾン 楽天 ヨドバシ ビックカメラ ニトリ ユニクロ 無印 コンビニ セブン "
    "ローソン ファミマ 郵便局 郵便屋 日本郵便 ドコモ ソフトバンク 生協 コープ イオン".split()
)
_NAME_POS3 = frozenset({"人名", "地名", "一般"})
_KATAKANA_NAME_RE = re.compile(
    r"(?<![ァ-ヴー])[ァ-ヴー]{2,}(?:[・･ 　][ァ-ヴー]{2,}){0,2}(?=様|さま|さん|殿|氏|くん|ちゃん)"
)
_KATAKANA_WORD_RE = re.compile(r"[ァ-ヴー]+")
_JOINERS = frozenset({" ", "　", "・", "･"})
_UNSAFE_RE = re.compile("[\x00\ud800-\udfff]")
_HAS_KANJI_RE = re.compile(r"[\u4e00-\u9fff]")
# The most common surnames, matched as text before an honorific, whatever the tokenizer
# makes of them: UniDic reads some as common nouns (小川 is a stream, 林 a wood) and splits
# others (橋本殿 -> 橋|本殿). Not inside a longer kanji word; a given name after a space
# comes along (岡本　さくら殿).
_SURNAMES = (
    "佐藤 鈴木 高橋 田中 伊藤 渡辺 渡邊 山本 中村 小林 加藤 吉田 山田 佐々木 山口 松本 井上 木村 林 斎藤 斉藤 "
    "清水 山崎 森 池田 橋本 阿部 石川 山下 中島 石井 小川 前田 岡田 長谷川 藤田 後藤 近藤 村上 遠藤 青木 坂本 "
    "福田 太田 西村 藤井 金子 岡本 藤原 中野 三浦 原田 中川 松田 竹内 小野 田村 中山 和田 石田 森田 上田 原 "
    "内田 柴田 酒井 宮崎 横山 高木 安藤 宮本 大野 小島 谷口 今井 工藤 高田 増田 丸山 杉山 村田 大塚 新井 小山 "
    "平野 藤本 河野 上野 野口 武田 松井 千葉 岩崎 菅原 木下 久保 佐野 野村 松尾 菊地 杉本 市川 古川 大西 島田 "
    "水野 桜井 高野 渡部 吉川 山内 西田 飯田 菊池 西川 小松 北村 安田 五十嵐 川口 平田 関 中田 久保田 服部 "
    "岩田 土屋 川崎 福島 本田 辻 樋口 秋山 田口 永井 山中 中西 吉村 川上 石原 大橋 松岡 馬場 浅野 荒木 大久保 "
    "野田 小沢 田辺 川村 星野 黒田 堀 尾崎 望月 永田 熊谷 内藤 松村 西山 大谷 平井 大島 岩本 片山 本間 早川 "
    "横田 岡崎 荒井 大石 鎌田 成田 宮田 小田 石橋 篠原 須藤 河合 大川 高井 小池 菅野 浜田 北川 松下 小西 "
    "松浦 今村 吉岡 上原 宮下 土井 宮内 小泉 広瀬 西尾 岡 青山 奥村 浅井 大森 松永 岩井 小倉 根本 堀内 "
    "栗原 杉浦 坂口 本多 小原 白石 細川 平山 飯島 足立 奥田 上村 西岡 竹田 新田 三宅 寺田 武藤 稲垣 若林 "
    "関口 矢野 片岡 江口 神田 小森 関根 谷 島 浜 坂 池 泉 岩 滝 柳 桜 大木 堤 沢 菅"
).split()
_SURNAME_RE = re.compile(
    r"(?<![\u4e00-\u9fff々])(?:"
    + "|".join(sorted(set(_SURNAMES), key=len, reverse=True))
    + r")(?:[ 　][\u4e00-\u9fff々ぁ-ゖァ-ヴー]{1,4})?(?=様|さま|さん|殿|氏|くん|ちゃん)"
)


def _is_name_token(tok: Token) -> bool:
    if tok.pos != "名詞" or tok.is_user_word:
        return False
    if tok.pos_detail == "固有名詞":
        return tok.pos3 in _NAME_POS3
    return tok.is_unknown and bool(_KATAKANA_WORD_RE.fullmatch(tok.surface))


def _is_full_name(name: str, tagger: Any) -> bool:
    """True when UniDic reads ``name`` as a family name then a given name (山田太郎), not as
    two name-like pieces of a product name (スイ|スイ)."""
    if _UNSAFE_RE.search(name):  # MeCab takes neither NUL nor lone surrogates
        return False
    kinds = [w.feature.pos4 for w in tagger(name) if w.feature.pos1 != "空白" and w.surface not in _JOINERS]
    return any(a == "姓" and b == "名" for a, b in zip(kinds, kinds[1:]))


def _name_spans_from_tokens(text: str, tokens: list[Token], tagger: Any) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(tokens):
        if not _is_name_token(tokens[i]):
            i += 1
            continue
        run = [tokens[i]]
        j = i + 1
        while j < len(tokens):
            gap = text[run[-1].end : tokens[j].start]
            if _is_name_token(tokens[j]) and len(gap) <= 1 and (not gap or gap in _JOINERS):
                run.append(tokens[j])
                j += 1
            elif tokens[j].surface in _JOINERS and j + 1 < len(tokens) and _is_name_token(tokens[j + 1]):
                run.append(tokens[j + 1])
                j += 2
            else:
                break
        nxt = tokens[j].surface if j < len(tokens) else ""
        persons = sum(1 for t in run if t.pos3 == "人名")
        name = text[run[0].start : run[-1].end]
        if name in _COMPANIES:
            pass
        elif nxt in _HONORIFICS or nxt in _TITLES or (nxt in _STORE_TITLES and persons):  # 山田様, 田中店長
            spans.append((run[0].start, run[-1].end))
        elif persons >= 2 and _is_full_name(name, tagger):  # 山田太郎 (family + given name)
            spans.append((run[0].start, run[-1].end))
        elif persons and (end := _given_name_end(text, tokens, j, run[-1].end)) is not None:
            spans.append((run[0].start, end))  # 芦田美桜様: a given name UniDic does not know
        i = j
    return spans


_NAME_CHARS_RE = re.compile(r"[\u4e00-\u9fff々ぁ-ゖァ-ヴー]{1,3}")
_NOT_GIVEN_NAMES = frozenset(
    "店 店員 支店 本店 担当 担当者 係 係員 様 方 家 一家 夫妻 夫婦 さん 達 たち ら 等 御中 宛 宛て 氏".split()
)


def _given_name_end(text: str, tokens: list[Token], j: int, family_end: int) -> int | None:
    """End of a given name the dictionary splits or reads as common words (美|桜, 一花,
    樹), right after a family name and right before an honorific: 1-2 tokens, at most 3
    kanji or kana, after at most one space."""
    if j < len(tokens) and tokens[j].surface in _JOINERS:
        j += 1
    if j >= len(tokens) or text[family_end : tokens[j].start] not in ("", *_JOINERS):
        return None
    pieces = tokens[j : j + 3]
    for k in (1, 2):
        if len(pieces) <= k or pieces[k].surface not in _HONORIFICS:
            continue
        given = pieces[:k]
        if text[given[-1].end : pieces[k].start]:
            continue
        word = text[given[0].start : given[-1].end]
        if (
            _NAME_CHARS_RE.fullmatch(word)
            and all(t.pos not in ("助詞", "助動詞", "動詞") and t.lemma not in _NOT_GIVEN_NAMES for t in given)
            and all(not text[a.end : b.start] for a, b in zip(given, given[1:]))
        ):
            return given[-1].end
    return None


def _is_common_word(start: int, end: int, tokens: list[Token], starts: list[int]) -> bool:
    """True when the tokens covering text[start:end] are all known common nouns."""
    k = max(bisect.bisect_right(starts, start) - 1, 0)
    inside: list[Token] = []
    while k < len(tokens) and tokens[k].start < end:
        if tokens[k].end > start:
            inside.append(tokens[k])
        k += 1
    return bool(inside) and all(
        t.start >= start
        and t.end <= end
        and (
            t.is_user_word
            # a loanword or a word written in katakana (ドライバー, レジ), not a kanji word
            # spelt in katakana as names are (サトウ is 砂糖 to the dictionary)
            or (t.pos == "名詞" and t.pos_detail == "普通名詞" and not t.is_unknown and not _HAS_KANJI_RE.search(t.lemma_norm))
        )
        for t in inside
    )


def _name_spans_katakana(text: str, tokens: list[Token]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    starts = [t.start for t in tokens]
    for m in _KATAKANA_NAME_RE.finditer(text):
        words = [(w.start(), w.end()) for w in _KATAKANA_WORD_RE.finditer(text, m.start(), m.end())]
        while words and _is_common_word(*words[0], tokens, starts):
            words.pop(0)
        if words and text[words[0][0] : words[-1][1]] in _COMPANIES:
            continue
        if words and not _is_common_word(*words[-1], tokens, starts):
            spans.append((words[0][0], words[-1][1]))
    return spans


def _mask_person_names(text: str, tokenizer: JapaneseTokenizer) -> tuple[str, int]:
    tokens = tokenizer.tokenize(text)
    found = sorted(
        _name_spans_from_tokens(text, tokens, tokenizer.tagger)
        + _name_spans_katakana(text, tokens)
        + [m.span() for m in _SURNAME_RE.finditer(text)]
    )
    spans: list[tuple[int, int]] = []
    for start, end in found:  # merge overlaps
        if spans and start < spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    return _replace_spans(text, spans, PLACEHOLDERS["person"]), len(spans)
