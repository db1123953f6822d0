"""The explorer in a real browser: `streamlit run app.py` on localhost, driven by Playwright
with Debian's Chromium (/usr/bin/chromium; `.ci/run` installs it with apt-get).

Set VOC_SCREENSHOT_DIR to keep the screenshots (one per page) somewhere other than tmp_path.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# each page, and what is on it once the script has finished
PAGES = {
    "": '[data-testid="stMetricValue"]',
    "pain-points": ".voc-card",
    "topics": ".voc-card",
    "trends": ".js-plotly-plot .main-svg",
    "drivers": ".js-plotly-plot .main-svg",
    "explore": ".voc-card",
    "score": ".st-key-score_go button",
    "upload": ".st-key-upload_files",
}
CHARTS = {"", "pain-points", "topics", "trends", "drivers"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(sample_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not CHROMIUM.exists():
        pytest.skip(
            "Debian chromium is not installed at /usr/bin/chromium (apt-get install chromium fonts-noto-cjk)"
        )
    pytest.importorskip(
        "playwright.sync_api",
        reason="playwright is not installed (pip install -r requirements.txt)",
    )
    store = tmp_path_factory.mktemp("browser") / "voc.duckdb"
    shutil.copy(sample_store, store)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("VOC_APP_PASSWORD", "VOC_TOPIC_MODEL")}
    env["VOC_STORE"] = str(store)
    log = open(store.parent / "streamlit.log", "w")  # noqa: SIM115 - open while the server runs
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "app.py"),
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(
                    "streamlit did not start:\n" + (store.parent / "streamlit.log").read_text()
                )
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def _shots(tmp_path: Path) -> Path:
    out = Path(os.environ.get("VOC_SCREENSHOT_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _settle(page: object) -> None:
    """Wait until Streamlit has finished running the script and the charts are drawn."""
    page.wait_for_selector('[data-testid="stMainBlockContainer"] h1', timeout=60_000)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000
    )
    page.wait_for_timeout(800)


def _select(page: object, key: str, option: str) -> None:
    """Pick the option that starts with ``option`` in the selectbox with widget key ``key``."""
    page.locator(f".st-key-{key} [role='combobox']").click()
    page.get_by_role("option", name=re.compile("^" + re.escape(option))).first.click()


def assert_not_blank(png: Path, min_ink: float = 0.03) -> None:
    from PIL import Image

    img = Image.open(png).convert("RGB")
    small = img.resize((img.width // 4, img.height // 4))
    pixels = list(small.getdata())
    colors = len(set(pixels))
    ink = sum(1 for r, g, b in pixels if min(r, g, b) < 200) / len(pixels)
    assert colors > 64, f"{png.name}: only {colors} colours"
    assert ink > min_ink, f"{png.name}: {ink:.1%} of the pixels are not near-white"


def test_filter_and_topic_in_a_real_browser(browser: object, server: str, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 900}, locale="ja-JP")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server)
    _settle(page)
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)
    volume = page.locator('[data-testid="stMetricValue"]').first
    assert volume.inner_text().strip() == "161"  # the last 4 weeks of the sample
    # Japanese text is drawn with a CJK font, not missing-glyph boxes
    assert page.evaluate("() => document.fonts.check('16px \"Noto Sans CJK JP\"', '配送が遅い')")
    # change a filter: all dates
    _select(page, "f_period_preset", "全期間")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stMetricValue\"]')?.innerText.trim() === '540'",
        timeout=30_000,
    )
    # open a topic
    page.get_by_role("link", name="トピック Topics").click()
    _settle(page)
    _select(page, "topic_select", "アプリ・動作・クーポン")
    page.wait_for_function(
        "() => [...document.querySelectorAll('h2')].some(h => h.innerText.includes('アプリ・動作・クーポン'))",
        timeout=30_000,
    )
    _settle(page)
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)
    assert page.locator(".voc-card").count() >= 1
    assert page.locator('[data-testid="stException"]').count() == 0
    shot = _shots(tmp_path) / "topic.png"
    page.screenshot(path=str(shot))
    assert_not_blank(shot)
    assert not errors, errors
    page.close()


def test_every_page_renders_without_errors(browser: object, server: str, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 900}, locale="ja-JP")
    out = _shots(tmp_path)
    for path, ready in PAGES.items():
        page.goto(f"{server}/{path}")
        page.wait_for_selector(ready, timeout=60_000)
        if path in CHARTS:
            page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)
        _settle(page)
        assert page.locator('[data-testid="stException"]').count() == 0, path
        shot = out / f"{path or 'overview'}.png"
        page.screenshot(path=str(shot))
        # the text-entry pages (score, upload) are mostly white until used
        assert_not_blank(shot, min_ink=0.03 if path not in ("score", "upload") else 0.005)
    page.close()
