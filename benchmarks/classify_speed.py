"""Throughput of voc's classifier vs a naive ``transformers.pipeline`` on the same model.

Prints, for one set of review-length texts: docs/s and peak RSS of
  * naive  : transformers.pipeline("feature-extraction", fp32, batch_size=32, max_length=512)
             + mean pooling + the model's heads (what a user would write first),
  * voc analyze: the whole ``voc analyze`` job on the texts as a CSV dump (ingest,
             normalise, PII masking, tokenise, the classifier as analyze runs it, store,
             output file),
  * voc    : voc.classify.Classifier as analyze runs it (length-sorted, token-budget
             batches, dynamic padding, inference mode, long texts per sentence; bfloat16
             with a float32 re-check near decision boundaries on CPUs with native
             bfloat16, float32 elsewhere: the line says which),
  * voc fp32: the same forced to float32,
  * voc int8: int8 dynamic quantization (optional, off in analyze: see the agreement),
and the agreement of voc and of voc int8 with voc fp32 (sentiment label and top emotion)
on the same texts. Each engine runs in its own subprocess so peak RSS is its own.

The texts: written reviews from data/train/voc_written joined 1-30 at a time into
review-length documents (median ~110 characters, a tail to ~1,700), seeded.

    .venv/bin/python benchmarks/classify_speed.py [--model models/voc-sentiment-ja] [--n 600]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_texts(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    pool: dict[str, list[str]] = {}
    for f in sorted((ROOT / "data" / "train" / "voc_written").glob("*.jsonl")):
        for line in f.read_text("utf-8").splitlines():
            rec = json.loads(line)
            if rec.get("channel") == "review":
                pool.setdefault(f.stem, []).append(rec["text"])
    domains = sorted(pool)
    texts = []
    for _ in range(n):
        d = rng.choice(domains)
        k = rng.choices([1, 2, 3, 4, 6, 12, 30], weights=[20, 25, 20, 15, 10, 7, 3])[0]
        texts.append("\n".join(rng.choice(pool[d]) for _ in range(k)))
    return texts


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_engine(engine: str, model: str, texts_file: str, out_file: str) -> None:
    import torch

    texts = json.loads(Path(texts_file).read_text("utf-8"))
    from voc.classify.predict import Classifier

    extra: dict[str, object] = {}

    if engine == "naive":
        from transformers import pipeline

        clf = Classifier.load(model, quantize=False)
        module, tok, cfg = clf.module, clf.tokenizer, clf.config
        torch.set_num_threads(os.cpu_count() or 1)
        pipe = pipeline("feature-extraction", model=module.encoder, tokenizer=tok, device=-1)
        start = time.perf_counter()
        labels = []
        inputs = [cfg.prefix + t for t in texts]
        for out in pipe(inputs, batch_size=32, truncation=True, max_length=512, return_tensors=True):
            pooled = out[0].mean(0)
            with torch.inference_mode():
                s = module.sentiment_head(pooled).argmax().item()
                e = module.emotion_head(pooled).argmax().item()
            labels.append((cfg.sentiment_labels[s], cfg.emotion_labels[e]))
        seconds = time.perf_counter() - start
    elif engine == "voc-analyze":
        # the whole `voc analyze` job on the texts as a CSV dump: ingest, normalise, PII
        # masking, tokenise, the classifier (fp32, as analyze runs it), store and output
        import csv
        import tempfile

        from voc.pipeline import analyze, default_scorers

        work = Path(tempfile.mkdtemp(prefix="voc-analyze-bench-"))
        dump = work / "reviews.csv"
        with dump.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["id", "本文"])
            w.writerows([f"R{i}", t] for i, t in enumerate(texts))
        scorers = default_scorers(model=model)
        scorers[0].classifier.predict(texts[:8])  # the same warm-up as the other engines
        start = time.perf_counter()
        analyze([str(dump)], store_path=work / "voc.duckdb", output=work / "out.csv", scorers=scorers)
        seconds = time.perf_counter() - start
        import pandas as pd

        out = pd.read_csv(work / "out.csv", dtype=str, keep_default_na=False)
        labels = list(zip(out["sentiment"], out["emotion"], strict=True))
        clf = scorers[0].classifier
        extra = {"precision": clf.precision, "rechecked": clf.total_rechecked}
    else:
        precision = {"voc-fp32": "fp32", "voc-int8": "fp32"}.get(engine)  # voc: as analyze (auto)
        clf = Classifier.load(model, quantize=(engine == "voc-int8"), precision=precision)
        clf.predict(texts[:8])  # warm-up (thread pools, allocator)
        start = time.perf_counter()
        preds = clf.predict(texts)
        seconds = time.perf_counter() - start
        labels = [(p.sentiment, p.emotion) for p in preds]
        extra = {"precision": clf.precision, "rechecked": clf.total_rechecked}
    Path(out_file).write_text(
        json.dumps(
            {"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "labels": labels, **extra},
            ensure_ascii=False,
        ),
        "utf-8",
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(ROOT / "models" / "voc-sentiment-ja"))
    ap.add_argument("--n", type=int, default=600, help="number of review-length texts")
    ap.add_argument("--engines", default="naive,voc-analyze,voc,voc-fp32,voc-int8")
    ap.add_argument("--engine", help=argparse.SUPPRESS)
    ap.add_argument("--texts", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.engine:
        run_engine(args.engine, args.model, args.texts, args.out)
        return

    texts = build_texts(args.n)
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"voc-bench-{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)
    texts_file = tmp / "texts.json"
    texts_file.write_text(json.dumps(texts, ensure_ascii=False), "utf-8")
    lengths = sorted(len(t) for t in texts)
    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
          f"{len(os.sched_getaffinity(0))} cores, python {platform.python_version()}")
    print(f"model: {args.model}")
    print(f"texts: {len(texts)} review-length documents; characters median {statistics.median(lengths):.0f}, "
          f"mean {statistics.mean(lengths):.0f}, p90 {lengths[int(0.9 * len(lengths))]}, max {lengths[-1]}")
    results = {}
    for engine in args.engines.split(","):
        out = tmp / f"{engine}.json"
        subprocess.run(
            [sys.executable, __file__, "--engine", engine, "--model", args.model, "--texts", str(texts_file), "--out", str(out)],
            check=True,
        )
        results[engine] = json.loads(out.read_text("utf-8"))
        r = results[engine]
        how = f"  [{r['precision']}, {r['rechecked']} units re-checked in fp32]" if "precision" in r else ""
        print(f"{engine:>11}: {len(texts) / r['seconds']:7.1f} docs/s  ({r['seconds']:.1f} s)  "
              f"peak RSS {r['peak_rss_mb']:.0f} MB{how}", flush=True)

    def ratio(a: str, b: str = "naive") -> float | None:
        if a in results and b in results:
            return results[b]["seconds"] / results[a]["seconds"]
        return None

    for engine, what in (
        ("voc-analyze", "the whole `voc analyze` job"),
        ("voc", "voc's classifier as analyze runs it"),
        ("voc-fp32", "voc's classifier in float32"),
        ("voc-int8", "voc's classifier in int8"),
    ):
        r = ratio(engine)
        if r is not None:
            target = "  [target >= 4x]" if engine == "voc-analyze" else ""
            print(f"speed-up of {what} over the naive pipeline: {r:.2f}x{target}")
    for engine in ("voc", "voc-int8"):
        if engine in results and "voc-fp32" in results:
            a, b = results["voc-fp32"]["labels"], results[engine]["labels"]
            s_agree = sum(x[0] == y[0] for x, y in zip(a, b, strict=True)) / len(a)
            e_agree = sum(x[1] == y[1] for x, y in zip(a, b, strict=True)) / len(a)
            print(f"{engine} vs fp32 agreement: sentiment {s_agree:.2%}, top emotion {e_agree:.2%}  [bar: 99%]")


if __name__ == "__main__":
    main()
