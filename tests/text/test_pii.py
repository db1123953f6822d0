from __future__ import annotations

import pytest

from voc.errors import ConfigError
from voc.text import PiiMasker, normalize

PII_TABLE = [
    # (text, expected after normalize with masking on)
    ("電話は090-1234-5678です", "電話は＜電話番号＞です"),
    ("電話は０９０－１２３４－５６７８です", "電話は＜電話番号＞です"),
    ("電話は090ー1234ー5678です", "電話は＜電話番号＞です"),
    ("電話は09012345678です", "電話は＜電話番号＞です"),
    ("フリーダイヤル0120-123-456へ", "フリーダイヤル＜電話番号＞へ"),
    ("代表03(1234)5678まで", "代表＜電話番号＞まで"),
    ("代表(03)1234-5678まで", "代表＜電話番号＞まで"),
    ("+81-90-1234-5678に連絡", "＜電話番号＞に連絡"),
    ("お電話(090-1234-5678)ください", "お電話(＜電話番号＞)ください"),
    ("taro.yamada@example.co.jp に送って", "＜メール＞ に送って"),
    ("〒150-0001 にお届け", "＜郵便番号＞ にお届け"),
    ("カード 4111 1111 1111 1111 で決済", "カード ＜カード番号＞ で決済"),
    ("カード4111-1111-1111-1111で決済", "カード＜カード番号＞で決済"),
    ("マイナンバー123456789012を送付", "マイナンバー＜個人番号＞を送付"),
    ("東京都渋谷区神宮前1丁目2-3に住んでいます", "＜住所＞に住んでいます"),
    ("担当の山田太郎さんが対応", "担当の＜氏名＞さんが対応"),
    ("佐藤様に伝えました", "＜氏名＞様に伝えました"),
    # not personal data: must stay
    ("12,800円で購入", "12,800円で購入"),
    ("2024-06-01に届いた", "2024-06-01に届いた"),
    ("型番SJ-1234の掃除機", "型番SJ-1234の掃除機"),
    ("お客様センターに電話", "お客様センターに電話"),
    ("配達員さんが丁寧でした", "配達員さんが丁寧でした"),
    ("3000個限定", "3000個限定"),
]


@pytest.mark.parametrize(("text", "expected"), PII_TABLE)
def test_pii_masking(text: str, expected: str) -> None:
    assert normalize(text).text == expected


def test_counts_by_type() -> None:
    result = PiiMasker().mask("090-1234-5678 と a@example.com と 〒100-0001")
    assert dict(result.counts) == {"phone": 1, "email": 1, "postal_code": 1}
    assert result.total == 3


def test_user_pattern_for_order_numbers() -> None:
    masker = PiiMasker(extra={"注文番号": r"[A-Z]-\d{8}-\d{4}"})
    assert masker.mask("注文番号A-20240915-0012の件").text == "注文番号＜注文番号＞の件"


def test_default_config_masks_order_numbers() -> None:
    from voc.config import VocConfig
    from voc.text import Normalizer

    norm = Normalizer(VocConfig.load().normalize)
    assert norm("注文番号 A-20240915-0012 の件").text == "注文番号 ＜注文番号＞ の件"


def test_bad_user_pattern_is_a_clear_config_error() -> None:
    with pytest.raises(ConfigError, match="E011.*注文番号"):
        PiiMasker(extra={"注文番号": "[A-Z"})


def test_masker_is_picklable_after_use() -> None:
    import pickle

    masker = PiiMasker()
    masker.mask("山田様")
    again = pickle.loads(pickle.dumps(masker))
    assert again.mask("山田様").text == "＜氏名＞様"
