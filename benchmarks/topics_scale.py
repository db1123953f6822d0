"""Scale benchmark of ``voc topics``: fit on 100,000 complaints, print time and peak RSS.

The complaints are built from voc's own Japanese material (the demo dump in data/sample
and the labelled written feedback in data/train/voc_written): every row is a base
complaint, or a perturbed copy of one (two complaints of the same domain joined, a
sentence dropped, an opener or a closer added: 「正直、」「二度と買いません。」 ...).
About a third of the rows are exact copies (retweets, copy-pasted survey answers), the
rest are distinct texts; the script prints both numbers.

Usage::

    VOC_CACHE_DIR=/tmp/voc_cache python benchmarks/topics_scale.py --rows 100000
    python benchmarks/topics_scale.py --rows 20000 --threads 1 --cold   # empty vector cache

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

OPENERS = ["正直、", "またですか。", "何度目でしょうか。", "残念ですが、", "言わせてください。", "今回も", "はっきり言って、", ""]
CLOSERS = ["二度と買いません。", "改善してください。", "がっかりです。", "本当に困っています。", "対応をお願いします。",
           "早く直してほしい。", "返金してください。", ""]


def base_complaints() -> list[tuple[str, str]]:
    """(domain, text) of every negative text in data/train/voc_written and data/sample."""
    out: list[tuple[str, str]] = []
    for f in sorted(glob.glob(str(ROOT / "data/train/voc_written/*.jsonl"))):
        for line in open(f, encoding="utf-8"):
            r = json.loads(line)
            if r.get("sentiment") in ("negative", "mixed") or (r.get("rating") or 5) <= 2:
                out.append((Path(f).stem, r["text"]))
    sample = ROOT / "data/sample"
    with open(sample / "survey_nps.csv", encoding="utf-8-sig", newline="") as fh:
        for r in csv.DictReader(fh):
            if r["推奨度"] and int(r["推奨度"]) <= 6:
                out.append((r["接点"], r["ご意見"]))
    for line in open(sample / "sns_posts.jsonl", encoding="utf-8"):
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
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=0, help="torch threads while embedding (0: default)")
    ap.add_argument("--cold", action="store_true", help="use an empty, temporary vector cache")
    ap.add_argument("--save", type=Path, default=None, help="also save the model here")
    args = ap.parse_args()
    if args.cold:
        os.environ["VOC_CACHE_DIR"] = tempfile.mkdtemp(prefix="voc_bench_cache_")
        # the converted base model is looked up under VOC_CACHE_DIR too: link it
        src = Path(os.environ.get("VOC_BASE_CACHE", "/tmp/voc_cache")) / "models"
        if src.is_dir():
            os.symlink(src, Path(os.environ["VOC_CACHE_DIR"]) / "models")

    from voc.topics import TopicConfig, TopicModeler

    t0 = time.perf_counter()
    texts = build(args.rows, seed=0)
    n_distinct = len(set(texts))
    print(f"machine: {platform.platform()} | python {platform.python_version()} | cpus {os.cpu_count()} | "
          f"affinity {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'}")
    print(f"rows: {len(texts):,}  distinct texts: {n_distinct:,}  built in {time.perf_counter() - t0:.1f}s",
          flush=True)
    cfg = TopicConfig(seed=args.seed, threads=args.threads)
    tm = TopicModeler(cfg, progress=True)
    t1 = time.perf_counter()
    tm.fit(texts)
    wall = time.perf_counter() - t1
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    s = tm.fit_stats_
    print(f"topics: {tm.n_topics}  min_topic_size: {s['min_topic_size']}  "
          f"unassigned: {100 * tm.outlier_share:.1f}% (HDBSCAN alone {100 * s['hdbscan_outlier_share']:.1f}%)")
    print(f"time: total {wall:.1f}s = embed {s['seconds_embed']:.1f}s + UMAP/HDBSCAN/c-TF-IDF "
          f"{s['seconds_cluster']:.1f}s + outliers/labels {s['seconds_topics']:.1f}s")
    print(f"throughput: {len(texts) / wall:.1f} docs/s")
    print(f"peak RSS: {peak_mb:,.0f} MB")
    for info in tm.topic_info()[:10]:
        print(f"  [{info.topic_id}] {info.label} ({info.size}): {' / '.join(info.keywords[:6])}")
    if args.save:
        tm.save(args.save)
    print(json.dumps({"rows": len(texts), "distinct": n_distinct, "seconds": round(wall, 1),
                      "docs_per_s": round(len(texts) / wall, 1), "peak_rss_mb": round(peak_mb),
                      "topics": tm.n_topics, "outlier_share": round(tm.outlier_share, 4), **s}, ensure_ascii=False))


if __name__ == "__main__":
    main()
