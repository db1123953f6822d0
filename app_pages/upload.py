"""アップロード Upload: drop a new dump, watch it analysed with a progress bar, and see it in
every page (the store is re-read automatically)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import streamlit as st

from voc import app_support as ui
from voc.errors import VocError

st.title("アップロード Upload")
st.caption(
    "レビュー・SNS・通話記録・アンケートの書き出し（CSV / TSV / Excel / JSON Lines / JSON / Parquet、"
    "UTF-8・BOM付き・CP932）を追加します。同じデータを再度入れても重複しません。"
)
path = ui.store_sidebar()
st.markdown("書き込み先のストア: " + ui.md_escape(path))

files = st.file_uploader(
    "ファイルをドロップ",
    accept_multiple_files=True,
    key="upload_files",
    type=["csv", "tsv", "txt", "xlsx", "jsonl", "json", "parquet"],
)
go_ = st.button(
    "分析する", key="upload_go", type="primary", disabled=not files, icon=":material/play_arrow:"
)
if go_ and files:
    with tempfile.TemporaryDirectory(prefix="voc-upload-") as tmp:
        saved = []
        for i, up in enumerate(files):
            name = re.sub(r"[^\w.\-]+", "_", Path(up.name).name) or f"upload_{i}.csv"
            target = Path(tmp) / f"{i:02d}_{name}"
            target.write_bytes(up.getvalue())
            saved.append(target)
        scorers, notice = ui.upload_scorers(path)
        if notice:
            st.warning(notice, icon=":material/error:")
        bar = st.progress(0.0, text="読み込み中…")

        def progress(done: int, total: int | None) -> None:
            if total:
                bar.progress(min(done / total, 1.0), text=f"{done:,} / {total:,} 行を分析しました")
            else:
                bar.progress(0.5, text=f"{done:,} 行を分析しました")

        from voc.pipeline import analyze

        try:
            report = analyze(
                saved,
                store_path=path,
                scorers=scorers,
                on_progress=progress,
                command="explorer upload",
            )
        except VocError as exc:
            bar.empty()
            msg = str(exc)
            if getattr(exc, "code", "") in ("E402", "E403"):
                msg = (
                    "ストアが使用中です（別の voc analyze が書き込み中？）。しばらくしてからもう一度お試しください。 The store is busy. "
                    + msg
                )
            st.error(msg, icon=":material/error:")
            st.stop()
        bar.progress(1.0, text="完了しました")
    ui.clear_caches()
    st.session_state["_upload_report"] = {
        "rows": report.rows,
        "processed": report.processed,
        "errors": report.errors,
        "warnings": report.warnings,
        "records": report.records,
        "seconds": round(report.seconds, 1),
        "files": [
            {
                "ファイル": Path(fr.path).name[3:],
                "行数": fr.rows,
                "分析した行": fr.processed,
                "エラー行": fr.errors,
                "注意": fr.warnings,
                "読めなかった理由": fr.error or "",
            }
            for fr in report.files
        ],
    }

rep = st.session_state.get("_upload_report")
if rep:
    st.success(
        f"{rep['rows']:,} 行を読み、{rep['processed']:,} 行を分析しました（エラー {rep['errors']:,}、注意 {rep['warnings']:,}、"
        f"{rep['seconds']} 秒）。どのページにも反映されています。",
        icon=":material/check_circle:",
    )
    st.dataframe(rep["files"], hide_index=True, key="upload_files_table")
    st.page_link("app_pages/overview.py", label="概要ページで見る", icon=":material/dashboard:")
