"""Property-based tests (hypothesis) for normalize, tokenize and PII masking: they never raise
on any text (surrogates, controls, emoji sequences, full-width forms, kaomoji, Japanese),
normalization and masking are idempotent, token offsets point back into the text, and
generated personal data never survives masking.

Each bug these tests found is pinned by an explicit example (``@example``) as well."""

from __future__ import annotations

import os
import re
import unicodedata

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from voc.text import JapaneseTokenizer, NormalizeConfig, Normalizer, PiiMasker
from voc.text.pii import BUILTIN_PATTERNS, PLACEHOLDERS, _ASCII_VIEW, _find

# VOC_HYPOTHESIS_EXAMPLES=5000 for a longer hunt
SETTINGS = settings(
    max_examples=int(os.environ.get("VOC_HYPOTHESIS_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# ---------------------------------------------------------------------------------------
# strategies
# ---------------------------------------------------------------------------------------
ANY_CHAR = st.characters(exclude_categories=())  # every code point, lone surrogates included
JAPANESE = (
    "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをんがぎぐげござじずぜぞだでどばびぶべぼぱっゃゅょー"
    "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲンガギグゲゴヴッャュョ"
    "ｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜｦﾝﾞﾟｰ"
    "日本語配送遅延店員対応最悪最高返金商品届箱潰東京都大阪府渋谷区市町村丁目番地号様殿山田太郎佐藤花子鈴木"
    "。、！？「」『』（）・…〜ー～　ｗ笑"
    "０１２３４５６７８９ＡＢＣａｂｃ＠．－＋＃"
)
SPECIAL = [
    "\u200d", "\ufe0f", "\ufe0e", "\u200b", "\ufeff", "\u00a0", "\u3000", "\t", "\n", "\r", "\r\n", "\x00", "\x07",
    "\x85", "\u2028", "\u202e", "\ud800", "\udc81", "\udfff", "\U000e0100", "\u0301", "\u3099",
    "😊", "👍🏽", "👨‍👩‍👧‍👦", "❤️", "🇯🇵", "1️⃣", "(´・ω・`)", "(＾▽＾)", "ヽ(`Д´)ﾉ", "¯\\_(ツ)_/¯", "´", "¨",
    "＜電話番号＞", "＜氏名＞", "＜住所＞", "＜URL＞", "＜", "＞", "<", ">",
    "090-1234-5678", "０３（１２３４）５６７８", "+81 90 1234 5678", "〒150-0001", "150-0001", "taro@example.com",
    "ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏｍ", "4111 1111 1111 1111", "1234-5678-9012", "123456789012",
    "東京都渋谷区神宮前1丁目2番3号", "梅田2-4-9", "123番地", "山田様", "佐藤花子さん", "ヤマダ タロウ様",
    "https://example.com/x?a=1", "@user_1", "#配送遅延", "ｗｗｗｗｗ", "!!!!!!", "ーーーーー", "1-2-3", "12,800円",
    "2026-06-01", "SJ-1234",
]
JAPANESE_TEXT = st.lists(
    st.one_of(st.sampled_from(JAPANESE), st.sampled_from(SPECIAL), ANY_CHAR), max_size=40
).map("".join)
TEXTS = st.one_of(st.text(ANY_CHAR, max_size=60), JAPANESE_TEXT)

_NORMALIZER = Normalizer()
_PLAIN = Normalizer(NormalizeConfig(mask_pii=False))
_MASKER = PiiMasker()
_TOKENIZER = JapaneseTokenizer()


# ---------------------------------------------------------------------------------------
# normalize
# ---------------------------------------------------------------------------------------
@SETTINGS
@given(TEXTS)
@example("\ud800")
@example("壊れた\ud800文字")
@example("山田\x00太郎さん")  # NUL used to end MeCab's input: the name went unmasked
@example("ﾞ" * 5)
@example("ｰｰｰｰ´´´´")
@example("(´・ω・`)ｼｮﾎﾞｰﾝ")
@example("＜電話番号＞＜電話番号＞")
@example("a\u0301\u0301\u0301\u0301")
@example("0@0.AA@0")  # the mention step ran again next to the ＜メール＞ the first pass made
@example("京京京京")  # masking ran before the repeat bound: 京京京 only became a name later
@example("#山田太郎 さん")
@example("0000000000#0")  # the hashtag step saw a # after ＜電話番号＞ only on the second pass
@example("が\u3099\u3099\u3099\u3099")
def test_normalize_never_raises_and_is_idempotent(text: str) -> None:
    once = _NORMALIZER(text).text
    assert _NORMALIZER(once).text == once
    plain = _PLAIN(text).text
    assert _PLAIN(plain).text == plain
    assert not re.search(r"[\ud800-\udfff\x00]", once)


# ---------------------------------------------------------------------------------------
# tokenize
# ---------------------------------------------------------------------------------------
@SETTINGS
@given(TEXTS)
@example("山田\x00太郎さん")
@example("壊れた\ud800文字")
@example("a\r\nb")
def test_tokens_point_back_into_the_text(text: str) -> None:
    tokens = _TOKENIZER.tokenize(text)
    last = 0
    for tok in tokens:
        assert last <= tok.start < tok.end <= len(text)
        piece = text[tok.start : tok.end]
        # NUL and lone surrogates reach MeCab as " " and U+FFFD, one for one
        assert tok.surface == re.sub(r"[\ud800-\udfff]", "\ufffd", piece)
        last = tok.end
    _TOKENIZER.lemmas(text)


# ---------------------------------------------------------------------------------------
# PII masking
# ---------------------------------------------------------------------------------------
def _pattern_hits(text: str) -> dict[str, int]:
    view = text.translate(_ASCII_VIEW)
    hits = {}
    for name, pattern in BUILTIN_PATTERNS.items():
        found = _find(name, re.compile(pattern), view)
        if found:
            hits[name] = len(found)
    return hits


@SETTINGS
@given(TEXTS)
@example("090-1234-5678-9")
@example("0000000000+81100000000")  # the second number was only seen once the first was masked
@example("佐さんA様")  # MeCab read A as a name only once 佐 had become ＜氏名＞
@example("〒150-0001-2")
@example("1" * 40)
@example("東京都渋谷区＜住所＞1-2-3")
@example("山田\x00太郎さん")
def test_masking_never_raises_is_idempotent_and_leaves_no_pattern(text: str) -> None:
    once = _MASKER.mask(text).text
    assert _MASKER.mask(once).text == once
    assert _pattern_hits(once) == {}


DASHES = ["-", "‐", "−", "ー", "－", "ｰ", " ", ""]
FW = str.maketrans("0123456789", "０１２３４５６７８９")
CONTEXT = st.text(st.sampled_from("あいうえおかきくけこ配送遅延店員対応、。！？「」 　"), max_size=8)


@st.composite
def phones(draw: st.DrawFn) -> str:
    head = draw(st.sampled_from(["090", "080", "070", "03", "06", "045", "0466", "0120", "050"]))
    size = {"090": (4, 4), "080": (4, 4), "070": (4, 4), "050": (4, 4), "03": (4, 4), "06": (4, 4),
            "045": (3, 4), "0466": (2, 4), "0120": (3, 3)}[head]
    groups = [head] + ["".join(draw(st.lists(st.sampled_from("0123456789"), min_size=n, max_size=n))) for n in size]
    number = draw(st.sampled_from(DASHES)).join(groups)
    return number.translate(FW) if draw(st.booleans()) else number


@st.composite
def cards(draw: st.DrawFn) -> str:
    digits = "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=16, max_size=16)))
    number = draw(st.sampled_from([" ", "-", ""])).join(digits[i : i + 4] for i in range(0, 16, 4))
    return number.translate(FW) if draw(st.booleans()) else number


@st.composite
def postal_codes(draw: st.DrawFn) -> str:
    a = "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=3, max_size=3)))
    b = "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=4, max_size=4)))
    code = f"〒{a}{draw(st.sampled_from(['-', '－', 'ー', '']))}{b}"
    return code.translate(FW) if draw(st.booleans()) else code


@st.composite
def individual_numbers(draw: st.DrawFn) -> str:
    digits = "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=12, max_size=12)))
    sep = draw(st.sampled_from([" ", "-", ""]))
    return sep.join((digits[:4], digits[4:8], digits[8:]))


@SETTINGS
@given(
    st.sampled_from(["phone", "card", "postal_code", "individual_number"]).flatmap(
        lambda kind: st.tuples(
            st.just(kind),
            {"phone": phones(), "card": cards(), "postal_code": postal_codes(), "individual_number": individual_numbers()}[kind],
        )
    ),
    CONTEXT,
    CONTEXT,
)
@example(("phone", "０９０ｰ１２３４ｰ５６７８"), "", "")
@example(("card", "4111111111111111"), "カード", "で")
def test_generated_personal_data_never_survives(item: tuple[str, str], before: str, after: str) -> None:
    kind, value = item
    text = f"{before}{value}{after}"
    for masked in (_MASKER.mask(text).text, _NORMALIZER(text).text):
        digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", value))
        assert digits not in re.sub(r"\D", "", unicodedata.normalize("NFKC", masked)), (text, masked)
        assert any(p in masked for p in PLACEHOLDERS.values()), (text, masked)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # regression examples of bugs found while writing these tests
        ("a" * 3000 + "@", "a" * 3000 + "@"),  # the e-mail pattern used to take quadratic time
        ("山田\x00太郎さん", "山田\x00＜氏名＞さん"),  # MeCab stopped at the NUL: 太郎 was never seen
        ("壊れた\ud800山田様", "壊れた\ud800＜氏名＞様"),  # a lone surrogate crashed MeCab
    ],
)
def test_masking_regressions(text: str, expected: str) -> None:
    assert _MASKER.mask(text).text == expected
