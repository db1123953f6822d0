"""The shipped model (models/voc-sentiment-ja) on Japanese customer feedback it never saw.

Floors, not exact figures: the held-out binary accuracy floors (0.88 on short and medium
reviews, 0.86 on long ones, 0.85 on reviews whose verdict hinges on negation, 0.90 on words
whose polarity depends on their target) sit a few points under what the model measured
(0.910, 0.912, 0.900 and 0.932, model card, "How to read the metrics"), so a retrained model that reads reviews worse fails here before it is promoted;
the positive-recall floor (0.75) only catches a model that calls most reviews negative."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pytest

from voc.classify.data import load_labelled
from voc.classify.evaluate import evaluate
from voc.classify.predict import Classifier

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "voc-sentiment-ja"
HELD_OUT = ROOT / "data" / "eval" / "voc_written_reviews_test"
LONG_HELD_OUT = ROOT / "data" / "eval" / "voc_long_reviews_test"
NEGATION_HELD_OUT = ROOT / "data" / "eval" / "voc_negation_test"
LONG_DEV = ROOT / "data" / "eval" / "voc_long_reviews_dev"
STYLES_HELD_OUT = ROOT / "data" / "eval" / "voc_review_styles_test"
IDIOMS_HELD_OUT = ROOT / "data" / "eval" / "voc_review_idioms_test"
CONTRAST_DEV = ROOT / "data" / "eval" / "voc_contrast_dev"
TRAIN = ROOT / "data" / "train"


@pytest.fixture(scope="module")
def shipped() -> Classifier:
    return Classifier.load(MODEL, precision="fp32")


CLEAR_CASES = [
    ("届いて2日で壊れました。返品します。", "negative"),
    ("サポートに3回電話してもつながらない。もう解約します。", "negative"),
    ("しょっぱすぎて、お湯で薄めても飲めませんでした。", "negative"),
    ("思っていたより全然良かった。リピート確定です。", "positive"),
    ("配送が早く、梱包も丁寧でした。ありがとうございます。", "positive"),
    ("悪くないです。値段を考えれば十分満足。", "positive"),
]


@pytest.mark.parametrize(("text", "expected"), CLEAR_CASES)
def test_clear_reviews_get_their_polarity(shipped: Classifier, text: str, expected: str) -> None:
    pred = shipped.predict([text])[0]
    assert pred.sentiment == expected, (text, pred.sentiment_probs)
    assert (pred.sentiment_score > 0) == (expected == "positive")


def test_emotion_of_clear_texts(shipped: Classifier) -> None:
    angry, happy = shipped.predict(["ふざけるな。注文と違う商品が届いたのに、返金もしないなんてありえない。",
                                    "最高！子どもが大喜びで、買って本当によかったです。"])
    assert angry.emotion == "怒り", angry.emotion_probs
    assert happy.emotion == "喜び", happy.emotion_probs


def _rated(shipped: Classifier, folder: Path, *, n_binary: int) -> dict:
    """The shipped model's sentiment metrics on a rated folder (labels from the stars), once
    it is checked that ``n_binary`` of its texts have 1-2 or 4-5 stars."""
    m = evaluate(shipped, load_labelled([folder], labels_from="rating").examples)["sentiment"]
    assert m["binary_n"] == n_binary
    return m


def _rows(folder: Path) -> list[dict]:
    """The JSONL records of a data folder, with their tags (structure, category)."""
    return [json.loads(line) for f in sorted(folder.glob("*.jsonl")) for line in f.open(encoding="utf-8")]


def test_held_out_reviews_binary_accuracy(shipped: Classifier) -> None:
    """240 held-out e-commerce reviews (data/eval, never trained on), labels from stars:
    the sign of the score must match 1-2 against 4-5 stars."""
    m = _rated(shipped, HELD_OUT, n_binary=210)
    assert m["binary_accuracy"] >= 0.88, m["binary_accuracy"]
    # a model that calls most reviews negative is useless: most of these are 4-5 stars
    recall = m["per_class"]["positive"]["recall"]
    assert recall >= 0.75, m["per_class"]


def test_long_held_out_reviews_binary_accuracy(shipped: Classifier) -> None:
    """80 long held-out reviews (464-2,042 characters, all over the 256-token window): read
    in passages of whole sentences, the last counting twice. Their verdicts sit among long
    descriptions, complaints about a previous product, lists of small flaws."""
    m = _rated(shipped, LONG_HELD_OUT, n_binary=68)
    assert m["binary_accuracy"] >= 0.86, m["binary_accuracy"]


def test_long_reviews_that_conclude_at_the_end(shipped: Classifier) -> None:
    """The development set of long reviews on which the passage weighting was chosen
    (0.702 with plain length weighting, 0.893 with the last passage counted twice): a
    4-5 star review that spends most of its length on small problems and says at the end
    that it is satisfied is read as positive."""
    rows = _rows(LONG_DEV)
    late = [r for r in rows if r["structure"] == "complaints_then_praise"]
    assert len(late) == 16 and all(r["rating"] >= 4 for r in late)
    scores = [p.sentiment_score for p in shipped.predict([r["text"] for r in late])]
    assert sum(s > 0 for s in scores) >= 14, scores  # 16 of 16 measured (14 with the model before, 9 averaging by length)
    m = _rated(shipped, LONG_DEV, n_binary=84)
    assert m["binary_accuracy"] >= 0.85, m["binary_accuracy"]


def test_negation_held_out_binary_accuracy(shipped: Classifier) -> None:
    """160 held-out reviews whose verdict hinges on negation (「もう手放せません」, a problem
    that went away, 効かない), sarcasm or negative-looking praise, written without sight of
    the training data: the model once read praise through negation as negative."""
    m = _rated(shipped, NEGATION_HELD_OUT, n_binary=140)
    assert m["binary_accuracy"] >= 0.85, m["binary_accuracy"]
    # both directions: negated praise read as praise, negated complaints as complaints
    assert m["per_class"]["positive"]["recall"] >= 0.8, m["per_class"]
    assert m["per_class"]["negative"]["recall"] >= 0.8, m["per_class"]


def test_words_whose_polarity_depends_on_their_target(shipped: Classifier) -> None:
    """239 held-out texts (data/eval/voc_review_styles_test): 早い of a part that wore out,
    安い of a cheap look, a bare-noun review 「即席みそ汁。」, plot words of the opposite
    polarity in a content review, a good product with a bad delivery. Measured 0.932 (0.895
    before data/train/voc_review_styles was trained on)."""
    m = _rated(shipped, STYLES_HELD_OUT, n_binary=220)
    assert m["binary_accuracy"] >= 0.90, m["binary_accuracy"]
    assert m["per_class"]["positive"]["recall"] >= 0.8, m["per_class"]
    assert m["per_class"]["negative"]["recall"] >= 0.8, m["per_class"]
    worn_out = shipped.predict(["コントローラーのスティックが1ヶ月でドリフト。早すぎる"])[0]
    assert worn_out.sentiment_score < 0, worn_out.sentiment_probs  # +0.94 before


def test_idioms_whose_surface_points_away_from_the_verdict(shipped: Classifier) -> None:
    """200 held-out texts (data/eval/voc_review_idioms_test): praise in words of tears or
    fear (泣ける, 鳥肌), praise through absence (言うことなし), irony, used goods in 新品同様
    condition, value for money, concessive sentences whose second clause decides. The
    weakest of the held-out sets: 0.871 binary since the model's second stage read
    data/train/voc_review_idioms (0.841 before, positive recall 0.78)."""
    m = _rated(shipped, IDIOMS_HELD_OUT, n_binary=170)
    assert m["binary_accuracy"] >= 0.82, m["binary_accuracy"]
    assert m["per_class"]["positive"]["recall"] >= 0.75, m["per_class"]
    assert m["per_class"]["negative"]["recall"] >= 0.8, m["per_class"]


def test_reviews_whose_verdict_a_contrast_decides(shipped: Classifier) -> None:
    """data/eval/voc_contrast_dev (the development set the second training stage was chosen
    on): 2-star reviews that praise several points before the flaw that decides, and the
    counter-cases, 4-star reviews whose complaints come first or whose last sentence is a
    small caveat. Measured 55/60, 27/30 and 85/90; the model of 3 December read praise then
    flaw 46 of 60."""
    rows = [r for r in _rows(CONTRAST_DEV) if r["rating"] != 3]
    preds = shipped.predict([r["text"] for r in rows])
    right: dict[str, int] = {}
    for r, p in zip(rows, preds, strict=True):
        group = "counter" if r["structure"] in ("minor_caveat", "complaints_then_verdict") else r["structure"]
        right[group] = right.get(group, 0) + int((p.sentiment_score > 0) == (r["rating"] >= 4))
    assert right["praise_then_flaw"] >= 52, right
    assert right["flaw_then_small_plus"] >= 25, right
    assert right["counter"] >= 82, right
    assert right["clear_negative"] + right["clear_positive"] >= 38, right


def _texts(files: Iterable[Path]) -> set[str]:
    return {json.loads(line)["text"] for f in files for line in f.open(encoding="utf-8")}


def test_held_out_sets_are_not_in_the_training_data() -> None:
    held = _texts(HELD_OUT.glob("*.jsonl"))
    long_held = _texts(LONG_HELD_OUT.glob("*.jsonl"))
    negation_held = _texts(NEGATION_HELD_OUT.glob("*.jsonl"))
    long_dev = _texts(LONG_DEV.glob("*.jsonl"))
    styles_held = _texts(STYLES_HELD_OUT.glob("*.jsonl"))
    idioms_held = _texts(IDIOMS_HELD_OUT.glob("*.jsonl"))
    contrast_dev = _texts(CONTRAST_DEV.glob("*.jsonl"))
    trained = _texts(TRAIN.glob("*/*.jsonl"))
    assert len(held) == 240 and len(long_held) == 80 and len(negation_held) == 160
    assert len(long_dev) == 100 and len(styles_held) == 239 and len(idioms_held) == 200
    assert not held & trained and not long_held & trained and not negation_held & trained
    assert not long_dev & trained and not long_dev & long_held
    assert not styles_held & trained and not idioms_held & trained
    assert len(contrast_dev) == 240 and not contrast_dev & trained


def test_card_records_a_licence_for_every_source() -> None:
    manifest = json.loads((MODEL / "manifest.json").read_text("utf-8"))
    sources = manifest["data"]["sources"]
    assert sources
    assert all(s.get("license") for s in sources), [s["path"] for s in sources if not s.get("license")]
    assert not any("/eval/" in s["path"] for s in sources)


def test_package_api_load_and_predict_on_a_list() -> None:
    """The documented API: ``voc.classify.load()`` (the shipped model by default) and
    ``.predict`` on a list of texts, one Prediction per text, bad texts included."""
    import voc.classify

    clf = voc.classify.load(precision="fp32")
    assert isinstance(clf, voc.classify.Classifier)
    assert Path(clf.source).resolve() == MODEL.resolve()
    preds = clf.predict(["配送が遅くて箱も潰れていた。最悪です", "店員さんの対応がとても丁寧で安心しました。", "   "])
    assert [type(p) for p in preds] == [voc.classify.Prediction] * 3
    assert preds[0].sentiment == "negative" and preds[0].sentiment_score < 0
    assert preds[1].sentiment == "positive" and preds[1].sentiment_score > 0
    assert preds[2].error and preds[2].sentiment is None


def test_importing_the_package_loads_neither_torch_nor_transformers() -> None:
    import subprocess
    import sys

    code = "import sys, voc.classify; print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr
