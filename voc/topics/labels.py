"""Short Japanese topic labels from keywords, and representative verbatims.

>>> make_label(["配送 遅延", "到着", "配送", "箱"])
'配送・遅延・到着'
>>> make_label(["レジ", "待ち", "レジ 待ち", "店員"], n_words=2)
'レジ・待ち'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

SEPARATOR = "・"


def make_label(
    keywords: Sequence[str],
    n_words: int = 3,
    is_noun: Callable[[str], bool] | None = None,
) -> str:
    """The first ``n_words`` distinct words of the keywords, joined by 「・」.

    A bigram keyword (「配送 遅延」) contributes its two words, so a label never repeats a
    word and reads like the issue's example 「配送・遅延・到着」. When ``is_noun`` says both
    words of a bigram are nouns of two or more characters, the bigram is one compound
    instead (「スマート フォン」 -> 「スマートフォン」, 「営業 利益」 -> 「営業利益」), replacing its
    parts if they came earlier; one-character parts (増, 前, 比) are never glued on.

    >>> make_label(["機器", "フォン", "スマート フォン", "需要"], is_noun=lambda w: True)
    '機器・スマートフォン・需要'
    """
    words: list[str] = []
    for kw in keywords:
        parts = [w for w in str(kw).split() if w]
        if (
            len(parts) == 2
            and is_noun is not None
            and all(len(p) >= 2 and is_noun(p) for p in parts)
        ):
            if any(p in w for p in parts for w in words if len(w) > len(p)):
                continue  # 「セグメント利益」 chosen: 「セグメント 損失」 adds nothing new
            compound = "".join(parts)
            words = [w for w in words if w not in parts]
            if compound not in words:
                words.append(compound)
        else:
            for w in parts:
                if w not in words and not any(w in c and c != w for c in words):
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
