"""Batch jobs: a re-run is a no-op that says so; --rescore scores again; a killed run resumes."""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from voc.pipeline import analyze
from voc.store import Store


def _dump(path: Path, n: int) -> Path:
    texts = ["配送が遅れて箱が潰れていた", "アプリにログインできない", "店員さんが親切でした", "返金がまだです", "とても満足しています"]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "本文", "評価"])
        for i in range(n):
            w.writerow([f"R{i}", f"{texts[i % 5]}（{i}件目）", str(1 + i % 5)])
    return path


def test_rerun_is_a_noop_and_rescore_scores_again(tmp_path: Path) -> None:
    dump = _dump(tmp_path / "d.csv", 30)
    db = tmp_path / "s.duckdb"
    first = analyze([dump], store_path=db)
    assert first.unchanged == 0 and first.records == 30
    second = analyze([dump], store_path=db, output=tmp_path / "o.csv")
    assert second.unchanged == 30 and second.records == 0
    out = pd.read_csv(tmp_path / "o.csv", dtype=str, keep_default_na=False)
    assert len(out) == 30 and (out["error"] == "").all()
    third = analyze([dump], store_path=db, rescore=True)
    assert third.unchanged == 0 and third.records == 30
    # a changed row is analysed again, the others are not
    rows = list(csv.reader(open(dump, encoding="utf-8")))
    rows[5][1] = "内容を書き換えた行"
    with open(dump, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    fourth = analyze([dump], store_path=db)
    assert fourth.unchanged == 29 and fourth.records == 1
    with Store(db, read_only=True) as st:
        assert st.count("feedback") == 30


def test_cli_says_nothing_new(tmp_path: Path) -> None:
    dump = _dump(tmp_path / "d.csv", 5)
    cmd = [sys.executable, "-m", "voc.cli", "-q", "analyze", str(dump), "--store", "s.duckdb", "--no-sentiment"]
    subprocess.run(cmd, cwd=tmp_path, check=True, capture_output=True)
    again = subprocess.run(cmd, cwd=tmp_path, check=True, capture_output=True, text=True)
    assert "nothing new" in again.stdout


def test_kill_9_then_rerun_leaves_every_row_once(tmp_path: Path) -> None:
    n = 3000
    dump = _dump(tmp_path / "big.csv", n)
    cfg = tmp_path / "small_chunks.toml"
    cfg.write_text("[ingest]\nchunk_size = 100\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "voc.cli", "-q", "analyze", str(dump), "--store", "s.duckdb", "-o", "out.csv",
           "--no-sentiment", "--config", str(cfg)]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # wait until some chunks are committed (the partial output grows after each commit),
    # then kill without warning
    partial = tmp_path / "out.csv.partial"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
        if partial.exists() and partial.stat().st_size > 20_000:
            break
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed = True
    else:
        killed = False
    assert killed, "the run finished before it could be killed; make the dump bigger"
    assert not (tmp_path / "out.csv").exists()  # only out.csv.partial is left
    subprocess.run(cmd, cwd=tmp_path, check=True, capture_output=True)
    out = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    assert len(out) == n and out["voc_id"].is_unique
    with Store(tmp_path / "s.duckdb", read_only=True) as st:
        assert st.count("feedback") == n
        assert int(st.query("SELECT count(DISTINCT record_id) AS n FROM feedback")["n"][0]) == n
        statuses = list(st.runs()["status"])
    assert statuses[-1] == "finished"
    assert "interrupted" in statuses


def test_a_first_run_into_an_empty_store_still_replaces_an_id_seen_earlier_in_the_run(tmp_path: Path) -> None:
    import dataclasses

    from voc.config import VocConfig

    cfg = VocConfig.load()
    cfg = dataclasses.replace(cfg, ingest=dataclasses.replace(cfg.ingest, chunk_size=2))
    first, later = tmp_path / "0601.csv", tmp_path / "0602.csv"
    rows = {"R1": "配送が遅い", "R2": "アプリが落ちる", "R3": "店員さんが親切"}
    later_rows = {"R3": "店員さんが親切でした（追記: 返金もすぐでした）", "R4": "ポイントが付かない", "R5": "とても満足"}
    for path, data in ((first, rows), (later, later_rows)):
        with open(path, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["id", "本文"])
            w.writerows(data.items())
    report = analyze([first, later], config=cfg, store_path=tmp_path / "s.duckdb", output=tmp_path / "o.csv")
    assert report.rows == 6 and report.errors == 0
    with Store(tmp_path / "s.duckdb", read_only=True) as store:
        stored = store.query("SELECT voc_id, text FROM feedback ORDER BY voc_id")
    assert stored["voc_id"].tolist() == ["R1", "R2", "R3", "R4", "R5"]  # R3 once, the newer text
    assert stored.set_index("voc_id").loc["R3", "text"].startswith("店員さんが親切でした")
    again = analyze([first, later], config=cfg, store_path=tmp_path / "s.duckdb", output=tmp_path / "o2.csv")
    # the store is not empty now, so it is asked: only R3 differs, once per file, the later wins
    assert again.records == 2 and again.unchanged == 4
    with Store(tmp_path / "s.duckdb", read_only=True) as store:
        assert store.count("feedback") == 5
        assert store.query("SELECT text FROM feedback WHERE voc_id = 'R3'")["text"][0].startswith("店員さんが親切でした")
