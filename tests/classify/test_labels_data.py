from __future__ import annotations

import json
from pathlib import Path

import pytest

from voc.classify.data import load_labelled, split_by_group
from voc.classify.labels import parse_label_votes, parse_sentiment, sentiment_from_nps, sentiment_from_rating
from voc.errors import InputError

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
NAIST = SHARED / "naist-emotional-persuasive-dialogue"
CHABSA = SHARED / "chabsa" / "json"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("positive", "positive"), ("ポジティブ", "positive"), ("neg", "negative"), (-1, "negative"),
     ("中立", "neutral"), ("0", "neutral"), ("1", "positive"), ("ネガティブ", "negative"), ("", None), ("怒り", None)],
)
def test_parse_sentiment(value, expected) -> None:
    assert parse_sentiment(value) == expected


@pytest.mark.parametrize(
    ("rating", "expected"), [(1, "negative"), (2, "negative"), (3, "neutral"), (4, "positive"), ("5", "positive"), (0, None), ("x", None)]
)
def test_sentiment_from_rating(rating, expected) -> None:
    assert sentiment_from_rating(rating) == expected


@pytest.mark.parametrize(("nps", "expected"), [(0, "negative"), (6, "negative"), (7, "neutral"), (8, "neutral"), (9, "positive"), (10, "positive"), (11, None)])
def test_sentiment_from_nps(nps, expected) -> None:
    assert sentiment_from_nps(nps) == expected


def test_label_votes() -> None:
    assert parse_label_votes("平静-喜び-平静") == pytest.approx({"平静": 2 / 3, "喜び": 1 / 3})
    assert parse_label_votes("怒り,悲しみ") == {"怒り": 0.5, "悲しみ": 0.5}
    assert parse_label_votes("joy") == {"喜び": 1.0}
    assert parse_label_votes({"anger": 2, "sadness": 0}) == {"怒り": 1.0}
    assert parse_label_votes("") is None


def test_table_with_labels_and_intensities(tmp_path: Path) -> None:
    path = tmp_path / "wrime_like.csv"
    path.write_text(
        "Sentence,Avg. Readers_Joy,Avg. Readers_Anger,Avg. Readers_Sadness\n"
        "最高の一日だった,2.5,0,0\n腹が立つ対応だった,0,1.5,0.5\n特に何もない,0,0,0\n",
        encoding="utf-8",
    )
    data = load_labelled([path], text_col="Sentence")
    assert [e.emotion for e in data.examples] == [{"喜び": 1.0}, {"怒り": 0.75, "悲しみ": 0.25}]
    assert data.sources[0].kind == "table"


def test_labels_from_rating_and_corrections(tmp_path: Path) -> None:
    path = tmp_path / "reviews.csv"
    path.write_text("本文,評価\n最悪でした,1\n普通,3\n最高,5\n評価なし,\n", encoding="utf-8")
    data = load_labelled([path], labels_from="rating")
    assert [(e.text, e.sentiment) for e in data.examples] == [
        ("最悪でした", {"negative": 1.0}), ("普通", {"neutral": 1.0}), ("最高", {"positive": 1.0})
    ]
    assert data.sources[0].kind == "ratings"
    corr = tmp_path / "corrections.csv"
    corr.write_text("record_id,text,sentiment,emotion,topic,corrected_by,corrected_at\nr1,届かない,negative,怒り,,sato,2026-11-01\n", "utf-8")
    data = load_labelled([corr])
    assert data.sources[0].kind == "corrections"
    assert data.examples[0].emotion == {"怒り": 1.0}


def test_no_labels_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "plain.csv"
    path.write_text("本文\n良い\n", encoding="utf-8")
    with pytest.raises(InputError, match="E120"):
        load_labelled([path])
    with pytest.raises(InputError, match="E123"):
        load_labelled([path], labels_from="nps")


def test_written_training_set_is_labelled_and_licensed() -> None:
    folder = Path(__file__).resolve().parents[2] / "data" / "train" / "voc_written"
    data = load_labelled([folder])
    assert len(data) >= 1400
    assert set(data.sentiment_labels()) == {"negative", "neutral", "positive"}
    assert set(data.emotion_labels()) == {"平静", "怒り", "喜び", "悲しみ", "安心"}
    assert all(s.license and s.license.startswith("CC0") for s in data.sources)


def test_every_project_data_folder_names_itself_in_its_licence_and_source() -> None:
    """Each folder of data/train and data/eval carries its own SOURCE.txt and a LICENSE that
    says it applies to that folder (three LICENSE files once named a sibling folder, copied)."""
    root = Path(__file__).resolve().parents[2] / "data"
    folders = sorted(p for kind in ("train", "eval") for p in (root / kind).iterdir() if p.is_dir())
    assert len(folders) >= 14
    for folder in folders:
        rel = f"data/{folder.parent.name}/{folder.name}/"
        assert rel in (folder / "LICENSE").read_text("utf-8"), rel
        source = (folder / "SOURCE.txt").read_text("utf-8")
        assert source.startswith(f"{folder.name}:") and "CC0-1.0" in source, rel
        data = load_labelled([folder], labels_from=None if folder.parent.name == "train" else "rating")
        assert len(data) > 0 and all(s.license and s.license.startswith("CC0") for s in data.sources), rel


@pytest.mark.skipif(not NAIST.is_dir(), reason="shared NAIST corpus not present")
def test_naist_reader_and_domain_split() -> None:
    data = load_labelled([NAIST / "game"])
    assert len(data) > 4000
    ex = data.examples[2]
    assert ex.text == "もうそう言ってから3時間だよ。いい加減にしてくれないかな。"
    assert ex.emotion == {"怒り": 1.0}
    assert "CC BY-SA" in data.sources[0].license
    train, test = split_by_group(data.examples, 0.2, seed=1)
    assert not {e.group for e in train} & {e.group for e in test}


@pytest.mark.skipif(not CHABSA.is_dir(), reason="shared chABSA corpus not present")
def test_chabsa_reader() -> None:
    data = load_labelled([CHABSA])
    counts = data.label_counts()["sentiment"]
    assert counts["positive"] > counts["negative"] > counts["neutral"] > 0
    assert json.dumps(data.examples[0].sentiment)


def test_promotion_verdict_says_when_the_candidate_is_worse() -> None:
    """voc train --init-from ends with one line per head: better, no difference (under one
    text's weight) or worse, with the advice to keep the current model."""
    from voc.classify.evaluate import promotion_verdict

    before = {"sentiment": {"n": 120, "accuracy": 0.90, "binary_accuracy": 0.936, "binary_n": 109},
              "emotion": {"n": 50, "macro_f1": 0.50}}
    worse = {"sentiment": {"n": 120, "accuracy": 0.85, "binary_accuracy": 0.908, "binary_n": 109},
             "emotion": {"n": 50, "macro_f1": 0.51}}
    lines = promotion_verdict(before, worse)
    assert len(lines) == 2
    assert "0.936 before, 0.908 after" in lines[0] and "WORSE by 0.028" in lines[0] and "keep" in lines[0]
    assert "emotion macro-F1 on 50" in lines[1] and "no difference" in lines[1]
    better = promotion_verdict({"sentiment": {"n": 40, "accuracy": 0.8}}, {"sentiment": {"n": 40, "accuracy": 0.9}})
    assert better == ["sentiment on 40 held-out texts: 0.800 before, 0.900 after: the new model is better by 0.100"]


def test_promotion_verdict_weighs_one_text_the_same_both_ways() -> None:
    """One text of 104 gained or lost is one text either way (seen: a loss read "WORSE" and a
    gain "no difference", because 95/104 - 96/104 lies above 1/104 in floating point and
    97/104 - 96/104 under it); half a text's weight of macro-F1 is no difference."""
    from voc.classify.evaluate import promotion_verdict

    def line(after: int) -> str:
        b = {"sentiment": {"n": 120, "binary_accuracy": 96 / 104, "binary_n": 104}}
        a = {"sentiment": {"n": 120, "binary_accuracy": after / 104, "binary_n": 104}}
        return promotion_verdict(b, a)[0]

    assert line(95).endswith("WORSE by 0.010: keep the model you started from")
    assert line(97).endswith("the new model is better by 0.010")
    assert line(96).endswith("no difference")
    half = promotion_verdict({"emotion": {"n": 50, "macro_f1": 0.50}}, {"emotion": {"n": 50, "macro_f1": 0.51}})
    assert half[0].endswith("no difference")
