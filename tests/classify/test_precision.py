"""bfloat16 inference with a float32 re-check near decision boundaries, on the shipped model
and real Japanese reviews (data/sample). On a CPU without native bfloat16 the arithmetic
is emulated (slower), but the results and these tests are the same."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from voc.classify import predict as predict_mod
from voc.classify.predict import Classifier, native_bf16, resolve_precision
from voc.errors import VocError
from voc.ingest.readers import open_dump

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "reviews_ec.csv"


@pytest.fixture(scope="module")
def reviews() -> list[str]:
    texts = [r.values["レビュー本文"] for r in open_dump(SAMPLE).rows()][:40]
    # one long review (scored sentence by sentence) and a mixed one
    texts.append("\n".join(texts[:12]) * 2)
    texts.append("デザインは最高に気に入っています。でも配送が遅すぎて最悪でした。")
    return texts


@pytest.fixture(scope="module")
def shipped() -> tuple[Classifier, Classifier]:
    fp32 = Classifier.load(precision="fp32")
    bf16 = Classifier(fp32.module, fp32.tokenizer, fp32.config, precision="bf16", source=fp32.source)
    return fp32, bf16


def test_resolve_precision(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VOC_PRECISION", raising=False)
    assert resolve_precision("fp32") == "fp32"
    assert resolve_precision("BF16") == "bf16"
    assert resolve_precision("auto") == ("bf16" if native_bf16() else "fp32")
    assert resolve_precision(None) == resolve_precision("auto")
    monkeypatch.setenv("VOC_PRECISION", "fp32")
    assert resolve_precision(None) == "fp32"
    with pytest.raises(VocError, match="E052"):
        resolve_precision("fp16")


def test_bf16_gives_the_labels_of_fp32(shipped: tuple[Classifier, Classifier], reviews: list[str]) -> None:
    fp32, bf16 = shipped
    a, b = fp32.predict(reviews), bf16.predict(reviews)
    assert [p.sentiment for p in a] == [p.sentiment for p in b]
    assert [p.emotion for p in a] == [p.emotion for p in b]
    diffs = [abs(x.sentiment_score - y.sentiment_score) for x, y in zip(a, b, strict=True)]
    assert max(diffs) < 0.05
    assert a[-1].sentiment_score is not None and a[-2].sentences  # the long review by sentence
    assert [s.sentiment for s in a[-2].sentences] == [s.sentiment for s in b[-2].sentences]
    assert bf16.describe()["precision"] == "bf16"


def test_texts_near_a_boundary_are_rescored_in_fp32(
    shipped: tuple[Classifier, Classifier], reviews: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fp32, bf16 = shipped
    s32, e32 = fp32.probabilities(reviews[:20])
    monkeypatch.setattr(predict_mod, "BF16_GUARD_SENTIMENT", 0.0)
    monkeypatch.setattr(predict_mod, "BF16_GUARD_EMOTION", 0.0)
    s16, e16 = bf16.probabilities(reviews[:20])
    assert bf16.last_rechecked == 0
    assert not np.allclose(s16, s32, atol=1e-6)  # bfloat16 really ran
    monkeypatch.setattr(predict_mod, "BF16_GUARD_SENTIMENT", 2.0)  # every text is "near"
    s_fix, e_fix = bf16.probabilities(reviews[:20])
    assert bf16.last_rechecked == 20
    np.testing.assert_allclose(s_fix, s32, atol=1e-5)
    np.testing.assert_allclose(e_fix, e32, atol=1e-5)
