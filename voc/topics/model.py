"""Complaint topics for Japanese: BERTopic with voc's embeddings, keywords and curation.

:class:`TopicModeler` wraps one BERTopic model and fixes what BERTopic gets wrong on
Japanese out of the box:

* **keywords** come from voc's fugashi tokenizer (lemmas of content words, stopwords and
  particles dropped, user words kept whole, frequent bigrams such as 「配送 遅延」), never
  from BERTopic's whitespace splitter that turns Japanese sentences into "keywords";
* **the same input gives the same topics**: embeddings are cached by text hash, UMAP and
  HDBSCAN run with a fixed ``random_state`` on one thread, every tie is broken by position;
* **outliers** are reassigned until at most ``max_outlier_share`` (15 %) stay unassigned,
  see :func:`outlier_threshold`;
* **memory** stays flat: embeddings are computed once (cached), no step builds an
  ``n x n`` matrix (UMAP's approximate neighbours, HDBSCAN on 5 dimensions, similarities
  to topic centroids only).

Sub-models are swappable as in BERTopic: pass ``embedding_model`` (anything with
``embed(texts) -> ndarray``), ``umap_model`` (``fit``/``transform``), ``hdbscan_model``
(``fit`` + ``labels_``) or ``vectorizer_model`` (a scikit-learn ``CountVectorizer``);
``None`` builds voc's default at fit time.

Curation (:meth:`TopicModeler.rename`, :meth:`TopicModeler.merge`) is stored with the
centroids and keywords of the curated topics, so :meth:`TopicModeler.refit` can carry it
to the matching topics of a new fit, see :func:`match_curation`.

>>> tm = TopicModeler().fit(complaints)            # doctest: +SKIP
>>> tm.topic_table()[["topic_id", "label", "size"]]  # doctest: +SKIP
   topic_id           label  size
0         0  配送・遅延・到着    84
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from voc.errors import InputError, ModelError
from voc.topics.config import OUTLIER_LABEL, TopicConfig
from voc.topics.labels import make_label, representative_indices
from voc.topics.vectorizer import TopicTokenizer, attach_tokenizer, make_vectorizer

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
VOC_FILE = "voc_topics.json"


def is_saved_model(folder: str | Path) -> bool:
    """True when ``folder`` holds a topic model saved by :meth:`TopicModeler.save`."""
    return (Path(folder) / VOC_FILE).is_file()
DOCS_FILE = "documents.parquet"
_BERTOPIC_FILES = (
    "topics.json",
    "config.json",
    "topic_embeddings.safetensors",
    "ctfidf.safetensors",
    "ctfidf_config.json",
)
_PICKLE_SUFFIXES = (".pkl", ".pickle", ".bin", ".pt", ".pth", ".joblib")
_SIM_CHUNK = 8192


@dataclass(frozen=True)
class TopicInfo:
    """One topic as a CX analyst sees it."""

    topic_id: int
    label: str
    keywords: tuple[str, ...]
    size: int
    representative: tuple[str, ...]
    representative_ids: tuple[str | None, ...] = ()
    auto_label: str = ""
    curated: bool = False


@dataclass
class _Curated:
    """A human decision about a topic: a label and/or a merge, with what identifies it."""

    label: str | None
    parts: list[dict[str, Any]] = field(
        default_factory=list
    )  # [{"centroid": [...], "keywords": [...]}]
    merged: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "parts": self.parts, "merged": self.merged}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> _Curated:
        return cls(
            label=d.get("label"), parts=list(d.get("parts", [])), merged=bool(d.get("merged"))
        )


@contextlib.contextmanager
def _quiet_bertopic() -> Iterator[None]:
    """Hold BERTopic's own logger at ERROR for the duration (its notices about custom topic
    lists and missing embedding models are expected here), then restore it."""
    lg = logging.getLogger("BERTopic")
    old = lg.level
    lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        lg.setLevel(old)


def _normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def best_topic(embeddings: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Closest centroid (cosine) of each row, in chunks (never an n x n matrix)."""
    n = len(embeddings)
    best = np.full(n, -1, np.int64)
    sim = np.full(n, -1.0, np.float32)
    if n == 0 or len(centroids) == 0:
        return best, sim
    c = _normalize(centroids)
    for a in range(0, n, _SIM_CHUNK):
        s = _normalize(embeddings[a : a + _SIM_CHUNK]) @ c.T
        best[a : a + _SIM_CHUNK] = np.argmax(s, axis=1)
        sim[a : a + _SIM_CHUNK] = s[np.arange(len(s)), best[a : a + _SIM_CHUNK]]
    return best, sim


def outlier_threshold(
    member_sims: np.ndarray,
    outlier_best_sims: np.ndarray,
    n_docs: int,
    *,
    max_share: float,
    quantile: float,
    fixed: float | None = None,
) -> float:
    """The similarity above which an HDBSCAN outlier joins its closest topic.

    The strategy, in two steps:

    1. *Looks like a member*: an outlier joins its closest topic (cosine similarity of its
       embedding to the topic centroid) when that similarity is at least what the topic's
       own members reach, i.e. the ``quantile`` (5 %) quantile of the members' similarity
       to their centroid, or ``fixed`` when set (``outlier_similarity``).
    2. *Cap*: if more than ``max_share`` of all complaints would still be outliers, the
       threshold is lowered to the similarity of the last outlier needed to reach
       ``max_share``: the closest outliers join first, the least similar stay unassigned.

    Returns the threshold (``-inf`` when every outlier must join, e.g. ``max_share=0``).
    """
    base = (
        float(fixed)
        if fixed is not None
        else (float(np.quantile(member_sims, quantile)) if len(member_sims) else 1.0)
    )
    n_out = len(outlier_best_sims)
    allowed = int(np.floor(max_share * n_docs + 1e-9))
    if n_out <= allowed:
        return base
    remaining = int(np.sum(outlier_best_sims < base))
    if remaining <= allowed:
        return base
    ordered = np.sort(outlier_best_sims)[::-1]
    must_join = n_out - allowed  # the `must_join` most similar outliers join
    cap = float(ordered[must_join - 1]) if must_join > 0 else float("inf")
    return min(base, cap) if must_join < n_out else float("-inf")


class TopicModeler:
    """BERTopic for Japanese complaints, with voc's defaults and curation.

    Args:
        config: settings (:class:`TopicConfig`); defaults documented there.
        embedding_model: backend with ``embed(texts) -> float32 [n, d]``; default
            :class:`voc.topics.embed.E5Embedder` (the classifier's base encoder, mean-pooled,
            prefix ``"query: "``, cached).
        umap_model: dimensionality reduction with ``fit``/``transform``; default
            ``UMAP(n_neighbors=15, n_components=5, min_dist=0, metric="cosine",
            random_state=seed, n_jobs=1)``.
        hdbscan_model: clustering with ``fit`` and ``labels_``; default
            ``hdbscan.HDBSCAN`` with ``min_cluster_size`` from the config (it scales with
            the number of complaints).
        vectorizer_model: ``CountVectorizer`` for keywords; default
            :func:`voc.topics.vectorizer.make_vectorizer` (voc's fugashi tokenizer).
        tokenizer: the keyword tokenizer (re-attached to the vectorizer after loading);
            default :class:`TopicTokenizer` without user words.
        progress: progress bar while embedding.
    """

    def __init__(
        self,
        config: TopicConfig | None = None,
        embedding_model: Any = None,
        umap_model: Any = None,
        hdbscan_model: Any = None,
        vectorizer_model: Any = None,
        tokenizer: TopicTokenizer | None = None,
        progress: bool = False,
    ) -> None:
        self.config = config or TopicConfig()
        self.tokenizer = tokenizer or TopicTokenizer(
            keep_unknown_words=self.config.keep_unknown_words
        )
        self.embedding_model = embedding_model or self._default_embedder(progress)
        self.umap_model = umap_model
        self.hdbscan_model = hdbscan_model
        self.vectorizer_model = vectorizer_model
        self.progress = progress
        # fitted state
        self.topic_model_: Any = None
        self.model_id_: str | None = None
        self.documents_: list[str] = []
        self.record_ids_: list[str | None] = []
        self.topics_: np.ndarray = np.zeros(0, np.int64)
        self.embeddings_: np.ndarray | None = None
        self.centroids_: np.ndarray = np.zeros((0, 0), np.float32)  # unnormalised member means
        self.corpus_mean_: np.ndarray | None = None
        self.keywords_: dict[int, list[str]] = {}
        self.auto_labels_: dict[int, str] = {}
        self.representative_: dict[int, list[int]] = {}
        self.curation_: dict[int, _Curated] = {}
        self.outlier_threshold_: float | None = None
        self.assign_threshold_: float | None = None
        self.baseline_nofit_share_: float | None = None
        self.fit_stats_: dict[str, Any] = {}
        self.created_at_: str | None = None
        self.last_mapping_: dict[int, int] = {}  # old -> new topic ids of the last merge

    def _default_embedder(self, progress: bool) -> Any:
        from voc.topics.embed import E5Embedder

        c = self.config
        return E5Embedder(
            c.embedding_model,
            prefix=c.embedding_prefix,
            quantize=c.quantize,
            batch_size=c.batch_size,
            max_tokens=c.max_tokens,
            cache_dir=None if c.cache else False,
            progress=progress,
            threads=c.threads,
        )

    def __repr__(self) -> str:
        state = (
            f"{self.n_topics} topics, {len(self.documents_)} docs"
            if self.is_fitted
            else "not fitted"
        )
        return f"TopicModeler({state})"

    # -- small accessors ----------------------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        return self.topic_model_ is not None

    @property
    def n_topics(self) -> int:
        return len(self.centroids_)

    @property
    def topic_ids(self) -> list[int]:
        return list(range(self.n_topics))

    @property
    def outlier_share(self) -> float:
        return float(np.mean(self.topics_ == -1)) if len(self.topics_) else 0.0

    def label_of(self, topic_id: int) -> str:
        """The label shown for ``topic_id`` (curated, else automatic; -1: 未分類)."""
        if topic_id == -1:
            return OUTLIER_LABEL
        cur = self.curation_.get(topic_id)
        if cur is not None and cur.label:
            return cur.label
        return self.auto_labels_.get(topic_id, f"topic {topic_id}")

    @property
    def labels_(self) -> dict[int, str]:
        return {t: self.label_of(t) for t in self.topic_ids}

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise ModelError(
                "E503",
                "the topic model is not fitted",
                hint="Call fit() or load a saved model first",
            )

    # -- fitting ---------------------------------------------------------------------
    def _vectorizer(self) -> Any:
        if self.vectorizer_model is not None:
            return self.vectorizer_model
        c = self.config
        return make_vectorizer(
            self.tokenizer, ngram_max=c.ngram_max, min_bigram_count=c.min_bigram_count
        )

    def _umap(self, n: int, seed: int | None = None) -> Any:
        if self.umap_model is not None:
            return self.umap_model
        from umap import UMAP

        c = self.config
        return UMAP(
            n_neighbors=max(2, min(c.n_neighbors, n - 1)),
            n_components=c.n_components,
            min_dist=0.0,
            metric="cosine",
            random_state=c.seed if seed is None else seed,
            n_jobs=1,
            low_memory=True,
        )

    def _choose_layout(self, emb: np.ndarray, stats: dict[str, Any]) -> Any:
        """The dimensionality reduction to fit with. Of ``layouts`` seeds (``seed``,
        ``seed + 1``, ...), the one whose HDBSCAN partition agrees best (mean adjusted Rand
        index) with the others' partitions, ties to the earliest seed; its UMAP, already
        fitted on ``emb``, is handed to BERTopic as it is (:class:`_Fitted`), so it does not
        run twice. Records the seeds, the choice and the mean pairwise agreement in
        ``stats``. With one layout (or a user's own UMAP or HDBSCAN): the plain UMAP."""
        from itertools import combinations

        from sklearn.metrics import adjusted_rand_score

        c = self.config
        n = len(emb)
        k = c.layouts_for(n)
        if k <= 1 or self.umap_model is not None or self.hdbscan_model is not None:
            return self._umap(n)
        seeds = [c.seed + i for i in range(k)]
        reducers, parts = [], []
        for seed in seeds:
            reducer = self._umap(n, seed)
            with _quiet_bertopic():
                reduced = reducer.fit_transform(emb)
            reducers.append(reducer)
            parts.append(self._hdbscan(n).fit(reduced).labels_)
        agree = np.eye(k)
        for a, b in combinations(range(k), 2):
            agree[a, b] = agree[b, a] = adjusted_rand_score(parts[a], parts[b])
        centrality = (agree.sum(1) - 1) / (k - 1)
        best = int(np.argmax(centrality))  # first of the ties
        stats["layout_seeds"] = seeds
        stats["layout_seed"] = seeds[best]
        stats["layout_agreement"] = round(float(agree[np.triu_indices(k, 1)].mean()), 3)
        return _Fitted(reducers[best])

    def _hdbscan(self, n: int) -> Any:
        if self.hdbscan_model is not None:
            return self.hdbscan_model
        from hdbscan import HDBSCAN

        c = self.config
        return HDBSCAN(
            min_cluster_size=c.topic_size_for(n),
            min_samples=c.samples_for(n),
            max_cluster_size=c.max_size_for(n),
            metric="euclidean",
            cluster_selection_method="eom",
            prediction_data=False,
            core_dist_n_jobs=1,
        )

    def fit(
        self,
        texts: Sequence[str],
        record_ids: Sequence[str | None] | None = None,
        embeddings: np.ndarray | None = None,
    ) -> TopicModeler:
        """Find the topics of ``texts`` (complaints). Returns ``self``.

        Args:
            texts: the complaints (normalised text; see ``voc.text.normalize``).
            record_ids: ids kept with the documents (store record ids), same length.
            embeddings: precomputed ``[n, d]`` vectors; default: the embedding model.

        Raises:
            InputError: E501 when there are too few texts for ``min_topic_size``; E502 when
                no topic was found.
        """
        from bertopic import BERTopic
        from bertopic.vectorizers import ClassTfidfTransformer

        c = self.config
        t0 = time.perf_counter()
        docs = ["" if t is None else str(t) for t in texts]
        n = len(docs)
        ids = list(record_ids) if record_ids is not None else [None] * n
        if len(ids) != n:
            raise InputError("E500", f"{len(ids)} record ids for {n} texts")
        mcs = (
            c.topic_size_for(n)
            if self.hdbscan_model is None
            else getattr(self.hdbscan_model, "min_cluster_size", 2)
        )
        if n < max(2 * mcs, 10):
            raise InputError(
                "E501",
                f"{n} texts are too few for topics of at least {mcs}",
                hint="Give more complaints, or lower --min-topic-size",
            )
        stats: dict[str, Any] = {"n_docs": n, "min_topic_size": int(mcs)}
        if embeddings is None:
            emb = np.asarray(self.embedding_model.embed(docs), dtype=np.float32)
        else:
            emb = np.asarray(embeddings, dtype=np.float32)
            if emb.shape[0] != n:
                raise InputError("E500", f"{emb.shape[0]} embeddings for {n} texts")
        stats["seconds_embed"] = round(time.perf_counter() - t0, 2)
        if hasattr(self.embedding_model, "unload") and n > 20000:
            self.embedding_model.unload()  # the encoder is not needed during UMAP/HDBSCAN
        t1 = time.perf_counter()
        reducer = self._choose_layout(emb, stats)
        vec = self._vectorizer()
        ctfidf = ClassTfidfTransformer(reduce_frequent_words=c.reduce_frequent_words)
        bt = BERTopic(
            language="multilingual",
            embedding_model=self.embedding_model,
            umap_model=reducer,
            hdbscan_model=self._hdbscan(n),
            vectorizer_model=vec,
            ctfidf_model=ctfidf,
            top_n_words=c.top_n_words,
            min_topic_size=int(mcs),
            calculate_probabilities=False,
            verbose=False,
        )
        with _quiet_bertopic():
            raw_topics, _ = bt.fit_transform(docs, emb)
        stats["seconds_cluster"] = round(time.perf_counter() - t1, 2)
        topics = np.asarray(raw_topics, dtype=np.int64)
        stats["hdbscan_topics"] = len(set(topics.tolist()) - {-1})
        stats["hdbscan_outlier_share"] = round(float(np.mean(topics == -1)), 4)
        if stats["hdbscan_topics"] == 0:
            raise InputError(
                "E502",
                f"no topic was found in {n} texts (everything is an outlier)",
                hint="Lower --min-topic-size, or check that the texts are complaints with content",
            )
        self.topic_model_ = bt
        self.documents_ = docs
        self.record_ids_ = ids
        self.embeddings_ = emb
        self.corpus_mean_ = emb.mean(axis=0)

        t2 = time.perf_counter()
        if c.max_topics is not None and stats["hdbscan_topics"] > c.max_topics:
            topics = self._merge_to_n(topics, emb, c.max_topics)
        topics = self._reduce_outliers(docs, topics, emb, stats)
        self._apply_topics(topics, emb)
        self.assign_threshold_ = (
            float(c.assign_similarity)
            if c.assign_similarity is not None
            else self.outlier_threshold_
        )
        _, best_sim = best_topic(emb, self.centroids_)
        thr = self.assign_threshold_ if self.assign_threshold_ is not None else -np.inf
        self.baseline_nofit_share_ = round(float(np.mean(best_sim < thr)), 4)
        stats["seconds_topics"] = round(time.perf_counter() - t2, 2)
        stats["n_topics"] = self.n_topics
        stats["outlier_share"] = round(self.outlier_share, 4)
        stats["seconds_total"] = round(time.perf_counter() - t0, 2)
        self.fit_stats_ = stats
        self.created_at_ = datetime.now().isoformat(timespec="seconds")
        self.model_id_ = self._make_model_id()
        logger.info(
            "%d topics in %d complaints; %.1f %% unassigned (HDBSCAN alone: %.1f %%)",
            self.n_topics,
            n,
            100 * self.outlier_share,
            100 * stats["hdbscan_outlier_share"],
        )
        return self

    def fit_transform(
        self,
        texts: Sequence[str],
        record_ids: Sequence[str | None] | None = None,
        embeddings: np.ndarray | None = None,
    ) -> np.ndarray:
        """:meth:`fit`, then the topic of each text (``-1``: unassigned)."""
        return self.fit(texts, record_ids, embeddings).topics_.copy()

    def _make_model_id(self) -> str:
        h = hashlib.sha256()
        h.update(json.dumps(self.config.to_dict(), sort_keys=True, default=str).encode())
        h.update(
            str(
                getattr(self.embedding_model, "model_key", type(self.embedding_model).__name__)
            ).encode()
        )
        for d in self.documents_:
            h.update(hashlib.sha256(d.encode("utf-8", "surrogatepass")).digest())
        return "topics-" + h.hexdigest()[:12]

    def _reduce_outliers(
        self, docs: list[str], topics: np.ndarray, emb: np.ndarray, stats: dict[str, Any]
    ) -> np.ndarray:
        """Reassign HDBSCAN outliers (see :func:`outlier_threshold`) with BERTopic's
        ``reduce_outliers(strategy="embeddings")``."""
        c = self.config
        k = int(topics.max()) + 1
        sums = np.zeros((k, emb.shape[1]), np.float64)
        np.add.at(sums, topics[topics >= 0], emb[topics >= 0])
        cents = sums / np.maximum(np.bincount(topics[topics >= 0], minlength=k), 1)[:, None]
        members = np.flatnonzero(topics >= 0)
        cn = _normalize(cents)
        member_sims = (
            np.concatenate(
                [
                    np.sum(
                        _normalize(emb[members[a : a + _SIM_CHUNK]])
                        * cn[topics[members[a : a + _SIM_CHUNK]]],
                        axis=1,
                    )
                    for a in range(0, len(members), _SIM_CHUNK)
                ]
            )
            if len(members)
            else np.zeros(0, np.float32)
        )
        out = np.flatnonzero(topics == -1)
        _, out_best = best_topic(emb[out], cents)
        thr = outlier_threshold(
            member_sims,
            out_best,
            len(topics),
            max_share=c.max_outlier_share,
            quantile=c.outlier_quantile,
            fixed=c.outlier_similarity,
        )
        self.outlier_threshold_ = (
            float(thr) if np.isfinite(thr) else float(np.min(out_best, initial=-1.0))
        )
        stats["outlier_threshold"] = round(self.outlier_threshold_, 4)
        if not len(out):
            return topics
        bt = self.topic_model_
        # BERTopic's reduce_outliers compares with topic_embeddings_ (row 0 = outliers)
        bt.topic_embeddings_ = np.vstack([emb[out].mean(axis=0, keepdims=True), cents]).astype(
            np.float32
        )
        with _quiet_bertopic():
            new = np.asarray(
                bt.reduce_outliers(
                    docs,
                    topics.tolist(),
                    strategy="embeddings",
                    embeddings=emb,
                    # a hair below: sklearn's cosine and ours differ in the last float bits
                    threshold=thr - 1e-5 if np.isfinite(thr) else -1.0,
                ),
                dtype=np.int64,
            )
        allowed = int(np.floor(c.max_outlier_share * len(topics) + 1e-9))
        left = np.flatnonzero(new == -1)
        if len(left) > allowed:  # guarantee the cap whatever the rounding
            best, sims = best_topic(emb[left], cents)
            order = np.lexsort((left, -sims))[: len(left) - allowed]
            new[left[order]] = best[order]
        return new

    def _merge_to_n(self, topics: np.ndarray, emb: np.ndarray, n_topics: int) -> np.ndarray:
        """Merge the closest topics (average-linkage on centroid cosine) down to ``n_topics``."""
        from sklearn.cluster import AgglomerativeClustering

        k = int(topics.max()) + 1
        sums = np.zeros((k, emb.shape[1]), np.float64)
        np.add.at(sums, topics[topics >= 0], emb[topics >= 0])
        groups = AgglomerativeClustering(
            n_clusters=n_topics, metric="cosine", linkage="average"
        ).fit_predict(_normalize(sums))
        mapping = np.asarray(groups, dtype=np.int64)
        return np.where(topics >= 0, mapping[np.maximum(topics, 0)], -1)

    def _apply_topics(
        self,
        topics: np.ndarray,
        emb: np.ndarray | None,
        centroids: np.ndarray | None = None,
        remap: Mapping[int, int] | None = None,
    ) -> dict[int, int]:
        """Make ``topics`` the model's assignment: ids renumbered 0..k-1 by size (ties by
        old id), c-TF-IDF keywords recomputed by BERTopic's ``update_topics``, centroids,
        labels and representatives refreshed. Returns the old -> new id mapping."""
        c = self.config
        old_ids = sorted(set(topics.tolist()) - {-1})
        sizes = {t: int(np.sum(topics == t)) for t in old_ids}
        order = sorted(old_ids, key=lambda t: (-sizes[t], t))
        mapping = {old: new for new, old in enumerate(order)}
        lut = np.full(max(old_ids, default=-1) + 2, -1, np.int64)
        for old, new in mapping.items():
            lut[old] = new
        topics = np.where(topics >= 0, lut[np.maximum(topics, 0)], -1)
        k = len(order)
        # centroids: unnormalised member means (exact under merges without the embeddings)
        if emb is not None:
            sums = np.zeros((k, emb.shape[1]), np.float64)
            np.add.at(sums, topics[topics >= 0], emb[topics >= 0])
            cents = (
                sums / np.maximum(np.bincount(topics[topics >= 0], minlength=k), 1)[:, None]
            ).astype(np.float32)
        else:
            assert centroids is not None
            cents = np.zeros((k, centroids.shape[1]), np.float32)
            for old, new in mapping.items():
                cents[new] = centroids[old]
        bt = self.topic_model_
        keep_emb_model = bt.embedding_model
        bt.embedding_model = None  # update_topics would embed keywords to build topic vectors
        try:
            with _quiet_bertopic():
                bt.update_topics(
                    self.documents_,
                    topics=topics.tolist(),
                    top_n_words=c.top_n_words,
                    vectorizer_model=bt.vectorizer_model,
                    ctfidf_model=bt.ctfidf_model,
                )
        finally:
            bt.embedding_model = keep_emb_model
        has_out = bool(np.any(topics == -1))
        if has_out:
            out_mean = (
                emb[topics == -1].mean(axis=0, keepdims=True)
                if emb is not None
                else np.zeros((1, cents.shape[1]), np.float32)
            )
            bt.topic_embeddings_ = np.vstack([out_mean, cents]).astype(np.float32)
        else:
            bt.topic_embeddings_ = cents.astype(np.float32)
        self.topics_ = topics
        self.centroids_ = cents
        self.keywords_ = {}
        for t in range(k):
            words = bt.get_topic(t) or []
            self.keywords_[t] = [w for w, score in words if w and score > 0][: c.top_n_words]
        self.auto_labels_ = {
            t: make_label(self.keywords_[t], c.label_words, is_noun=self._is_noun()) or f"topic {t}"
            for t in range(k)
        }
        self._refresh_representatives(emb)
        return mapping

    def _is_noun(self) -> Any:
        is_noun = getattr(self.tokenizer, "is_noun", None)
        return is_noun if callable(is_noun) else None

    def _refresh_representatives(self, emb: np.ndarray | None) -> None:
        c = self.config
        reps: dict[int, list[int]] = {}
        if emb is None:
            # after a merge on a loaded model: rank the former representatives again
            old = self.representative_
            cand = sorted({i for lst in old.values() for i in lst})
            vecs = (
                np.asarray(
                    self.embedding_model.embed([self.documents_[i] for i in cand]), np.float32
                )
                if cand
                else np.zeros((0, self.centroids_.shape[1]), np.float32)
            )
            pos = {i: k for k, i in enumerate(cand)}
            for t in range(self.n_topics):
                members = [i for i in cand if self.topics_[i] == t]
                if not members:
                    reps[t] = []
                    continue
                local = representative_indices(
                    _normalize(vecs[[pos[i] for i in members]]),
                    self.centroids_[t],
                    [self.documents_[i] for i in members],
                    c.n_representative,
                )
                reps[t] = [members[j] for j in local]
        else:
            for t in range(self.n_topics):
                members = np.flatnonzero(self.topics_ == t)
                local = representative_indices(
                    _normalize(emb[members]),
                    self.centroids_[t],
                    [self.documents_[i] for i in members],
                    c.n_representative,
                )
                reps[t] = [int(members[j]) for j in local]
        self.representative_ = reps

    def document_similarity(self) -> np.ndarray:
        """Cosine similarity of each training document to its topic's centroid (NaN for
        -1, and for all when the embeddings are not in memory, e.g. after :meth:`load`)."""
        out = np.full(len(self.topics_), np.nan, np.float64)
        if self.embeddings_ is None or not self.n_topics:
            return out
        cn = _normalize(self.centroids_)
        idx = np.flatnonzero(self.topics_ >= 0)
        for a in range(0, len(idx), _SIM_CHUNK):
            part = idx[a : a + _SIM_CHUNK]
            out[part] = np.sum(_normalize(self.embeddings_[part]) * cn[self.topics_[part]], axis=1)
        return out

    # -- new texts ----------------------------------------------------------------------
    def transform(
        self, texts: Sequence[str], embeddings: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Assign new texts to the saved topics: ``(topic_ids, similarities)``.

        A text joins the topic whose centroid is closest (cosine of e5 embeddings, the
        same rule a loaded BERTopic uses), if the similarity reaches the model's
        ``assign_threshold_``; otherwise it gets ``-1`` (fits no existing topic).
        """
        self._check_fitted()
        docs = ["" if t is None else str(t) for t in texts]
        if not docs:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        emb = np.asarray(
            embeddings if embeddings is not None else self.embedding_model.embed(docs),
            dtype=np.float32,
        )
        best, sim = best_topic(emb, self.centroids_)
        thr = self.assign_threshold_ if self.assign_threshold_ is not None else -np.inf
        best = np.where(sim >= thr, best, -1)
        return best, sim

    # -- curation ------------------------------------------------------------------------
    def _signature(self, t: int) -> dict[str, Any]:
        return {
            "centroid": [float(x) for x in self.centroids_[t]],
            "keywords": list(self.keywords_.get(t, [])),
            "size": int(np.sum(self.topics_ == t)),
        }

    def rename(self, topic_id: int, label: str) -> None:
        """Give ``topic_id`` a human label (kept across refits where the topic matches)."""
        self._check_fitted()
        self._check_ids([topic_id])
        label = str(label).strip()
        if not label:
            raise InputError(
                "E505", "a topic label cannot be empty", hint="Give a short label like 配送・遅延"
            )
        cur = self.curation_.get(topic_id)
        if cur is None:
            self.curation_[topic_id] = _Curated(label=label, parts=[self._signature(topic_id)])
        else:
            cur.label = label

    def merge(self, topic_ids: Sequence[int], label: str | None = None) -> int:
        """Merge topics into one (their complaints, keywords and centroid); returns its id.

        Ids are renumbered by size afterwards, like after a fit. The merged topic keeps
        the first curated label among the merged ones unless ``label`` is given. A refit
        merges the matching topics again.
        """
        self._check_fitted()
        ids = list(dict.fromkeys(int(t) for t in topic_ids))
        if len(ids) < 2:
            raise InputError("E505", "merging needs at least two different topic ids")
        self._check_ids(ids)
        parts: list[dict[str, Any]] = []
        labels = []
        for t in ids:
            cur = self.curation_.pop(t, None)
            if cur is not None:
                parts.extend(cur.parts)
                if cur.label:
                    labels.append(cur.label)
            else:
                parts.append(self._signature(t))
        mapping = self._merge_groups([ids])
        new_id = mapping[ids[0]]
        self.curation_[new_id] = _Curated(
            label=label or (labels[0] if labels else None), parts=parts, merged=True
        )
        return new_id

    def _merge_groups(self, groups: Sequence[Sequence[int]]) -> dict[int, int]:
        """Merge each group of topic ids into its first id, renumber, and carry the
        curation of untouched topics; returns the old -> new id mapping."""
        topics = self.topics_.copy()
        sizes = np.bincount(topics[topics >= 0], minlength=self.n_topics).astype(np.float64)
        cents = self.centroids_.copy()
        for ids in groups:
            total = max(float(sum(sizes[t] for t in ids)), 1.0)
            cents[ids[0]] = (
                sum(self.centroids_[t].astype(np.float64) * sizes[t] for t in ids) / total
            ).astype(np.float32)
            for t in ids[1:]:
                topics[topics == t] = ids[0]
        others = dict(self.curation_)
        mapping = self._apply_topics(topics, self.embeddings_, centroids=cents)
        for ids in groups:  # merged-away ids point to their new topic too
            for t in ids[1:]:
                mapping[t] = mapping[ids[0]]
        self.last_mapping_ = dict(mapping)
        self.curation_ = {mapping[t]: cur for t, cur in others.items() if t in mapping}
        return mapping

    def _check_ids(self, ids: Sequence[int]) -> None:
        bad = [t for t in ids if not 0 <= int(t) < self.n_topics]
        if bad:
            raise InputError(
                "E504",
                f"no topic {', '.join(map(str, bad))} in this model (topics 0-{self.n_topics - 1})",
                hint="See the ids with `voc topics show`",
            )

    def refit(
        self,
        texts: Sequence[str],
        record_ids: Sequence[str | None] | None = None,
        embeddings: np.ndarray | None = None,
    ) -> TopicModeler:
        """Fit a new model on ``texts`` and carry this model's curation to matching topics.

        Returns the new :class:`TopicModeler` (same config, sub-models and tokenizer).
        """
        new = TopicModeler(
            self.config,
            embedding_model=self.embedding_model,
            umap_model=self.umap_model,
            hdbscan_model=self.hdbscan_model,
            vectorizer_model=self.vectorizer_model,
            tokenizer=self.tokenizer,
            progress=self.progress,
        )
        new.fit(texts, record_ids, embeddings)
        new.carry_curation(self)
        return new

    def carry_curation(self, old: TopicModeler) -> dict[int, int]:
        """Apply ``old``'s renames and merges to the matching topics of this model.

        Returns ``{curated item index in old (sorted by old topic id): new topic id}``.
        See :func:`match_curation` for the matching rule. Topics matching a merged item
        are merged again; a renamed item labels its best-matching topic only.
        """
        items = [old.curation_[t] for t in sorted(old.curation_)]
        if not items or not self.n_topics:
            return {}
        matches = match_curation(
            items,
            self.centroids_,
            self.keywords_,
            self.corpus_mean_,
            min_similarity=self.config.match_similarity,
            min_overlap=self.config.match_keyword_overlap,
        )
        groups: dict[int, list[int]] = {}
        for t, item in sorted(matches.items()):
            groups.setdefault(item, []).append(t)
        chosen: dict[int, list[int]] = {}
        for item, ts in groups.items():
            if items[item].merged and len(ts) >= 2:
                chosen[item] = ts
            else:
                best = max(
                    ts,
                    key=lambda x: (
                        _match_score(items[item], self.centroids_[x], self.corpus_mean_),
                        -x,
                    ),
                )
                chosen[item] = [best]
        merge_groups = [ts for ts in chosen.values() if len(ts) >= 2]
        mapping = (
            self._merge_groups(merge_groups) if merge_groups else {t: t for t in self.topic_ids}
        )
        carried: dict[int, int] = {}

        def closeness(i: int) -> tuple[float, int]:
            return (
                -_match_score(items[i], self.centroids_[mapping[chosen[i][0]]], self.corpus_mean_),
                i,
            )

        for item in sorted(chosen, key=closeness):
            t = mapping[chosen[item][0]]
            if t in self.curation_:
                continue  # two curated items on one new topic: the closer one wins
            cur = items[item]
            self.curation_[t] = _Curated(
                label=cur.label, parts=[dict(p) for p in cur.parts], merged=cur.merged
            )
            carried[item] = t
        return carried

    # -- reporting -------------------------------------------------------------------
    def topic_info(self) -> list[TopicInfo]:
        """Every topic (largest first) with label, keywords, size and verbatims."""
        self._check_fitted()
        sizes = np.bincount(self.topics_[self.topics_ >= 0], minlength=self.n_topics)
        out = []
        for t in self.topic_ids:
            reps = self.representative_.get(t, [])
            cur = self.curation_.get(t)
            out.append(
                TopicInfo(
                    topic_id=t,
                    label=self.label_of(t),
                    keywords=tuple(self.keywords_.get(t, [])),
                    size=int(sizes[t]),
                    representative=tuple(self.documents_[i] for i in reps),
                    representative_ids=tuple(self.record_ids_[i] for i in reps),
                    auto_label=self.auto_labels_.get(t, ""),
                    curated=bool(cur and cur.label),
                )
            )
        return out

    def topic_table(self) -> Any:
        """:meth:`topic_info` as a pandas DataFrame (plus a row for -1 when present)."""
        import pandas as pd

        rows = [
            {
                "topic_id": i.topic_id,
                "label": i.label,
                "size": i.size,
                "keywords": list(i.keywords),
                "representative": list(i.representative),
                "curated": i.curated,
            }
            for i in self.topic_info()
        ]
        n_out = int(np.sum(self.topics_ == -1))
        if n_out:
            rows.append(
                {
                    "topic_id": -1,
                    "label": OUTLIER_LABEL,
                    "size": n_out,
                    "keywords": [],
                    "representative": [],
                    "curated": False,
                }
            )
        return pd.DataFrame(rows)

    def document_table(self) -> Any:
        """One row per training document: text, record_id, topic_id, topic_label."""
        import pandas as pd

        return pd.DataFrame(
            {
                "record_id": self.record_ids_,
                "text": self.documents_,
                "topic_id": self.topics_.astype(np.int64),
                "topic_label": [self.label_of(int(t)) for t in self.topics_],
            }
        )

    # -- persistence -----------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Save to a folder: BERTopic's safetensors files (topic embeddings = centroids,
        c-TF-IDF and its vectorizer config, no embedding model), ``voc_topics.json``
        (labels, keywords, curation, thresholds, config, versions) and
        ``documents.parquet`` (the complaints the topics were fitted on). No pickles."""
        self._check_fitted()
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        for p in folder.iterdir():
            if p.suffix in _PICKLE_SUFFIXES:
                p.unlink()  # a stale pickle from elsewhere must not sit next to our files
        bt = self.topic_model_
        with _quiet_bertopic():
            bt.save(
                str(folder),
                serialization="safetensors",
                save_ctfidf=True,
                save_embedding_model=False,
            )
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(
            pa.table(
                {
                    "text": pa.array(self.documents_, pa.string()),
                    "record_id": pa.array(self.record_ids_, pa.string()),
                    "topic_id": pa.array(self.topics_.astype(np.int32), pa.int32()),
                }
            ),
            folder / DOCS_FILE,
        )
        meta = {
            "format_version": FORMAT_VERSION,
            "model_id": self.model_id_,
            "created_at": self.created_at_,
            "saved_at": datetime.now().isoformat(timespec="seconds"),
            "versions": _versions(),
            "config": self.config.to_dict(),
            "tokenizer": self.tokenizer.to_dict(),
            "embedding": _describe(self.embedding_model),
            "min_bigram_count": int(getattr(bt.vectorizer_model, "min_bigram_count", 1)),
            "outlier_threshold": self.outlier_threshold_,
            "assign_threshold": self.assign_threshold_,
            "baseline_nofit_share": self.baseline_nofit_share_,
            "fit_stats": self.fit_stats_,
            "corpus_mean": None
            if self.corpus_mean_ is None
            else [float(x) for x in self.corpus_mean_],
            "topics": [
                {
                    "topic_id": t,
                    "label": self.label_of(t),
                    "auto_label": self.auto_labels_.get(t, ""),
                    "keywords": self.keywords_.get(t, []),
                    "size": int(np.sum(self.topics_ == t)),
                    "representative": self.representative_.get(t, []),
                }
                for t in self.topic_ids
            ],
            "curation": {str(t): cur.to_dict() for t, cur in sorted(self.curation_.items())},
        }
        tmp = folder / (VOC_FILE + ".tmp")
        tmp.write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
        tmp.replace(folder / VOC_FILE)
        return folder

    @classmethod
    def load(
        cls, path: str | Path, embedding_model: Any = None, progress: bool = False
    ) -> TopicModeler:
        """Load a folder written by :meth:`save`; voc's tokenizer is re-attached to the
        vectorizer (BERTopic's safetensors format drops it). Pickles are refused."""
        from bertopic import BERTopic

        folder = Path(path)
        if folder.is_file():
            raise ModelError(
                "E506",
                "a topic model is a folder; single files (pickles) are not loaded",
                path=str(folder),
                hint="Save the model with voc (`voc topics fit`), which writes safetensors + JSON",
            )
        if not folder.is_dir():
            raise ModelError(
                "E507",
                "the topic model folder does not exist",
                path=str(folder),
                hint="Fit one first: voc topics fit",
            )
        pickles = sorted(p.name for p in folder.iterdir() if p.suffix in _PICKLE_SUFFIXES)
        if pickles:
            raise ModelError(
                "E506",
                f"the folder holds pickle files ({', '.join(pickles)}); voc does not load pickles",
                path=str(folder),
                hint="Delete them and fit again with `voc topics fit`",
            )
        missing = [f for f in (VOC_FILE, DOCS_FILE, *_BERTOPIC_FILES) if not (folder / f).is_file()]
        if missing:
            raise ModelError(
                "E507",
                f"the topic model folder is incomplete (missing {', '.join(missing)})",
                path=str(folder),
                hint="Fit the model again with `voc topics fit`",
            )
        meta = json.loads((folder / VOC_FILE).read_text("utf-8"))
        if int(meta.get("format_version", 0)) > FORMAT_VERSION:
            logger.warning(
                "%s was written by a newer voc (format %s); loading it anyway",
                folder,
                meta.get("format_version"),
            )
        config = TopicConfig.from_mapping(meta.get("config", {}))
        tokenizer = TopicTokenizer.from_dict(meta.get("tokenizer", {}))
        tm = cls(config, embedding_model=embedding_model, tokenizer=tokenizer, progress=progress)
        with _quiet_bertopic():
            bt = BERTopic.load(str(folder), embedding_model=tm.embedding_model)
        bt.vectorizer_model = attach_tokenizer(
            bt.vectorizer_model, tokenizer, int(meta.get("min_bigram_count", 1))
        )
        tm.topic_model_ = bt
        import pyarrow.parquet as pq

        docs = pq.read_table(folder / DOCS_FILE).to_pydict()
        tm.documents_ = [t or "" for t in docs["text"]]
        tm.record_ids_ = list(docs["record_id"])
        tm.topics_ = np.asarray(docs["topic_id"], dtype=np.int64)
        emb = np.asarray(bt.topic_embeddings_, dtype=np.float32)
        tm.centroids_ = emb[1:] if -1 in set(tm.topics_.tolist()) else emb
        topics_meta = sorted(meta.get("topics", []), key=lambda d: d["topic_id"])
        if len(topics_meta) != len(tm.centroids_):
            raise ModelError(
                "E507",
                "voc_topics.json and topic_embeddings.safetensors disagree",
                path=str(folder),
                hint="Fit the model again",
            )
        tm.keywords_ = {d["topic_id"]: list(d.get("keywords", [])) for d in topics_meta}
        tm.auto_labels_ = {
            d["topic_id"]: d.get("auto_label") or d.get("label", "") for d in topics_meta
        }
        tm.representative_ = {
            d["topic_id"]: [int(i) for i in d.get("representative", [])] for d in topics_meta
        }
        tm.curation_ = {int(k): _Curated.from_dict(v) for k, v in meta.get("curation", {}).items()}
        tm.outlier_threshold_ = meta.get("outlier_threshold")
        tm.assign_threshold_ = meta.get("assign_threshold")
        tm.baseline_nofit_share_ = meta.get("baseline_nofit_share")
        tm.fit_stats_ = dict(meta.get("fit_stats", {}))
        cm = meta.get("corpus_mean")
        tm.corpus_mean_ = None if cm is None else np.asarray(cm, np.float32)
        tm.model_id_ = meta.get("model_id")
        tm.created_at_ = meta.get("created_at")
        saved_key = (meta.get("embedding") or {}).get("model_key")
        now_key = (
            getattr(tm.embedding_model, "model_key", None) if embedding_model is None else None
        )
        if saved_key and now_key and saved_key != now_key:
            logger.warning(
                "the topic model was fitted with embeddings %s, now %s: assignments may drift; "
                "refit with `voc topics refit`",
                saved_key,
                now_key,
            )
        return tm


class _Fitted:
    """A UMAP already fitted on the embeddings BERTopic is about to fit on: ``fit`` keeps
    it, ``transform`` of those same embeddings returns its layout (UMAP recognises its
    training data and returns ``embedding_``)."""

    def __init__(self, reducer: Any) -> None:
        self.reducer = reducer

    def fit(self, X: Any, y: Any = None) -> _Fitted:  # noqa: N803 - scikit-learn's names
        return self

    def transform(self, X: Any) -> Any:  # noqa: N803
        return self.reducer.transform(X)


def _match_score(cur: _Curated, centroid: np.ndarray, mean: np.ndarray | None) -> float:
    best = -1.0
    for part in cur.parts:
        best = max(best, _centred_cos(np.asarray(part["centroid"], np.float32), centroid, mean))
    return best


def _centred_cos(a: np.ndarray, b: np.ndarray, mean: np.ndarray | None) -> float:
    """Cosine of two centroids after removing the corpus mean (e5 vectors share a large
    common direction, so raw cosines of unrelated topics are already ~0.8)."""
    if mean is not None:
        a = a - mean
        b = b - mean
    return float(np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))


def _jaccard(a: Sequence[str], b: Sequence[str]) -> float:
    sa, sb = set(a), set(b)
    return len(sa & sb) / len(sa | sb) if sa | sb else 0.0


def match_curation(
    items: Sequence[_Curated],
    centroids: np.ndarray,
    keywords: Mapping[int, Sequence[str]],
    corpus_mean: np.ndarray | None,
    *,
    min_similarity: float,
    min_overlap: float,
) -> dict[int, int]:
    """Which curated item each new topic inherits: ``{new topic id: item index}``.

    A new topic matches a curated item when, for one of the item's parts (a merged
    topic has one part per original topic), the centred cosine similarity of the
    centroids is at least ``min_similarity`` or the Jaccard overlap of the top keywords
    is at least ``min_overlap``. A topic goes to the item it matches best (similarity
    first, overlap to break ties). Several new topics may match a merged item (they are
    merged again); for a renamed topic only the best match keeps the label.

    A broad topic may be laid out differently by a refit (another seed, or embeddings that
    differ in the last digits on another CPU) and then reach neither bar. The items that
    matched nothing are then paired with the topics that inherited nothing, most similar
    pair first (greedy), each item and each topic at most once, when their similarity is
    at least ``MUTUAL_MATCH_FLOOR``: an item's best topic, unless a more similar item took
    it first, then its next best. An item that already has a topic does not take part, so
    it cannot block another (a merged item whose part resembles a topic that a renamed one
    needs).
    """
    if not len(centroids):
        return {}
    sims = np.full((len(items), len(centroids)), -1.0)  # best part of item k vs new topic t
    out: dict[int, int] = {}
    for t in range(len(centroids)):
        best: tuple[float, float, int] | None = None
        for k, cur in enumerate(items):
            for part in cur.parts:
                sim = _centred_cos(
                    np.asarray(part["centroid"], np.float32), centroids[t], corpus_mean
                )
                sims[k, t] = max(sims[k, t], sim)
                ov = _jaccard(part.get("keywords", []), keywords.get(t, []))
                if sim >= min_similarity or ov >= min_overlap:
                    cand = (sim, ov, -k)
                    if best is None or cand > best:
                        best = cand
        if best is not None:
            out[t] = -best[2]
    # the rest: most similar (item, topic) pairs first, each item and topic used once, so
    # an item that already has its topic never blocks another from its best remaining one
    matched = set(out.values())
    pairs = sorted(
        (
            (-float(sims[k, t]), k, t)
            for k in range(len(items))
            if k not in matched
            for t in range(len(centroids))
            if t not in out and sims[k, t] >= MUTUAL_MATCH_FLOOR
        ),
    )
    for _, k, t in pairs:
        if k not in matched and t not in out:
            out[t] = k
            matched.add(k)
    return out


#: the lowest centroid similarity at which an unmatched curated item is still paired with
#: a topic in a refit (see :func:`match_curation`)
MUTUAL_MATCH_FLOOR = 0.7


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for pkg in (
        "voc",
        "bertopic",
        "umap-learn",
        "hdbscan",
        "scikit-learn",
        "torch",
        "transformers",
        "fugashi",
        "unidic-lite",
    ):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            continue
    return out


def _describe(model: Any) -> dict[str, Any]:
    if hasattr(model, "describe"):
        try:
            return dict(model.describe())
        except Exception:  # describing must never break saving
            logger.debug("embedding model could not describe itself", exc_info=True)
    return {"class": type(model).__name__}


__all__ = [
    "OUTLIER_LABEL",
    "TopicInfo",
    "TopicModeler",
    "best_topic",
    "match_curation",
    "outlier_threshold",
]
