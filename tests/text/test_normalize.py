from __future__ import annotations

import pytest

from voc.text import NormalizeConfig, Normalizer, normalize, split_sentences

NORMALIZE_TABLE = [
    # (input, expected normalized text)
    ("ﾏｼﾞで最悪", "マジで最悪"),
    ("ＡＢＣ１２３　です", "ABC123 です"),
    ("最悪！！！！！！", "最悪!!!"),
    ("ながーーーーーーい", "ながーーーい"),
    ("ｗｗｗｗｗｗ", "www"),
    ("1000000円でした", "1000000円でした"),
    ("詳細は https://example.com/item?id=3 を見て", "詳細は ＜URL＞ を見て"),
    ("@midori_support 返信ください", "＜ユーザー＞ 返信ください"),
    ("今日も #配送遅延 でした", "今日も 配送遅延 でした"),
    ("(´・ω・`) しょぼん", "(´・ω・`) しょぼん"),
    ("最高😊👍", "最高😊👍"),
    ("家族👨‍👩‍👧で使ってます❤️", "家族👨‍👩‍👧で使ってます❤️"),
    ("  前後の空白\t\tと タブ  ", "前後の空白 と タブ"),
    ("一行目\r\n\r\n\r\n\r\n二行目", "一行目\n\n二行目"),
    ("NUL\x00文字\x07入り", "NUL文字入り"),
    ("\ufeffBOM付き", "BOM付き"),
]


@pytest.mark.parametrize(("text", "expected"), NORMALIZE_TABLE)
def test_normalize_table(text: str, expected: str) -> None:
    assert normalize(text).text == expected


@pytest.mark.parametrize(("text", "_"), NORMALIZE_TABLE)
def test_normalize_is_idempotent(text: str, _: str) -> None:
    once = normalize(text).text
    assert normalize(once).text == once


def test_lone_surrogate_is_replaced_and_reported() -> None:
    result = normalize("壊れた\ud800文字")
    assert result.had_surrogates
    assert result.text == "壊れた\ufffd文字"


def test_settings_switch_steps_off() -> None:
    cfg = NormalizeConfig(replace_urls=False, max_repeat=0, mask_pii=False)
    assert Normalizer(cfg)("https://example.com ！！！！ 090-1234-5678").text == (
        "https://example.com !!!! 090-1234-5678"
    )


SENTENCE_TABLE = [
    ("届いた。壊れていた。", ["届いた。", "壊れていた。"]),
    ("店員に「少々お待ちください。」と言われた。30分待った!", ["店員に「少々お待ちください。」と言われた。", "30分待った!"]),
    ("最高!!www次も買う", ["最高!!www", "次も買う"]),
    ("一行目\n二行目", ["一行目", "二行目"]),
    ("（たぶん。）ありがとう", ["（たぶん。）ありがとう"]),
    ("ひどい😡😡 返金して", ["ひどい😡😡 返金して"]),
    ("ひどい。😡😡", ["ひどい。😡😡"]),
    ("本当に?信じられない!", ["本当に?", "信じられない!"]),
    ("", []),
]


@pytest.mark.parametrize(("text", "expected"), SENTENCE_TABLE)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_long_sentence_is_cut_at_a_comma() -> None:
    text = "、".join(["とても長い文章が続きます"] * 60) + "。"
    parts = split_sentences(text, max_chars=100)
    assert all(len(p) <= 100 for p in parts)
    assert "".join(parts) == text
