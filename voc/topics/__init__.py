"""Complaint topics for Japanese feedback (BERTopic with voc's tokenizer and embeddings).

>>> from voc.topics import TopicConfig, TopicModeler   # doctest: +SKIP
>>> tm = TopicModeler(TopicConfig(seed=42)).fit(complaints)
>>> tm.save("voc_topics")

The names are imported on first use, so ``voc --help`` does not pay for scikit-learn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from voc.topics.config import OUTLIER_LABEL, TopicConfig
    from voc.topics.model import TopicInfo, TopicModeler

__all__ = ["OUTLIER_LABEL", "TopicConfig", "TopicInfo", "TopicModeler"]


def __getattr__(name: str) -> Any:
    if name in ("OUTLIER_LABEL", "TopicConfig"):
        from voc.topics import config

        return getattr(config, name)
    if name in ("TopicInfo", "TopicModeler"):
        from voc.topics import model

        return getattr(model, name)
    raise AttributeError(f"module 'voc.topics' has no attribute {name!r}")
