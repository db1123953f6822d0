#!/usr/bin/env python3
"""Write the seeded PII test set: data/pii_testset/pii_testset.jsonl.

Each line is one case: a natural Japanese customer sentence that embeds one or more
personal-data spans (or none, for the negatives), with the exact span strings and their
types, so that recall per type can be measured (tests/text/test_pii_recall.py,
benchmarks/pii_recall.py).

    {"id": "phone-0001", "type": "phone", "form": "mobile/hyphen",
     "text": "折り返しは090-1234-5678までお願いします。",
     "spans": [{"type": "phone", "text": "090-1234-5678"}]}

Negative cases (``"type": "negative"``) hold prices, dates, times, model numbers,
quantities, order counts, role nouns with さん ... that must NOT be masked; ``spans`` is
empty.

Types: phone, email, postal_code, card, individual_number, address, person (about 200
cases each) and negative (about 300). Forms cover what people type: full-width digits,
the hyphen look-alikes (‐ − ー － ｰ), spaces, no separators, +81, parentheses, 〒,
full-width @ and dots, Amex 4-6-5, 4-4-4 individual numbers, 丁目/番地/号 and 1-2-3
addresses with building names, names with 様/さん/さま/殿, katakana names.

Every value is random (seed below) or taken from the lists here: no real person, card or
account. E-mail domains are all under the reserved example.* names. Standard library
only; deterministic:

    python data/pii_testset/make_pii_testset.py           # rewrite pii_testset.jsonl
    python data/pii_testset/make_pii_testset.py --check   # verify the file is up to date
"""

from __future__ import annotations

import json
import random
import sys
from collections import Counter
from pathlib import Path

SEED = 20260601
OUT = Path(__file__).resolve().parent / "pii_testset.jsonl"
N_PER_TYPE = 200

FW_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")
FW_ASCII = {cp: cp + 0xFEE0 for cp in range(0x21, 0x7F)}
# hyphen look-alikes people type between digit groups
DASHES = ["-", "-", "-", "‐", "−", "ー", "－", "ｰ", "–"]


def fw_digits(s: str) -> str:
    return s.translate(FW_DIGITS)


def digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


# ---------------------------------------------------------------------------------------
# phone
# ---------------------------------------------------------------------------------------
LANDLINE = [  # (area code with its 0, digits of the local exchange, digits of the subscriber)
    ("03", 4, 4), ("06", 4, 4), ("011", 3, 4), ("022", 3, 4), ("045", 3, 4), ("052", 3, 4),
    ("075", 3, 4), ("078", 3, 4), ("082", 3, 4), ("092", 3, 4), ("048", 3, 4), ("043", 3, 4),
    ("0466", 2, 4), ("0545", 2, 4), ("0299", 2, 4), ("0748", 2, 4), ("0985", 2, 4),
    ("04992", 1, 4), ("01456", 1, 4),
]
PHONE_CONTEXTS = [
    "折り返しは{}までお願いします。",
    "電話番号：{}",
    "{}に何度かけても繋がりませんでした。",
    "携帯（{}）に連絡をください。",
    "TEL {} 担当窓口",
    "連絡先は{}です、夕方以降なら出られます。",
    "自宅の番号{}へ電話がかかってきた。",
    "サポートの{}に電話したら30分待たされた",
    "お問い合わせ先 {} にかけたが話し中",
    "不在票の番号({})にかけ直しました。",
    "TEL:{}",
    "日中は{}、夜は家にいます。",
    "「{}」から何度も営業電話が来る",
    "電話 {} まで至急連絡ください！",
]


def _phone_groups(rng: random.Random) -> tuple[str, list[str]]:
    kind = rng.choice(["mobile", "mobile", "mobile", "landline", "landline", "tollfree", "intl"])
    if kind == "mobile":
        return kind, [rng.choice(["090", "080", "070"]), digits(rng, 4), digits(rng, 4)]
    if kind == "landline":
        area, a, b = rng.choice(LANDLINE)
        return kind, [area, str(rng.randint(2, 9)) + digits(rng, a - 1), digits(rng, b)]
    if kind == "tollfree":
        pre = rng.choice(["0120", "0120", "0800", "0570"])
        if pre == "0800":
            return kind, [pre, digits(rng, 3), digits(rng, 4)]
        return kind, [pre] + rng.choice([[digits(rng, 3), digits(rng, 3)], [digits(rng, 2), digits(rng, 4)]])
    return kind, [rng.choice(["090", "080", "070", "03", "06", "045"]), digits(rng, 4), digits(rng, 4)]


def make_phone(rng: random.Random) -> tuple[str, str]:
    kind, g = _phone_groups(rng)
    style = rng.choice(["hyphen", "hyphen", "dash", "space", "none", "paren", "fullwidth", "dot"])
    if kind == "intl":
        local = [g[0][1:], *g[1:]] if len(g[1]) == 4 and len(g[0]) <= 3 else g
        form = rng.choice(["+81-", "+81 ", "+81(0)", "+81", "＋８１－"])
        sep = {"+81-": "-", "+81 ": " ", "+81(0)": "-", "+81": "", "＋８１－": "－"}[form]
        body = sep.join(local)
        if form == "＋８１－":
            body = fw_digits(body)
        if form == "+81(0)":
            return "intl/" + form, form + body
        return "intl/" + form.strip(), form + body
    if style == "paren" and kind == "landline":
        if rng.random() < 0.5:
            return f"{kind}/paren-area", f"({g[0]}){g[1]}-{g[2]}" if rng.random() < 0.7 else f"（{g[0]}）{g[1]}－{g[2]}"
        return f"{kind}/paren-local", f"{g[0]}({g[1]}){g[2]}"
    if style == "paren":
        return f"{kind}/paren-local", f"{g[0]}({g[1]}){g[2]}" if rng.random() < 0.7 else fw_digits(f"{g[0]}（{g[1]}）{g[2]}")
    if style == "dot":
        return f"{kind}/dot", ".".join(g)
    if style == "hyphen":
        return f"{kind}/hyphen", "-".join(g)
    if style == "dash":
        d = rng.choice(DASHES[3:])
        return f"{kind}/dash{ord(d):04X}", d.join(g)
    if style == "space":
        return f"{kind}/space", rng.choice([" ", " ", "　"]).join(g)
    if style == "none":
        return f"{kind}/none", "".join(g)
    d = rng.choice(["－", "－", "ー", "‐", "−"])
    return f"{kind}/fullwidth", fw_digits(d.join(g))


# ---------------------------------------------------------------------------------------
# e-mail
# ---------------------------------------------------------------------------------------
LOCALS = [
    "taro.yamada", "t_yamada", "yamada-taro", "hanako1985", "k.sato", "sato.kenji", "suzuki",
    "m.tanaka77", "info", "y-ito", "watanabe_h", "nakamura.y", "kobayashi123", "aoi.k",
    "ryo_takahashi", "ichiro.s", "h.kimura", "saki.m", "tomo-1990", "yuki0423",
]
DOMAINS = [
    "example.com", "example.co.jp", "example.jp", "example.ne.jp", "example.org", "example.net",
    "mail.example.com", "docomo.example.ne.jp", "ezweb.example.ne.jp", "i.example.jp",
    "shop.example.co.jp", "sub.mail.example.jp", "example.or.jp", "example.ac.jp",
]
EMAIL_CONTEXTS = [
    "メールアドレスは{}です。",
    "{}宛に領収書を送ってください。",
    "連絡先：{}",
    "返信は{}までお願いします",
    "登録したアドレス {} に確認メールが届かない。",
    "{}に何度もメールしましたが返事がありません",
    "会員ID（{}）でログインできない",
    "変更後のメールは{}です！",
    "メール→{}",
    "請求書を{} に送付してほしい。",
]


def make_email(rng: random.Random) -> tuple[str, str]:
    local = rng.choice(LOCALS)
    form = "plain"
    if rng.random() < 0.25:
        local += "+" + rng.choice(["shop", "amazon", "news", "2024", "voc"])
        form = "plus"
    domain = rng.choice(DOMAINS)
    if domain.count(".") >= 2:
        form = form + "/subdomain" if form == "plain" else form
    email = f"{local}@{domain}"
    r = rng.random()
    if r < 0.15:
        return "fullwidth-all", email.translate(FW_ASCII)
    if r < 0.30:
        return "fullwidth-at", email.replace("@", "＠")
    if r < 0.40:
        return "fullwidth-at-dot", email.replace("@", "＠").replace(".", "．")
    if r < 0.48:
        return "uppercase", local.capitalize() + "@" + domain.upper()
    return form, email


# ---------------------------------------------------------------------------------------
# postal code
# ---------------------------------------------------------------------------------------
POSTAL_CONTEXTS = [
    "郵便番号は{}です。",
    "送り先は{}の住所で登録しています",
    "{}の地域は配送対象外と言われた。",
    "お届け先 {} 宛",
    "郵便番号（{}）を入力してもエラーになる",
    "{}　宛てに再送してください",
    "旧住所の{}に届いてしまった",
]


def make_postal(rng: random.Random) -> tuple[str, str]:
    a, b = str(rng.randint(1, 9)) + digits(rng, 2), digits(rng, 4)
    r = rng.random()
    if r < 0.30:
        return "mark/hyphen", f"〒{a}-{b}"
    if r < 0.40:
        return "mark/space", f"〒 {a}-{b}"
    if r < 0.50:
        return "mark/none", f"〒{a}{b}"
    if r < 0.62:
        d = rng.choice(["－", "ー", "‐", "−"])
        return "mark/fullwidth", "〒" + fw_digits(f"{a}{d}{b}")
    if r < 0.70:
        return "mark/dash", f"〒{a}{rng.choice(['‐', '−', 'ｰ', '–'])}{b}"
    if r < 0.90:
        return "bare/hyphen", f"{a}-{b}"
    return "bare/fullwidth", fw_digits(f"{a}－{b}")


# ---------------------------------------------------------------------------------------
# card and individual number
# ---------------------------------------------------------------------------------------
def luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + digits(rng, length - len(prefix) - 1)
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return body + str((10 - total % 10) % 10)


CARD_CONTEXTS = [
    "カード番号{}で決済したのに注文が消えた。",
    "クレジットカード（{}）が二重に引き落とされています",
    "登録カード {} の有効期限を更新したい",
    "{}のカードで払いました",
    "カード：{} 請求金額が違う",
    "下記カードで支払い済みです。{}",
    "家族カード{}も停止してください！",
]


def make_card(rng: random.Random) -> tuple[str, str]:
    brand = rng.choice(["visa", "mc", "jcb", "jcb", "amex", "diners"])
    if brand == "amex":
        num = luhn_complete(rng.choice(["34", "37"]), 15, rng)
        groups = [num[:4], num[4:10], num[10:]]
    elif brand == "diners":
        num = luhn_complete("36", 14, rng)
        groups = [num[:4], num[4:10], num[10:]]
    else:
        prefix = {"visa": "4", "mc": rng.choice(["51", "52", "53", "54", "55"]), "jcb": "35"}[brand]
        num = luhn_complete(prefix, 16, rng)
        groups = [num[i : i + 4] for i in range(0, 16, 4)]
    style = rng.choice(["space", "hyphen", "none", "fullwidth", "space", "hyphen"])
    if style == "space":
        return f"{brand}/space", " ".join(groups)
    if style == "hyphen":
        return f"{brand}/hyphen", "-".join(groups)
    if style == "none":
        return f"{brand}/none", num
    return f"{brand}/fullwidth", fw_digits(rng.choice(["　", "－", ""]).join(groups))


def mynumber(rng: random.Random) -> str:
    body = digits(rng, 11)
    # check digit of the 個人番号 (mod 11, weights 2..7 from the right)
    total = sum(int(body[10 - (n - 1)]) * ((n + 1) if n <= 6 else (n - 5)) for n in range(1, 12))
    r = total % 11
    return body + str(0 if r <= 1 else 11 - r)


MYNUMBER_CONTEXTS = [
    "マイナンバーは{}です。",
    "個人番号{}を記入して提出しました",
    "通知カードの番号 {} で登録済み",
    "{}（マイナンバー）を送ったのに届いていないと言われた",
    "申請書に{}と書きました。",
    "マイナンバー：{}",
]


def make_mynumber(rng: random.Random) -> tuple[str, str]:
    n = mynumber(rng)
    g = [n[:4], n[4:8], n[8:]]
    style = rng.choice(["none", "hyphen", "space", "fullwidth", "none"])
    if style == "none":
        return "none", n
    if style == "hyphen":
        return "hyphen", "-".join(g)
    if style == "space":
        return "space", " ".join(g)
    return "fullwidth", fw_digits(rng.choice(["", "－", "　"]).join(g))


# ---------------------------------------------------------------------------------------
# address
# ---------------------------------------------------------------------------------------
PLACES = [  # (prefecture, municipality (with ward), town)
    ("東京都", "渋谷区", "神宮前"), ("東京都", "新宿区", "西新宿"), ("東京都", "世田谷区", "三軒茶屋"),
    ("東京都", "八王子市", "旭町"), ("東京都", "千代田区", "丸の内"), ("東京都", "港区", "六本木"),
    ("東京都", "江東区", "豊洲"), ("東京都", "西多摩郡瑞穂町", "箱根ケ崎"), ("東京都", "練馬区", "光が丘"),
    ("大阪府", "大阪市北区", "梅田"), ("大阪府", "堺市堺区", "中瓦町"), ("大阪府", "豊中市", "新千里東町"),
    ("神奈川県", "横浜市西区", "みなとみらい"), ("神奈川県", "川崎市中原区", "小杉町"),
    ("神奈川県", "足柄下郡箱根町", "湯本"), ("神奈川県", "藤沢市", "鵠沼海岸"),
    ("愛知県", "名古屋市中村区", "名駅"), ("愛知県", "豊田市", "若宮町"),
    ("北海道", "札幌市中央区", "北一条西"), ("北海道", "旭川市", "宮下通"),
    ("福岡県", "福岡市博多区", "博多駅前"), ("福岡県", "北九州市小倉北区", "浅野"),
    ("京都府", "京都市中京区", "河原町"), ("埼玉県", "さいたま市浦和区", "高砂"),
    ("千葉県", "船橋市", "本町"), ("兵庫県", "神戸市中央区", "三宮町"), ("宮城県", "仙台市青葉区", "一番町"),
    ("広島県", "広島市中区", "紙屋町"), ("静岡県", "浜松市中央区", "鍛冶町"),
    ("長野県", "北佐久郡軽井沢町", "軽井沢"), ("沖縄県", "那覇市", "久茂地"), ("新潟県", "新潟市中央区", "万代"),
    ("岡山県", "岡山市北区", "駅元町"), ("熊本県", "熊本市中央区", "手取本町"), ("鹿児島県", "鹿児島市", "東千石町"),
    ("茨城県", "つくば市", "竹園"), ("群馬県", "高崎市", "八島町"), ("石川県", "金沢市", "広坂"),
    ("富山県", "富山市", "新桜町"), ("奈良県", "奈良市", "三条本町"), ("和歌山県", "和歌山市", "七番丁"),
    ("山梨県", "甲府市", "丸の内"), ("岐阜県", "岐阜市", "橋本町"), ("三重県", "津市", "羽所町"),
    ("滋賀県", "大津市", "浜大津"), ("愛媛県", "松山市", "大街道"), ("香川県", "高松市", "番町"),
    ("徳島県", "徳島市", "寺島本町西"), ("高知県", "高知市", "帯屋町"), ("佐賀県", "佐賀市", "駅前中央"),
    ("長崎県", "長崎市", "大黒町"), ("大分県", "大分市", "府内町"), ("宮崎県", "宮崎市", "橘通西"),
    ("青森県", "青森市", "新町"), ("秋田県", "秋田市", "中通"), ("岩手県", "盛岡市", "大通"),
    ("山形県", "山形市", "香澄町"), ("福島県", "郡山市", "駅前"), ("栃木県", "宇都宮市", "馬場通り"),
    ("福井県", "福井市", "大手"), ("鳥取県", "鳥取市", "栄町"), ("島根県", "松江市", "朝日町"),
    ("山口県", "下関市", "竹崎町"), ("埼玉県", "入間郡三芳町", "藤久保"), ("千葉県", "浦安市", "舞浜"),
    ("京都府", "京都市下京区", "烏丸通七条下る東塩小路町"), ("京都府", "京都市中京区", "河原町通三条上る恵比須町"),
    ("北海道", "札幌市北区", "北7条西"), ("東京都", "目黒区", "自由が丘"), ("大阪府", "大阪市中央区", "心斎橋筋"),
    ("兵庫県", "西宮市", "甲子園町"), ("千葉県", "市川市", "八幡"), ("東京都", "町田市", "原町田"),
]
BUILDINGS = [
    "グランメゾン{}", "ハイツさくら", "コーポ山田", "{}ビル", "サンライズマンション", "{}タワー",
    "パークハウス{}", "メゾン・ド・ソレイユ", "ライオンズマンション{}", "第二松本ビル", "レジデンス{}",
    "アーバンコート", "{}ヒルズ", "シティハイツ{}", "みどり荘",
]
KANJI_NUM = "〇一二三四五六七八九"
ADDRESS_CONTEXTS = [
    "住所は{}です。",
    "{}に届けてほしかったのに別の場所に届いた",
    "お届け先：{}",
    "引っ越し先の{}に転送をお願いします。",
    "{} まで取りに来てもらえますか",
    "請求書の送付先は{}でお願いします",
    "現住所 {}",
    "{}の自宅に配達員が来なかった。",
    "実家（{}）宛てに送ってください",
]


def _kanji(n: int) -> str:
    if n <= 10:
        return "十" if n == 10 else KANJI_NUM[n]
    return ("" if n < 20 else KANJI_NUM[n // 10]) + "十" + (KANJI_NUM[n % 10] if n % 10 else "")


def make_address(rng: random.Random) -> tuple[str, str]:
    pref, city, town = rng.choice(PLACES)
    a, b, c = rng.randint(1, 9), rng.randint(1, 30), rng.randint(1, 40)
    style = rng.choice(["chome-ban-go", "chome-ban-go", "chome-dash", "dash3", "dash3", "banchi", "kanji-chome", "fullwidth", "banchi-no", "ban-go"])
    if style == "chome-ban-go":
        num = f"{a}丁目{b}番{c}号"
    elif style == "chome-dash":
        num = f"{a}丁目{b}-{c}"
    elif style == "dash3":
        num = f"{a}-{b}-{c}"
    elif style == "banchi":
        num = f"{rng.randint(1, 3000)}番地"
    elif style == "banchi-no":
        num = f"{rng.randint(1, 999)}番地{rng.choice(['', 'の'])}{rng.randint(1, 30)}"
    elif style == "ban-go":
        num = rng.choice([f"{rng.randint(1, 999)}番地{rng.randint(1, 30)}号", f"{b}番{c}号"])
    elif style == "kanji-chome":
        num = f"{_kanji(a)}丁目{b}番{c}号" if rng.random() < 0.6 else f"{_kanji(a)}丁目{b}-{c}"
    else:
        num = fw_digits(rng.choice([f"{a}丁目{b}番{c}号", f"{a}－{b}－{c}", f"{a}丁目{b}－{c}"]))
    with_pref = rng.random() < 0.75
    addr = (pref if with_pref else "") + city + town + num
    form = style + ("" if with_pref else "/no-pref")
    r = rng.random()
    if r < 0.35:
        building = rng.choice(BUILDINGS).format(town[:2])
        room = rng.choice([f"{rng.randint(1, 15)}{rng.randint(0, 1)}{rng.randint(1, 9)}号室", f"{rng.randint(1, 30)}階",
                           f"{rng.randint(2, 12)}F", f"{rng.randint(101, 1205)}",
                           f"{rng.randint(1, 9)}号棟{rng.randint(101, 905)}号室"])
        sp = rng.choice([" ", "", "　"])
        addr += sp + building + rng.choice([" ", ""]) + room
        form += "/building"
    elif r < 0.45 and style == "dash3":
        addr += f"-{rng.randint(101, 1205)}"
        form += "/room-dash"
    return form, addr


# ---------------------------------------------------------------------------------------
# person names
# ---------------------------------------------------------------------------------------
FAMILY = (
    "佐藤 鈴木 高橋 田中 伊藤 渡辺 山本 中村 小林 加藤 吉田 山田 佐々木 山口 松本 井上 木村 林 斎藤 清水 "
    "山崎 森 池田 橋本 阿部 石川 山下 中島 石井 小川 前田 岡田 長谷川 藤田 後藤 近藤 村上 遠藤 青木 坂本 "
    "福田 太田 西村 藤井 金子 岡本 藤原 中野 三浦 原田 中川 松田 竹内 小野 田村 中山 和田 石田 森田 上田 "
    "内田 柴田 酒井 宮崎 横山 高木 安藤 宮本 大野 小島 谷口 今井 工藤 高田 増田 丸山 杉山 村田 大塚 新井 "
    "小山 平野 藤本 河野 上野 野口 武田 松井 千葉 岩崎 菅原 木下 久保 佐野 野村 松尾 菊地 杉本 市川 古川"
).split()
GIVEN = (
    "太郎 一郎 健太 翔太 大輔 拓也 直樹 達也 誠 博 隆 浩二 健一 和也 翔 蓮 悠真 湊 大翔 陽太 "
    "花子 陽子 裕子 美咲 愛 彩 さくら 結衣 陽菜 真由美 恵子 智子 由美子 京子 明美 美穂 奈々 加奈子 優子 舞"
).split()
# Rarer surnames and modern given names, many of them unknown to UniDic: person masking is
# best effort, and these keep its figure honest (the rules were not tuned on them).
RARE_FAMILY = (
    "五十嵐 東海林 長谷部 宇佐美 猪俣 久我 大槻 早瀬 芦田 漆原 榎本 鬼塚 葛西 小宮山 笹川 志村 瀬戸 高梨 千賀 "
    "塚越 寺島 徳永 西園寺 二階堂 野々村 羽生 氷室 藤堂 星川 真田 水嶋 三上 八木 結城 吉永 若松 渡瀬 黛 仁科 丹羽"
).split()
MODERN_GIVEN = "結翔 陽葵 蒼 凛 芽依 大和 悠人 心春 湊斗 紬 樹 咲良 颯太 柚希 朝陽 一花 琉生 美桜 律 澪".split()
KATA_FAMILY = "ヤマダ サトウ スズキ タナカ ワタナベ イトウ ナカムラ コバヤシ カトウ ヨシダ".split()
KATA_GIVEN = "タロウ ハナコ ケンタ ユウコ ミサキ イチロウ".split()
FOREIGN = "スミス ジョンソン ブラウン マイケル エミリー キム グエン ミラー".split()
HONORIFICS = ["様", "様", "さん", "さん", "さま", "殿"]
PERSON_CONTEXTS = [
    "担当の{}がとても丁寧に対応してくれました。",
    "{}の説明が分かりやすかったです。",
    "店長の{}に伝えてください。",
    "電話に出た{}の態度が悪かった",
    "{}、先日はありがとうございました。",
    "配達の{}が時間通りに来てくれて助かった！",
    "宛名は{}でお願いします。",
    "オペレーターの{}に代わってもらいました",
    "レジの{}がいつも笑顔で気持ちいい",
    "{}から折り返しの連絡がまだありません。",
    "前回は{}に対応していただきました",
]


def make_person(rng: random.Random) -> tuple[str, str, str]:
    """(form, name span, honorific)."""
    hon = rng.choice(HONORIFICS)
    if rng.random() < 0.2:
        r = rng.random()
        if r < 0.45:
            return "rare-family", rng.choice(RARE_FAMILY), hon
        if r < 0.8:
            return "rare-full", rng.choice(RARE_FAMILY) + rng.choice(["", " ", "　"]) + rng.choice(MODERN_GIVEN), hon
        return "modern-given", rng.choice(MODERN_GIVEN), hon
    r = rng.random()
    if r < 0.35:
        return "family", rng.choice(FAMILY), hon
    if r < 0.55:
        return "full", rng.choice(FAMILY) + rng.choice(GIVEN), hon
    if r < 0.68:
        return "full-space", rng.choice(FAMILY) + rng.choice([" ", "　"]) + rng.choice(GIVEN), hon
    if r < 0.78:
        return "katakana-family", rng.choice(KATA_FAMILY), hon
    if r < 0.86:
        return "katakana-full", rng.choice(KATA_FAMILY) + rng.choice([" ", "　", "・"]) + rng.choice(KATA_GIVEN), hon
    if r < 0.90:
        return "given", rng.choice(GIVEN), rng.choice(["さん", "さん", "様", "ちゃん"])
    if r < 0.94:
        return "foreign", rng.choice(FOREIGN), rng.choice(["さん", "様"])
    if r < 0.97:
        return "title", rng.choice(FAMILY), rng.choice(["店長", "部長", "課長", "先生", "氏", "主任"])
    return "full-no-honorific", rng.choice(FAMILY) + rng.choice(["", " "]) + rng.choice(GIVEN), ""


# ---------------------------------------------------------------------------------------
# negatives: must survive masking unchanged
# ---------------------------------------------------------------------------------------
def negatives(rng: random.Random) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []

    def add(cat: str, template: str, n: int, make) -> None:  # type: ignore[no-untyped-def]
        for _ in range(n):
            out.append((cat, template.format(make())))

    price = lambda: f"{rng.randint(1, 99)},{rng.randint(0, 999):03d}"  # noqa: E731
    add("price", "{}円で購入しましたがすぐ壊れた。", 15, price)
    add("price", "セールで¥{}になっていた", 10, price)
    add("price", "送料込み{}円は高すぎる", 10, lambda: str(rng.randint(1000, 99999)))
    add("price", "合計 {} 円（税込）", 5, lambda: f"{rng.randint(1, 9)},{rng.randint(100, 999)},{rng.randint(100, 999)}")
    date = lambda: f"20{rng.randint(20, 27)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"  # noqa: E731
    add("date", "{}に届く予定だったのに来ない", 15, date)
    add("date", "注文日：{}", 10, lambda: date().replace("-", "/"))
    add("date", "{}に電話しました", 10, lambda: f"20{rng.randint(20, 27)}年{rng.randint(1, 12)}月{rng.randint(1, 28)}日")
    add("date", "有効期限 {}", 5, lambda: f"{rng.randint(1, 12):02d}/{rng.randint(25, 31)}")
    add("time", "{}から待っていたのに来なかった", 10, lambda: f"{rng.randint(8, 21)}:{rng.choice(['00', '15', '30', '45'])}")
    add("time", "受付時間 {} に電話したが出ない", 10, lambda: f"{rng.randint(8, 10)}:00-{rng.randint(17, 21)}:00")
    add("time", "配達は{}の指定でした", 5, lambda: f"{rng.randint(8, 20)}時{rng.choice(['', '30分'])}〜{rng.randint(12, 21)}時")
    model = lambda: f"{rng.choice(['SJ', 'FN', 'VC', 'KX', 'AB', 'MR'])}-{rng.randint(10, 9999)}{rng.choice(['', 'X', 'W', 'EX'])}"  # noqa: E731
    add("model", "型番{}の掃除機がすぐ止まる", 15, model)
    add("model", "品番 {} を注文したのに違う色が届いた", 10, model)
    add("model", "{}は前のモデルより静か", 5, lambda: f"KJ-{rng.randint(40, 85)}X{rng.randint(8000, 9500)}")
    add("quantity", "{}個限定と書いてあったのに", 10, lambda: str(rng.randint(2, 5000)))
    add("quantity", "{}mlのボトルが漏れていた", 5, lambda: str(rng.choice([350, 500, 1000, 1500, 2000])))
    add("quantity", "{}日で届くはずが一週間かかった", 10, lambda: f"{rng.randint(1, 3)}-{rng.randint(4, 7)}")
    add("quantity", "重さは{}kgでした", 5, lambda: f"{rng.randint(1, 30)}.{rng.randint(0, 9)}")
    add("order_count", "これで{}回目の注文です。", 10, lambda: str(rng.randint(2, 120)))
    add("order_count", "注文数 {}件が欠品", 10, lambda: f"{rng.randint(10, 999)}件のうち{rng.randint(1, 9)}")
    add("order_count", "ポイントが{}pt付くはずだった", 5, lambda: f"{rng.randint(1, 99)},{rng.randint(100, 999)}")
    add("misc", "駅から徒歩{}分のお店です", 5, lambda: str(rng.randint(1, 20)))
    add("misc", "{}番線のホームで待ち合わせ", 5, lambda: str(rng.randint(1, 12)))
    add("misc", "{}番出口を出てすぐ", 5, lambda: f"A{rng.randint(1, 9)}")
    add("misc", "バージョン{}にしたら落ちる", 5, lambda: f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}")
    add("misc", "評価は{}点です", 5, lambda: str(rng.randint(0, 10)))
    add("misc", "地方都市で{}店舗回った", 5, lambda: f"{rng.randint(2, 3)}-{rng.randint(4, 5)}")
    add("misc", "{}年使っています", 5, lambda: str(rng.randint(1, 15)))
    add("misc", "第{}位になった商品", 3, lambda: str(rng.randint(1, 10)))
    add("misc", "JANコード{}で検索しても出てこない", 5, lambda: "49" + digits(rng, 11))
    add("price", "{}円の価格帯で探している", 5, lambda: f"{rng.randint(1, 5)}00-{rng.randint(2, 9)}000")
    add("quantity", "{}営業日で発送と書いてあった", 5, lambda: f"{rng.randint(1, 3)}-{rng.randint(4, 7)}")
    add("model", "{}のインクが高い", 5, lambda: f"BCI-{rng.randint(300, 399)}XL")
    add("model", "部品番号{}を取り寄せ中", 5, lambda: f"{rng.randint(100, 999)}-{rng.randint(10, 99)}-{rng.randint(1, 9)}")
    for phrase in [
        "ヤマトさんの配達はいつも丁寧", "佐川さんが時間指定を守らない", "アマゾンさんで買ったほうが安い", "楽天さんのポイントが付かない",
        "郵便局さんが不在票を入れてくれなかった", "ニトリさんの家具より丈夫", "コンビニさんで受け取りました",
        "掃除機スイスイがすぐ止まる", "そよかぜ FN-30 は静か", "東京駅の地下で迷った", "大阪府内の店舗はどこも混んでいた",
        "渋谷区の店舗で2-3時間待った", "市内の店で3-4個買った",
        "お客様センターに電話しました", "配達員さんが丁寧でした", "店員さんの対応が最悪", "ドライバーさんが優しかった",
        "スタッフさんに聞いたらすぐ分かった", "お客さまの声を聞いてください", "オペレーターさんが親切だった",
        "お店の皆さんありがとう", "お医者さんに相談した", "運転手さんが迷っていた", "パートさんが少ない",
        "店長さんが出てきて謝った", "お母さんと一緒に来店", "神様に祈った", "皆様のおかげです",
        "担当者様へのご連絡をお願いします", "お子様連れでも安心", "宅配業者さんが置き配してくれた",
        "ママさんに人気の商品", "お得意様向けのセール",
    ]:
        out.append(("honorific_noun", phrase))
    return out


# ---------------------------------------------------------------------------------------
def build() -> list[dict[str, object]]:
    rng = random.Random(SEED)
    cases: list[dict[str, object]] = []

    def case(kind: str, form: str, template: str, spans: list[tuple[str, str]]) -> None:
        text = template.format(*(s for _, s in spans))
        cases.append(
            {
                "id": f"{kind}-{sum(1 for c in cases if c['type'] == kind) + 1:04d}",
                "type": kind,
                "form": form,
                "text": text,
                "spans": [{"type": t, "text": s} for t, s in spans],
            }
        )

    for _ in range(N_PER_TYPE):
        form, s = make_phone(rng)
        case("phone", form, rng.choice(PHONE_CONTEXTS), [("phone", s)])
    for _ in range(N_PER_TYPE):
        form, s = make_email(rng)
        case("email", form, rng.choice(EMAIL_CONTEXTS), [("email", s)])
    for _ in range(N_PER_TYPE):
        form, s = make_postal(rng)
        case("postal_code", form, rng.choice(POSTAL_CONTEXTS), [("postal_code", s)])
    for _ in range(N_PER_TYPE):
        form, s = make_card(rng)
        case("card", form, rng.choice(CARD_CONTEXTS), [("card", s)])
    for _ in range(N_PER_TYPE):
        form, s = make_mynumber(rng)
        case("individual_number", form, rng.choice(MYNUMBER_CONTEXTS), [("individual_number", s)])
    for _ in range(N_PER_TYPE):
        form, s = make_address(rng)
        case("address", form, rng.choice(ADDRESS_CONTEXTS), [("address", s)])
    for _ in range(N_PER_TYPE):
        form, name, hon = make_person(rng)
        template = rng.choice(PERSON_CONTEXTS).replace("{}", "{}" + hon)
        case("person", form, template, [("person", name)])
    # several types in one text, as in a signature or a delivery complaint
    for _ in range(40):
        _, postal = make_postal(rng)
        _, addr = make_address(rng)
        _, name, hon = make_person(rng)
        _, phone = make_phone(rng)
        template = rng.choice(
            [
                "送付先：{} {} {}" + hon + " TEL {}",
                "{} {}の{}" + hon + "宛てに送ったのに戻ってきた。連絡は{}まで",
            ]
        )
        case("mixed", "postal+address+person+phone", template,
             [("postal_code", postal), ("address", addr), ("person", name), ("phone", phone)])
    for _ in range(20):
        _, email = make_email(rng)
        _, phone = make_phone(rng)
        case("mixed", "email+phone", "連絡先は{}か{}にお願いします。", [("email", email), ("phone", phone)])
    for cat, text in negatives(rng):
        n = sum(1 for c in cases if c["type"] == "negative") + 1
        cases.append({"id": f"negative-{n:04d}", "type": "negative", "form": cat, "text": text, "spans": []})
    return cases


def render(cases: list[dict[str, object]]) -> str:
    return "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases)


def main(argv: list[str]) -> int:
    cases = build()
    data = render(cases)
    for c in cases:  # every span string is really in its text
        for s in c["spans"]:  # type: ignore[union-attr]
            assert s["text"] in c["text"], c  # type: ignore[index]
    if "--check" in argv:
        ok = OUT.exists() and OUT.read_text("utf-8") == data
        print("pii_testset.jsonl is up to date" if ok else "pii_testset.jsonl differs: run without --check")
        return 0 if ok else 1
    OUT.write_text(data, "utf-8")
    counts = Counter(str(c["type"]) for c in cases)
    print(f"wrote {OUT} ({len(cases)} cases): " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
