"""The duplicate-id index of a dump: same answers as a dict, flat memory, files cleaned up."""

from __future__ import annotations

import gc
import random
from pathlib import Path

import pytest

import voc.ingest.seen as seen_mod
from voc.ingest.seen import SeenIds


def _reference_run(keys: list[str], seen: SeenIds) -> None:
    first: dict[str, tuple[int, str | None]] = {}
    count: dict[str, int] = {}
    for row, key in enumerate(keys, start=1):
        sheet = "売上" if row % 3 == 0 else None
        got = seen.see(key, row, sheet)
        count[key] = count.get(key, 0) + 1
        if key in first:
            assert got == (count[key], first[key]), (row, key)
        else:
            assert got == (1, None), (row, key)
            first[key] = (row, sheet)
    assert len(seen) == len(first)


def test_answers_like_a_dict_across_flushes_and_merges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # small blocks, so that merges cut blocks many times over
    monkeypatch.setattr(seen_mod, "_MERGE_BLOCK", 5)
    rng = random.Random(7)
    pool = [f"注文-{i}" for i in range(3000)] + ["", "～", "💁🏽\u200d♀️", "a\ud800b"]
    keys = [rng.choice(pool) for _ in range(6000)]
    seen = SeenIds(buffer=37, folder=tmp_path)
    _reference_run(keys, seen)
    assert 1 <= seen.runs <= 12


def test_runs_live_on_disk_and_go_away(tmp_path: Path) -> None:
    seen = SeenIds(buffer=100, folder=tmp_path)
    for i in range(1000):
        seen.see(f"R{i:06d}", i + 1)
    (folder,) = list(tmp_path.iterdir())
    assert folder.name.startswith("voc-ids-")
    assert sum(p.stat().st_size for p in folder.iterdir()) == 1000 * 16 - len(seen._buffer) * 16
    del seen
    gc.collect()
    assert not any(tmp_path.iterdir())


def test_small_dumps_touch_no_disk(tmp_path: Path) -> None:
    seen = SeenIds(folder=tmp_path)
    for i in range(5000):
        seen.see(str(i), i)
    assert seen.see("42", 9999) == (2, (42, None))
    assert not any(tmp_path.iterdir())
