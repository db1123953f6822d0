"""Recall of voc's PII masking per type, and false positives on look-alikes.

Runs :class:`voc.text.pii.PiiMasker` over the committed, seeded test set
``data/pii_testset/pii_testset.jsonl`` (written by ``data/pii_testset/make_pii_testset.py``)
along two paths:

* ``mask``: ``PiiMasker().mask(raw_text)``, what the output file's text column shows
  (full-width digits and look-alike hyphens as the customer typed them);
* ``normalize``: ``voc.text.normalize(raw_text)``, NFKC first, then masking: what the store,
  the classifier and the topic model see.

A span of type T counts as recalled when (1) its string (raw and NFKC) no longer occurs in
the masked text, (2) the masked text holds at least as many T placeholders as the case has
T spans, and (3) none of the span's digits leaked out (the digit runs of the masked text
are those of the expected text, where each span is replaced by its placeholder). "exact"
is the share of cases whose masked text equals the expected text (nothing around the
spans eaten, nothing else masked). A negative case is a false positive when masking
changes it at all.

The rules of voc/text/pii.py were developed against this set, so the pattern-type figures
are in-sample; a fifth of the person names (rarer surnames, modern given names) were added
afterwards and not tuned on. tests/text/test_pii_recall.py holds the floors and a
hand-written held-out table.

    .venv/bin/python benchmarks/pii_recall.py [--failures 10] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TESTSET = ROOT / "data" / "pii_testset" / "pii_testset.jsonl"
PATTERN_TYPES = ("phone", "email", "postal_code", "card", "individual_number", "address")
TYPES = (*PATTERN_TYPES, "person")

_DIGITS_RE = re.compile(r"\d+")


def load_cases(path: Path = TESTSET) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def expected_text(case: dict[str, Any], placeholders: dict[str, str]) -> str:
    """The case's text with every span replaced by its type's placeholder."""
    text = case["text"]
    for span in sorted(case["spans"], key=lambda s: -len(s["text"])):
        text = text.replace(span["text"], placeholders[span["type"]], 1)
    return text


def evaluate(
    cases: Sequence[dict[str, Any]], how: str = "mask", mask: Callable[[str], str] | None = None
) -> dict[str, Any]:
    """Recall per type, exact-match rate and false positives on the negatives.

    ``how`` is ``"mask"`` or ``"normalize"`` (see the module docstring); ``mask`` overrides
    the function that turns a raw text into its masked form.
    """
    from voc.text.normalize import NormalizeConfig, Normalizer
    from voc.text.pii import PLACEHOLDERS, PiiMasker

    if mask is None:
        if how == "mask":
            masker = PiiMasker()
            mask = lambda t: masker.mask(t).text  # noqa: E731
        else:
            norm = Normalizer()
            mask = lambda t: norm(t).text  # noqa: E731
    plain = Normalizer(NormalizeConfig(mask_pii=False))
    reference = (lambda t: t) if how == "mask" else (lambda t: plain(t).text)

    stats: dict[str, Counter[str]] = defaultdict(Counter)
    forms: dict[str, Counter[str]] = defaultdict(Counter)
    failures: dict[str, list[dict[str, str]]] = defaultdict(list)
    negatives: Counter[str] = Counter()
    neg_by_form: dict[str, Counter[str]] = defaultdict(Counter)
    started = time.perf_counter()
    for case in cases:
        masked = mask(case["text"])
        if case["type"] == "negative":
            changed = masked != reference(case["text"])
            negatives["n"] += 1
            negatives["fp"] += changed
            neg_by_form[case["form"]]["n"] += 1
            neg_by_form[case["form"]]["fp"] += changed
            if changed:
                failures["negative"].append({"id": case["id"], "text": case["text"], "masked": masked})
            continue
        expected = expected_text(case, PLACEHOLDERS)
        want = reference(expected)
        masked_n = _nfkc(masked)
        leaked = Counter(_DIGITS_RE.findall(masked_n)) - Counter(_DIGITS_RE.findall(_nfkc(want)))
        by_type: dict[str, list[dict[str, str]]] = defaultdict(list)
        for span in case["spans"]:
            by_type[span["type"]].append(span)
        for t, spans in by_type.items():
            ok = masked.count(PLACEHOLDERS[t]) >= len(spans)
            for span in spans:
                s = span["text"]
                if s in masked or _nfkc(s) in masked_n:
                    ok = False
                if any(run in leaked for run in _DIGITS_RE.findall(_nfkc(s))):
                    ok = False
            key = t
            stats[key]["n"] += 1
            stats[key]["recalled"] += ok
            forms[key][f"{case['form']}:n"] += 1
            forms[key][f"{case['form']}:ok"] += ok
            if not ok:
                failures[key].append({"id": case["id"], "text": case["text"], "masked": masked})
        for t in by_type:
            stats[t]["cases"] += 1
            stats[t]["exact"] += masked == want
    seconds = time.perf_counter() - started
    result: dict[str, Any] = {"how": how, "seconds": seconds, "n_cases": len(cases), "types": {}}
    for t in TYPES:
        s = stats.get(t, Counter())
        result["types"][t] = {
            "n": s["n"],
            "recall": s["recalled"] / s["n"] if s["n"] else float("nan"),
            "exact": s["exact"] / s["cases"] if s["cases"] else float("nan"),
            "forms": {
                form.rsplit(":", 1)[0]: (forms[t][form.rsplit(":", 1)[0] + ":ok"], n)
                for form, n in forms[t].items()
                if form.endswith(":n")
            },
        }
    result["negatives"] = {
        "n": negatives["n"],
        "fp": negatives["fp"],
        "fp_rate": negatives["fp"] / negatives["n"] if negatives["n"] else float("nan"),
        "forms": {f: (c["fp"], c["n"]) for f, c in neg_by_form.items()},
    }
    result["failures"] = dict(failures)
    return result


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def print_table(results: Sequence[dict[str, Any]], show_failures: int = 0) -> None:
    hows = [r["how"] for r in results]
    print("PII recall on data/pii_testset/pii_testset.jsonl")
    print(f"machine: {machine()}")
    head = f"{'type':<19}{'n':>5}" + "".join(f"{'recall(' + h + ')':>20}{'exact(' + h + ')':>19}" for h in hows)
    print(head)
    print("-" * len(head))
    for t in TYPES:
        row = f"{t:<19}{results[0]['types'][t]['n']:>5}"
        for r in results:
            row += f"{r['types'][t]['recall']:>20.3f}{r['types'][t]['exact']:>19.3f}"
        print(row)
    neg = results[0]["negatives"]
    row = f"{'negatives (FP rate)':<19}{neg['n']:>5}"
    for r in results:
        n = r["negatives"]
        row += f"{n['fp_rate']:>20.3f}{'':>19}"
    print(row)
    for r in results:
        print(f"{r['how']}: {r['n_cases']} cases in {r['seconds']:.2f} s ({1000 * r['seconds'] / r['n_cases']:.2f} ms/case)")
    if show_failures:
        for r in results:
            for t, items in r["failures"].items():
                print(f"\n[{r['how']}] {t}: {len(items)} misses")
                for item in items[:show_failures]:
                    print(f"  {item['id']}: {item['text']}\n    -> {item['masked']}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--failures", type=int, default=0, help="show up to N misses per type")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    cases = load_cases()
    results = [evaluate(cases, "mask"), evaluate(cases, "normalize")]
    print_table(results, args.failures)
    if args.json:
        slim = [{k: v for k, v in r.items() if k != "failures"} for r in results]
        args.json.write_text(json.dumps({"machine": machine(), "results": slim}, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
