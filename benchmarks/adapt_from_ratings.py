"""Adapt from ratings: `voc train --labels-from rating` on half of a rated file, the other half held out.

The second check of issue 3 ("after voc train --labels-from rating on half of those reviews,
on the other half: at least 0.95"), run as a user would: one `voc train` command that starts
from the shipped model, trains on one half of a rated file and measures the other half
before and after (``--eval-data``: metrics.json holds ``held_out_before`` and ``held_out``).
Each rated held-out set of the repository is split into its first and last half by line;
each half trains once and the other half is measured, so every file gives two figures.

    .venv/bin/python benchmarks/adapt_from_ratings.py                    # all sets, both ways
    .venv/bin/python benchmarks/adapt_from_ratings.py --sets written --extra "--min-steps 120"

The figure is binary accuracy (the sign of ``sentiment_score`` against 1-2 / 4-5 stars; 3
stars train as neutral and are left out of it), as the issue measures it. Each run takes
one to two minutes on two cores (60 optimizer steps at least: ``--min-steps``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT / "data" / "eval"
SETS = {
    "written": [EVAL / "voc_written_reviews_test" / "reviews_test.jsonl"],
    "styles": [EVAL / "voc_review_styles_test" / "styles_test.jsonl"],
    "negation": [EVAL / "voc_negation_test" / "negation_test.jsonl"],
    "long": [EVAL / "voc_long_reviews_test" / "long_a.jsonl", EVAL / "voc_long_reviews_test" / "long_b.jsonl"],
}


def halves(files: list[Path], workdir: Path, name: str) -> tuple[Path, Path]:
    """The set's lines in order, cut into a first and a last half, written as two JSONL files
    that keep only what a rated dump has (id, text, rating, channel, category): no written
    sentiment or emotion labels."""
    keep = ("id", "text", "rating", "channel", "category")
    lines = [
        json.dumps({k: r[k] for k in keep if k in r}, ensure_ascii=False)
        for f in files
        for ln in f.read_text("utf-8").splitlines()
        if ln.strip() and (r := json.loads(ln))
    ]
    mid = len(lines) // 2
    out = []
    for part, chunk in (("first", lines[:mid]), ("last", lines[mid:])):
        p = workdir / f"{name}-{part}.jsonl"
        p.write_text("\n".join(chunk) + "\n", "utf-8")
        out.append(p)
    return out[0], out[1]


def licence(folder: Path) -> str:
    """The set's licence, from the 'license:' line of its SOURCE.txt (for the adapted model's card)."""
    for line in (folder / "SOURCE.txt").read_text("utf-8").splitlines():
        if line.lower().startswith("license:"):
            return line.split(":", 1)[1].split("(")[0].strip()
    return "not recorded"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, of {', '.join(SETS)}")
    ap.add_argument("--model", default=str(ROOT / "models" / "voc-sentiment-ja"), help="the model to adapt")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/voc-adapt-from-ratings"))
    ap.add_argument("--extra", default="", help="more voc train options, quoted")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    voc = [sys.executable, "-m", "voc.cli"]
    print(
        f"machine: {platform.platform()} | {platform.processor() or platform.machine()} | "
        f"Python {platform.python_version()} | {len(os.sched_getaffinity(0))} usable CPUs | "
        f"load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    rows = []
    for name in [s.strip() for s in args.sets.split(",") if s.strip()]:
        first, last = halves(SETS[name], args.workdir, name)
        for train_on, held in ((last, first), (first, last)):
            out = args.workdir / f"adapted-{train_on.stem}"
            cmd = [*voc, "-q", "train", str(train_on), "--labels-from", "rating", "--init-from", args.model,
                   "--eval-data", str(held), "-o", str(out), "--name", f"adapted-{train_on.stem}",
                   "--data-license", licence(SETS[name][0].parent),
                   *args.extra.split()]
            print("$", " ".join(cmd), flush=True)
            t = time.perf_counter()
            subprocess.run(cmd, cwd=ROOT, check=True)
            seconds = time.perf_counter() - t
            m = json.loads((out / "metrics.json").read_text("utf-8"))
            before, after = m["held_out_before"]["sentiment"], m["held_out"]["sentiment"]
            rows.append({
                "set": name, "trained_on": train_on.stem, "held_out": held.stem,
                "n_binary": after["binary_n"],
                "binary_before": round(before["binary_accuracy"], 3),
                "binary_after": round(after["binary_accuracy"], 3),
                "accuracy3_before": round(before["accuracy"], 3),
                "accuracy3_after": round(after["accuracy"], 3),
                "seconds": round(seconds),
            })
            print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
    print(f"\nvoc train options beyond the defaults: {args.extra or '(none)'}")
    print("held out        n  binary before  binary after  3-class before  3-class after  seconds")
    for r in rows:
        print(f"{r['held_out']:<14} {r['n_binary']:>3} {r['binary_before']:>14.3f} {r['binary_after']:>13.3f} "
              f"{r['accuracy3_before']:>15.3f} {r['accuracy3_after']:>14.3f} {r['seconds']:>8}")
    if rows:
        mb = sum(r["binary_before"] for r in rows) / len(rows)
        ma = sum(r["binary_after"] for r in rows) / len(rows)
        print(f"mean binary accuracy over {len(rows)} halves: {mb:.3f} before, {ma:.3f} after")
    print("target (issue 3): at least 0.95 after adapting on half of a rated dump")
    if args.json:
        args.json.write_text(json.dumps({"extra": args.extra, "rows": rows}, ensure_ascii=False, indent=2), "utf-8")


if __name__ == "__main__":
    main()
