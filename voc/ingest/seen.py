"""The ids seen in a dump, to number duplicates (``id``, ``id~2`` ...) and say where an id
was first seen ("also on row 12").

Memory stays flat whatever the dump size. Each id is an 8-byte hash kept with an 8-byte
code of the row (and sheet) where it first appeared:

* a fixed 16 MB Bloom filter answers "never seen" (almost every row) in well under a
  microsecond;
* the latest 65,536 ids sit in a dict;
* older ids are written to sorted runs in a temporary folder (one pair of files per run,
  merged two by two in fixed-size blocks so that there are only a few) and searched
  through a memory map only when the filter says "maybe".

A dump of ten million rows keeps ~160 MB of runs on disk instead of growing the process by
as much (an earlier in-memory version grew a million-row run by ~75 MB).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import weakref
from pathlib import Path

import numpy as np

_BLOOM_BITS = 1 << 27  # 16 MB
_MASK = _BLOOM_BITS - 1
_ROW_BITS = 40  # a code is (sheet number << 40) | row
_MERGE_BLOCK = 1 << 18  # entries read per side at a time while merging two runs (4 MB)


def _hash(key: str) -> int:
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


class _Run:
    """A sorted run of (hash, code) pairs in two files of ``n`` little-endian 8-byte values."""

    def __init__(self, keys_path: Path, codes_path: Path, n: int) -> None:
        self.keys_path, self.codes_path, self.n = keys_path, codes_path, n
        self._keys: np.ndarray | None = None
        self._codes: np.ndarray | None = None

    def find(self, h: int) -> int | None:
        """The code stored for hash ``h``, or None."""
        if self._keys is None:
            self._keys = np.memmap(self.keys_path, dtype="<u8", mode="r", shape=(self.n,))
            self._codes = np.memmap(self.codes_path, dtype="<i8", mode="r", shape=(self.n,))
        i = int(np.searchsorted(self._keys, np.uint64(h)))
        if i < self.n and int(self._keys[i]) == h:
            return int(self._codes[i])  # type: ignore[index]
        return None

    def read(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Entries ``start:stop`` read from the files (not mapped: a merge reads every page)."""
        count = stop - start
        keys = np.fromfile(self.keys_path, dtype="<u8", count=count, offset=start * 8)
        codes = np.fromfile(self.codes_path, dtype="<i8", count=count, offset=start * 8)
        return keys, codes

    def delete(self) -> None:
        self._keys = self._codes = None
        self.keys_path.unlink(missing_ok=True)
        self.codes_path.unlink(missing_ok=True)


class SeenIds:
    """``see(key, row, sheet)`` returns ``(1, None)`` the first time a key is seen, then
    ``(2, (first_row, first_sheet))``, ``(3, ...)`` ...

    Args:
        buffer: ids held in memory before they are written to a run.
        folder: where runs go (default: the system's temporary folder); a subfolder is
            made on the first flush and removed (``weakref.finalize``) when this object goes away
            or the interpreter exits.
    """

    def __init__(self, buffer: int = 65536, folder: str | Path | None = None) -> None:
        self._bloom = bytearray(_BLOOM_BITS // 8)
        self._buffer: dict[int, int] = {}
        self._buffer_size = max(1, buffer)
        self._runs: list[_Run] = []
        self._dups: dict[int, int] = {}
        self._sheets: dict[str, int] = {}
        self._folder = folder
        self._dir: Path | None = None
        self._files = 0

    # -- the one call the record builder makes ---------------------------------------
    def see(self, key: str, row: int, sheet: str | None = None) -> tuple[int, tuple[int, str | None] | None]:
        h = _hash(key)
        if self._maybe(h):
            code = self._find(h)
            if code is not None:
                n = self._dups.get(h, 1) + 1
                self._dups[h] = n
                return n, self._decode(code)
        for b in self._bits(h):
            self._bloom[b >> 3] |= 1 << (b & 7)
        s = self._sheets.setdefault(sheet or "", len(self._sheets))
        self._buffer[h] = (s << _ROW_BITS) | (row & ((1 << _ROW_BITS) - 1))
        if len(self._buffer) >= self._buffer_size:
            self._flush()
        return 1, None

    def __len__(self) -> int:
        return len(self._buffer) + sum(r.n for r in self._runs)

    @property
    def runs(self) -> int:
        """Sorted runs on disk (a few: they are merged two by two)."""
        return len(self._runs)

    # -- internals --------------------------------------------------------------------
    def _bits(self, h: int) -> tuple[int, int, int]:
        return h & _MASK, (h >> 21) & _MASK, (h >> 37) & _MASK

    def _maybe(self, h: int) -> bool:
        bloom = self._bloom
        return all(bloom[b >> 3] & (1 << (b & 7)) for b in self._bits(h))

    def _find(self, h: int) -> int | None:
        code = self._buffer.get(h)
        if code is not None:
            return code
        for run in self._runs:
            code = run.find(h)
            if code is not None:
                return code
        return None

    def _decode(self, code: int) -> tuple[int, str | None]:
        names = {v: k for k, v in self._sheets.items()}
        return code & ((1 << _ROW_BITS) - 1), names.get(code >> _ROW_BITS) or None

    def _new_paths(self) -> tuple[Path, Path]:
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="voc-ids-", dir=self._folder))
            weakref.finalize(self, shutil.rmtree, str(self._dir), True)
        self._files += 1
        return self._dir / f"{self._files}.keys", self._dir / f"{self._files}.codes"

    def _flush(self) -> None:
        keys = np.fromiter(self._buffer.keys(), dtype="<u8", count=len(self._buffer))
        codes = np.fromiter(self._buffer.values(), dtype="<i8", count=len(self._buffer))
        self._buffer.clear()
        order = np.argsort(keys, kind="stable")
        kp, cp = self._new_paths()
        keys[order].tofile(kp)
        codes[order].tofile(cp)
        self._runs.append(_Run(kp, cp, len(keys)))
        while len(self._runs) > 1 and self._runs[-1].n * 2 >= self._runs[-2].n:
            b, a = self._runs.pop(), self._runs.pop()
            self._runs.append(self._merge(a, b))

    def _merge(self, a: _Run, b: _Run) -> _Run:
        """One sorted run from two, ``_MERGE_BLOCK`` entries of each in memory at a time.

        Each round takes the next block of both runs, cuts both at the smaller of the two
        blocks' last keys (everything after the cut is larger than everything before it)
        and writes the sorted union of what comes before the cut."""
        kp, cp = self._new_paths()
        i = j = 0
        with open(kp, "wb") as kf, open(cp, "wb") as cf:
            while i < a.n or j < b.n:
                ka, ca = a.read(i, min(i + _MERGE_BLOCK, a.n))
                kb, cb = b.read(j, min(j + _MERGE_BLOCK, b.n))
                a_more, b_more = i + len(ka) < a.n, j + len(kb) < b.n
                if a_more and (not b_more or ka[-1] <= kb[-1]):
                    cut = ka[-1]  # a's block ends first: take it all and b up to its end
                    na, nb = len(ka), int(np.searchsorted(kb, cut, side="right"))
                elif b_more:
                    cut = kb[-1]
                    na, nb = int(np.searchsorted(ka, cut, side="right")), len(kb)
                else:
                    na, nb = len(ka), len(kb)
                keys = np.concatenate([ka[:na], kb[:nb]])
                codes = np.concatenate([ca[:na], cb[:nb]])
                order = np.argsort(keys, kind="stable")
                keys[order].tofile(kf)
                codes[order].tofile(cf)
                i, j = i + na, j + nb
        a.delete()
        b.delete()
        return _Run(kp, cp, a.n + b.n)

