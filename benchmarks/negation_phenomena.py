"""Binary sentiment accuracy on data/eval/voc_negation_test, per construction.

The held-out set tags each text with what its verdict hinges on: praise through negation
(「もう手放せません」, a problem that went away), complaints through a negated verdict
(効かない, 二度と〜ない), praise in negative-looking words (ヤバすぎ, 時間泥棒), sarcasm, and
plain controls. ``voc eval`` gives the overall figures; this prints them per construction,
for one model or several side by side, and with ``--misses`` the texts each model gets
wrong (sign of ``sentiment_score`` against 1-2 / 4-5 stars; 3-star texts are left out).

    .venv/bin/python benchmarks/negation_phenomena.py
    .venv/bin/python benchmarks/negation_phenomena.py -m models/voc-sentiment-ja -m my-model --misses
"""

from __future__ import annotations

import argparse
import json
import platform
from collections import defaultdict
from pathlib import Path

from voc.classify.evaluate import sign_agrees
from voc.classify.labels import sentiment_from_rating
from voc.classify.predict import Classifier

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "eval" / "voc_negation_test" / "negation_test.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-m", "--model", action="append", type=Path, help="model folder (repeat to compare)")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--misses", action="store_true", help="print the texts each model gets wrong")
    args = ap.parse_args()
    models = args.model or [ROOT / "models" / "voc-sentiment-ja"]
    rows = [json.loads(line) for line in args.data.open(encoding="utf-8")]
    rows = [r for r in rows if sentiment_from_rating(r["rating"]) in ("positive", "negative")]
    print(f"machine: {platform.platform()} | {len(rows)} texts with 1-2 or 4-5 stars from {args.data}")
    kinds = sorted({r["phenomenon"] for r in rows})
    table: dict[str, dict[str, tuple[int, int]]] = {}
    for folder in models:
        preds = Classifier.load(folder, precision="fp32").predict([r["text"] for r in rows])
        hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for r, p in zip(rows, preds, strict=True):
            gold = sentiment_from_rating(r["rating"])
            right = p.sentiment_score is not None and sign_agrees(gold, p.sentiment_score)  # type: ignore[arg-type]
            for key in (r["phenomenon"], "all"):
                hits[key][0] += right
                hits[key][1] += 1
            if args.misses and not right:
                print(f"  miss [{folder.name}] {r['rating']}★ score {p.sentiment_score:+.2f} {r['phenomenon']}: {r['text'][:100]}")
        table[folder.name] = {k: (a, n) for k, (a, n) in hits.items()}
    names = list(table)
    print(f"{'construction':<20}{'n':>5}" + "".join(f"{n[:22]:>24}" for n in names))
    for kind in [*kinds, "all"]:
        n = table[names[0]][kind][1]
        print(f"{kind:<20}{n:>5}" + "".join(f"{table[m][kind][0] / n:>24.3f}" for m in names))


if __name__ == "__main__":
    main()
