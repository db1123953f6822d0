"""`voc analyze` end to end, as a user runs it, on the bundled sample dump."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from voc.store import Store

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"


def run_voc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voc.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )


def count_input_rows() -> int:
    from voc.ingest import open_dump

    return sum(sum(1 for _ in open_dump(p).rows()) for p in sorted(SAMPLE.iterdir()) if p.suffix != ".md")


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    work = tmp_path_factory.mktemp("sample")
    proc = run_voc("-q", "analyze", str(SAMPLE), "-o", "out.csv", "--store", "voc.duckdb", cwd=work)
    return work, proc


def test_sample_is_big_and_varied_enough() -> None:
    assert count_input_rows() >= 400


def test_analyze_sample_rows_in_equal_rows_out(analysed) -> None:
    work, proc = analysed
    assert proc.returncode == 0, proc.stderr
    out = pd.read_csv(work / "out.csv", dtype=str, keep_default_na=False)
    assert len(out) == count_input_rows()
    assert (out["error"] == "").all()
    assert {"voc_id", "text_normalized", "error"} <= set(out.columns)
    assert "rows read: 496" in proc.stdout or "rows read:" in proc.stdout


def test_output_keeps_input_columns_first_and_masks_pii(analysed) -> None:
    work, _ = analysed
    out = pd.read_csv(work / "out.csv", dtype=str, keep_default_na=False)
    cols = list(out.columns)
    assert cols.index("レビュー本文") < cols.index("voc_id")
    blob = "\n".join(out.astype(str).agg(" ".join, axis=1))
    for secret in ("090-1234-5678", "080-1111-2222", "〒150-0001", "@example.com"):
        assert secret not in blob


def test_store_has_turns_channels_and_touchpoints(analysed) -> None:
    work, _ = analysed
    with Store(work / "voc.duckdb", read_only=True) as st:
        chans = set(st.query("SELECT DISTINCT channel FROM feedback")["channel"])
        assert {"review", "sns", "survey", "call", "chat"} <= chans
        tps = set(st.query("SELECT DISTINCT touchpoint FROM feedback")["touchpoint"])
        assert {"store", "ec_site", "app", "call_center", "delivery", "payment", "product"} <= tps
        roles = st.query("SELECT role, count(*) AS n FROM feedback WHERE channel='call' GROUP BY role")
        assert set(roles["role"]) == {"customer", "operator"}
        weeks = st.query("SELECT count(DISTINCT date_trunc('week', created_at)) AS w FROM feedback")["w"][0]
        assert weeks >= 12


def test_rerun_is_idempotent(analysed) -> None:
    work, _ = analysed
    with Store(work / "voc.duckdb", read_only=True) as st:
        before = st.count("feedback")
    proc = run_voc("-q", "analyze", str(SAMPLE), "--store", "voc.duckdb", cwd=work)
    assert proc.returncode == 0, proc.stderr
    with Store(work / "voc.duckdb", read_only=True) as st:
        assert st.count("feedback") == before


@pytest.mark.parametrize("suffix", [".parquet", ".xlsx"])
def test_output_formats(tmp_path: Path, suffix: str) -> None:
    src = tmp_path / "in.csv"
    with open(src, "w", encoding="cp932", newline="") as fh:
        csv.writer(fh).writerows([["本文", "評価"], ["良い", "5"], ["", "1"], ["最悪でした", "1"]])
    proc = run_voc("-q", "analyze", str(src), "-o", f"out{suffix}", "--store", "s.duckdb", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = pd.read_parquet(tmp_path / "out.parquet") if suffix == ".parquet" else pd.read_excel(tmp_path / "out.xlsx")
    assert len(out) == 3
    assert out["error"].isna().tolist() == [True, False, True]
    assert "E201" in str(out["error"].iloc[1])


def test_hostile_rows_are_explained_not_dropped(tmp_path: Path) -> None:
    src = tmp_path / "bad.csv"
    long_text = "長い" * 15000
    rows = "本文,評価\r\n".encode("cp932")
    rows += "普通の行,3\r\n".encode("cp932")
    rows += b"\x81\xff\xfe\x82,2\r\n"  # undecodable bytes
    rows += ",1\r\n".encode("cp932")  # empty text
    rows += f"{long_text},5\r\n".encode("cp932")
    rows += "星の数が変,七\r\n".encode("cp932")
    src.write_bytes(rows)
    proc = run_voc("-q", "analyze", str(src), "-o", "out.csv", "--store", "s.duckdb", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    assert len(out) == 5
    assert out["error"].tolist()[0] == ""
    assert "E202" in out["warning"][1] and "本文" in out["warning"][1]
    assert "E201" in out["error"][2]
    assert out["truncated"][3] == "True" and "E203" in out["warning"][3]
    assert "E204" in out["warning"][4] and "評価" in out["warning"][4]


def test_unreadable_input_exits_non_zero_with_a_clear_message(tmp_path: Path) -> None:
    proc = run_voc("analyze", "missing.csv", cwd=tmp_path)
    assert proc.returncode != 0
    assert "E101" in proc.stdout + proc.stderr and "Traceback" not in proc.stderr


def test_help_is_plain_words(tmp_path: Path) -> None:
    proc = run_voc("analyze", "--help", cwd=tmp_path)
    assert proc.returncode == 0 and "Read dumps" in proc.stdout and "--text-col" in proc.stdout


def test_unknown_precision_is_a_clear_error(tmp_path: Path) -> None:
    proc = run_voc("analyze", str(SAMPLE / "reviews_ec.csv"), "--store", "v.duckdb", "--precision", "fp16", cwd=tmp_path)
    assert proc.returncode != 0
    assert "E052" in proc.stderr and "auto, fp32, bf16" in proc.stderr
    assert not (tmp_path / "v.duckdb").exists()  # refused before anything was written


def test_train_cli_defaults_are_those_of_train_args() -> None:
    """`voc train`'s options repeat TrainArgs' defaults; a default changed in one place only
    would make the CLI and the Python API train different models from the same data."""
    import typer.main

    from voc.classify.train import TrainArgs
    from voc.cli import app

    train = typer.main.get_command(app).commands["train"]  # type: ignore[attr-defined]
    fields = TrainArgs.__dataclass_fields__
    checked = []
    for param in train.params:
        field = fields.get(param.name) or fields.get(f"{param.name}s")
        if field is None or param.name in ("data", "output"):
            continue
        default = field.default_factory() if callable(field.default_factory) else field.default
        if default == []:
            default = None  # a repeatable option without values
        assert param.default == default, (param.name, param.default, default)
        checked.append(param.name)
    assert {"lora_layers", "epochs", "max_length", "max_batch_tokens", "min_steps"} <= set(checked)
