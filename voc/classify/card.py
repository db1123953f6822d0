"""Model cards: what a trained voc model is, what it was trained on, how well it does."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from voc.classify.model import HeadsConfig


def _fmt(x: Any) -> str:
    return f"{x:.3f}" if isinstance(x, float) else str(x)


def _metrics_table(metrics: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for key, title in (("held_out", "held-out"), ("held_out_before", "before adaptation (same held-out texts)")):
        m = metrics.get(key)
        if not m:
            continue
        lines.append(f"**{title}** ({m.get('source', '')}, {m.get('n_examples', 0)} texts)")
        lines.append("")
        lines.append("| head | n | accuracy | macro-F1 | ECE | binary acc. |")
        lines.append("|---|---|---|---|---|---|")
        for head in ("sentiment", "emotion"):
            h = m.get(head)
            if h:
                lines.append(
                    f"| {head} | {h['n']} | {_fmt(h['accuracy'])} | {_fmt(h['macro_f1'])} | {_fmt(h['ece'])} | "
                    f"{_fmt(h.get('binary_accuracy', '–'))} |"
                )
        lines.append("")
    return lines


def _sources_table(sources: list[dict[str, Any]], lines: list[str]) -> bool:
    """Append one table row per source; a source given N times (oversampled) is one row, ×N.
    Returns whether any source was repeated."""
    seen: dict[tuple[str, str], list[Any]] = {}
    for s in sources:
        key = (str(s["path"]), str(s["kind"]))
        if key in seen:
            seen[key][1] += 1
        else:
            seen[key] = [s, 1]
    for s, times in seen.values():
        rows = f"{s['rows']} ×{times}" if times > 1 else f"{s['rows']}"
        lines.append(f"| `{s['path']}` | {s['kind']} | {rows} | {s.get('license') or 'not recorded'} |")
    return any(times > 1 for _, times in seen.values())


def write_card(folder: Path, cfg: HeadsConfig, manifest: dict[str, Any], metrics: dict[str, Any]) -> Path:
    """Write README.md (the model card) into a model folder."""
    data = manifest.get("data", {})
    args = manifest.get("args", {})
    cmd = ["voc", "train", *[str(d) for d in args.get("data", [])], "--output", str(args.get("output"))]
    from voc.classify.train import TrainArgs, default_learning_rates  # here: train imports this module

    shown = ("epochs", "batch_size", "max_batch_tokens", "learning_rate", "head_learning_rate", "lora_layers",
             "seed", "max_length", "truncate", "min_steps", "eval_fraction")
    defaults = {k: TrainArgs.__dataclass_fields__[k].default for k in shown}
    defaults["learning_rate"], defaults["head_learning_rate"] = default_learning_rates(args.get("init_from"))
    # runs that predate an option ran as its value then: texts were only ever cut at the end
    given = {"truncate": "end", **args}
    for k, default in defaults.items():
        if given.get(k) != default and given.get(k) is not None:
            cmd += [f"--{k.replace('_', '-')}", str(given[k])]
    for d in args.get("eval_data", []):
        cmd += ["--eval-data", str(d)]
    for flag in ("base", "init_from", "labels_from", "name", "max_steps"):
        if args.get(flag):
            cmd += [f"--{flag.replace('_', '-')}", str(args[flag])]
    if args.get("sentiment_from_emotion"):
        cmd.append("--sentiment-from-emotion")
    for lic in args.get("data_licenses", []):
        cmd += ["--data-license", lic]
    lines = [
        f"# {cfg.name}",
        "",
        "Japanese customer-feedback classifier trained with `voc train`: one encoder pass gives",
        "sentiment (with a score in [-1, 1]) and emotions.",
        "",
        "## Model",
        f"- base encoder: `{cfg.base_model}`",
        f"- sentiment labels: {', '.join(cfg.sentiment_labels) or '–'}",
        f"- emotion labels: {', '.join(cfg.emotion_labels) or '–'}",
        f"- pooling: {cfg.pooling}, input prefix: `{cfg.prefix}`, max tokens: {cfg.max_length}",
        f"- adaptation: {'LoRA adapters + heads' if cfg.adapter else 'heads / merged encoder'}; version {cfg.version}",
        "- files: safetensors and JSON only",
        "",
        "## Training data and licences",
        "",
        "| source | kind | examples | licence |",
        "|---|---|---|---|",
    ]
    if _sources_table(data.get("sources", []), lines):
        lines += ["", "×N: the source was given N times to `voc train`, so each of its examples is read N times."]
    lines += [
        "",
        f"Training examples: {data.get('n_train')}, held out: {data.get('n_held_out')}; "
        f"data fingerprint `{data.get('fingerprint')}`.",
        f"Label counts (training): `{json.dumps(data.get('label_counts', {}), ensure_ascii=False)}`",
    ]
    parent = manifest.get("parent")
    licences = set(data.get("licenses", []))
    if parent:
        named = " ".join(x for x in (parent.get("name"), parent.get("version") and f"version {parent['version']}") if x)
        lines += [
            "",
            f"Adapted from `{parent.get('path')}`" + (f" ({named})" if named else "")
            + ": its weights keep what it learnt from its own training data, and that data's licences apply "
            "to this model too.",
        ]
        if parent.get("sources"):
            lines += ["", "| inherited source | kind | examples | licence |", "|---|---|---|---|"]
            _sources_table(parent["sources"], lines)
        if parent.get("note"):
            lines += ["", f"Note: {parent['note']}."]
        licences |= set(parent.get("licenses", []))
    unknown = " (and the starting model's, which is not recorded)" if parent and parent.get("note") else ""
    lines += [
        "",
        "Licences of all data: " + (", ".join(sorted(licences)) or "not recorded") + unknown + ".",
        "",
        "## Metrics",
        "",
        *_metrics_table(metrics),
        "## Reproduce",
        "",
        "```bash",
        shlex.join(cmd),
        "```",
        "",
        f"Trained in {manifest.get('training', {}).get('seconds')} s, {manifest.get('training', {}).get('steps')} steps, "
        f"on {manifest.get('machine')} with torch {manifest.get('libraries', {}).get('torch')}.",
        "",
        "## Known limits",
        f"- Sentiment is judged per text (texts over {cfg.max_length} tokens in passages of whole",
        "  sentences, averaged by length, the last passage counting twice); sarcasm and",
        "  domain-specific praise/complaint words",
        "  can fool it. Adapt it to your own data with",
        "  `voc train --init-from <this folder> --labels-from rating your_dump.csv`.",
        "- Emotion labels follow the NAIST corpus (平静, 怒り, 喜び, 悲しみ, 安心); other",
        "  emotions (fear, surprise) are not modelled.",
        "",
    ]
    extra = folder / "CARD_NOTES.md"
    if extra.is_file():
        lines += [extra.read_text("utf-8"), ""]
    path = folder / "README.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
