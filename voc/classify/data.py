"""Labelled data for ``voc train`` and ``voc eval``.

Accepted inputs (files or folders, mixed freely):

* tables (CSV/TSV/JSONL/JSON/Parquet/Excel) with a text column and a sentiment and/or
  emotion column; an emotion cell may hold one label, votes (``平静-喜び-平静``) or several
  labels (``怒り,悲しみ``); intensity columns (``emotion_喜び``, WRIME's
  ``Avg. Readers_Joy``) become a label distribution;
* corrections exported from the explorer (same table shape);
* ``--labels-from rating`` / ``nps``: sentiment derived from star ratings or NPS;
* the NAIST emotional dialogue corpus folder (``*.txt.label``) and chABSA (``*_ann.json``).

Every example carries a ``group`` (document, dialogue, or row) so that held-out splits
never put near-duplicates on both sides.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from voc.classify.labels import (
    EMOTION_TO_SENTIMENT,
    canonical_emotion,
    is_missing,
    parse_label_votes,
    parse_sentiment,
    sentiment_from_nps,
    sentiment_from_rating,
)
from voc.errors import InputError
from voc.ingest.columns import header_key, recognize_columns

logger = logging.getLogger(__name__)

SENTIMENT_HEADERS = ("sentiment", "label", "polarity", "極性", "感情極性", "センチメント", "ラベル", "sentimentlabel", "corrected_sentiment")
EMOTION_HEADERS = ("emotion", "emotions", "感情", "感情ラベル", "emotionlabel", "corrected_emotion")
_INTENSITY_RE = re.compile(r"^(?:emotion[_:]|avg\.?\s*readers?_|avgreaders_|writer_)(.+)$", re.IGNORECASE)


@dataclass(frozen=True)
class Example:
    """One labelled text. Label fields are distributions over labels (hard labels: 1.0)."""

    text: str
    sentiment: dict[str, float] | None = None
    emotion: dict[str, float] | None = None
    group: str = ""
    source: str = ""


@dataclass
class DataSource:
    """Where examples came from, for the model card and the manifest."""

    path: str
    kind: str
    rows: int
    sha256: str
    license: str | None = None


@dataclass
class LabelledData:
    examples: list[Example] = field(default_factory=list)
    sources: list[DataSource] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.examples)

    def extend(self, other: LabelledData) -> None:
        self.examples.extend(other.examples)
        self.sources.extend(other.sources)

    def sentiment_labels(self) -> list[str]:
        return _labels_in(e.sentiment for e in self.examples)

    def emotion_labels(self) -> list[str]:
        return _labels_in(e.emotion for e in self.examples)

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for e in self.examples:
            h.update(json.dumps([e.text, e.sentiment, e.emotion], ensure_ascii=False, sort_keys=True).encode())
        return h.hexdigest()[:16]

    def label_counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for head in ("sentiment", "emotion"):
            c: Counter[str] = Counter()
            for e in self.examples:
                dist = getattr(e, head)
                if dist:
                    c[max(dist, key=dist.get)] += 1  # type: ignore[arg-type]
            out[head] = dict(c)
        return out


def _labels_in(dists: Iterable[dict[str, float] | None]) -> list[str]:
    seen: dict[str, None] = {}
    for d in dists:
        if d:
            seen.update(dict.fromkeys(d))
    return list(seen)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    if path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file():
                h.update(p.name.encode())
                h.update(p.read_bytes())
    else:
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _license_near(path: Path) -> str | None:
    """The licence line of a SOURCE.txt beside (or above) the data, if any."""
    for folder in [path if path.is_dir() else path.parent, *path.parents][:3]:
        src = folder / "SOURCE.txt"
        if src.is_file():
            for line in src.read_text("utf-8", errors="replace").splitlines():
                if line.lower().startswith("license:"):
                    return line.split(":", 1)[1].strip()
    return None


def load_labelled(
    paths: Sequence[str | Path],
    *,
    text_col: str | None = None,
    sentiment_col: str | None = None,
    emotion_col: str | None = None,
    labels_from: str | None = None,
    sentiment_from_emotion: bool = False,
) -> LabelledData:
    """Read labelled examples from files and folders (see the module docstring).

    Args:
        labels_from: ``"rating"`` or ``"nps"``: derive sentiment from that column.
        sentiment_from_emotion: also derive sentiment targets from emotion labels
            (怒り/悲しみ -> negative, 喜び/安心 -> positive, 平静 -> neutral).
    """
    data = LabelledData()
    for item in paths:
        p = Path(item)
        if not p.exists():
            raise InputError("E101", "training data not found", path=str(p))
        if p.is_dir() and any(p.rglob("*.txt.label")):
            part = read_naist(p)
        elif p.is_dir() and any(p.rglob("*_ann.json")):
            part = read_chabsa(p)
        elif p.is_dir():
            part = LabelledData()
            for q in sorted(p.iterdir()):
                if q.is_file() and q.suffix.lower() in {".csv", ".tsv", ".jsonl", ".json", ".parquet", ".xlsx"}:
                    part.extend(read_table(q, text_col, sentiment_col, emotion_col, labels_from))
        elif p.name.endswith(".txt.label"):
            part = read_naist(p)
        else:
            part = read_table(p, text_col, sentiment_col, emotion_col, labels_from)
        data.extend(part)
    if sentiment_from_emotion:
        data.examples = [
            Example(e.text, e.sentiment or _sentiment_of_emotion(e.emotion), e.emotion, e.group, e.source)
            for e in data.examples
        ]
    if not data.examples:
        raise InputError(
            "E120",
            "no labelled examples were found",
            hint="Give a file with a text column and a sentiment or emotion column, "
            "or use --labels-from rating/nps",
        )
    return data


def _sentiment_of_emotion(emotion: dict[str, float] | None) -> dict[str, float] | None:
    if not emotion:
        return None
    out: dict[str, float] = {}
    for label, p in emotion.items():
        s = EMOTION_TO_SENTIMENT.get(label)
        if s is None:
            return None
        out[s] = out.get(s, 0.0) + p
    return out


def read_table(
    path: Path,
    text_col: str | None = None,
    sentiment_col: str | None = None,
    emotion_col: str | None = None,
    labels_from: str | None = None,
) -> LabelledData:
    from voc.ingest.readers import open_dump

    dump = open_dump(path)
    cols = dump.columns
    keys = {header_key(c): c for c in cols}
    cmap = recognize_columns(cols, {"text": text_col})
    text = cmap.text or keys.get("sentence") or keys.get("文")
    if text is None:
        raise InputError("E121", "no text column in the training file", path=str(path), hint="Name it with --text-col")
    s_col = sentiment_col or next((keys[header_key(h)] for h in SENTIMENT_HEADERS if header_key(h) in keys), None)
    e_col = emotion_col or next((keys[header_key(h)] for h in EMOTION_HEADERS if header_key(h) in keys), None)
    for given, what in ((sentiment_col, "sentiment"), (emotion_col, "emotion")):
        if given and given not in cols:
            raise InputError("E111", f"there is no column {given!r} for {what}", path=str(path))
    intensity = {c: canonical_emotion(m.group(1)) for c in cols if (m := _INTENSITY_RE.match(c.strip())) and c != e_col}
    rating_col = None
    if labels_from:
        rating_col = {"rating": cmap.rating, "nps": cmap.nps}.get(labels_from)
        if labels_from not in ("rating", "nps"):
            raise InputError("E122", f"--labels-from must be rating or nps, not {labels_from!r}")
        if rating_col is None:
            raise InputError(
                "E123", f"--labels-from {labels_from}: the file has no {labels_from} column", path=str(path)
            )
    derive = sentiment_from_rating if labels_from == "rating" else sentiment_from_nps
    out = LabelledData()
    skipped = 0
    for raw in dump.rows():
        v = raw.values
        t = v.get(text)
        if is_missing(t):
            skipped += 1
            continue
        sent: dict[str, float] | None = None
        if rating_col:
            lab = derive(v.get(rating_col))
            sent = {lab: 1.0} if lab else None
        elif s_col and not is_missing(v.get(s_col)):
            raw_label = v.get(s_col)
            lab = parse_sentiment(raw_label)
            sent = {lab or str(raw_label).strip(): 1.0}
        emo: dict[str, float] | None = None
        if e_col and not is_missing(v.get(e_col)):
            emo = parse_label_votes(v.get(e_col))
        elif intensity:
            vals = {}
            for c, label in intensity.items():
                try:
                    x = float(v.get(c) or 0)
                except (TypeError, ValueError):
                    x = 0.0
                if x > 0:
                    vals[label] = vals.get(label, 0.0) + x
            total = sum(vals.values())
            emo = {k: x / total for k, x in vals.items()} if total > 0 else None
        if sent is None and emo is None:
            skipped += 1
            continue
        group = f"{path.name}:{v.get(cmap.id) if cmap.id else raw.row}"
        out.examples.append(Example(str(t), sent, emo, group, path.name))
    if skipped:
        logger.info("%s: %d rows without text or labels were skipped", path, skipped)
    kind = "corrections" if "correctedby" in keys else ("ratings" if labels_from else "table")
    out.sources.append(DataSource(str(path), kind, len(out.examples), _sha256(path), _license_near(path)))
    return out


def read_naist(path: Path) -> LabelledData:
    """NAIST emotional persuasive dialogue: ``speaker,utterance,votes,acceptance`` lines.

    Utterances may contain commas, so the line is split on the first comma and the last
    two. The group is the dialogue file, so a dialogue never spans train and test.
    """
    files = sorted(path.rglob("*.txt.label")) if path.is_dir() else [path]
    out = LabelledData()
    for f in files:
        domain = f.parent.name
        for line in f.read_text("utf-8", errors="replace").splitlines():
            line = line.strip()
            if not line or "," not in line:
                continue
            speaker, rest = line.split(",", 1)
            parts = rest.rsplit(",", 2)
            if len(parts) < 3:
                continue
            utterance, votes, _accept = parts
            dist = parse_label_votes(votes)
            if not utterance.strip() or dist is None:
                continue
            out.examples.append(Example(utterance.strip(), None, dist, f"{domain}/{f.name}", f"naist:{domain}"))
    out.sources.append(DataSource(str(path), "naist", len(out.examples), _sha256(path), _license_near(path)))
    return out


def read_chabsa(path: Path) -> LabelledData:
    """chABSA: sentence sentiment from its aspect polarities (majority; ties skipped).

    Sentences without any opinion are skipped (they are not reliably neutral).
    """
    out = LabelledData()
    for f in sorted(path.rglob("*_ann.json")):
        doc = json.loads(f.read_text("utf-8"))
        for s in doc.get("sentences", []):
            ops = [o.get("polarity") for o in s.get("opinions", [])]
            c = Counter(p for p in ops if p in ("positive", "negative", "neutral"))
            if not c:
                continue
            (top, n), *rest = c.most_common()
            if rest and rest[0][1] == n:
                continue
            out.examples.append(Example(s["sentence"], {top: 1.0}, None, f"chabsa/{f.stem}", "chabsa"))
    out.sources.append(DataSource(str(path), "chabsa", len(out.examples), _sha256(path), _license_near(path)))
    return out


def split_by_group(
    examples: Sequence[Example], test_fraction: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """Split so that all examples of a group land on the same side."""
    groups = sorted({e.group for e in examples})
    rng = random.Random(seed)
    rng.shuffle(groups)
    n_test = max(1, round(len(groups) * test_fraction)) if test_fraction > 0 else 0
    test_groups = set(groups[:n_test])
    train = [e for e in examples if e.group not in test_groups]
    test = [e for e in examples if e.group in test_groups]
    return train, test


def hard_label(dist: dict[str, float] | None) -> str | None:
    if not dist:
        return None
    return max(sorted(dist), key=lambda k: dist[k])

