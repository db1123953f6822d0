"""Japanese word segmentation with fugashi + unidic-lite.

Everything in voc that needs Japanese *words* goes through :class:`JapaneseTokenizer`:
topic keywords (the CountVectorizer of the topic model), keyword search and highlighting,
person-name masking.

MeCab nodes point into MeCab's memory and die at the next parse, so every node is copied
into a plain frozen :class:`Token` at once. The fugashi ``Tagger`` cannot be pickled: the
tokenizer drops it when pickled and rebuilds it lazily, so it can be sent to worker
processes (joblib, Spark, Ray) and stored inside a saved vectorizer.

>>> tok = JapaneseTokenizer()
>>> [t.lemma for t in tok.content_words("配送が遅れて届いた箱が潰れていた")]  # doctest: +SKIP
['配送', '遅れる', '届く', '箱', '潰れる']
"""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any

from voc.errors import ConfigError, MissingExtraError

logger = logging.getLogger(__name__)

CONTENT_POS: frozenset[str] = frozenset({"名詞", "動詞", "形容詞", "形状詞"})

# Words that carry no topic on their own in customer feedback. Lemmas (dictionary forms).
DEFAULT_STOPWORDS: frozenset[str] = frozenset(
    """
    する ある いる なる できる 出来る れる られる せる させる おる 思う 言う いう 感じる
    やる 行う 見る 来る くる 行く いく 持つ くれる もらう 貰う あげる しまう 頂く いただく
    下さる くださる 致す いたす 申す 存じる 分かる わかる 使う 買う 購入 利用 使用
    こと もの 物 事 ため 為 よう 様 感じ 方 ほう 今回 前回 次回 今 今日 昨日 明日 時 とき
    ところ 所 ところ 場合 部分 点 程 ほど ぐらい くらい 位 以上 以下 的 等 など 中 内
    人 方々 自分 私 僕 俺 あなた 皆 みんな これ それ あれ どれ ここ そこ あそこ 何 なに
    全部 全て すべて 一つ 一 二 三 回 度 個 件 円 年 月 日 週 分 秒 さん 様 さま
    良い よい いい 無い ない 多い 少ない
    本当 ほんと 本当に 少し ちょっと とても すごい 凄い やっぱり やはり まあ まだ もう
    ＜URL＞ ＜ユーザー＞ ＜メール＞ ＜電話番号＞ ＜郵便番号＞ ＜カード番号＞ ＜個人番号＞
    ＜住所＞ ＜氏名＞ w ww www 笑 わけ はず つもり まま うち ほか たび ごと なか みたい
    おく みる しまう てる ちゃう くださる ください 致します いただける もらえる
    すぎる 過ぎる やすい 易い にくい づらい ほしい 欲しい
    """.split()
)

# Characters MeCab cannot take: NUL ends its C string, lone surrogates are not UTF-8.
_UNSAFE_RE = re.compile("[\x00\ud800-\udfff]")

# Placeholders inserted by normalization/masking: kept as single tokens, never split.
_PLACEHOLDER_RE = re.compile(r"＜[^＜＞\s]{1,12}＞")


@dataclass(frozen=True, slots=True)
class Token:
    """One word, copied out of MeCab's memory.

    ``lemma`` is the dictionary form in the writer's own script (UniDic ``orthBase``:
    届いた -> 届く, ダメ stays ダメ), ``lemma_norm`` UniDic's normalised lemma (駄目), ``pos``
    the coarse part of speech (名詞, 動詞 ...), ``pos_detail`` the second level (固有名詞,
    非自立可能 ...), ``pos3`` the third (人名, 地名 ...).
    """

    surface: str
    lemma: str
    lemma_norm: str
    pos: str
    pos_detail: str
    pos3: str
    start: int
    end: int
    is_user_word: bool = False
    is_unknown: bool = False


@functools.cache
def builtin_term_list() -> tuple[str, ...]:
    """voc's customer-feedback terms kept whole (voc/text/terms_ja.txt)."""
    text = resources.files("voc.text").joinpath("terms_ja.txt").read_text("utf-8")
    return tuple(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def _default_tagger_args() -> str:
    try:
        import unidic_lite
    except ImportError as exc:  # pragma: no cover - dependency of voc
        raise MissingExtraError("Japanese tokenization", "unidic-lite") from exc
    dicdir = unidic_lite.DICDIR
    return f'-r "{os.path.join(dicdir, "mecabrc")}" -d "{dicdir}"'


_TAGGERS = threading.local()


def _shared_tagger(fugashi: Any, args: str) -> Any:
    """One MeCab Tagger per thread and argument string, shared by every tokenizer.

    A Tagger maps UniDic's 260 MB of dictionary files; the record builder, the PII masker
    and the topic vectorizer each hold a tokenizer, and with a Tagger each a batch run
    mapped (and counted in its RSS) the dictionary several times over. A Tagger is not
    safe to use from two threads at once, hence one per thread.
    """
    cache = getattr(_TAGGERS, "by_args", None)
    if cache is None:
        cache = _TAGGERS.by_args = {}
    tagger = cache.get(args)
    if tagger is None:
        tagger = cache[args] = fugashi.Tagger(args)
    return tagger


class JapaneseTokenizer:
    """fugashi + unidic-lite tokenizer with a content-word filter.

    Args:
        user_words: product and brand names kept whole (longest match wins), e.g.
            ``["ミドリ生活館", "らくらく掃除機Z"]``.
        builtin_terms: also keep voc's list of customer-feedback terms whole
            (ログイン, 置き配, 二重請求 ... see ``voc/text/terms_ja.txt``).
        stopwords: lemmas dropped by :meth:`content_words`; defaults to
            :data:`DEFAULT_STOPWORDS`. Pass ``extra_stopwords`` to extend instead.
        content_pos: parts of speech kept as content words.
        tagger_args: MeCab arguments; by default the unidic-lite dictionary explicitly.
    """

    def __init__(
        self,
        user_words: Iterable[str] = (),
        builtin_terms: bool = True,
        stopwords: Iterable[str] | None = None,
        extra_stopwords: Iterable[str] = (),
        content_pos: Iterable[str] = CONTENT_POS,
        tagger_args: str | None = None,
    ) -> None:
        words = {w.strip() for w in user_words if w and w.strip()}
        self.builtin_terms = builtin_terms
        self.user_words = tuple(sorted(words))
        self.terms = tuple(sorted(words | (set(builtin_term_list()) if builtin_terms else set())))
        base = DEFAULT_STOPWORDS if stopwords is None else frozenset(stopwords)
        self.stopwords = frozenset(base | set(extra_stopwords))
        self.content_pos = frozenset(content_pos)
        self.tagger_args = tagger_args
        self._user_re = (
            re.compile("|".join(re.escape(w) for w in sorted(self.terms, key=len, reverse=True)))
            if self.terms
            else None
        )
        self._tagger: tuple[int, Any] | None = None  # (thread id, Tagger)

    # -- pickling: the Tagger is a native handle, rebuilt on first use ---------------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_tagger"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return f"JapaneseTokenizer(terms={len(self.terms)}, stopwords={len(self.stopwords)})"

    @property
    def tagger(self) -> Any:
        """This thread's shared Tagger (see :func:`_shared_tagger`): a tokenizer used from
        another thread than the one that first used it takes that thread's own."""
        me = threading.get_ident()
        if self._tagger is None or self._tagger[0] != me:
            try:
                import fugashi
            except ImportError as exc:  # pragma: no cover - dependency of voc
                raise MissingExtraError("Japanese tokenization", "fugashi") from exc
            args = self.tagger_args if self.tagger_args is not None else _default_tagger_args()
            try:
                self._tagger = (me, _shared_tagger(fugashi, args))
            except RuntimeError as exc:
                raise ConfigError(
                    "E020",
                    f"MeCab could not start with arguments {args!r}: {exc}",
                    hint="Reinstall the dictionary with: pip install unidic-lite",
                ) from exc
        return self._tagger[1]

    # -- tokenization -------------------------------------------------------------
    def tokenize(self, text: str) -> list[Token]:
        """All tokens of ``text`` with character offsets (whitespace is not a token).

        MeCab takes UTF-8 C strings: a lone surrogate (not encodable) is read as U+FFFD and
        a NUL (the end of a C string) as a space, one character for one, so offsets stay
        those of ``text``.
        """
        if _UNSAFE_RE.search(text):
            text = _UNSAFE_RE.sub(lambda m: " " if m.group() == "\x00" else "\ufffd", text)
        tokens: list[Token] = []
        for start, end, kind in self._segments(text):
            piece = text[start:end]
            if kind == "user":
                tokens.append(
                    Token(piece, piece, piece, "名詞", "固有名詞", "一般", start, end, True, False)
                )
            elif kind == "placeholder":
                tokens.append(Token(piece, piece, piece, "記号", "プレースホルダ", "*", start, end))
            else:
                tokens.extend(self._parse(piece, start))
        return tokens

    def _segments(self, text: str) -> Iterator[tuple[int, int, str]]:
        """Split text into (start, end, kind) runs: user words, placeholders, plain text."""
        spans: list[tuple[int, int, str]] = [
            (m.start(), m.end(), "placeholder") for m in _PLACEHOLDER_RE.finditer(text)
        ]
        if self._user_re is not None:
            taken = [(s, e) for s, e, _ in spans]
            for m in self._user_re.finditer(text):
                if not any(s < m.end() and m.start() < e for s, e in taken):
                    spans.append((m.start(), m.end(), "user"))
        spans.sort()
        pos = 0
        for s, e, kind in spans:
            if s > pos:
                yield pos, s, "text"
            yield s, e, kind
            pos = e
        if pos < len(text):
            yield pos, len(text), "text"

    def _parse(self, text: str, offset: int) -> list[Token]:
        # MeCab crashes on very long inputs: feed it pieces cut at line or sentence ends
        if len(text) > MAX_PARSE_CHARS:
            out: list[Token] = []
            for start, piece in _pieces(text, MAX_PARSE_CHARS):
                out.extend(self._parse(piece, offset + start))
            return out
        out = []
        cursor = 0
        for node in self.tagger(text):
            surface = node.surface
            # white_space holds the spaces MeCab skipped before this node
            cursor += len(node.white_space)
            start = offset + cursor
            cursor += len(surface)
            f = node.feature
            pos = f.pos1 or "*"
            base = getattr(f, "orthBase", None) or surface
            norm = getattr(f, "lemma", None) or base
            if "-" in norm and not norm.startswith("-"):
                norm = norm.split("-", 1)[0]  # アプリ-application -> アプリ
            out.append(
                Token(
                    surface=surface,
                    lemma=base,
                    lemma_norm=norm,
                    pos=pos,
                    pos_detail=f.pos2 or "*",
                    pos3=f.pos3 or "*",
                    start=start,
                    end=start + len(surface),
                    is_unknown=bool(node.is_unk),
                )
            )
        return out

    def is_content(self, token: Token) -> bool:
        """True for nouns, verbs, adjectives and adjectival nouns that carry meaning."""
        if token.is_user_word:
            return True
        if token.pos not in self.content_pos:
            return False
        if token.pos_detail in {"数詞", "助動詞語幹"} or token.pos3 == "数詞":
            return False
        if token.lemma in self.stopwords or token.lemma_norm in self.stopwords:
            return False
        lemma = token.lemma
        if not lemma.strip() or _NON_WORD_RE.fullmatch(lemma):
            return False
        # a lone hiragana or katakana character is almost always a parsing scrap
        return not (len(lemma) == 1 and _KANA_RE.fullmatch(lemma))

    def content_words(self, text: str) -> list[Token]:
        """Tokens kept for topics and search (content parts of speech, no stopwords)."""
        return [t for t in self.tokenize(text) if self.is_content(t)]

    def lemmas(self, text: str) -> list[str]:
        """Content-word lemmas: the analyzer used by the topic model's CountVectorizer.

        >>> JapaneseTokenizer().lemmas("レジの待ち時間が長すぎる")  # doctest: +SKIP
        ['レジ', '待ち', '時間', '長い']
        """
        return [t.lemma for t in self.content_words(text)]

    __call__ = lemmas


MAX_PARSE_CHARS = 2000
_CUT_RE = re.compile(r"[\n。！？!?]")


def _pieces(text: str, size: int) -> Iterator[tuple[int, str]]:
    """(offset, piece) cuts of at most ``size`` characters, at a line or sentence end."""
    start = 0
    while start < len(text):
        end = min(start + size, len(text))
        if end < len(text):
            cut = max((m.end() for m in _CUT_RE.finditer(text, start + size // 2, end)), default=end)
            end = cut
        yield start, text[start:end]
        start = end


_NON_WORD_RE = re.compile(r"[\W_0-9０-９ｗwW草]+")
_KANA_RE = re.compile(r"[ぁ-ゖァ-ヺー]")
