"""Short Japanese topic labels from keywords, and representative verbatims.

>>> make_label(["配送 遅延", "到着", "配送", "箱"])
'配送・遅延・到着'
>>> make_label(["レジ", "待ち", "レジ 待ち", "店員"], n_words=2)
'レジ・待ち'
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SEPARATOR = "・"


def make_label(keywords: Sequence[str], n_words: int = 3) -> str:
    """The first ``n_words`` distinct words of the keywords, joined by 「・」.

    A bigram keyword (「配送 遅延」) contributes its two words, so a label never repeats a
    word and reads like the issue's example 「配送・遅延・到着」.
    """
    words: list[str] = []
    for kw in keywords:
        for w in str(kw).split():
            if w and w not in words:
                words.append(w)
        if len(words) >= n_words:
            break
    return SEPARATOR.join(words[:n_words])


def representative_indices(
    doc_vectors: np.ndarray,
    centroid: np.ndarray,
    texts: Sequence[str],
    n: int = 5,
) -> list[int]:
    """Positions (into ``doc_vectors``) of the ``n`` texts closest to the topic centroid.

    Distinct texts only (a copy-pasted complaint appears once); ties are broken by
    position, so the choice is deterministic.
    """
    if len(doc_vectors) == 0:
        return []
    c = centroid / max(float(np.linalg.norm(centroid)), 1e-12)
    sims = doc_vectors @ c
    order = np.lexsort((np.arange(len(sims)), -sims))
    chosen: list[int] = []
    seen: set[str] = set()
    for i in order:
        key = texts[int(i)].strip()
        if not key or key in seen:
            continue
        seen.add(key)
        chosen.append(int(i))
        if len(chosen) >= n:
            break
    return chosen
