"""Japanese text: normalization, PII masking, sentence splitting, tokenization."""

from __future__ import annotations

from voc.text.normalize import Normalized, NormalizeConfig, Normalizer, normalize, split_sentences
from voc.text.pii import PiiMasker
from voc.text.tokenize import JapaneseTokenizer, Token

__all__ = [
    "JapaneseTokenizer",
    "Normalized",
    "NormalizeConfig",
    "Normalizer",
    "PiiMasker",
    "Token",
    "normalize",
    "split_sentences",
]
