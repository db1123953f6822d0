"""A compact set of ids seen in a dump, to number duplicates (``id``, ``id~2`` ...).

Ids are kept as 8-byte hashes: a 16 MB Bloom filter answers "never seen" (almost every
row) in well under a microsecond, and a few sorted NumPy arrays answer exactly when the
filter says "maybe". A dump of ten million rows costs about 16 MB + 80 MB here instead of
a gigabyte of Python strings.
"""

from __future__ import annotations

import bisect
import hashlib

import numpy as np

_BLOOM_BITS = 1 << 27  # 16 MB
_MASK = _BLOOM_BITS - 1


def _hash(key: str) -> int:
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


class SeenIds:
    """``occurrence(key)`` returns 1 the first time a key is seen, 2 the second time ..."""

    def __init__(self, buffer: int = 65536) -> None:
        self._bloom = bytearray(_BLOOM_BITS // 8)
        self._runs: list[np.ndarray] = []
        self._buffer: set[int] = set()
        self._buffer_size = buffer
        self._dups: dict[int, int] = {}

    def _bits(self, h: int) -> tuple[int, int, int]:
        return h & _MASK, (h >> 21) & _MASK, (h >> 37) & _MASK

    def _maybe(self, h: int) -> bool:
        bloom = self._bloom
        return all(bloom[b >> 3] & (1 << (b & 7)) for b in self._bits(h))

    def _contains(self, h: int) -> bool:
        if h in self._buffer:
            return True
        for run in self._runs:
            i = bisect.bisect_left(run, h)  # type: ignore[arg-type]
            if i < len(run) and int(run[i]) == h:
                return True
        return False

    def occurrence(self, key: str) -> int:
        h = _hash(key)
        if self._maybe(h) and self._contains(h):
            n = self._dups.get(h, 1) + 1
            self._dups[h] = n
            return n
        for b in self._bits(h):
            self._bloom[b >> 3] |= 1 << (b & 7)
        self._buffer.add(h)
        if len(self._buffer) >= self._buffer_size:
            self._flush()
        return 1

    def _flush(self) -> None:
        run = np.array(sorted(self._buffer), dtype=np.uint64)
        self._buffer.clear()
        self._runs.append(run)
        while len(self._runs) > 1 and len(self._runs[-1]) * 2 >= len(self._runs[-2]):
            b = self._runs.pop()
            a = self._runs.pop()
            self._runs.append(np.union1d(a, b))

    def __len__(self) -> int:
        return len(self._buffer) + sum(len(r) for r in self._runs)
