"""The sentiment/emotion step of ``voc analyze`` (a :class:`voc.pipeline.Scorer`).

For each chunk it scores the customer's utterances (operator turns are context, not VoC),
writes ``results`` and ``sentence_results`` to the store, and fills the output row:
``sentiment``, ``sentiment_score``, ``sentiment_mixed``, ``emotion``, ``emotion_<label>``
and ``model_version``. A one-cell call transcript gets the average over its customer turns.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from voc.classify.predict import Classifier, Prediction

logger = logging.getLogger(__name__)


class SentimentScorer:
    """Adds sentiment and emotion to every prepared row of a chunk."""

    def __init__(self, classifier: Classifier) -> None:
        self.classifier = classifier
        cols: dict[str, str] = {
            "sentiment": "string",
            "sentiment_score": "float",
            "sentiment_mixed": "bool",
            "emotion": "string",
        }
        for label in classifier.config.emotion_labels:
            cols[f"emotion_{label}"] = "float"
        cols["model_version"] = "string"
        self.output_columns: Mapping[str, str] = cols

    def describe(self) -> Mapping[str, Any]:
        return self.classifier.describe()

    def score(self, chunk: Sequence[Any], store: Any, run_id: str) -> None:
        targets = [(p, r) for p in chunk if p.ok for r in p.records if r.is_voc and r.text_normalized]
        preds = self.classifier.predict([r.text_normalized for _, r in targets])
        version = self.classifier.version
        now = datetime.now()
        result_rows: list[dict[str, Any]] = []
        sentence_rows: list[dict[str, Any]] = []
        by_row: dict[int, list[Prediction]] = {}
        for (prepared, rec), pred in zip(targets, preds, strict=True):
            if pred.error:
                continue
            by_row.setdefault(id(prepared), []).append(pred)
            probs = pred.sentiment_probs
            result_rows.append(
                {
                    "record_id": rec.record_id,
                    "model_version": version,
                    "sentiment": pred.sentiment,
                    "sentiment_score": pred.sentiment_score,
                    "sentiment_mixed": pred.mixed,
                    "p_negative": probs.get("negative"),
                    "p_neutral": probs.get("neutral"),
                    "p_positive": probs.get("positive"),
                    "emotion": pred.emotion,
                    "emotion_probs": json.dumps(pred.emotion_probs, ensure_ascii=False),
                    "run_id": run_id,
                    "scored_at": now,
                }
            )
            for k, s in enumerate(pred.sentences):
                sentence_rows.append(
                    {
                        "record_id": rec.record_id,
                        "idx": k,
                        "text": s.text,
                        "sentiment": s.sentiment,
                        "sentiment_score": s.sentiment_score,
                        "emotion": s.emotion,
                    }
                )
        store.upsert_rows("results", result_rows, key=("record_id",))
        if sentence_rows:
            store.delete_where("sentence_results", "record_id", sorted({r["record_id"] for r in sentence_rows}))
            store.upsert_rows("sentence_results", sentence_rows, key=("record_id", "idx"))
        for prepared in chunk:
            if not prepared.ok:
                continue
            found = by_row.get(id(prepared), [])
            out = prepared.output
            if not found:
                continue
            agg = aggregate(found)
            out["sentiment"] = agg.sentiment
            out["sentiment_score"] = agg.sentiment_score
            out["sentiment_mixed"] = agg.mixed
            out["emotion"] = agg.emotion
            for label, p in agg.emotion_probs.items():
                out[f"emotion_{label}"] = p
            out["model_version"] = version


def aggregate(preds: Sequence[Prediction]) -> Prediction:
    """One prediction for several utterances (a transcript's customer turns): mean probs."""
    if len(preds) == 1:
        return preds[0]
    s_labels = list(preds[0].sentiment_probs)
    e_labels = list(preds[0].emotion_probs)
    s = {lab: sum(p.sentiment_probs.get(lab, 0.0) for p in preds) / len(preds) for lab in s_labels}
    e = {lab: sum(p.emotion_probs.get(lab, 0.0) for p in preds) / len(preds) for lab in e_labels}
    out = Prediction(sentiment_probs=s, emotion_probs=e)
    out.sentiment = max(s, key=s.get) if s else None  # type: ignore[arg-type]
    out.emotion = max(e, key=e.get) if e else None  # type: ignore[arg-type]
    if "positive" in s and "negative" in s:
        out.sentiment_score = s["positive"] - s["negative"]
    out.mixed = any(p.mixed for p in preds) or (
        any(p.sentiment == "positive" for p in preds) and any(p.sentiment == "negative" for p in preds)
    )
    return out
