"""The topic step of ``voc analyze`` (a :class:`voc.pipeline.Scorer`).

It runs after the sentiment step. For each chunk it takes the complaints (customer
utterances whose sentiment is negative or mixed; low rating / NPS when no sentiment was
scored), assigns them to the saved topics (:meth:`TopicModeler.transform`), writes
``topic_assignments`` and the view tables, and fills the output row's ``topic_id`` and
``topic_label`` (a transcript gets the most frequent topic of its complaint turns; rows
that are not complaints stay empty).

Without a store (``store=None``, as ``voc.pipeline.score_frame`` runs it on a distributed
engine) the row's own ``sentiment``/``sentiment_mixed`` picks the complaints and nothing
is written but the output columns.

Rows that an earlier run stored unchanged (``cached``) keep the topic that run gave
them (no new embedding) and do not count as new complaints. The view tables are
rebuilt once, at the end of the run (:meth:`finish`).

It keeps a running count of new complaints that fit no existing topic. Their share is written
to ``topic_drift`` after every chunk, is in :meth:`TopicScorer.summary`, and a warning
recommends ``voc topics refit`` once it passes ``refit_share`` (25 % by default).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from voc.topics import store as topic_store
from voc.topics.config import OUTLIER_LABEL
from voc.topics.model import TopicModeler

logger = logging.getLogger(__name__)

MIN_FOR_ADVICE = 20  # complaints seen before the refit advice can fire


class TopicScorer:
    """Assigns each chunk's complaints to the topics of a saved model."""

    output_columns: Mapping[str, str] = {"topic_id": "int", "topic_label": "string"}

    def __init__(self, modeler: TopicModeler, model_dir: str | Path | None = None) -> None:
        self.modeler = modeler
        self.model_dir = None if model_dir is None else str(model_dir)
        self.complaints = 0
        self.no_topic = 0
        self._advised = False
        self._dirty = False  # assignments written since the views were last rebuilt

    @classmethod
    def load(cls, path: str | Path) -> TopicScorer:
        """The scorer of the topic model saved in ``path`` (see :meth:`TopicModeler.load`)."""
        return cls(TopicModeler.load(path), model_dir=path)

    def describe(self) -> Mapping[str, Any]:
        tm = self.modeler
        return {
            "model_id": tm.model_id_,
            "model_dir": self.model_dir,
            "topics": tm.n_topics,
            "assign_threshold": tm.assign_threshold_,
            "baseline_no_topic_share": tm.baseline_nofit_share_,
        }

    @property
    def no_topic_share(self) -> float:
        return self.no_topic / self.complaints if self.complaints else 0.0

    @property
    def refit_recommended(self) -> bool:
        return (
            self.complaints >= MIN_FOR_ADVICE
            and self.no_topic_share > self.modeler.config.refit_share
        )

    def summary(self) -> dict[str, Any]:
        """Running totals of this run: complaints assigned, how many fit no topic, advice."""
        return {
            "complaints": self.complaints,
            "no_topic": self.no_topic,
            "no_topic_share": round(self.no_topic_share, 4),
            "baseline_no_topic_share": self.modeler.baseline_nofit_share_,
            "refit_recommended": self.refit_recommended,
        }

    # -----------------------------------------------------------------------------
    def score(self, chunk: Sequence[Any], store: Any, run_id: str) -> None:
        tm = self.modeler
        candidates = [
            (p, r)
            for p in chunk
            if p.ok
            for r in p.records
            if r.is_voc and (r.text_normalized or "").strip()
        ]
        if not candidates:
            return
        complaint_ids = self._complaints(candidates, store)
        targets = [(p, r) for p, r in candidates if r.record_id in complaint_ids]
        if not targets:
            return
        # rows stored unchanged by an earlier run keep the topic that run gave them
        known = self._stored(store, [r.record_id for p, r in targets if getattr(p, "cached", False)])
        # the same record twice in a chunk (identical rows) is assigned once
        first: dict[str, int] = {}
        for k, (_, r) in enumerate(targets):
            if r.record_id not in known:
                first.setdefault(r.record_id, k)
        by_record: dict[str, tuple[int, float]] = dict(known)
        if first:
            texts = [targets[k][1].text_normalized for k in first.values()]
            topic_ids, sims = tm.transform(texts)
            fresh = {rid: (int(t), float(s)) for rid, t, s in zip(first, topic_ids, sims, strict=True)}
            by_record.update(fresh)
            self.complaints += len(fresh)
            self.no_topic += sum(1 for t, _ in fresh.values() if t == -1)
        else:
            fresh = {}
        recommend = self.refit_recommended
        if store is not None and fresh:
            self._dirty = True
            topic_store.write_assignments(
                store,
                tm.model_id_,
                list(fresh),
                [v[0] for v in fresh.values()],
                [v[1] for v in fresh.values()],
                topics_rows=topic_store.topic_rows(tm),
            )
            recommend = topic_store.write_drift(
                store,
                run_id,
                tm.model_id_,
                self.complaints,
                self.no_topic,
                tm.baseline_nofit_share_,
                tm.config.refit_share,
            )
        if recommend and self.refit_recommended and not self._advised:
            self._advised = True
            logger.warning(
                "%.0f %% of the new complaints fit no existing topic (%.0f %% when the model was "
                "fitted); consider `voc topics refit`",
                100 * self.no_topic_share,
                100 * (tm.baseline_nofit_share_ or 0),
            )
        logger.debug("topics: %s", self.summary())
        per_row: dict[int, list[int]] = {}
        for p, r in targets:
            per_row.setdefault(id(p), []).append(by_record[r.record_id][0])
        for p in chunk:
            found = per_row.get(id(p))
            if not found:
                continue
            topic = _majority(found)
            p.output["topic_id"] = topic
            p.output["topic_label"] = tm.label_of(topic) if topic != -1 else OUTLIER_LABEL

    def finish(self, store: Any, run_id: str) -> None:
        """Rebuild the view tables once the run's assignments are all written."""
        if store is not None and self._dirty:
            topic_store.write_views(store, self.modeler.model_id_)
            self._dirty = False

    def _stored(self, store: Any, record_ids: Sequence[str]) -> dict[str, tuple[int, float]]:
        """Assignments of this model already in the store for these records."""
        if store is None or not record_ids or "topic_assignments" not in store.tables():
            return {}
        rows = store.con.execute(
            "SELECT record_id, topic_id, probability FROM topic_assignments "
            "WHERE model_id = ? AND record_id IN (SELECT unnest(?))",
            [self.modeler.model_id_, sorted(set(record_ids))],
        ).fetchall()
        return {rid: (int(t), float(p or 0.0)) for rid, t, p in rows}

    def _complaints(self, candidates: Sequence[tuple[Any, Any]], store: Any) -> set[str]:
        ids = sorted({r.record_id for _, r in candidates})
        found: set[str] = set()
        scored = False
        if store is None:  # a distributed engine (score_frame): the row's sentiment decides
            rows = {id(p): p for p, _ in candidates}
            neg = {
                k
                for k, p in rows.items()
                if p.output.get("sentiment") == "negative" or bool(p.output.get("sentiment_mixed"))
            }
            scored = any(p.output.get("sentiment") is not None for p in rows.values())
            found = {r.record_id for p, r in candidates if id(p) in neg}
        elif "results" in store.tables():
            rows = store.con.execute(
                "SELECT record_id, sentiment, sentiment_mixed FROM results WHERE record_id IN (SELECT unnest(?))",
                [ids],
            ).fetchall()
            scored = bool(rows)
            found = {rid for rid, s, mixed in rows if s == "negative" or bool(mixed)}
        if scored:
            return found
        # no sentiment for this chunk: fall back to low scores
        return {
            r.record_id
            for _, r in candidates
            if (r.rating is not None and r.rating <= 2) or (r.nps is not None and r.nps <= 6)
        }


def _majority(topics: Sequence[int]) -> int:
    """Most frequent topic of a row's complaints (assigned beats -1; ties: first seen)."""
    assigned = [t for t in topics if t != -1]
    if not assigned:
        return -1
    counts = Counter(assigned)
    best = max(counts.values())
    return next(t for t in assigned if counts[t] == best)
