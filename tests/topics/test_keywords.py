"""Readable Japanese keywords: the tokenizer, the vectorizer and the labels."""

from __future__ import annotations

import os

import numpy as np
import pytest

from voc.topics.labels import make_label, representative_indices
from voc.topics.vectorizer import TopicTokenizer, attach_tokenizer, make_vectorizer

TOKENIZE_CASES = [
    ("配送が遅れて、届いた箱が潰れていた", ["配送", "遅れる", "届く", "箱", "潰れる"]),
    ("ｱﾌﾟﾘが落ちる", ["アプリ", "落ちる"]),  # half-width katakana is NFKC-normalised first
    ("10cmの傷があった。", ["傷"]),  # numbers, units and particles are not keywords
    ("ｗｗｗ マジ草", ["マジ"]),
    ("＜URL＞を見てもログインできません", ["ログイン"]),
    ("", []),
]


@pytest.mark.parametrize(("text", "expected"), TOKENIZE_CASES)
def test_topic_tokenizer(text: str, expected: list[str]) -> None:
    assert TopicTokenizer()(text) == expected


def test_user_words_and_stopwords() -> None:
    tok = TopicTokenizer(user_words=["らくらく掃除機Z"], extra_stopwords=["箱"])
    assert tok("らくらく掃除機Zの箱が潰れていた") == ["らくらく掃除機Z", "潰れる"]
    assert TopicTokenizer.from_dict(tok.to_dict()).to_dict() == tok.to_dict()


COMPOUND_CASES = [
    ("扇風機が壊れた", ["扇風", "機", "扇風機", "壊れる"]),  # UniDic: 扇風 + 機
    ("不在票もなく玄関前に置かれた", ["不在", "票", "不在票", "玄関", "前", "玄関前", "置く"]),
    ("不在票なし", ["不在", "票", "不在票", "なし"]),  # a hiragana noun does not join
    ("店員さんの対応窓口", ["店員さん", "対応", "窓口", "対応窓口"]),
    ("何回も電話した", ["電話"]),  # numbers never start a compound
    ("2か月で壊れた。1週間待った", ["壊れる", "待つ"]),  # counters after a number are not topics
    ("対応に時間がかかった", ["対応", "時間", "かかる"]),  # 時間 as a word stays
]


@pytest.mark.parametrize(("text", "expected"), COMPOUND_CASES)
def test_compound_nouns_are_kept_as_written(text: str, expected: list[str]) -> None:
    assert TopicTokenizer()(text) == expected


def test_fragments_that_only_occur_in_compounds_are_not_keywords() -> None:
    docs = ["扇風機が壊れた", "扇風機の音がうるさい", "配送遅延がひどい", "配送が遅い", "配送遅延です",
            "不在票なし", "不在票がない。不在だった", "玄関前に置かれた"]
    vec = make_vectorizer(TopicTokenizer(), min_bigram_count=2)
    vec.fit_transform(docs)
    terms = set(vec.get_feature_names_out())
    assert {"扇風機", "配送遅延", "不在票", "配送", "不在"} <= terms  # 配送 and 不在 also stand alone
    assert not terms & {"扇風", "機", "票", "遅延"}  # only ever inside a compound
    assert "玄関前" not in terms and "玄関" in terms  # once: below min_bigram_count ...
    assert "前" not in terms  # ... but a lone 前 read out of it is a fragment
    assert not any(" " in t for t in terms)


def test_rare_bigrams_are_pruned() -> None:
    docs = ["配送 遅延 到着", "配送遅延で到着が遅い。配送遅延がひどい", "配送遅延。店員の態度"]
    vec = make_vectorizer(TopicTokenizer(), ngram_max=2, min_bigram_count=3)
    X = vec.fit_transform(docs)
    terms = list(vec.get_feature_names_out())
    assert "配送 遅延" in terms  # 4 times
    assert "店員 態度" not in terms  # once
    assert X.shape[1] == len(terms)
    assert all(" " not in t or t == "配送 遅延" for t in terms)


def test_attach_tokenizer_rebuilds_a_working_vectorizer() -> None:
    from sklearn.feature_extraction.text import CountVectorizer

    vec = make_vectorizer(TopicTokenizer(), min_bigram_count=1)
    vec.fit(["配送が遅れた", "レジが混んでいる"])
    plain = CountVectorizer(
        **{k: v for k, v in vec.get_params().items() if k not in ("tokenizer",)}
    )
    plain.vocabulary_ = dict(vec.vocabulary_)
    again = attach_tokenizer(plain, TopicTokenizer(), 1)
    assert isinstance(again.tokenizer, TopicTokenizer)
    assert (
        again.transform(["配送が遅い"]).toarray() == vec.transform(["配送が遅い"]).toarray()
    ).all()


LABEL_CASES = [
    (["配送 遅延", "到着", "配送", "箱"], 3, "配送・遅延・到着"),
    (["レジ", "待ち", "レジ 待ち", "店員"], 2, "レジ・待ち"),
    (["アプリ"], 3, "アプリ"),
    ([], 3, ""),
]


@pytest.mark.parametrize(("keywords", "n", "expected"), LABEL_CASES)
def test_make_label(keywords: list[str], n: int, expected: str) -> None:
    assert make_label(keywords, n) == expected


def test_representatives_are_distinct_and_closest() -> None:
    vecs = np.array([[1, 0], [0.9, 0.1], [1, 0], [0, 1]], np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    got = representative_indices(vecs, np.array([1.0, 0.0]), ["a", "b", "a", "c"], n=3)
    assert got == [0, 1, 3]


def _dictionary_word(tagger, part: str) -> bool:  # type: ignore[no-untyped-def]
    """One dictionary word, or a short compound of them written together (ログイン = ログ+イン,
    a built-in term; 配送遅延): never a particle, auxiliary, symbol or a clause."""
    nodes = list(tagger(part))
    bad = ("助詞", "助動詞", "補助記号", "記号", "空白")
    return 1 <= len(nodes) <= 4 and all(n.feature.pos1 not in bad for n in nodes)


def test_fitted_keywords_are_words_or_phrases(fitted) -> None:  # type: ignore[no-untyped-def]
    """Every keyword is a content word or a bigram of two: no sentences, particles,
    punctuation or whitespace tokens."""
    import fugashi
    import unidic_lite

    tagger = fugashi.Tagger(
        f'-d "{unidic_lite.DICDIR}" -r "{os.path.join(unidic_lite.DICDIR, "mecabrc")}"'
    )
    keywords = [kw for t in fitted.topic_ids for kw in fitted.keywords_[t]]
    assert keywords
    for kw in keywords:
        parts = kw.split(" ")
        assert 1 <= len(parts) <= 2, kw
        assert all(p and p == p.strip() for p in parts), kw
        assert all(_dictionary_word(tagger, p) for p in parts), kw
        assert not any(ch in kw for ch in "。、！？!?,.「」（）()"), kw


def test_topics_have_labels_and_verbatims(fitted) -> None:  # type: ignore[no-untyped-def]
    for info in fitted.topic_info():
        assert info.label and "・" in info.label or len(info.keywords) < 2
        assert len(info.label.split("・")) <= fitted.config.label_words
        assert min(3, info.size) <= len(info.representative) <= 5
        assert all(text in fitted.documents_ for text in info.representative)


NOUN_LABEL_CASES = [
    (["機器", "フォン", "スマート フォン", "需要"], "機器・スマートフォン・需要"),
    (["配送 遅延", "到着", "配送", "箱"], "配送遅延・到着・箱"),
    (["届く 週間", "発送", "返品"], "届く・週間・発送"),  # a verb: no compound
]


@pytest.mark.parametrize(("keywords", "expected"), NOUN_LABEL_CASES)
def test_make_label_joins_noun_compounds(keywords: list[str], expected: str) -> None:
    assert make_label(keywords, 3, is_noun=TopicTokenizer().is_noun) == expected
