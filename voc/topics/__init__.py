"""Complaint topics for Japanese feedback (BERTopic with voc's tokenizer and embeddings).

>>> from voc.topics import TopicModeler, TopicConfig   # doctest: +SKIP
>>> tm = TopicModeler(TopicConfig(seed=42)).fit(complaints)
>>> tm.save("voc_topics")
"""

from __future__ import annotations

from voc.topics.config import OUTLIER_LABEL, TopicConfig
from voc.topics.model import TopicInfo, TopicModeler

__all__ = ["OUTLIER_LABEL", "TopicConfig", "TopicInfo", "TopicModeler"]
