"""voc: voice-of-customer analysis for Japanese text.

The pipeline reads customer feedback dumps, normalizes and tokenizes them (fugashi +
unidic-lite), scores sentiment and emotion, clusters complaints into topics and stores
everything in an embedded DuckDB database that the Streamlit explorer reads.
"""

from __future__ import annotations

__version__ = "0.1.0"
