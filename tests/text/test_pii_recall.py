"""Recall of PII masking per type on the committed, seeded test set
(data/pii_testset/pii_testset.jsonl), and false positives on look-alikes. The table of
figures comes from ``benchmarks/pii_recall.py``; this test holds the floor.

Pattern types must reach 99 % on both paths (the output file's masked text and the
normalized text the store sees). Person names are best effort (UniDic + honorifics +
common surnames): 0.971 on this set at the time of writing, where a fifth of the names are
rarer surnames and modern given names the rules were not tuned on; the floor is below that.
The pattern rules were developed against this set (in-sample figures): HELD_OUT below is a
hand-written table of other forms.
"""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from voc.text import PiiMasker, normalize

ROOT = Path(__file__).resolve().parents[2]
PATTERN_TYPES = ("phone", "email", "postal_code", "card", "individual_number", "address")
PERSON_FLOOR = 0.95
NEGATIVE_FP_CEILING = 0.01


def _load(name: str, path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


bench = _load("voc_bench_pii_recall", ROOT / "benchmarks" / "pii_recall.py")
maker = _load("voc_make_pii_testset", ROOT / "data" / "pii_testset" / "make_pii_testset.py")


@pytest.fixture(scope="module")
def cases() -> list[dict[str, Any]]:
    return bench.load_cases()


@pytest.fixture(scope="module", params=["mask", "normalize"])
def result(request: pytest.FixtureRequest, cases: list[dict[str, Any]]) -> dict[str, Any]:
    return bench.evaluate(cases, request.param)


def test_testset_is_committed_and_reproducible(cases: list[dict[str, Any]]) -> None:
    assert bench.TESTSET.read_text("utf-8") == maker.render(maker.build())
    per_type = Counter(s["type"] for c in cases for s in c["spans"])
    for t in (*PATTERN_TYPES, "person"):
        assert per_type[t] >= 200, per_type
    assert sum(c["type"] == "negative" for c in cases) >= 200
    for c in cases:
        for span in c["spans"]:
            assert span["text"] in c["text"], c["id"]


@pytest.mark.parametrize("kind", PATTERN_TYPES)
def test_pattern_types_reach_99_percent(result: dict[str, Any], kind: str) -> None:
    figure = result["types"][kind]
    misses = result["failures"].get(kind, [])[:5]
    assert figure["recall"] >= 0.99, f"{result['how']} {kind}: {figure['recall']:.3f}; misses: {misses}"


def test_person_names_best_effort(result: dict[str, Any]) -> None:
    figure = result["types"]["person"]
    print(f"\nperson-name recall ({result['how']}): {figure['recall']:.3f} on {figure['n']} names")
    assert figure["recall"] >= PERSON_FLOOR, result["failures"].get("person", [])[:5]


def test_look_alikes_are_not_masked(result: dict[str, Any]) -> None:
    neg = result["negatives"]
    assert neg["fp_rate"] <= NEGATIVE_FP_CEILING, result["failures"].get("negative", [])[:10]


# Written by hand, outside the generated set: forms and contexts the generator does not make.
HELD_OUT = [
    ("お電話は 03-5555-1212 (平日のみ) です", "お電話は ＜電話番号＞ (平日のみ) です"),
    ("携帯→080‐9876‐5432", "携帯→＜電話番号＞"),
    ("TEL：０６（６１２３）４５６７", "TEL：＜電話番号＞"),
    ("ＴＥＬ０３－１２３４－５６７８", "ＴＥＬ＜電話番号＞"),
    ("折り返しは＋８１ ９０ １２３４ ５６７８へ", "折り返しは＜電話番号＞へ"),
    ("連絡先 050-3123-4567", "連絡先 ＜電話番号＞"),
    ("メアドはyamada_t@mail.example.co.jpです", "メアドは＜メール＞です"),
    ("ＴＡＲＯ＠ＥＸＡＭＰＬＥ．ＣＯＭまで", "＜メール＞まで"),
    ("郵便番号５３００００１", "郵便番号＜郵便番号＞"),
    ("JCB 3530 1113 3330 0000", "JCB ＜カード番号＞"),
    ("Amex 3714 496353 98431", "Amex ＜カード番号＞"),
    ("マイナンバー：１２３４ ５６７８ ９０１２", "マイナンバー：＜個人番号＞"),
    ("東京都港区芝公園4丁目2番8号", "＜住所＞"),
    ("神奈川県横浜市中区山下町279番地", "＜住所＞"),
    ("大阪市中央区難波5-1-60", "＜住所＞"),
    ("札幌市中央区北1条西2丁目", "＜住所＞"),
    ("福岡市中央区天神2丁目5-55 天神ビル8F", "＜住所＞"),
    ("埼玉県川口市栄町3-5-1 サンハイツ302", "＜住所＞"),
    ("住所：愛知県名古屋市中区栄三丁目5番12号", "住所：＜住所＞"),
    ("京都市東山区祇園町北側625に住む", "＜住所＞に住む"),
    ("東京都世田谷区太子堂４－１－１　キャロットタワー２６階", "＜住所＞"),
    ("担当者の鈴木さんが", "担当者の＜氏名＞さんが"),
    ("サトウ　ハナコさん", "＜氏名＞さん"),
    ("田中部長に伝えて", "＜氏名＞部長に伝えて"),
    ("中村氏の対応", "＜氏名＞氏の対応"),
    ("木村 拓哉さん", "＜氏名＞さん"),
    ("ジョン・スミスさん", "＜氏名＞さん"),
    ("宛名：山本 一郎", "宛名：＜氏名＞"),
    ("の橋本殿宛て", "の＜氏名＞殿宛て"),  # UniDic reads 橋|本殿
    # must stay as they are
    ("14:00-16:00指定", "14:00-16:00指定"),
    ("3-5名で利用", "3-5名で利用"),
    ("サイズ 120-160cm", "サイズ 120-160cm"),
    ("東京都内の店舗", "東京都内の店舗"),
    ("大阪市北区梅田で2時間", "大阪市北区梅田で2時間"),
    ("横浜市青葉区在住30代", "横浜市青葉区在住30代"),
    ("千葉県浦安市舞浜のホテル2泊", "千葉県浦安市舞浜のホテル2泊"),
    ("品川区大井町駅前5番出口", "品川区大井町駅前5番出口"),
    ("ヤマトさんの配達", "ヤマトさんの配達"),
    ("ドライバーさんが優しい", "ドライバーさんが優しい"),
    ("コードレススティック掃除機 スイスイ VC-500", "コードレススティック掃除機 スイスイ VC-500"),
    ("100-200円", "100-200円"),
    ("2024-06-01 10:00", "2024-06-01 10:00"),
]


@pytest.mark.parametrize(("text", "expected"), HELD_OUT)
def test_held_out_examples(text: str, expected: str) -> None:
    assert PiiMasker().mask(text).text == expected


def test_long_texts_take_linear_time() -> None:
    """A megabyte cell must not stall a batch: no pattern may backtrack quadratically."""
    import time

    masker = PiiMasker(mask_persons=False)
    for text in ("1" * 200_000, "a" * 200_000, "090-" * 50_000, "渋谷区神宮前" * 30_000):
        started = time.perf_counter()
        masker.mask(text)
        assert time.perf_counter() - started < 20, text[:10]


def test_normalize_path_masks_too() -> None:
    assert normalize("連絡は０９０ー１２３４ー５６７８、山田太郎様まで").text == "連絡は＜電話番号＞、＜氏名＞様まで"
