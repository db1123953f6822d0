"""Fine-tuning: one encoder with a sentiment head and an emotion head.

Parameter-efficient: LoRA adapters (peft) on the attention and feed-forward layers of the
top ``lora_layers`` encoder layers (by default 12: all of e5-small's), plus the two heads.
The encoder's own weights stay frozen and only the adapters (5 MB) learn: ~10k short texts
train in about seven minutes on two CPU cores. Adapting all 12 layers rather than the top 6
read held-out reviews better (0.852 -> 0.876 binary) and emotion on a NAIST domain never
seen (macro-F1 0.501 -> 0.521 on cleaning, 0.517 -> 0.530 on exercise;
``benchmarks/emotion_transfer.py``: four NAIST domains, about 16k utterances, train in
671 s on two cores).

Both heads learn from label *distributions* (soft cross-entropy): a hard label is a
distribution with one 1.0, annotator votes (NAIST's 平静-喜び-平静) keep their uncertainty,
and an example with only one kind of label trains only that head. Classes are weighted by
inverse square-root frequency so that rare labels (安心) are not drowned.

Texts are trained in the window the model reads at prediction (256 tokens), and a longer
one keeps a quarter of that window from its start and the rest from its end, where reviews
give their verdict. Adapting the shipped model on 40 rated long reviews cut at 128 tokens
from their end (the defaults before) dropped the other 40 from 0.941 to 0.676 binary; at 256
tokens cut in the middle, 0.912, and 0.941 with the gentler learning rates of a continued
model (``default_learning_rates``). On written e-commerce reviews, 120 ratings lift the other
half to 0.943 and 0.952 (0.934 and 0.942 before); ``benchmarks/adapt_from_ratings.py``.

Everything is seeded (Python, NumPy, torch, the batch order) and runs with deterministic
algorithms: the same data, base and arguments give the same model.
"""

from __future__ import annotations

import json
import logging
import math
import platform
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from voc.classify.data import Example, LabelledData, load_labelled, split_by_group
from voc.classify.labels import EMOTION_LABELS, SENTIMENT_LABELS
from voc.classify.model import HeadsConfig, build_module, quiet_loading, read_config, refuse_pickles, save_module
from voc.errors import ConfigError

logger = logging.getLogger(__name__)


@dataclass
class TrainArgs:
    """Arguments of ``voc train`` (the CLI's ``--help`` is generated from these)."""

    data: list[str] = field(default_factory=list, metadata={"help": "Labelled files or folders to train on."})
    output: str = field(default="models/my-model", metadata={"help": "Folder to write the model to."})
    base: str | None = field(
        default=None,
        metadata={"help": "Base encoder: a Hugging Face id or folder; default the offline e5-small."},
    )
    init_from: str | None = field(
        default=None,
        metadata={"help": "Start from this voc model (continue its adapter and heads), e.g. the shipped default."},
    )
    eval_data: list[str] = field(default_factory=list, metadata={"help": "Held-out labelled data; default a split."})
    eval_fraction: float = field(default=0.1, metadata={"help": "Share of groups held out when no eval data."})
    text_col: str | None = field(default=None, metadata={"help": "Text column name."})
    sentiment_col: str | None = field(default=None, metadata={"help": "Sentiment label column name."})
    emotion_col: str | None = field(default=None, metadata={"help": "Emotion label column name."})
    labels_from: str | None = field(default=None, metadata={"help": "Derive sentiment from 'rating' or 'nps'."})
    sentiment_from_emotion: bool = field(
        default=False, metadata={"help": "Also derive sentiment targets from emotion labels."}
    )
    sentiment_labels: list[str] | None = field(default=None, metadata={"help": "Sentiment label set (default: from data)."})
    emotion_labels: list[str] | None = field(default=None, metadata={"help": "Emotion label set (default: from data)."})
    epochs: float = field(default=2.0, metadata={"help": "Passes over the training data."})
    max_steps: int | None = field(default=None, metadata={"help": "Stop after this many optimizer steps."})
    min_steps: int = field(
        default=60,
        metadata={"help": "Train at least this many optimizer steps (more epochs over a small file; 0: off)."},
    )
    batch_size: int = field(default=16, metadata={"help": "Texts per step."})
    max_batch_tokens: int = field(
        default=2048,
        metadata={
            "help": "Run a step whose texts x padded length exceed this in parts whose gradients add up "
            "(the same step, far less memory for long texts; 0: never)."
        },
    )
    learning_rate: float | None = field(
        default=None,
        metadata={"help": "Learning rate of the adapters (default 3e-4; 1e-4 when continuing a model, --init-from)."},
    )
    head_learning_rate: float | None = field(
        default=None,
        metadata={"help": "Learning rate of the heads (default 2e-3; 5e-4 when continuing a model, --init-from)."},
    )
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay."})
    warmup_ratio: float = field(default=0.06, metadata={"help": "Share of steps with a rising learning rate."})
    max_length: int = field(
        default=256, metadata={"help": "Tokens per training text (longer ones are cut; 256 is the window e5-small models read)."}
    )
    truncate: str = field(
        default="middle",
        metadata={"help": "Where a longer text is cut: 'end' (keep its start) or 'middle' (keep a quarter "
                          "from its start and the rest from its end, where reviews give their verdict)."},
    )
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA scaling."})
    lora_layers: int = field(
        default=12,
        metadata={"help": "Adapt the top N encoder layers (0: heads only; e5-small has 12, so all of them)."},
    )
    emotion_weight: float = field(default=1.0, metadata={"help": "Weight of the emotion loss."})
    class_balance: bool = field(default=True, metadata={"help": "Weight classes by inverse sqrt frequency."})
    seed: int = field(default=42, metadata={"help": "Random seed."})
    name: str = field(default="voc-model", metadata={"help": "Model name recorded in the card."})
    data_licenses: list[str] = field(
        default_factory=list, metadata={"help": "Licence of each data source (recorded in the card)."}
    )
    merge: bool = field(default=False, metadata={"help": "Write a self-contained folder (encoder merged)."})
    progress: bool = field(default=True, metadata={"help": "Show progress bars."})


def default_learning_rates(init_from: str | None) -> tuple[float, float]:
    """Adapter and head learning rates when none is given: gentler when continuing a trained
    model. Adapting the shipped model from 120 ratings (benchmarks/adapt_from_ratings.py,
    eight held-out halves) averaged 0.927 binary at 1e-4 / 5e-4 against 0.914 at 3e-4 / 2e-3,
    and lowered no half by more than two texts (3e-4: a negation half by 0.028)."""
    return (1e-4, 5e-4) if init_from else (3e-4, 2e-3)


def set_seed(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    try:
        torch.use_deterministic_algorithms(True, warn_only=True)
    except Exception:  # pragma: no cover - older torch
        pass


def _targets(examples: Sequence[Example], head: str, labels: Sequence[str]) -> tuple[Any, Any]:
    import torch

    idx = {lab: i for i, lab in enumerate(labels)}
    t = torch.zeros((len(examples), max(len(labels), 1)))
    has = torch.zeros(len(examples), dtype=torch.bool)
    for r, e in enumerate(examples):
        dist = getattr(e, head)
        if not dist:
            continue
        mass = {k: v for k, v in dist.items() if k in idx}
        total = sum(mass.values())
        if total <= 0:
            continue
        for k, v in mass.items():
            t[r, idx[k]] = v / total
        has[r] = True
    return t, has


def _class_weights(targets: Any, has: Any) -> Any:
    import torch

    if not bool(has.any()):
        return torch.ones(targets.shape[1])
    freq = targets[has].sum(0) + 1.0
    w = (freq.sum() / freq).sqrt()
    return w / w.mean()


def _batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Length-grouped batches in random order: little padding, still shuffled."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    mega = batch_size * 50
    batches: list[list[int]] = []
    for start in range(0, len(order), mega):
        chunk = sorted(order[start : start + mega], key=lambda i: lengths[i])
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def train(args: TrainArgs, data: LabelledData | None = None, eval_data: LabelledData | None = None) -> Path:
    """Fine-tune and write a model folder; returns its path. See the module docstring."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from voc.classify.e5convert import resolve_base

    started = time.time()
    _check_truncate(args.truncate)  # before minutes of loading
    lr, head_lr = default_learning_rates(args.init_from)
    args = replace(
        args,
        learning_rate=lr if args.learning_rate is None else args.learning_rate,
        head_learning_rate=head_lr if args.head_learning_rate is None else args.head_learning_rate,
    )
    set_seed(args.seed)
    if data is None:
        if not args.data:
            raise ConfigError("E050", "no training data given", hint="Pass one or more files or folders")
        data = load_labelled(
            args.data,
            text_col=args.text_col,
            sentiment_col=args.sentiment_col,
            emotion_col=args.emotion_col,
            labels_from=args.labels_from,
            sentiment_from_emotion=args.sentiment_from_emotion,
        )
    unlicensed = unlicensed_sources(data, args)
    if unlicensed:
        logger.warning(
            "No licence is recorded for %s (no SOURCE.txt with a 'license:' line beside the data, "
            "and no --data-license): the model card will say 'not recorded'. Record the licence "
            "before you share or ship the model.",
            ", ".join(unlicensed),
        )
    if eval_data is None and args.eval_data:
        eval_data = load_labelled(
            args.eval_data,
            text_col=args.text_col,
            sentiment_col=args.sentiment_col,
            emotion_col=args.emotion_col,
            labels_from=args.labels_from,
            sentiment_from_emotion=args.sentiment_from_emotion,
        )
    if eval_data is None and args.eval_fraction > 0:
        train_ex, test_ex = split_by_group(data.examples, args.eval_fraction, args.seed)
        held_out = LabelledData(test_ex, [])
    else:
        train_ex, held_out = list(data.examples), eval_data
    if not train_ex:
        raise ConfigError("E051", "no training examples are left after holding out the evaluation split")

    # --- model -----------------------------------------------------------------------
    init_cfg: HeadsConfig | None = None
    if args.init_from:
        refuse_pickles(Path(args.init_from))
        init_cfg = read_config(Path(args.init_from))
    base_name = args.base or (init_cfg.base_model if init_cfg else None) or "e5-small"
    base_path = resolve_base(base_name)
    tokenizer = AutoTokenizer.from_pretrained(base_path)
    with quiet_loading():
        encoder = AutoModel.from_pretrained(base_path, use_safetensors=True)
    s_labels = list(args.sentiment_labels or (init_cfg.sentiment_labels if init_cfg else None) or _ordered(data.sentiment_labels(), SENTIMENT_LABELS))
    e_labels = list(args.emotion_labels or (init_cfg.emotion_labels if init_cfg else None) or _ordered(data.emotion_labels(), EMOTION_LABELS))
    cfg = HeadsConfig(
        base_model=base_name if not Path(base_name).is_dir() else str(Path(base_name)),
        sentiment_labels=s_labels,
        emotion_labels=e_labels,
        prefix=init_cfg.prefix if init_cfg else ("query: " if "e5" in base_name.lower() else ""),
        max_length=init_cfg.max_length if init_cfg else 256,
        hidden_size=int(encoder.config.hidden_size),
        name=args.name,
        version=datetime.now().strftime("%Y%m%d%H%M"),
    )
    n_layers = int(encoder.config.num_hidden_layers)
    if args.init_from:
        from peft import PeftModel

        if (Path(args.init_from) / "adapter_model.safetensors").is_file():
            with quiet_loading():
                encoder = PeftModel.from_pretrained(encoder, args.init_from, is_trainable=True)
    elif args.lora_layers > 0:
        from peft import LoraConfig, get_peft_model

        layers = list(range(max(0, n_layers - args.lora_layers), n_layers))
        lcfg = LoraConfig(
            r=args.lora_r,
            lora_alpha=args.lora_alpha,
            lora_dropout=0.05,
            target_modules=["query", "key", "value", "dense"],
            layers_to_transform=layers,
            layers_pattern="layer",
            bias="none",
        )
        with quiet_loading():
            encoder = get_peft_model(encoder, lcfg)
    else:
        for p in encoder.parameters():
            p.requires_grad_(False)
    module = build_module(encoder, cfg)
    if args.init_from:
        from safetensors.torch import load_file

        module.load_state_dict(load_file(str(Path(args.init_from) / "heads.safetensors")), strict=False)

    # --- data tensors ----------------------------------------------------------------
    texts = [cfg.prefix + e.text for e in train_ex]
    ids = _encode(tokenizer, texts, args.max_length, args.truncate)
    s_t, s_has = _targets(train_ex, "sentiment", s_labels)
    e_t, e_has = _targets(train_ex, "emotion", e_labels)
    s_w = _class_weights(s_t, s_has) if args.class_balance else torch.ones(s_t.shape[1])
    e_w = _class_weights(e_t, e_has) if args.class_balance else torch.ones(e_t.shape[1])
    rng = random.Random(args.seed)
    steps_per_epoch = math.ceil(len(ids) / args.batch_size)
    # a few hundred rated reviews make only tens of steps in 2 epochs: too few to move an
    # --init-from model towards them (120 reviews: 16 steps lowered held-out accuracy, 64 raised it)
    total_steps = args.max_steps or max(1, args.min_steps, math.ceil(steps_per_epoch * args.epochs))

    head_params = [p for n, p in module.named_parameters() if n.startswith(("sentiment_head", "emotion_head"))]
    enc_params = [p for n, p in module.named_parameters() if p.requires_grad and n.startswith("encoder")]
    optim = torch.optim.AdamW(
        [
            {"params": enc_params, "lr": args.learning_rate},
            {"params": head_params, "lr": args.head_learning_rate},
        ],
        weight_decay=args.weight_decay,
    )
    warmup = max(1, int(total_steps * args.warmup_ratio))

    def lr_lambda(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    sched = torch.optim.lr_scheduler.LambdaLR(optim, lr_lambda)
    pad = tokenizer.pad_token_id or 0
    module.train()
    bar = None
    if args.progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total_steps, desc="training", unit="step", dynamic_ncols=True)
    step = 0
    losses: list[float] = []
    while step < total_steps:
        for batch in _batches([len(x) for x in ids], args.batch_size, rng):
            if step >= total_steps:
                break
            optim.zero_grad()
            # sixteen 512-token reviews at once peaked at 17 GB and ran slower per text than
            # eight: a step over max_batch_tokens runs in parts whose gradients add up
            loss, learned = _accumulate(module, ids, batch, pad, args.max_batch_tokens, (s_t, s_has, s_w),
                                        (e_t, e_has, e_w), args.emotion_weight)
            if learned:
                torch.nn.utils.clip_grad_norm_([p for g in optim.param_groups for p in g["params"]], 1.0)
                optim.step()
            sched.step()
            losses.append(float(loss.detach()))
            step += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{sum(losses[-20:]) / len(losses[-20:]):.3f}")
    if bar is not None:
        bar.close()
    module.eval()
    train_seconds = time.time() - started

    # --- write -----------------------------------------------------------------------
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    save_module(module, tokenizer, cfg, out, merge=args.merge)
    metrics: dict[str, Any] = {"train_loss_last": sum(losses[-20:]) / max(1, len(losses[-20:]))}
    if held_out is not None and len(held_out.examples):
        from voc.classify.evaluate import evaluate
        from voc.classify.predict import Classifier

        clf = Classifier.load(out, quantize=False)
        metrics["held_out"] = evaluate(clf, held_out.examples)
        metrics["held_out"]["source"] = "eval data" if eval_data is not None else f"{args.eval_fraction:.0%} of groups"
        if args.init_from:  # the gain over the model we started from, on the same texts
            before = Classifier.load(args.init_from, quantize=False)
            metrics["held_out_before"] = evaluate(before, held_out.examples)
            metrics["held_out_before"]["source"] = metrics["held_out"]["source"]
    (out / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2), "utf-8")
    manifest = _manifest(args, cfg, data, train_ex, held_out, steps=step, seconds=train_seconds)
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), "utf-8")
    from voc.classify.card import write_card

    write_card(out, cfg, manifest, metrics)
    logger.info("model written to %s in %.0f s", out, time.time() - started)
    return out


def unlicensed_sources(data: LabelledData, args: TrainArgs) -> list[str]:
    """Training sources whose licence the card cannot name (none given by --data-license)."""
    if args.data_licenses:
        return []
    return sorted({s.path for s in data.sources if not s.license})


def _ordered(found: Sequence[str], preferred: Sequence[str]) -> list[str]:
    known = [lab for lab in preferred if lab in found]
    return known + sorted(lab for lab in found if lab not in preferred)


def _check_truncate(truncate: str) -> None:
    if truncate not in ("end", "middle"):
        raise ConfigError("E053", f"--truncate must be end or middle, not {truncate!r}")


def _encode(tokenizer: Any, texts: Sequence[str], max_length: int, truncate: str) -> list[list[int]]:
    """Token ids of the training texts, at most ``max_length`` each. ``truncate="end"`` keeps
    a long text's start; ``"middle"`` keeps its first quarter of the window and fills the
    rest from its end (the special tokens stay in place)."""
    _check_truncate(truncate)
    if truncate == "end":
        return list(tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"])
    out: list[list[int]] = []
    for ids in tokenizer(list(texts), truncation=False, verbose=False)["input_ids"]:
        if len(ids) > max_length:
            head = max(1, max_length // 4)
            ids = ids[:head] + ids[len(ids) - (max_length - head):]
        out.append(list(ids))
    return out


def _pad(ids: Sequence[Sequence[int]], batch: Sequence[int], pad: int) -> tuple[Any, Any]:
    import torch

    width = max(len(ids[i]) for i in batch)
    input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for r, i in enumerate(batch):
        input_ids[r, : len(ids[i])] = torch.tensor(ids[i])
        mask[r, : len(ids[i])] = 1
    return input_ids, mask


def _accumulate(
    module: Any,
    ids: Sequence[Sequence[int]],
    batch: Sequence[int],
    pad: int,
    max_tokens: int,
    sentiment: tuple[Any, Any, Any],
    emotion: tuple[Any, Any, Any],
    emotion_weight: float,
) -> tuple[Any, bool]:
    """One optimizer step's gradients (``backward`` is called here). A batch wider than
    ``max_tokens`` padded tokens (0: no limit) runs in parts, shortest texts first: each
    part's mean loss is weighted by its share of the batch's labelled texts, so the gradients
    add up to those of the batch's mean loss. A batch that fits is one part, as is, weighted
    1. Returns that loss (detached) and whether it had a gradient."""
    import torch

    s_t, s_has, s_w = sentiment
    e_t, e_has, e_w = emotion
    width = max(len(ids[i]) for i in batch)
    if max_tokens and len(batch) * width > max_tokens:
        ordered = sorted(batch, key=lambda i: len(ids[i]))
        size = max(1, max_tokens // width)
        parts = [ordered[k : k + size] for k in range(0, len(ordered), size)]
    else:
        parts = [list(batch)]
    n_s = max(1, int(s_has[batch].sum()))
    n_e = max(1, int(e_has[batch].sum()))
    total = torch.zeros(())
    learned = False
    for part in parts:
        input_ids, mask = _pad(ids, part, pad)
        s_logits, e_logits = module(input_ids, mask)
        loss = _soft_ce(s_logits, s_t[part], s_has[part], s_w) * (int(s_has[part].sum()) / n_s) + emotion_weight * (
            _soft_ce(e_logits, e_t[part], e_has[part], e_w) * (int(e_has[part].sum()) / n_e)
        )
        if loss.requires_grad:
            loss.backward()
            learned = True
        total = total + loss.detach()
    return total, learned


def _soft_ce(logits: Any, targets: Any, has: Any, weights: Any) -> Any:
    import torch

    if not bool(has.any()):
        return logits.sum() * 0.0
    logp = torch.log_softmax(logits[has], -1)
    t = targets[has]
    per = -(t * logp * weights).sum(-1) / (t * weights).sum(-1).clamp(min=1e-6)
    return per.mean()


def _manifest(
    args: TrainArgs,
    cfg: HeadsConfig,
    data: LabelledData,
    train_ex: Sequence[Example],
    held_out: LabelledData | None,
    steps: int,
    seconds: float,
) -> dict[str, Any]:
    import importlib.metadata as md

    def v(pkg: str) -> str | None:
        try:
            return md.version(pkg)
        except md.PackageNotFoundError:
            return None

    return {
        "created_at": datetime.now().isoformat(timespec="seconds"),
        "voc_version": v("voc"),
        "libraries": {p: v(p) for p in ("torch", "transformers", "peft", "tokenizers", "safetensors")},
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {platform.system()}",
        "args": asdict(args),
        "model": cfg.to_json(),
        "data": {
            "fingerprint": data.fingerprint(),
            "sources": [asdict(s) for s in data.sources],
            "licenses": sorted({s.license for s in data.sources if s.license} | set(args.data_licenses)),
            "n_train": len(train_ex),
            "n_held_out": len(held_out.examples) if held_out is not None else 0,
            "label_counts": LabelledData(list(train_ex), []).label_counts(),
        },
        "training": {"steps": steps, "seconds": round(seconds, 1)},
        **({"parent": _parent_lineage(Path(args.init_from))} if args.init_from else {}),
    }


def _parent_lineage(folder: Path) -> dict[str, Any]:
    """What a model adapted with ``--init-from`` inherits: the starting model's name, version,
    training sources and their licences (its own inheritance included), read from its
    manifest.json (JSON, never a pickle). Its weights keep what it learnt from that data, so
    the adapted model's card must name those licences too."""
    lineage: dict[str, Any] = {"path": str(folder), "name": None, "version": None, "sources": [], "licenses": []}
    try:
        pm = json.loads((folder / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError):
        lineage["note"] = "the starting model has no readable manifest.json: its training data is not recorded"
        return lineage
    model, pdata, grand = pm.get("model", {}), pm.get("data", {}), pm.get("parent", {})
    lineage["name"], lineage["version"] = model.get("name"), model.get("version")
    lineage["sources"] = list(pdata.get("sources", [])) + list(grand.get("sources", []))
    lineage["licenses"] = sorted(set(pdata.get("licenses", [])) | set(grand.get("licenses", [])))
    if grand.get("note"):
        lineage["note"] = grand["note"]
    return lineage
