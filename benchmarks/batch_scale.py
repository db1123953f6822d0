"""Does ``voc analyze`` stream? Throughput and peak memory on dumps of 10k, 100k and 1M rows.

Builds CSV dumps by resampling the texts of ``data/sample/`` (reviews, survey comments,
SNS posts, chat turns and call transcripts, kept as written; ids are new and unique, dates
are spread over a year, ratings and NPS drawn to match), then runs ``voc analyze`` on each
in its own subprocess with a fresh store and a Parquet output, and reports wall time,
docs/s and the child's peak RSS (``wait4``), plus its RSS early in the run and at the end,
from ``/proc`` polling, and the peak anonymous RSS in each tenth of the run. With streaming,
peak RSS stays flat while the row count grows, and the tenths of one long run stay level.
Short runs end before the steady state: the 65,536 newest ids kept in memory and DuckDB's
cache (up to ``store.memory_limit``) fill during the first few hundred thousand rows, up to
fixed caps. The summary prints the growth between consecutive sizes; the plateau shows
between 1M and 2M rows (``--sizes 1000000,2000000``, about 70 minutes on one core).

The row-count series runs with ``--no-sentiment`` (ingest, normalise, PII masking,
tokenise, store, output): the classifier on a 2-core machine scores some tens of texts a
second, so 1M rows with sentiment would take many hours. When the shipped model
(``models/voc-sentiment-ja``) exists, one more run scores a 1,000-row dump with it
(``--sentiment-rows``).

    .venv/bin/python benchmarks/batch_scale.py                 # 10k, 100k, 1M
    .venv/bin/python benchmarks/batch_scale.py --sizes 10000 --workdir /tmp/voc-bench
    taskset -c 1 .venv/bin/python benchmarks/batch_scale.py --sizes 1000000,2000000 --sentiment-rows 0
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
MODEL = ROOT / "models" / "voc-sentiment-ja"


def sample_pool() -> list[dict[str, object]]:
    """Every customer text of the sample, with its channel, touchpoint and scores."""
    sys.path.insert(0, str(ROOT))
    from voc.ingest.readers import open_dump

    pool: list[dict[str, object]] = []

    def rows(name: str):  # noqa: ANN202
        return (r.values for r in open_dump(SAMPLE / name).rows())

    for r in rows("reviews_ec.csv"):
        pool.append({"channel": "review", "text": r["レビュー本文"], "touchpoint": r["接点"], "rating": r["評価"]})
    for r in rows("survey_nps.csv"):
        pool.append({"channel": "survey", "text": r["ご意見"], "touchpoint": r["接点"], "nps": r["推奨度"]})
    for r in rows("sns_posts.jsonl"):
        pool.append({"channel": "sns", "text": r["text"], "touchpoint": r["touchpoint"]})
    for r in rows("chat_turns.csv"):
        if r["speaker"] == "customer":
            pool.append({"channel": "chat", "text": r["text"], "touchpoint": r["touchpoint"]})
    for r in rows("call_transcripts.csv"):
        pool.append({"channel": "call", "text": r["内容"], "touchpoint": r["接点"]})
    return pool


def build_dump(path: Path, n: int, pool: list[dict[str, object]], seed: int = 42) -> Path:
    """A CSV dump of ``n`` rows drawn from the pool (streamed to disk)."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "created_at", "channel", "touchpoint", "rating", "nps", "text"])
        for i in range(n):
            p = rng.choice(pool)
            when = start + timedelta(seconds=rng.randrange(365 * 86400))
            w.writerow([
                f"B{i + 1:08d}", when.strftime("%Y-%m-%d %H:%M:%S"), p["channel"], p["touchpoint"],
                p.get("rating", ""), p.get("nps", ""), p["text"],
            ])
    return path


def _rss_kb(pid: int) -> tuple[int, int] | None:
    """(VmRSS, RssAnon) of a process in kB. RssAnon leaves out file-backed pages: the
    mapped MeCab dictionary and libraries, which the kernel may drop and read again."""
    found: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(("VmRSS:", "RssAnon:")):
                    found[line.split(":")[0]] = int(line.split()[1])
    except OSError:
        return None
    return (found["VmRSS"], found.get("RssAnon", found["VmRSS"])) if "VmRSS" in found else None


def run_analyze(dump: Path, work: Path, sentiment: bool, config: Path | None = None) -> dict[str, object]:
    """One ``voc analyze`` in a child process: wall time, peak RSS, RSS over time."""
    tag = f"{dump.stem}-{'sent' if sentiment else 'nosent'}"
    store, out = work / f"{tag}.duckdb", work / f"{tag}.parquet"
    for p in (store, out, Path(str(store) + ".wal")):
        p.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "voc.cli", "-q", "analyze", str(dump), "--store", str(store), "-o", str(out)]
    if not sentiment:
        cmd.append("--no-sentiment")
    if config is not None:
        cmd += ["--config", str(config)]
    samples: list[tuple[float, int, int]] = []
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    done = threading.Event()

    def poll() -> None:
        while not done.wait(0.5):
            kb = _rss_kb(proc.pid)
            if kb:
                samples.append((time.perf_counter() - t0, *kb))

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    log = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    done.set()
    watcher.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"voc analyze failed ({proc.returncode}):\n{log[-3000:]}")
    rows = int(dump_rows(dump))
    late = [kb for t, kb, _ in samples if t >= 0.9 * wall] or [samples[-1][1]] if samples else [0]
    early = [kb for t, kb, _ in samples if 0.1 * wall <= t <= 0.2 * wall] or [samples[0][1]] if samples else [0]
    anon = [a for _, _, a in samples] or [0]
    # peak anonymous RSS in each tenth of the run (rows go at a steady rate, so a tenth of
    # the time is about a tenth of the rows): flat tenths mean memory does not grow with rows
    # peak and median: the peak of a longer run meets more of the per-chunk spikes, the
    # median is the level those spikes stand on
    in_tenth = [[a for t, _, a in samples if k * wall / 10 <= t < (k + 1) * wall / 10] or [0] for k in range(10)]
    tenths = [max(a) for a in in_tenth]
    median_tenths = [statistics.median(a) for a in in_tenth]
    return {
        "rows": rows,
        "sentiment": sentiment,
        "seconds": round(wall, 1),
        "docs_per_s": round(rows / wall, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux: kilobytes
        "peak_anon_mb": round(max(anon) / 1024, 1),  # polled every 0.5 s
        "rss_10_20pct_mb": round(max(early) / 1024, 1),
        "rss_last_10pct_mb": round(max(late) / 1024, 1),
        "anon_by_tenth_mb": [round(a / 1024) for a in tenths],
        "median_anon_by_tenth_mb": [round(a / 1024) for a in median_tenths],
        "dump_mb": round(dump.stat().st_size / 2**20, 1),
        "output_mb": round(out.stat().st_size / 2**20, 1),
        "store_mb": round(store.stat().st_size / 2**20, 1),
    }


def dump_rows(dump: Path) -> int:
    return int(dump.stem.rsplit("_", 1)[-1])


def machine() -> dict[str, object]:
    mem = ""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            mem = f"{int(fh.readline().split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory": mem,
        "load_avg_at_start": [round(x, 1) for x in os.getloadavg()],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,100000,1000000", help="row counts, comma-separated")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/voc-batch-scale"), help="dumps, stores and outputs")
    ap.add_argument("--sentiment-rows", type=int, default=1000,
                    help="also score a dump of this size with the shipped model when it exists (0: never)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--config", type=Path, help="a voc settings file passed to voc analyze (e.g. another store.memory_limit)")
    ap.add_argument("--keep", action="store_true", help="keep the dumps and outputs")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    info = machine()
    print("machine:", json.dumps(info, ensure_ascii=False), flush=True)
    pool = sample_pool()
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    runs: list[tuple[Path, bool]] = []
    todo = [(n, False) for n in sizes]
    if args.sentiment_rows and MODEL.is_dir():
        todo.insert(0, (args.sentiment_rows, True))
    for n, sentiment in todo:
        dump = work / f"dump_{n}.csv"
        if not dump.exists():
            t = time.perf_counter()
            build_dump(dump, n, pool)
            print(f"built {dump} ({dump.stat().st_size / 2**20:.0f} MB) in {time.perf_counter() - t:.0f} s", flush=True)
        runs.append((dump, sentiment))
    if args.sentiment_rows and not MODEL.is_dir():
        print(f"no shipped model at {MODEL}: the sentiment run is skipped", flush=True)
    results = []
    for dump, sentiment in runs:
        res = run_analyze(dump, work, sentiment, args.config)
        results.append(res)
        print(json.dumps(res), flush=True)
    info["load_avg_at_end"] = [round(x, 1) for x in os.getloadavg()]
    head = (f"{'rows':>9} {'sentiment':>9} {'seconds':>8} {'docs/s':>8} {'peak RSS MB':>11} {'anon MB':>8} "
            f"{'RSS 10-20%':>10} {'RSS last 10%':>12} {'dump MB':>8}")
    print("\n" + head)
    for r in results:
        print(f"{r['rows']:>9} {'yes' if r['sentiment'] else 'no':>9} {r['seconds']:>8} {r['docs_per_s']:>8} "
              f"{r['peak_rss_mb']:>11} {r['peak_anon_mb']:>8} {r['rss_10_20pct_mb']:>10} {r['rss_last_10pct_mb']:>12} {r['dump_mb']:>8}")
    series = [r for r in results if not r["sentiment"]]
    for a, b in zip(series, series[1:]):
        grow = b["peak_rss_mb"] - a["peak_rss_mb"]
        print(f"peak RSS from {a['rows']:,} to {b['rows']:,} rows ({b['rows'] / a['rows']:.0f}x): "
              f"{grow:+.1f} MB ({grow / a['peak_rss_mb']:+.1%}), anon {b['peak_anon_mb'] - a['peak_anon_mb']:+.1f} MB")
    print("\npeak anonymous RSS (MB) in each tenth of the run:")
    for r in results:
        print(f"{r['rows']:>9} {'yes' if r['sentiment'] else 'no':>9}   " + " ".join(f"{a:>4}" for a in r["anon_by_tenth_mb"]))
    print("median anonymous RSS (MB) in each tenth of the run:")
    for r in results:
        print(f"{r['rows']:>9} {'yes' if r['sentiment'] else 'no':>9}   " + " ".join(f"{a:>4}" for a in r["median_anon_by_tenth_mb"]))
    print(f"\nmachine: {info['platform']}, Python {info['python']}, {info['usable_cores']} usable cores "
          f"of {info['cores']}, {info['memory']} RAM; load average {info['load_avg_at_start']} -> "
          f"{info['load_avg_at_end']} (shared machine: docs/s are lower bounds)")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "results": results}, indent=2), "utf-8")
    if not args.keep:
        for p in work.glob("*"):
            if p.suffix in (".duckdb", ".parquet", ".wal", ".partial"):
                p.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
