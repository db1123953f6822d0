"""Japanese keywords for topics: voc's fugashi tokenizer inside a CountVectorizer.

BERTopic's default ``CountVectorizer`` splits on whitespace, so a Japanese sentence (which
has none) becomes one "keyword" (BERTopic #1157, #1821). Here the vectorizer's tokenizer
is :class:`TopicTokenizer`: NFKC, then :class:`voc.text.tokenize.JapaneseTokenizer`'s
content-word lemmas (nouns, verbs, adjectives, adjectival nouns; stopwords, particles,
auxiliaries, symbols and numbers dropped; user words kept whole), then a last guard
against scraps (a keyword must contain a letter; units like cm/kg are dropped).

Bigrams join adjacent content words with a space (「配送 遅延」); :class:`JapaneseVectorizer`
keeps a bigram only when it occurs at least ``min_bigram_count`` times in the corpus, so
one-off pairs never crowd out real words.

>>> TopicTokenizer()("配送が遅れて、届いた箱が潰れていた")  # doctest: +SKIP
['配送', '遅れる', '届く', '箱', '潰れる']
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer

from voc.text.tokenize import JapaneseTokenizer

_UNIT_RE = re.compile(r"[a-z]{1,3}|[A-Za-z]")

#: Lemmas that are scraps of SNS slang rather than topics (ワロタ -> ワラウ, 笑 -> 笑う,
#: ありえ|る -> える), dropped from topic keywords on top of voc's stopwords.
TOPIC_STOPWORDS: frozenset[str] = frozenset(
    {"ワラウ", "笑う", "わらう", "ワロタ", "ロタ", "える", "うる", "草"}
)
_PROTECT_RE = re.compile(r"(＜[^＜＞\s]{1,12}＞)")


def _has_letter(word: str) -> bool:
    return any(unicodedata.category(ch).startswith("L") for ch in word)


class TopicTokenizer:
    """Callable ``text -> list of keyword lemmas`` for the topic vectorizer (picklable).

    Args:
        user_words: product and brand names kept whole (``[tokenize] user_words``).
        extra_stopwords: more lemmas to drop (``[tokenize] extra_stopwords``).
        keep_unknown_words: keep words that unidic does not know (katakana slang,
            ASCII product names); ``False`` (default) keeps dictionary words, user words
            and voc's built-in terms only.
    """

    def __init__(
        self,
        user_words: Iterable[str] = (),
        extra_stopwords: Iterable[str] = (),
        keep_unknown_words: bool = False,
    ) -> None:
        self.user_words = tuple(user_words)
        self.extra_stopwords = tuple(extra_stopwords)
        self.keep_unknown_words = keep_unknown_words
        self._tok = JapaneseTokenizer(
            user_words=self.user_words, extra_stopwords=(*self.extra_stopwords, *TOPIC_STOPWORDS)
        )

    def __repr__(self) -> str:
        return (
            f"TopicTokenizer(user_words={len(self.user_words)}, "
            f"extra_stopwords={len(self.extra_stopwords)}, keep_unknown_words={self.keep_unknown_words})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "user_words": list(self.user_words),
            "extra_stopwords": list(self.extra_stopwords),
            "keep_unknown_words": self.keep_unknown_words,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TopicTokenizer:
        return cls(
            user_words=data.get("user_words", ()),
            extra_stopwords=data.get("extra_stopwords", ()),
            keep_unknown_words=bool(data.get("keep_unknown_words", False)),
        )

    def is_noun(self, word: str) -> bool:
        """True when ``word`` is one noun or adjectival noun (or a user word / built-in term)."""
        toks = self._tok.tokenize(_nfkc(word))
        return len(toks) == 1 and (toks[0].is_user_word or toks[0].pos in ("名詞", "形状詞"))

    def __call__(self, text: str) -> list[str]:
        text = _nfkc(text)
        out = []
        for t in self._tok.content_words(text):
            lemma = t.lemma.strip()
            if not lemma or not _has_letter(lemma) or " " in lemma:
                continue
            if not t.is_user_word:
                if _UNIT_RE.fullmatch(lemma):
                    continue
                if t.is_unknown and not self.keep_unknown_words:
                    continue
            out.append(lemma)
        return out


def _nfkc(text: str) -> str:
    parts = _PROTECT_RE.split(text)
    return "".join(p if i % 2 else unicodedata.normalize("NFKC", p) for i, p in enumerate(parts))


class JapaneseVectorizer(CountVectorizer):
    """``CountVectorizer`` that drops rare bigrams (and 「ひどい ひどい」 repeats) after fitting.

    Same constructor as scikit-learn's (so BERTopic can save and rebuild its parameters);
    ``min_bigram_count`` is a plain attribute set after construction. Use
    :func:`make_vectorizer` to build one.
    """

    min_bigram_count: int = 1

    def fit(self, raw_documents: Any, y: Any = None) -> JapaneseVectorizer:
        self.fit_transform(raw_documents)
        return self

    def fit_transform(self, raw_documents: Any, y: Any = None) -> Any:
        X = super().fit_transform(raw_documents)
        k = int(getattr(self, "min_bigram_count", 1) or 1)
        if self.ngram_range[1] < 2:
            return X
        terms = self.get_feature_names_out()
        counts = np.asarray(X.sum(axis=0)).ravel()
        is_ngram = np.array([" " in t for t in terms], dtype=bool)
        repeated = np.array([" " in t and len(set(t.split())) == 1 for t in terms], dtype=bool)
        keep = np.flatnonzero((~is_ngram | (counts >= max(k, 1))) & ~repeated)
        if len(keep) == len(terms):
            return X
        self.vocabulary_ = {terms[j]: i for i, j in enumerate(keep)}
        return X[:, keep]


def make_vectorizer(
    tokenizer: TopicTokenizer | None = None,
    ngram_max: int = 2,
    min_bigram_count: int = 3,
) -> JapaneseVectorizer:
    """The default topic vectorizer: voc's tokenizer, uni- and bigrams, rare bigrams pruned.

    ``min_df`` stays 1: BERTopic fits the vectorizer on one joined document *per topic*,
    so a ``min_df`` of 2 would delete exactly the words that make a topic distinctive.
    """
    vec = JapaneseVectorizer(
        tokenizer=tokenizer or TopicTokenizer(),
        lowercase=False,
        token_pattern=None,
        ngram_range=(1, ngram_max),
        min_df=1,
    )
    vec.min_bigram_count = min_bigram_count
    return vec


def attach_tokenizer(
    vectorizer: CountVectorizer, tokenizer: TopicTokenizer, min_bigram_count: int
) -> JapaneseVectorizer:
    """A :class:`JapaneseVectorizer` with ``vectorizer``'s parameters and vocabulary and
    voc's tokenizer, for a model loaded from safetensors (whose CountVectorizer lost it)."""
    params = vectorizer.get_params()
    params.update(tokenizer=tokenizer, preprocessor=None, lowercase=False, token_pattern=None)
    params.pop("analyzer", None)
    vec = JapaneseVectorizer(**params)
    vec.min_bigram_count = min_bigram_count
    vocab = getattr(vectorizer, "vocabulary_", None)
    if vocab is not None:
        vec.vocabulary_ = {str(k): int(v) for k, v in vocab.items()}
    return vec
