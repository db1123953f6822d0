"""Japanese keywords for topics: voc's fugashi tokenizer inside a CountVectorizer.

BERTopic's default ``CountVectorizer`` splits on whitespace, so a Japanese sentence (which
has none) becomes one "keyword" (BERTopic #1157, #1821). Here the vectorizer's tokenizer
is :class:`TopicTokenizer`: NFKC, then :class:`voc.text.tokenize.JapaneseTokenizer`'s
content-word lemmas (nouns, verbs, adjectives, adjectival nouns; stopwords, particles,
auxiliaries, symbols and numbers dropped; user words kept whole), then a last guard
against scraps (a keyword must contain a letter; units like cm/kg are dropped).

Compound nouns are kept as written: UniDic cuts text into short units (扇風機 -> 扇風 + 機,
不在票 -> 不在 + 票, 配送遅延 -> 配送 + 遅延), so the tokenizer also emits each run of
adjacent nouns as one word (「扇風機」「不在票」「配送遅延」). :class:`JapaneseVectorizer`
keeps a compound only when it occurs at least ``min_bigram_count`` times in the corpus,
and drops a part that never occurs outside its compounds (「扇風」, 「票」), so keywords are
words a reader recognises, never fragments. Spaced bigrams of adjacent content words
(「アプリ 落ちる」) are available with ``ngram_max=2`` and pruned by the same count.

>>> TopicTokenizer()("配送が遅れて、届いた箱が潰れていた")  # doctest: +SKIP
['配送', '遅れる', '届く', '箱', '潰れる']
>>> TopicTokenizer()("不在票もなく玄関前に置かれた")  # doctest: +SKIP
['不在票', '不在', '票', '玄関前', '玄関', '置く']
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
_HONORIFICS = frozenset({"さん", "様", "さま", "サン", "くん", "君", "ちゃん", "氏", "殿", "たち", "達", "ら", "等"})
MAX_COMPOUND_PARTS = 4
_HIRAGANA_RE = re.compile(r"[ぁ-ゖー]+")
MAX_COMPOUND_CHARS = 12


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
        out: list[str] = []
        run: list[Any] = []  # adjacent nouns so far (a compound in the making)

        def close_run() -> None:
            words = [t.surface for t in run]
            # two to four short units, written without a break: 扇風機, 不在票, 配送遅延
            if 2 <= len(run) <= MAX_COMPOUND_PARTS and sum(map(len, words)) <= MAX_COMPOUND_CHARS:
                out.append("".join(words))
            run.clear()

        prev: Any = None
        for t in self._tok.tokenize(text):
            # a counter after a number (2か月, 3週間, 2時間) says how long, not what about
            counter = (
                prev is not None
                and "数詞" in (prev.pos_detail, prev.pos3)
                and prev.end == t.start
                and t.pos3.startswith("助数詞")
            )
            prev = t
            if run and (counter or t.start != run[-1].end or not self._compound_part(t, first=False)):
                close_run()
            if counter:
                continue
            if self._compound_part(t, first=not run):
                run.append(t)
            if not self._tok.is_content(t):
                continue
            lemma = t.lemma.strip()
            if not lemma or not _has_letter(lemma) or " " in lemma:
                continue
            if not t.is_user_word:
                if _UNIT_RE.fullmatch(lemma):
                    continue
                if t.is_unknown and not self.keep_unknown_words:
                    continue
            out.append(lemma)
        if run:
            close_run()
        return out

    def parts(self, word: str) -> int:
        """How many dictionary units ``word`` is made of (1 for a word, 2+ for a compound)."""
        return len(self._tok.tokenize(_nfkc(word)))

    def _compound_part(self, t: Any, first: bool) -> bool:
        """Can ``t`` be part of a compound noun (the first part when ``first``)?"""
        if t.is_user_word:
            return False  # user words and built-in terms are whole already
        if t.is_unknown and not self.keep_unknown_words:
            return False
        if t.pos == "名詞":
            if t.pos_detail not in ("普通名詞", "固有名詞") or t.pos3 == "数詞":
                return False
            if _HIRAGANA_RE.fullmatch(t.surface) or _UNIT_RE.fullmatch(t.surface):
                return False  # なし, こと, ため: grammar, not part of a name for a thing
            return _has_letter(t.surface)
        # noun-like suffixes join the run (使用感, 対応力) but honorifics do not (店員さん)
        return (
            not first
            and t.pos == "接尾辞"
            and t.pos_detail == "名詞的"
            and t.surface not in _HONORIFICS
        )


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
        k = max(int(getattr(self, "min_bigram_count", 1) or 1), 1)
        terms = self.get_feature_names_out()
        counts = np.asarray(X.sum(axis=0)).ravel()
        is_ngram = np.array([" " in t for t in terms], dtype=bool)
        repeated = np.array([" " in t and _overlapping(t.split()) for t in terms], dtype=bool)
        parts = getattr(self.tokenizer, "parts", None)
        is_compound = np.array(
            [not n and parts is not None and parts(t) > 1 for t, n in zip(terms, is_ngram, strict=True)],
            dtype=bool,
        )
        keep_mask = ~((is_ngram | is_compound) & (counts < k)) & ~repeated
        keep_mask &= ~_subsumed(terms, counts, is_compound & keep_mask, is_compound)
        keep = np.flatnonzero(keep_mask)
        if len(keep) == len(terms):
            return X
        self.vocabulary_ = {terms[j]: i for i, j in enumerate(keep)}
        return X[:, keep]


def _overlapping(words: list[str]) -> bool:
    """「ひどい ひどい」, or a word next to its own compound (「遅延 配送遅延」)."""
    return any(a in b for i, a in enumerate(words) for j, b in enumerate(words) if i != j)


def _subsumed(terms: Any, counts: np.ndarray, kept: np.ndarray, compounds: np.ndarray) -> np.ndarray:
    """Words that never occur outside compounds written with them (扇風 in 扇風機): their
    count is no more than that of the kept compounds containing them; for a one-character
    word (機, 票) of every compound, kept or not, since alone it reads as a fragment."""

    def inside_counts(mask: np.ndarray) -> dict[str, int]:
        inside: dict[str, int] = {}
        for j in np.flatnonzero(mask):
            c = str(terms[j])
            for a in range(len(c)):
                for b in range(a + 1, len(c) + 1):
                    if b - a < len(c):
                        inside[c[a:b]] = inside.get(c[a:b], 0) + int(counts[j])
        return inside

    out = np.zeros(len(terms), dtype=bool)
    if not compounds.any():
        return out
    in_kept, in_any = inside_counts(kept), inside_counts(compounds)
    for i, t in enumerate(terms):
        t = str(t)
        if compounds[i] or " " in t:
            continue
        out[i] = counts[i] <= (in_any if len(t) == 1 else in_kept).get(t, 0)
    return out


def make_vectorizer(
    tokenizer: TopicTokenizer | None = None,
    ngram_max: int = 1,
    min_bigram_count: int = 3,
) -> JapaneseVectorizer:
    """The default topic vectorizer: voc's tokenizer (words and compound nouns), rare
    compounds (and bigrams, with ``ngram_max=2``) pruned.

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
