"""Fast CPU inference: one encoder pass per text gives sentiment and emotions.

What makes it fast on a laptop (see ``benchmarks/classify_speed.py`` for the figures):

* texts are tokenized once, sorted by length and batched under a token budget, so a batch
  of short reviews is never padded to the length of a long one (dynamic padding);
* ``torch.inference_mode`` and as many threads as the machine has cores;
* optional int8 dynamic quantization of the encoder's linear layers (``quantize=True``).
  It is off by default: on the shipped model it agreed with fp32 on only 82% of sentiment
  labels (74% of top emotions) in ``benchmarks/classify_speed.py``, below the 99% bar;
* long texts (more tokens than ``max_length``) are scored sentence by sentence and the
  sentence probabilities are averaged, weighted by length; such texts keep their
  per-sentence results and get a ``mixed`` flag when a clearly positive and a clearly
  negative sentence meet.

>>> clf = Classifier.load()                       # doctest: +SKIP
>>> clf.predict(["配送が遅くて最悪でした"])[0].sentiment   # doctest: +SKIP
'negative'
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voc.classify.model import HeadsConfig, load_module
from voc.errors import ROW_EMPTY, ROW_SCORING_FAILED

logger = logging.getLogger(__name__)

STRONG = 0.6  # a sentence is clearly positive/negative above this probability
MIXED_DOC = 0.25  # a short text is mixed when both polarities exceed this


@dataclass(frozen=True)
class SentenceResult:
    text: str
    sentiment: str
    sentiment_score: float
    emotion: str | None


@dataclass
class Prediction:
    """Sentiment and emotions of one text (or the reason it could not be scored)."""

    sentiment: str | None = None
    sentiment_probs: dict[str, float] = field(default_factory=dict)
    sentiment_score: float | None = None
    mixed: bool = False
    emotion: str | None = None
    emotion_probs: dict[str, float] = field(default_factory=dict)
    sentences: list[SentenceResult] = field(default_factory=list)
    n_tokens: int = 0
    truncated: bool = False
    error: str | None = None


def default_model_dir() -> Path:
    """The shipped default model: ``$VOC_MODEL`` or ``models/voc-sentiment-ja``."""
    env = os.environ.get("VOC_MODEL")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "models" / "voc-sentiment-ja"


def _score(probs: dict[str, float]) -> float | None:
    if "positive" in probs and "negative" in probs:
        return float(probs["positive"] - probs["negative"])
    return None


class Classifier:
    """A loaded voc model, ready to score texts. Thread-safe for concurrent ``predict``."""

    def __init__(
        self,
        module: Any,
        tokenizer: Any,
        config: HeadsConfig,
        *,
        quantize: bool = False,
        threads: int | None = None,
        max_length: int | None = None,
        token_budget: int = 8192,
        max_batch: int = 64,
        max_chars: int = 20000,
        source: str = "",
    ) -> None:
        import torch

        if threads is None:
            threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        torch.set_num_threads(max(1, threads))
        self.tokenizer = tokenizer
        self.config = config
        self.max_length = min(max_length or config.max_length, 512)
        self.token_budget = token_budget
        self.max_batch = max_batch
        self.max_chars = max_chars
        self.quantized = False
        self.source = source
        module.eval()
        if quantize:
            module = quantize_module(module)
            self.quantized = True
        self.module = module

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        *,
        base: str | None = None,
        quantize: bool = False,
        threads: int | None = None,
    ) -> Classifier:
        """Load a voc model folder (default: the shipped model)."""
        folder = Path(path) if path else default_model_dir()
        module, tokenizer, cfg = load_module(folder, base=base)
        return cls(module, tokenizer, cfg, quantize=quantize, threads=threads, source=str(folder))

    @property
    def version(self) -> str:
        return f"{self.config.name}@{self.config.version}{'+int8' if self.quantized else ''}"

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.config.name,
            "version": self.config.version,
            "base_model": self.config.base_model,
            "path": self.source,
            "quantized": self.quantized,
            "sentiment_labels": list(self.config.sentiment_labels),
            "emotion_labels": list(self.config.emotion_labels),
        }

    # ------------------------------------------------------------------------------
    def encode_lengths(self, texts: Sequence[str]) -> list[list[int]]:
        prefix = self.config.prefix
        enc = self.tokenizer([prefix + t for t in texts], add_special_tokens=True, truncation=False)
        return enc["input_ids"]

    def probabilities(self, texts: Sequence[str]) -> tuple[Any, Any]:
        """Raw (sentiment, emotion) probability arrays for texts, truncated at max_length."""
        import numpy as np
        import torch

        if not texts:
            n_s, n_e = len(self.config.sentiment_labels), len(self.config.emotion_labels)
            return np.zeros((0, n_s)), np.zeros((0, n_e))
        ids = [x[: self.max_length - 1] + [x[-1]] if len(x) > self.max_length else x for x in self.encode_lengths(texts)]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        pad = self.tokenizer.pad_token_id or 0
        s_out: list[Any] = [None] * len(ids)
        e_out: list[Any] = [None] * len(ids)
        pos = 0
        with torch.inference_mode():
            while pos < len(order):
                longest = len(ids[order[min(pos + self.max_batch, len(order)) - 1]])
                size = max(1, min(self.max_batch, self.token_budget // max(longest, 1)))
                batch = order[pos : pos + size]
                pos += size
                width = max(len(ids[i]) for i in batch)
                input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for row, i in enumerate(batch):
                    seq = ids[i]
                    input_ids[row, : len(seq)] = torch.tensor(seq)
                    mask[row, : len(seq)] = 1
                s_logits, e_logits = self.module(input_ids, mask)
                s_prob = torch.softmax(s_logits.float(), -1).numpy()
                e_prob = torch.softmax(e_logits.float(), -1).numpy()
                for row, i in enumerate(batch):
                    s_out[i] = s_prob[row]
                    e_out[i] = e_prob[row]
        return np.stack(s_out), np.stack(e_out)

    def predict(
        self,
        texts: Sequence[str],
        *,
        sentence_level: bool = False,
        progress: bool = False,
    ) -> list[Prediction]:
        """Score texts. Never raises for one bad text: its Prediction carries ``error``.

        Args:
            sentence_level: also score every sentence of multi-sentence texts (the
                explorer's "score a text" page). Long texts always are.
        """
        from voc.text.normalize import split_sentences

        results: list[Prediction] = [Prediction() for _ in texts]
        units: list[str] = []
        owners: list[tuple[int, int]] = []  # (text index, -1 whole text / k sentence k)
        sentence_texts: dict[int, list[str]] = {}
        clean: list[str] = []
        for i, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                results[i].error = f"[{ROW_EMPTY}] the text is empty"
                text = ""
            elif len(text) > self.max_chars:
                text = text[: self.max_chars]
                results[i].truncated = True
            clean.append(text)
        # texts far longer than the window are sentence-scored without tokenizing them whole
        # (a MeCab-based tokenizer also crashes on megabyte inputs)
        very_long = 8 * self.max_length
        lengths = self.encode_lengths([t if len(t) <= very_long else "" for t in clean]) if clean else []
        for i, text in enumerate(clean):
            if results[i].error:
                continue
            n_tok = len(lengths[i]) if len(text) <= very_long else self.max_length + 1
            results[i].n_tokens = n_tok
            long_text = n_tok > self.max_length
            sents = split_sentences(text) if (long_text or sentence_level) else []
            if long_text or (sentence_level and len(sents) > 1):
                sentence_texts[i] = sents
                for k, s in enumerate(sents):
                    units.append(s)
                    owners.append((i, k))
            if not long_text:
                units.append(text)
                owners.append((i, -1))
        try:
            s_prob, e_prob = self.probabilities(units)
        except Exception as exc:  # a model failure must not lose the batch: say why per row
            logger.exception("the classifier failed on a batch of %d texts", len(units))
            for i, _ in owners:
                results[i].error = f"[{ROW_SCORING_FAILED}] the classifier failed: {exc}"
            return results
        s_labels = list(self.config.sentiment_labels)
        e_labels = list(self.config.emotion_labels)
        whole: dict[int, tuple[Any, Any]] = {}
        per_sentence: dict[int, list[tuple[Any, Any]]] = {}
        for (i, k), sp, ep in zip(owners, s_prob, e_prob, strict=True):
            if k < 0:
                whole[i] = (sp, ep)
            else:
                per_sentence.setdefault(i, []).append((sp, ep))
        for i, res in enumerate(results):
            if res.error:
                continue
            sents = sentence_texts.get(i, [])
            scored = per_sentence.get(i, [])
            if i in whole:
                sp, ep = whole[i]
            else:  # long text: length-weighted mean of its sentences
                import numpy as np

                w = np.array([max(len(s), 1) for s in sents], dtype=float)
                sp = (np.stack([x[0] for x in scored]) * w[:, None]).sum(0) / w.sum()
                ep = (np.stack([x[1] for x in scored]) * w[:, None]).sum(0) / w.sum()
            res.sentiment_probs = {lab: float(p) for lab, p in zip(s_labels, sp, strict=False)}
            res.emotion_probs = {lab: float(p) for lab, p in zip(e_labels, ep, strict=False)}
            if s_labels:
                res.sentiment = max(res.sentiment_probs, key=res.sentiment_probs.get)  # type: ignore[arg-type]
                res.sentiment_score = _score(res.sentiment_probs)
            if e_labels:
                res.emotion = max(res.emotion_probs, key=res.emotion_probs.get)  # type: ignore[arg-type]
            for s, (ssp, sep) in zip(sents, scored, strict=False):
                sprobs = dict(zip(s_labels, map(float, ssp), strict=False))
                res.sentences.append(
                    SentenceResult(
                        text=s,
                        sentiment=max(sprobs, key=sprobs.get) if sprobs else "",  # type: ignore[arg-type]
                        sentiment_score=_score(sprobs) or 0.0,
                        emotion=e_labels[int(sep.argmax())] if e_labels else None,
                    )
                )
            probs = res.sentiment_probs
            if res.sentences:
                pos_hit = any(s_probs_of(x, s_labels, "positive") >= STRONG for x in scored)
                neg_hit = any(s_probs_of(x, s_labels, "negative") >= STRONG for x in scored)
                res.mixed = pos_hit and neg_hit
            elif "positive" in probs and "negative" in probs:
                res.mixed = min(probs["positive"], probs["negative"]) >= MIXED_DOC
        return results


def s_probs_of(pair: tuple[Any, Any], labels: Sequence[str], label: str) -> float:
    if label not in labels:
        return 0.0
    return float(pair[0][labels.index(label)])


def quantize_module(module: Any) -> Any:
    """int8 dynamic quantization of the encoder's Linear layers (heads stay fp32)."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization deprecation notice
        module.encoder = torch.ao.quantization.quantize_dynamic(
            module.encoder, {torch.nn.Linear}, dtype=torch.qint8
        )
    return module
