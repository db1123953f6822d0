"""Scale benchmark of ``voc topics``: fit on 100,000 complaints, print time and peak RSS.

The complaints are built from voc's own Japanese material (the demo dump in data/sample
and the labelled written feedback in data/train/voc_written): every row is a base
complaint, or a perturbed copy of one (two complaints of the same domain joined, a
sentence dropped, an opener or a closer added: 「正直、」「二度と買いません。」 ...).
About a third of the rows are exact copies (retweets, copy-pasted survey answers), the
rest are distinct texts; the script prints both numbers.

Usage::

    VOC_CACHE_DIR=/tmp/voc_cache python benchmarks/topics_scale.py --rows 100000
    python benchmarks/topics_scale.py --rows 100000 --sizes 10000,25000,50000 --threads 1 --cold

Prints the machine (platform, CPUs), rows, distinct texts, wall time per stage
(embedding, UMAP + HDBSCAN, topics), docs/s and the peak RSS of the process
(``resource.getrusage``; the encoder runs in-process, so this is the whole job).
"""

from __future__ import annotations

import argparse
import csv
import glob
import json
import os
import platform
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OPENERS = [
    "正直、",
    "またですか。",
    "何度目でしょうか。",
    "残念ですが、",
    "言わせてください。",
    "今回も",
    "はっきり言って、",
    "",
]
CLOSERS = [
    "二度と買いません。",
    "改善してください。",
    "がっかりです。",
    "本当に困っています。",
    "対応をお願いします。",
    "早く直してほしい。",
    "返金してください。",
    "",
]


def base_complaints() -> list[tuple[str, str]]:
    """(domain, text) of every negative text in data/train/voc_written and data/sample."""
    out: list[tuple[str, str]] = []
    for f in sorted(glob.glob(str(ROOT / "data/train/voc_written/*.jsonl"))):
        for line in Path(f).read_text("utf-8").splitlines():
            r = json.loads(line)
            if r.get("sentiment") in ("negative", "mixed") or (r.get("rating") or 5) <= 2:
                out.append((Path(f).stem, r["text"]))
    sample = ROOT / "data/sample"
    with open(sample / "survey_nps.csv", encoding="utf-8-sig", newline="") as fh:
        for r in csv.DictReader(fh):
            if r["推奨度"] and int(r["推奨度"]) <= 6:
                out.append((r["接点"], r["ご意見"]))
    for line in (sample / "sns_posts.jsonl").read_text("utf-8").splitlines():
        r = json.loads(line)
        out.append((r.get("touchpoint") or "sns", r["text"]))
    with open(sample / "reviews_ec.csv", encoding="cp932", newline="") as fh:
        for r in csv.DictReader(fh):
            if r["評価"] and int(r["評価"]) <= 2:
                out.append((r["接点"], r["レビュー本文"]))
    return out


def _sentences(text: str) -> list[str]:
    parts, buf = [], ""
    for ch in text:
        buf += ch
        if ch in "。！？!?\n":
            if buf.strip():
                parts.append(buf.strip())
            buf = ""
    if buf.strip():
        parts.append(buf.strip())
    return parts or [text]


def build(rows: int, seed: int = 0, copy_share: float = 0.33) -> list[str]:
    rng = random.Random(seed)
    base = base_complaints()
    by_domain: dict[str, list[str]] = {}
    for d, t in base:
        by_domain.setdefault(d, []).append(t)
    out = []
    for _ in range(rows):
        d, t = base[rng.randrange(len(base))]
        if rng.random() < copy_share:
            out.append(t)
            continue
        sents = _sentences(t)
        if len(sents) > 1 and rng.random() < 0.3:
            sents.pop(rng.randrange(len(sents)))
        if rng.random() < 0.5:
            sents.extend(_sentences(rng.choice(by_domain[d]))[:2])
        out.append(rng.choice(OPENERS) + "".join(sents) + rng.choice(CLOSERS))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument(
        "--sizes",
        default="",
        help="comma-separated smaller sizes fitted first (e.g. 10000,25000,50000): each is "
        "a prefix of the next, so the vector cache carries over and a size that does not "
        "finish still leaves the smaller ones measured",
    )
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=0, help="torch threads while embedding")
    ap.add_argument("--cold", action="store_true", help="use an empty, temporary vector cache")
    ap.add_argument("--cache", type=Path, default=None, help="VOC_CACHE_DIR to use (resume)")
    ap.add_argument("--save", type=Path, default=None, help="also save the last model here")
    args = ap.parse_args()
    if args.cold or args.cache:
        folder = args.cache or Path(tempfile.mkdtemp(prefix="voc_bench_cache_"))
        folder.mkdir(parents=True, exist_ok=True)
        os.environ["VOC_CACHE_DIR"] = str(folder)
        # the converted base model is looked up under VOC_CACHE_DIR too: link it
        src = Path(os.environ.get("VOC_BASE_CACHE", "/tmp/voc_cache")) / "models"
        if src.is_dir() and not (folder / "models").exists():
            os.symlink(src, folder / "models")

    from voc.topics import TopicConfig, TopicModeler
    from voc.topics.embed import E5Embedder

    t0 = time.perf_counter()
    all_texts = build(args.rows, seed=0)
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    print(
        f"machine: {platform.platform()} | python {platform.python_version()} | "
        f"cpus {os.cpu_count()} | affinity {affinity} | load {os.getloadavg()[0]:.1f}"
    )
    print(f"cache: {os.environ.get('VOC_CACHE_DIR', '~/.cache/voc')}")
    cfg = TopicConfig(seed=args.seed, threads=args.threads)
    embedder = E5Embedder(
        cfg.embedding_model,
        prefix=cfg.embedding_prefix,
        quantize=cfg.quantize,
        batch_size=cfg.batch_size,
        threads=args.threads,
        progress=True,
    )
    sizes = sorted({int(x) for x in args.sizes.split(",") if x.strip()} | {args.rows})
    for n in sizes:
        texts = all_texts[:n]
        n_distinct = len(set(texts))
        print(
            f"\n== rows: {n:,}  distinct texts: {n_distinct:,}  (built in "
            f"{time.perf_counter() - t0:.1f}s)",
            flush=True,
        )
        tm = TopicModeler(cfg, embedding_model=embedder, progress=True)
        t1 = time.perf_counter()
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        tm.fit(texts)
        wall = time.perf_counter() - t1
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        s = tm.fit_stats_
        print(
            f"topics: {tm.n_topics}  min_topic_size: {s['min_topic_size']}  unassigned: "
            f"{100 * tm.outlier_share:.1f}% (HDBSCAN alone {100 * s['hdbscan_outlier_share']:.1f}%)"
        )
        print(
            f"time: total {wall:.1f}s = embed {s['seconds_embed']:.1f}s (texts not yet cached) + "
            f"UMAP/HDBSCAN/c-TF-IDF {s['seconds_cluster']:.1f}s + outliers/labels "
            f"{s['seconds_topics']:.1f}s"
        )
        print(
            f"throughput: {n / wall:.1f} docs/s   CPU time {cpu:.0f}s (= {100 * cpu / wall:.0f}% of one "
            f"core: other jobs share the machine)   peak RSS so far: {peak_mb:,.0f} MB",
            flush=True,
        )
        for info in tm.topic_info()[:8]:
            print(
                f"  [{info.topic_id}] {info.label} ({info.size}): {' / '.join(info.keywords[:6])}"
            )
        print(
            json.dumps(
                {
                    "rows": n,
                    "distinct": n_distinct,
                    "seconds": round(wall, 1),
                    "docs_per_s": round(n / wall, 1),
                    "cpu_seconds": round(cpu, 1),
                    "peak_rss_mb": round(peak_mb),
                    "topics": tm.n_topics,
                    "outlier_share": round(tm.outlier_share, 4),
                    **s,
                },
                ensure_ascii=False,
            ),
            flush=True,
        )
        if args.save and n == sizes[-1]:
            tm.save(args.save)


if __name__ == "__main__":
    main()
