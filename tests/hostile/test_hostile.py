"""Hostile dumps (tests/hostile/make_hostile.py) through ``voc analyze`` as a user runs it and
through ``voc.pipeline.analyze``: rows in equal rows out, every bad row says what is wrong
where, every other row is analysed, the store holds each record once, and a re-run (also
after a kill) changes nothing."""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from voc.pipeline import analyze
from voc.store import Store

_spec = importlib.util.spec_from_file_location("voc_make_hostile", Path(__file__).with_name("make_hostile.py"))
assert _spec is not None and _spec.loader is not None
mh = importlib.util.module_from_spec(_spec)
sys.modules["voc_make_hostile"] = mh
_spec.loader.exec_module(mh)

NOTHING_READABLE = ("empty_alone", "header_only_alone")
# every case whose files can be analysed together in one run (exit 0)
TOGETHER = [name for name in mh.CASES if name not in NOTHING_READABLE]
# the pipeline runs everything but the 1 MB cells (the CLI run covers those)
PIPELINE = [name for name in TOGETHER if name != "huge_cells"]
ERROR_RE = re.compile(r"^\[E\d{3}\]( \[[^\]]+\])? \S.{10,}")
SPLIT_RE = re.compile(r"; (?=\[E\d{3}\])")


def run_voc(*args: str, cwd: Path, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voc.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=900, **kw
    )


def read_out(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def row_key(row: pd.Series) -> tuple[str, int]:
    name = Path(row["source_file"]).name
    sheet = row.get("sheet", "")
    return (f"{name}#{sheet}" if sheet else name, int(row["source_row"]))


def check_case(case: Any, out: pd.DataFrame) -> None:
    """Everything a user may expect of the output rows of one hostile case."""
    files = {str(p) for p in case.files}
    rows = out[out["source_file"].isin(files)]
    assert len(rows) == case.rows, f"{case.name}: {case.rows} rows in, {len(rows)} rows out"
    keys = [row_key(r) for _, r in rows.iterrows()]
    assert len(set(keys)) == len(keys), f"{case.name}: two output rows claim the same input row"
    missing = set(case.expect) - set(keys)
    assert not missing, f"{case.name}: no output row for {sorted(missing)}"
    for key, (_, row) in zip(keys, rows.iterrows(), strict=True):
        exp = case.expect.get(key, mh.Expect())
        err, warn = row["error"], row["warning"]
        where = f"{case.name} {key}: error={err!r} warning={warn!r}"
        if exp.error:
            assert exp.error in err, where
        else:
            assert err == "", where  # every row that is not expected to fail is analysed
            assert row["text_normalized"], where
        for code in exp.warnings:
            assert code in warn, where
        for word in exp.error_mentions:
            assert word in err + warn, where
        for message in filter(None, [*SPLIT_RE.split(err), *SPLIT_RE.split(warn)]):
            assert ERROR_RE.match(message), f"{where}: unclear message {message!r}"
        if exp.text_has:
            assert exp.text_has in " ".join(row.astype(str)), f"{where}: text lost ({exp.text_has!r})"
        if key in case.ids:
            assert row["voc_id"] == case.ids[key], where


def check_store(db: Path, out: pd.DataFrame) -> None:
    with Store(db, read_only=True) as st:
        dups = st.query("SELECT record_id, count(*) AS n FROM feedback GROUP BY record_id HAVING count(*) > 1")
        assert len(dups) == 0
        stored = set(st.query("SELECT voc_id FROM feedback")["voc_id"])
    ok = out[out["error"] == ""]
    assert set(ok["voc_id"]) == stored  # every analysed row is stored, nothing else
    # within a file every analysed row has its own id (a repeated id becomes id~2); across
    # files the same id under the same id column is the same feedback, stored once
    assert not ok.duplicated(["source_file", "voc_id"]).any()


def write_cases(root: Path, names: list[str]) -> dict[str, Any]:
    return {name: mh.write_case(name, root) for name in names}


# ---------------------------------------------------------------------------------------
# the library entry point
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pipeline_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Any, pd.DataFrame, Path]:
    root = tmp_path_factory.mktemp("hostile_pipeline")
    cases = write_cases(root, PIPELINE)
    files = [p for c in cases.values() for p in c.files]
    report = analyze(files, store_path=root / "s.duckdb", output=root / "out.csv")
    return cases, report, read_out(root / "out.csv"), root


@pytest.mark.parametrize("name", PIPELINE)
def test_pipeline_keeps_every_row(pipeline_run, name: str) -> None:
    cases, report, out, _ = pipeline_run
    case = cases[name]
    check_case(case, out)
    by_path = {f.path: f for f in report.files}
    for p in case.files:
        rep = by_path[str(p)]
        code = case.file_errors.get(p.name)
        if code:
            assert rep.error and code in rep.error and str(p) in rep.error
            assert rep.rows == 0
        else:
            assert rep.error is None, rep.error


def test_pipeline_report_counts_and_store(pipeline_run) -> None:
    cases, report, out, root = pipeline_run
    assert report.rows == len(out) == sum(c.rows for c in cases.values())
    assert report.errors == int((out["error"] != "").sum())
    check_store(root / "s.duckdb", out)


def test_rerun_changes_nothing(pipeline_run) -> None:
    cases, first, out, root = pipeline_run
    files = [p for c in cases.values() for p in c.files]
    again = analyze(files, store_path=root / "s.duckdb", output=root / "out2.csv")
    out2 = read_out(root / "out2.csv")
    assert again.rows == first.rows and again.records == 0
    assert again.unchanged == int((out["error"] == "").sum())
    assert out2["voc_id"].tolist() == out["voc_id"].tolist()
    check_store(root / "s.duckdb", out2)


# ---------------------------------------------------------------------------------------
# the command line, as a user runs it
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], subprocess.CompletedProcess[str], Path]:
    root = tmp_path_factory.mktemp("hostile_cli")
    cases = write_cases(root, TOGETHER)
    files = [str(p) for c in cases.values() for p in c.files]
    proc = run_voc("-q", "analyze", *files, "-o", "out.csv", "--store", "s.duckdb", "--no-sentiment", cwd=root)
    return cases, proc, root


def test_cli_exits_0_and_explains_refused_files(cli_run) -> None:
    cases, proc, root = cli_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    out = read_out(root / "out.csv")
    assert len(out) == sum(c.rows for c in cases.values())
    for case in cases.values():
        for name, code in case.file_errors.items():
            assert any(code in line and name in line for line in proc.stdout.splitlines()), proc.stdout
    check_store(root / "s.duckdb", out)


@pytest.mark.parametrize("name", TOGETHER)
def test_cli_keeps_every_row(cli_run, name: str) -> None:
    cases, proc, root = cli_run
    assert proc.returncode == 0
    check_case(cases[name], read_out(root / "out.csv"))


@pytest.mark.parametrize("name", NOTHING_READABLE)
def test_nothing_readable_exits_non_zero_clearly(tmp_path: Path, name: str) -> None:
    case = mh.write_case(name, tmp_path)
    proc = run_voc("-q", "analyze", *map(str, case.files), "-o", "out.csv", "--store", "s.duckdb", "--no-sentiment", cwd=tmp_path)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    said = proc.stdout + proc.stderr
    assert "Nothing could be read" in said
    assert ("the file is empty" if name == "empty_alone" else "header but no data rows") in said


def test_binary_file_alone_exits_non_zero_clearly(tmp_path: Path) -> None:
    case = mh.write_case("binary_among_good", tmp_path)
    png = next(p for p in case.files if p.name == "b_image.csv")
    proc = run_voc("-q", "analyze", str(png), "--store", "s.duckdb", "--no-sentiment", cwd=tmp_path)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "E103" in proc.stdout + proc.stderr and "PNG" in proc.stdout + proc.stderr


def test_killed_run_then_rerun_keeps_every_row_once(tmp_path: Path) -> None:
    """kill -9 in the middle of a hostile batch, run again: every row once in the output and
    in the store, as if the first run had never been interrupted."""
    cases = write_cases(tmp_path, ["unbalanced_quotes", "duplicate_ids", "jsonl_broken", "cp932_undecodable", "excel"])
    files = [str(p) for c in cases.values() for p in c.files]
    (tmp_path / "small_chunks.toml").write_text("[ingest]\nchunk_size = 20\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "voc.cli", "-q", "analyze", *files, "-o", "out.csv", "--store", "s.duckdb",
           "--no-sentiment", "--config", "small_chunks.toml"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and not (tmp_path / "out.csv.partial").exists():
        time.sleep(0.05)
    time.sleep(1.0)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    again = run_voc(*cmd[3:], cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    out = read_out(tmp_path / "out.csv")
    for case in cases.values():
        check_case(case, out)
    check_store(tmp_path / "s.duckdb", out)
