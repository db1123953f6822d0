from __future__ import annotations

import csv
from pathlib import Path

from voc.config import VocConfig
from voc.pipeline import analyze
from voc.store import Store

ROWS = [
    ["回答ID", "回答日", "推奨度", "ご意見"],
    ["A1", "2026-06-01", "2", "レジの待ち時間が長すぎる。店員さんも少ない"],
    ["A2", "2026-06-02", "9", "いつも丁寧な接客で気持ちよく買い物できます"],
    ["A3", "2026-06-03", "7", "特になし"],
    ["A4", "2026-06-03", "10", ""],
]


def _dump(tmp_path: Path) -> Path:
    path = tmp_path / "survey.csv"
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(ROWS)
    return path


def test_analysing_twice_does_not_duplicate(tmp_path: Path) -> None:
    dump = _dump(tmp_path)
    db = tmp_path / "voc.duckdb"
    first = analyze([dump], store_path=db)
    second = analyze([dump], store_path=db)
    assert first.rows == second.rows == 4
    with Store(db, read_only=True) as st:
        assert st.count("feedback") == 3  # the empty row is an error row, not a record
        assert st.count("runs") == 2
        runs = st.runs()
        assert list(runs["status"]) == ["finished", "finished"]
        assert runs["config_hash"].iloc[0] == VocConfig.load().fingerprint()


def test_store_holds_masked_text_and_parsed_fields(tmp_path: Path) -> None:
    path = tmp_path / "survey.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(
            [["回答ID", "推奨度", "ご意見"], ["B1", "3", "折り返しは090-1111-2222へ。担当の田中さんが失礼でした"]]
        )
    db = tmp_path / "voc.duckdb"
    analyze([path], store_path=db)
    with Store(db, read_only=True) as st:
        row = st.query("SELECT * FROM feedback").iloc[0]
    assert "090" not in row["text"] and "田中" not in row["text"]
    assert "＜電話番号＞" in row["text_normalized"]
    assert row["nps"] == 3 and row["channel"] == "survey"
    assert row["pii_count"] == 2
    assert "失礼" in list(row["keywords"])


def test_parquet_export(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    db = tmp_path / "voc.duckdb"
    analyze([_dump(tmp_path)], store_path=db)
    with Store(db, read_only=True) as st:
        files = st.export_parquet(tmp_path / "lake")
    names = {f.name for f in files}
    assert {"feedback.parquet", "runs.parquet"} <= names
    assert pq.read_table(tmp_path / "lake" / "feedback.parquet").num_rows == 3


def test_config_accepts_a_topics_section(tmp_path: Path) -> None:
    cfg_file = tmp_path / "my.toml"
    cfg_file.write_text("[topics]\nseed = 7\n\n[ingest]\nchunk_size = 10\n", encoding="utf-8")
    cfg = VocConfig.load(cfg_file)
    assert cfg.topics["seed"] == 7 and cfg.ingest.chunk_size == 10
    assert cfg.topics["max_outlier_share"] == VocConfig.load().topics["max_outlier_share"]  # defaults kept


def test_a_file_store_spills_beside_itself_and_prints_no_progress_bar(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    with Store(path, memory_limit="64MB") as store:
        for _ in range(2):  # the settings survive the reopening of a checkpoint
            temp, bar, limit = store.con.execute(
                "SELECT current_setting('temp_directory'), current_setting('enable_progress_bar'), "
                "current_setting('memory_limit')"
            ).fetchone()
            assert temp == str(path) + ".tmp"
            assert bar is False
            assert limit.startswith("61") or limit.startswith("64")  # DuckDB prints MiB
            store.checkpoint()
