"""探索 Explore: filters, full-text search with highlighting, verbatim cards with their scores,
corrections (the relabel loop) and exports (CSV, Excel, training file)."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from voc import app_support as ui
from voc import metrics

st.title("探索 Explore")
ctx = ui.open_store(extended=True)
if ctx is None:
    st.stop()

c1, c2, c3 = st.columns([4, 2, 1])
query = c1.text_input(
    "全文検索",
    key="ex_search",
    placeholder="例: 配送 遅れる（スペース区切りはすべてを含む声）",
    persist_state="session",
)
order = c2.selectbox(
    "並び順",
    list(metrics.ORDERS),
    format_func=metrics.ORDERS_JA.get,
    key="ex_order",
    persist_state="session",
)
page_size = c3.selectbox(
    "件数/ページ", [10, 20, 50], index=1, key="ex_page_size", persist_state="session"
)
f = ctx.filters.with_(search=query.strip())

total = ui.call("count", ctx.ref, f)
pages = max(1, -(-total // page_size))
if int(st.session_state.get("ex_page") or 1) > pages:
    st.session_state["ex_page"] = 1
page_no = int(st.session_state.get("ex_page") or 1)
page = ui.call("verbatims", ctx.ref, f, page=page_no, page_size=page_size, order=order, total=total)

done = st.session_state.pop("_relabel_done", None)
if done:
    st.success(
        f"修正を {done} 件保存しました。 Saved {done} correction(s).", icon=":material/check:"
    )

head, exp1, exp2 = st.columns([4, 1, 1])
head.markdown(
    f"**{total:,} 件**（{ui.md_escape(ui.describe_filters(f))}）・{page.page}/{page.pages} ページ"
)
con = ui.snapshot(ctx.ref)
stamp = datetime.now().strftime("%Y%m%d_%H%M")
exp1.download_button(
    "CSV",
    data=lambda: metrics.to_csv_bytes(metrics.export_frame(con, f)),
    file_name=f"voc_{stamp}.csv",
    mime="text/csv",
    key="ex_csv",
    icon=":material/download:",
    on_click="ignore",
    disabled=total == 0,
)
exp2.download_button(
    "Excel",
    data=lambda: metrics.to_excel_bytes(metrics.export_frame(con, f)),
    file_name=f"voc_{stamp}.xlsx",
    mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    key="ex_xlsx",
    icon=":material/download:",
    on_click="ignore",
    disabled=total == 0,
)

if total == 0:
    st.info("当てはまる声がありません。検索語や絞り込みを変えてください。")
else:
    ui.render_cards(page.rows, query=f.search, key_prefix="ex", relabel=ctx)
    if page.pages > 1:
        st.pagination(page.pages, key="ex_page", max_visible_pages=9)

st.divider()
with st.expander(
    f"修正の書き出し（学習用） Corrections for training — 修正した声 {ctx.summary.corrections} 件"
):
    st.markdown(
        "ラベルを修正した声を、`voc train` がそのまま読める CSV（`record_id,text,sentiment,emotion,topic,corrected_by,corrected_at`）"
        "で書き出します。修正した項目は最新の修正、それ以外はモデルのラベルです。"
        "この CSV で学習したモデルのモデルカードには、データ源の種類 “corrections” として件数が記録されます。\n\n"
        "```bash\n.venv/bin/voc train voc_corrections.csv --init-from models/voc-sentiment-ja -o models/my-model\n```"
    )
    st.download_button(
        "修正を CSV で書き出す",
        data=lambda: metrics.corrections_csv(con),
        file_name=f"voc_corrections_{stamp}.csv",
        mime="text/csv",
        key="corr_csv",
        icon=":material/model_training:",
        on_click="ignore",
        disabled=ctx.summary.corrections == 0,
    )
