from __future__ import annotations

import pickle

import pytest

from voc.text import JapaneseTokenizer


@pytest.fixture(scope="module")
def tok() -> JapaneseTokenizer:
    return JapaneseTokenizer(user_words=["ミドリ生活館", "らくらく掃除機Z"])


LEMMA_TABLE = [
    ("配送が遅れて届いた箱が潰れていた", ["配送", "遅れる", "届く", "箱", "潰れる"]),
    ("レジの待ち時間が長すぎる", ["レジ", "待ち時間", "長い"]),
    ("アプリにログインできない", ["アプリ", "ログイン"]),
    ("ミドリ生活館で買ったらくらく掃除機Zが壊れた", ["ミドリ生活館", "らくらく掃除機Z", "壊れる"]),
    ("サポートの対応が丁寧で安心しました", ["サポート", "対応", "丁寧", "安心"]),
    ("置き配の再配達と二重請求に困った", ["置き配", "再配達", "二重請求", "困る"]),
    ("ダメすぎｗｗｗ", ["ダメ"]),
    ("の が を に は", []),
    ("", []),
]


@pytest.mark.parametrize(("text", "expected"), LEMMA_TABLE)
def test_content_word_lemmas(tok: JapaneseTokenizer, text: str, expected: list[str]) -> None:
    assert tok.lemmas(text) == expected


def test_tokens_carry_surface_lemma_pos_and_offsets(tok: JapaneseTokenizer) -> None:
    text = "荷物が 届かなかった"
    tokens = tok.tokenize(text)
    assert [t.surface for t in tokens] == ["荷物", "が", "届か", "なかっ", "た"]
    assert tokens[2].lemma == "届く" and tokens[2].pos == "動詞"
    assert tokens[1].pos == "助詞"
    for t in tokens:
        assert text[t.start : t.end] == t.surface


def test_placeholders_stay_whole_and_are_not_keywords(tok: JapaneseTokenizer) -> None:
    tokens = tok.tokenize("＜電話番号＞に電話した")
    assert tokens[0].surface == "＜電話番号＞"
    assert "電話番号" not in tok.lemmas("＜電話番号＞に電話した")


def test_emoji_and_kaomoji_do_not_break_tokenization(tok: JapaneseTokenizer) -> None:
    text = "最高😊(´・ω・`)また頼む"
    tokens = tok.tokenize(text)
    assert "".join(t.surface for t in tokens) == text
    assert tok.lemmas(text) == ["最高", "頼む"]


def test_tokenizer_pickles_without_the_tagger(tok: JapaneseTokenizer) -> None:
    tok.lemmas("使う前に")  # the tagger exists now
    blob = pickle.dumps(tok)
    clone = pickle.loads(blob)
    assert clone._tagger is None
    assert clone.lemmas("画面が割れていた") == ["画面", "割れる"]


def test_tokens_survive_the_next_parse(tok: JapaneseTokenizer) -> None:
    first = tok.tokenize("配達が遅い")
    tok.tokenize("まったく別の長い文章をここで解析してメモリを上書きする")
    assert [t.surface for t in first] == ["配達", "が", "遅い"]


def test_extra_stopwords(tok: JapaneseTokenizer) -> None:
    custom = JapaneseTokenizer(extra_stopwords=["商品"])
    assert custom.lemmas("商品が壊れた") == ["壊れる"]
