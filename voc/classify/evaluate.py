"""Metrics for ``voc eval``: accuracy, macro-F1, per-class report, confusion matrix,
calibration error, and binary polarity accuracy (sign of the sentiment score), for one
model or several side by side.

Examples whose gold label is a tie between annotators (e.g. NAIST votes 平静-怒り-喜び) have
no single right answer: they are left out of the hard-label metrics and counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from voc.classify.data import Example


def _gold(dist: dict[str, float] | None) -> str | None:
    if not dist:
        return None
    top = max(dist.values())
    winners = [k for k, v in dist.items() if abs(v - top) < 1e-9]
    return winners[0] if len(winners) == 1 else None


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float:
    """ECE with equal-width confidence bins."""
    n = len(confidences)
    if n == 0:
        return 0.0
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        idx = [i for i, c in enumerate(confidences) if (lo < c <= hi) or (b == 0 and c == 0)]
        if not idx:
            continue
        acc = sum(correct[i] for i in idx) / len(idx)
        conf = sum(confidences[i] for i in idx) / len(idx)
        total += len(idx) / n * abs(acc - conf)
    return total


def head_metrics(gold: Sequence[str], pred: Sequence[str], conf: Sequence[float], labels: Sequence[str]) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    labels = list(labels)
    p, r, f, s = precision_recall_fscore_support(gold, pred, labels=labels, zero_division=0)
    return {
        "n": len(gold),
        "accuracy": float(accuracy_score(gold, pred)),
        "macro_f1": float(f1_score(gold, pred, labels=[lab for lab in labels if lab in set(gold)], average="macro", zero_division=0)),
        "per_class": {
            lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, lab in enumerate(labels)
        },
        "labels": labels,
        "confusion": confusion_matrix(gold, pred, labels=labels).tolist(),
        "ece": float(expected_calibration_error(conf, [g == q for g, q in zip(gold, pred, strict=True)])),
    }


def sign_agrees(gold: str, score: float) -> bool:
    """The binary check ("binary acc (score sign)"): a positive ``sentiment_score`` for a
    positive gold label, zero or below for a negative one."""
    return (score > 0) == (gold == "positive")


def evaluate(classifier: Any, examples: Sequence[Example]) -> dict[str, Any]:
    """Score ``examples`` with a :class:`~voc.classify.predict.Classifier` and measure."""
    texts = [e.text for e in examples]
    preds = classifier.predict(texts)
    out: dict[str, Any] = {"n_examples": len(examples)}
    cfg = classifier.config
    for head, labels in (("sentiment", cfg.sentiment_labels), ("emotion", cfg.emotion_labels)):
        gold, pred, conf = [], [], []
        ties = unknown = 0
        for e, p in zip(examples, preds, strict=True):
            dist = getattr(e, head)
            if not dist or p.error:
                continue
            g = _gold(dist)
            if g is None:
                ties += 1
                continue
            if g not in labels:
                unknown += 1
                continue
            probs = p.sentiment_probs if head == "sentiment" else p.emotion_probs
            q = max(probs, key=probs.get)  # type: ignore[arg-type]
            gold.append(g)
            pred.append(q)
            conf.append(probs[q])
        if not gold:
            continue
        m = head_metrics(gold, pred, conf, labels)
        m["skipped_ties"] = ties
        m["skipped_unknown_labels"] = unknown
        out[head] = m
        if head == "sentiment" and {"positive", "negative"} <= set(labels):
            pairs = [
                (g, p.sentiment_score)
                for e, p in zip(examples, preds, strict=True)
                if (g := _gold(e.sentiment)) in ("positive", "negative") and p.sentiment_score is not None
            ]
            if pairs:
                m["binary_accuracy"] = sum(sign_agrees(g, s) for g, s in pairs) / len(pairs)
                m["binary_n"] = len(pairs)
    return out


def promotion_verdict(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Plain lines for the one decision a retrain leads to: does the candidate read the
    held-out labels better than the model it started from (``voc train --init-from``)?
    Sentiment by binary accuracy (the sign of the score) where the data has positive and
    negative labels, else by accuracy; emotion by macro-F1. A difference under one text's
    weight is no difference."""
    lines: list[str] = []
    binary = "binary_accuracy" in before.get("sentiment", {})
    for head, key, what in (
        ("sentiment", "binary_accuracy", "sentiment (sign of the score)") if binary else ("sentiment", "accuracy", "sentiment"),
        ("emotion", "macro_f1", "emotion macro-F1"),
    ):
        b, a = before.get(head, {}), after.get(head, {})
        if key not in b or key not in a:
            continue
        n = int(a.get("binary_n" if key == "binary_accuracy" else "n") or 0)
        diff = a[key] - b[key]
        # in texts, rounded: 95/104 - 96/104 and 97/104 - 96/104 differ from -1/104 and 1/104
        # in the last bits, one above it and one under it, so comparing the floats made one
        # text lost "WORSE" and one text gained "no difference"
        if n and round(abs(diff) * n, 6) < 1:
            verdict = "no difference"
        elif diff > 0:
            verdict = f"the new model is better by {diff:.3f}"
        else:
            verdict = f"the new model is WORSE by {-diff:.3f}: keep the model you started from"
        lines.append(f"{what} on {n} held-out texts: {b[key]:.3f} before, {a[key]:.3f} after: {verdict}")
    return lines


def format_report(results: dict[str, dict[str, Any]]) -> str:
    """A plain-text table: one column per model, then per-class F1 and confusion matrices."""
    names = list(results)
    lines: list[str] = []
    for head in ("sentiment", "emotion"):
        if not any(head in r for r in results.values()):
            continue
        lines.append(f"== {head} ==")
        rows = [("n", "n"), ("accuracy", "accuracy"), ("macro-F1", "macro_f1"), ("ECE", "ece")]
        if head == "sentiment":
            rows.append(("binary acc (score sign)", "binary_accuracy"))
        width = max(14, *(len(n) for n in names))
        lines.append(f"{'':<26}" + "".join(f"{n:>{width + 2}}" for n in names))
        for title, key in rows:
            cells = []
            for n in names:
                v = results[n].get(head, {}).get(key)
                cells.append(f"{v:>{width + 2}.3f}" if isinstance(v, float) else f"{'' if v is None else v:>{width + 2}}")
            lines.append(f"{title:<26}" + "".join(cells))
        first = next(r[head] for r in results.values() if head in r)
        for lab in first["labels"]:
            cells = "".join(
                f"{results[n].get(head, {}).get('per_class', {}).get(lab, {}).get('f1', float('nan')):>{width + 2}.3f}"
                for n in names
            )
            lines.append(f"{'  F1 ' + lab:<26}" + cells)
        for n in names:
            m = results[n].get(head)
            if not m:
                continue
            lines.append(f"confusion ({n}; rows = gold, columns = predicted):")
            labs = m["labels"]
            lines.append("  " + " " * 10 + "".join(f"{lab[:8]:>9}" for lab in labs))
            for lab, row in zip(labs, m["confusion"], strict=True):
                lines.append(f"  {lab[:10]:<10}" + "".join(f"{x:>9}" for x in row))
        lines.append("")
    return "\n".join(lines)
