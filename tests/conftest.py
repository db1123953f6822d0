"""Fixtures shared by several test folders."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

#: A few labelled customer voices (text, sentiment, emotion) for tiny training runs.
LABELLED = [
    ("配送が遅くて箱も潰れていた。最悪です", "negative", "怒り"),
    ("二度と買いません。サポートの対応もひどい", "negative", "怒り"),
    ("楽しみにしていたのに初期不良で悲しい", "negative", "悲しみ"),
    ("とても使いやすい掃除機です。買ってよかった", "positive", "喜び"),
    ("店員さんの対応が丁寧で安心しました", "positive", "安心"),
    ("すぐ届いて助かりました。また利用します", "positive", "喜び"),
    ("サイズはMを購入しました", "neutral", "平静"),
    ("特にありません", "neutral", "平静"),
]


def build_tiny_mecab_bert(folder: Path, texts: Iterable[str]) -> Path:
    """A 2-layer BERT (random weights) whose BertJapaneseTokenizer (MeCab via fugashi +
    unidic-lite, the code path of tohoku-nlp/bert-base-japanese-v3) knows the words of
    ``texts``: a real Hugging Face folder, built in a second."""
    from transformers import BertConfig, BertJapaneseTokenizer, BertModel

    from voc.text import JapaneseTokenizer

    tok = JapaneseTokenizer()
    words = sorted({t.surface for text in texts for t in tok.tokenize(text)})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    BertJapaneseTokenizer(
        str(folder / "vocab.txt"), word_tokenizer_type="mecab", subword_tokenizer_type="wordpiece",
        mecab_kwargs={"mecab_dic": "unidic_lite"},
    ).save_pretrained(folder)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64)
    import torch

    with torch.random.fork_rng():  # the same random weights every run: tests stay deterministic
        torch.manual_seed(0)
        model = BertModel(cfg)
    model.save_pretrained(folder, safe_serialization=True)
    return folder


def write_labelled_csv(path: Path, repeat: int = 3) -> Path:
    path.write_text("text,sentiment,emotion\n" + "".join(f"{t},{s},{e}\n" for t, s, e in LABELLED * repeat), "utf-8")
    return path


@pytest.fixture(scope="session")
def labelled_texts() -> list[tuple[str, str, str]]:
    return list(LABELLED)


@pytest.fixture(scope="session")
def tiny_bert_builder() -> Callable[[Path, Iterable[str]], Path]:
    return build_tiny_mecab_bert


@pytest.fixture(scope="session")
def labelled_csv_writer() -> Callable[..., Path]:
    return write_labelled_csv
