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
        """Score the chunk's new rows; rows marked ``cached`` are filled from the store.

        ``store`` may be None (the distributed engine writes Parquet itself)."""
        voc_pairs = [(p, r) for p in chunk if p.ok for r in p.records if r.is_voc and r.text_normalized]
        cached_ids = [r.record_id for p, r in voc_pairs if p.cached]
        stored = stored_predictions(store, cached_ids) if cached_ids and store is not None else {}
        to_score = [(p, r) for p, r in voc_pairs if r.record_id not in stored]
        preds = self.classifier.predict([r.text_normalized for _, r in to_score])
        scored_now = {r.record_id for _, r in to_score}
        targets = to_score + [(p, r) for p, r in voc_pairs if r.record_id in stored]
        preds = preds + [stored[r.record_id] for p, r in voc_pairs if r.record_id in stored]
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
        result_rows = [r for r in result_rows if r["record_id"] in scored_now]
        if store is not None:
            self._write(store, result_rows, sentence_rows)
        self._fill(chunk, by_row, version)

    @staticmethod
    def _write(store: Any, result_rows: list[dict[str, Any]], sentence_rows: list[dict[str, Any]]) -> None:
        store.upsert_rows("results", result_rows, key=("record_id",))
        if sentence_rows:
            store.delete_where("sentence_results", "record_id", sorted({r["record_id"] for r in sentence_rows}))
            store.upsert_rows("sentence_results", sentence_rows, key=("record_id", "idx"))

    @staticmethod
    def _fill(chunk: Sequence[Any], by_row: dict[int, list[Prediction]], version: str) -> None:
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
            out["model_version"] = getattr(agg, "model_version", None) or version


def stored_predictions(store: Any, record_ids: Sequence[str]) -> dict[str, Prediction]:
    """Predictions already in the store's ``results`` table, by record id."""
    if not record_ids:
        return {}
    df = store.query(
        "SELECT record_id, model_version, sentiment, sentiment_score, sentiment_mixed, p_negative, p_neutral, "
        "p_positive, emotion, emotion_probs FROM results WHERE record_id IN (SELECT unnest(?))",
        [list(record_ids)],
    )
    out: dict[str, Prediction] = {}
    for row in df.itertuples(index=False):
        probs = {k: float(v) for k, v in (("negative", row.p_negative), ("neutral", row.p_neutral), ("positive", row.p_positive)) if v == v and v is not None}
        pred = Prediction(
            sentiment=row.sentiment,
            sentiment_probs=probs,
            sentiment_score=row.sentiment_score,
            mixed=bool(row.sentiment_mixed),
            emotion=row.emotion,
            emotion_probs=json.loads(row.emotion_probs) if row.emotion_probs else {},
        )
        pred.model_version = row.model_version  # type: ignore[attr-defined]
        out[row.record_id] = pred
    return out


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
