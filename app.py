"""voc explorer: the Streamlit entry point (a router only; pages live in app_pages/).

    .venv/bin/streamlit run app.py            # reads $VOC_STORE or out/voc.duckdb

Access control (optional, see README): OIDC sign-in when ``[auth]`` is configured in
``.streamlit/secrets.toml``; else a shared password from ``$VOC_APP_PASSWORD`` or
``[voc] password`` in secrets; else open (a local, single-user explorer).
"""

from __future__ import annotations

import logging

import streamlit as st

from voc.app_support import access_granted

st.set_page_config(page_title="voc explorer", page_icon=":material/forum:", layout="wide")
logging.getLogger("voc").setLevel(logging.INFO)

if not access_granted():
    st.stop()

pages = {
    "分析 Analyse": [
        st.Page(
            "app_pages/overview.py",
            title="概要 Overview",
            icon=":material/dashboard:",
            url_path="overview",
            default=True,
        ),
        st.Page(
            "app_pages/pain_points.py",
            title="ペインポイント Pain points",
            icon=":material/grid_view:",
            url_path="pain-points",
        ),
        st.Page(
            "app_pages/topics.py",
            title="トピック Topics",
            icon=":material/category:",
            url_path="topics",
        ),
        st.Page(
            "app_pages/trends.py",
            title="トレンド Trends",
            icon=":material/show_chart:",
            url_path="trends",
        ),
        st.Page(
            "app_pages/drivers.py",
            title="ドライバー Drivers",
            icon=":material/trending_down:",
            url_path="drivers",
        ),
    ],
    "声 Voices": [
        st.Page(
            "app_pages/explore.py",
            title="探索 Explore",
            icon=":material/search:",
            url_path="explore",
        ),
        st.Page(
            "app_pages/score_text.py",
            title="テキスト判定 Score text",
            icon=":material/edit_note:",
            url_path="score",
        ),
        st.Page(
            "app_pages/upload.py",
            title="アップロード Upload",
            icon=":material/upload_file:",
            url_path="upload",
        ),
    ],
}
st.navigation(pages, expanded=True).run()
