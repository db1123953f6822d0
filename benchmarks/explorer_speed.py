"""How fast the explorer is on a big store (issue 5: filter change < 0.5 s, first paint < 3 s).

    .venv/bin/python benchmarks/explorer_speed.py                 # 100k voices
    .venv/bin/python benchmarks/explorer_speed.py --rows 300000 --apptest --browser

1. Builds a store of ``--rows`` customer voices by resampling the analysed sample
   (data/sample/ through voc.pipeline.analyze, with the deterministic *fixture* labels of
   tests/app/fixture_store.py: results, topics, topic assignments), each copy shifted by 4
   more days within a two-year window, so every week holds about the same volume.
2. Times what each page computes (``voc.app_support.<page>_data`` on the in-memory snapshot,
   i.e. without st.cache_data):
   * first paint = load the snapshot + the store summary + the Overview page's queries;
   * filter change = each page's queries for a filter never seen before (touchpoint,
     channel, period, sentiment+emotion, search, topic), median and worst over them.
3. ``--apptest``: the whole Streamlit script of each page (streamlit.testing AppTest):
   first run of a new session on a cold process, then a filter change on every page.
4. ``--browser``: `streamlit run app.py` + Debian Chromium: time until the Overview's
   numbers and first chart are on screen (cold server, then new sessions), and from a
   filter change to the updated number; the same for a one-chart Streamlit app, which is
   the floor that Streamlit and Chromium set on this machine.

It prints the machine (platform, CPU count, memory) with the figures.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def machine() -> str:
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem = float("nan")
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import duckdb
    import streamlit

    try:
        load = "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        load = "load average n/a"
    return (
        f"{platform.platform()} | Python {platform.python_version()} | {cpus} CPUs usable ({load}) "
        f"(os.cpu_count {os.cpu_count()}) {model} | {mem:.0f} GiB RAM | "
        f"duckdb {duckdb.__version__} | streamlit {streamlit.__version__}"
    )


def _fixture_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "voc_fixture_store", ROOT / "tests" / "app" / "fixture_store.py"
    )
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def build_store(path: Path, rows: int) -> Path:
    """The sample, analysed and labelled, resampled to ``rows`` voices (plus operator turns)."""
    import duckdb

    fixture = _fixture_module()
    tmp = Path(tempfile.mkdtemp(prefix="voc-bench-"))
    sample = fixture.build_fixture_store(tmp / "sample.duckdb")
    n_voc = (
        duckdb.connect(str(sample), read_only=True)
        .execute("SELECT count(*) FROM feedback WHERE is_voc")
        .fetchone()[0]
    )
    copies = -(-rows // n_voc)
    if path.exists():
        path.unlink()
    from voc.store import Store

    Store(path).close()  # the schema
    con = duckdb.connect(str(path))
    con.execute("ATTACH ? AS s (READ_ONLY)", [str(sample)])
    # copy k moves 4k days later, wrapping around a 104-week window that ends on the sample's
    # last Sunday: a uniform two years of weekly volume (~960 voices a week)
    shift = (
        "DATE '2024-09-09' + CAST(((CAST(f.created_at AS DATE) - DATE '2024-09-09') + 4 * k) % 728 AS INTEGER) "
        "+ CAST(f.created_at AS TIME)"
    )
    con.execute(
        f"""
        INSERT INTO feedback
        SELECT f.* REPLACE (f.record_id || '-' || k AS record_id, f.voc_id || '-' || k AS voc_id,
                          {shift} AS created_at)
        FROM s.feedback f, range(0, {copies}) t(k)
        QUALIFY NOT f.is_voc OR row_number() OVER (PARTITION BY f.is_voc ORDER BY k, f.record_id) <= {rows}
        """
    )
    con.execute(
        "INSERT INTO results SELECT r.* REPLACE (r.record_id || '-' || k AS record_id) FROM s.results r, "
        f"range(0, {copies}) t(k) WHERE r.record_id || '-' || k IN (SELECT record_id FROM feedback)"
    )
    con.execute(
        "INSERT INTO topic_assignments SELECT a.* REPLACE (a.record_id || '-' || k AS record_id) FROM s.topic_assignments a, "
        f"range(0, {copies}) t(k) WHERE a.record_id || '-' || k IN (SELECT record_id FROM feedback)"
    )
    con.execute("INSERT INTO topics SELECT * FROM s.topics")
    con.execute("INSERT INTO runs SELECT * FROM s.runs")
    con.execute("DETACH s")
    con.execute("CHECKPOINT")
    con.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return path


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    best = float("inf")
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def library_timings(store: Path, repeat: int) -> dict[str, Any]:
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    from voc import app_support as ui
    from voc import metrics as m

    res: dict[str, Any] = {}
    t0 = time.perf_counter()
    import pandas  # noqa: F401  (a running explorer has these imported already)
    import plotly.graph_objects  # noqa: F401

    res["imports"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    con = m.open_snapshot(store, threads=os.cpu_count())
    res["snapshot"] = time.perf_counter() - t0
    summary = m.summary(con)
    base = m.Filters(period=m.default_period(summary.last_day, 4))
    ui.overview_data(con, base, summary.last_day)
    res["first_paint"] = time.perf_counter() - t0
    res["voices"] = summary.voices
    res["span"] = f"{summary.first_day} .. {summary.last_day}"

    # the sidebar filters of every page; sentiment, emotion, topic and search exist on Explore only
    variants = {
        "touchpoint=delivery": base.with_(touchpoints=("delivery",)),
        "channel=review+sns": base.with_(channels=("review", "sns")),
        "period=13 weeks": base.with_(period=m.default_period(summary.last_day, 13)),
        "all dates": base.with_(period=None),
    }
    explore_only = {
        "negative+怒り": base.with_(sentiments=("negative",), emotions=("怒り",)),
        "search 届く": base.with_(search="届く"),
        "search 2 terms": base.with_(period=None, search="配送 遅い"),
        "topic 0": base.with_(topics=(0,)),
    }
    pages: dict[str, Callable[[m.Filters], Any]] = {
        "overview": lambda f: ui.overview_data(con, f, summary.last_day),
        "pain_points": lambda f: (
            m.pain_points(con, f),
            m.verbatims(
                con, f.with_(touchpoints=("delivery",), topics=(0,)), 1, 10, "most_negative"
            ),
        ),
        "topics": lambda f: (
            m.topics_overview(con, f),
            ui.topics_data(con, f, 0, summary.last_day),
        ),
        "trends": lambda f: ui.trends_data(con, f, summary.last_day, "topic"),
        "drivers": lambda f: ui.drivers_data(con, f, "nps", "topic"),
        "explore": lambda f: (m.count(con, f), m.verbatims(con, f, 1, 20, "newest")),
    }
    for fn in pages.values():  # warm the code paths (imports, first-query planning)
        fn(base)
    table: dict[str, dict[str, float]] = {}
    for page, fn in pages.items():
        table[page] = {}
        for name, f in (variants | explore_only if page == "explore" else variants).items():
            table[page][name] = timed(lambda fn=fn, f=f: fn(f), repeat)[0]
    res["filter_change"] = table
    con.close()
    return res


def apptest_timings(store: Path) -> dict[str, float]:
    """Each page's whole script in a fresh AppTest (cold caches for the first)."""
    os.environ["VOC_STORE"] = str(store)
    from streamlit.testing.v1 import AppTest

    out: dict[str, float] = {}
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    t, _ = timed(lambda: at.run())
    out["first run (cold process)"] = t
    for page in ["pain_points", "topics", "trends", "drivers", "explore"]:
        at.switch_page(f"app_pages/{page}.py")
        t, _ = timed(lambda: at.run())
        out[f"open {page}"] = t
    for page, key, value in [
        ("overview", "f_touchpoints", ["delivery"]),
        ("pain_points", "f_channels", ["review"]),
        ("topics", "f_touchpoints", ["app"]),
        ("trends", "f_channels", ["sns"]),
        ("drivers", "f_touchpoints", ["store"]),
        ("explore", "f_touchpoints", ["payment"]),
    ]:
        at.switch_page(f"app_pages/{page}.py").run()
        at.multiselect(key=key).set_value(value)
        t, _ = timed(lambda: at.run())
        out[f"filter change on {page}"] = t
        assert not at.exception, [e.value for e in at.exception]
    return out


TRIVIAL_APP = """
import plotly.graph_objects as go
import streamlit as st

st.title("floor")
choice = st.selectbox("期間", ["直近4週", "直近13週", "全期間"], key="f_period_preset")
st.metric("件数", {"直近4週": "1", "直近13週": "2", "全期間": "3"}[choice])
st.plotly_chart(go.Figure(go.Bar(x=[1, 2, 3], y=[3, 1, 2])))
"""


def browser_timings(store: Path, app: Path, sessions: int = 3) -> dict[str, float]:
    """First paint (cold server, then new sessions) and a filter change, in Chromium."""
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        return {"skipped (no /usr/bin/chromium)": float("nan")}
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, VOC_STORE=str(store))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(app),
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.fileWatcherType",
            "none",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    paints: list[float] = []
    changes: list[float] = []
    out: dict[str, float] = {}
    try:
        for _ in range(480):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.25)
        with sync_playwright() as p:
            b = p.chromium.launch(
                executable_path=str(chromium),
                args=[
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                ],
            )
            for i in range(sessions + 1):
                page = b.new_page(viewport={"width": 1440, "height": 900})
                t = time.perf_counter()
                page.goto(url)
                page.wait_for_selector('[data-testid="stMetricValue"]', timeout=120_000)
                page.wait_for_selector(".js-plotly-plot .main-svg", timeout=120_000)
                if i:
                    paints.append(time.perf_counter() - t)
                else:
                    out["first paint, cold server (s)"] = time.perf_counter() - t
                    page.close()
                    continue
                page.wait_for_function(
                    "() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=60_000
                )
                value = page.locator('[data-testid="stMetricValue"]').first.inner_text()
                page.locator(".st-key-f_period_preset [role='combobox']").click()
                option = page.get_by_role("option", name="直近13週" if i % 2 else "全期間").first
                t = time.perf_counter()
                option.click()
                page.wait_for_function(
                    "v => document.querySelector('[data-testid=stMetricValue]')?.innerText !== v",
                    arg=value,
                    timeout=60_000,
                )
                changes.append(time.perf_counter() - t)
                page.close()
            b.close()
    finally:
        proc.terminate()
        proc.wait(15)
    out["first paint, new session (s, median)"] = statistics.median(paints)
    out["filter change -> number updated (s, median)"] = statistics.median(changes)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--rows", type=int, default=100_000, help="customer voices in the store (default 100000)"
    )
    ap.add_argument("--store", type=Path, default=None, help="reuse (or build here) a store file")
    ap.add_argument("--repeat", type=int, default=3, help="best of N for each timing")
    ap.add_argument(
        "--apptest", action="store_true", help="also time the Streamlit scripts (AppTest)"
    )
    ap.add_argument(
        "--browser", action="store_true", help="also time a real browser (needs /usr/bin/chromium)"
    )
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    print(f"machine: {machine()}")
    store = args.store or Path(tempfile.mkdtemp(prefix="voc-bench-")) / "voc.duckdb"
    if not store.exists():
        t = time.perf_counter()
        build_store(store, args.rows)
        print(
            f"built {store} in {time.perf_counter() - t:.1f} s ({store.stat().st_size / 2**20:.0f} MiB)"
        )
    lib = library_timings(store, args.repeat)
    print(f"store: {lib['voices']:,} voices, {lib['span']}")
    print(f"one-time imports of a new process (pandas, plotly): {lib['imports']:.2f} s")
    print(f"snapshot load (file -> memory): {lib['snapshot']:.2f} s")
    print(
        f"first paint, library (snapshot + summary + Overview queries): {lib['first_paint']:.2f} s  [target < 3 s]"
    )
    print("filter change, library time per page (s), best of", args.repeat, "[target < 0.5 s]:")
    table = lib["filter_change"]
    worst_all = 0.0
    for page, row in table.items():
        vals = list(row.values())
        worst_all = max(worst_all, max(vals))
        cells = "  ".join(f"{n} {v:.3f}" for n, v in row.items())
        print(
            f"  {page:<12} median {statistics.median(vals):.3f}  worst {max(vals):.3f}  |  {cells}"
        )
    print(f"  worst page x filter: {worst_all:.3f} s")
    if args.apptest:
        print("Streamlit scripts (AppTest, no browser), s:")
        for k, v in apptest_timings(store).items():
            print(f"  {k:<32} {v:6.2f}")
    if args.browser:
        print("real browser (streamlit run + Debian Chromium, Overview page):")
        for k, v in browser_timings(store, ROOT / "app.py").items():
            print(f"  explorer       {k:<46} {v:6.2f}")
        floor_dir = Path(tempfile.mkdtemp(prefix="voc-floor-"))
        (floor_dir / "floor.py").write_text(TRIVIAL_APP, "utf-8")
        for k, v in browser_timings(store, floor_dir / "floor.py").items():
            print(
                f"  1-chart app    {k:<46} {v:6.2f}   (Streamlit + Chromium floor on this machine)"
            )
        shutil.rmtree(floor_dir, ignore_errors=True)
    if args.store is None:
        shutil.rmtree(store.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
