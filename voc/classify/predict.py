"""Fast CPU inference: one encoder pass per text gives sentiment and emotions.

What makes it fast on a laptop (see ``benchmarks/classify_speed.py`` for the figures):

* texts are tokenized once, sorted by length and batched under a token budget, so a batch
  of short reviews is never padded to the length of a long one (dynamic padding);
* ``torch.inference_mode`` and as many threads as the machine has cores;
* bfloat16 on CPUs that compute it natively (AVX512-BF16 or AMX: recent Xeon and EPYC),
  about twice the speed of float32. ``precision="auto"`` (the default) picks it only on
  such CPUs, float32 elsewhere. Every text whose bfloat16 result is close to a decision
  boundary (the top two probabilities of either head within ``BF16_GUARD_*``) is scored again
  in float32, so labels agree with float32 (``benchmarks/classify_speed.py`` measures it);
* optional int8 dynamic quantization of the encoder's linear layers (``quantize=True``).
  It is off by default: on the shipped model it agreed with fp32 on only 84.8% of sentiment
  labels (72.5% of top emotions) in ``benchmarks/classify_speed.py``, below the 99% bar;
* long texts (more tokens than ``max_length``, the window the model reads: 256 for the
  shipped model) are cut at sentence ends into passages of at most ``max_length`` tokens,
  and the passages' probabilities are averaged, weighted by length, the last passage
  counting ``LAST_PASSAGE_WEIGHT`` (2) times: a long review usually ends on its verdict
  (「と、不満ばかり書きましたが、買ってよかったです」) after paragraphs of details of the
  other polarity. Chosen on a development set written for it
  (data/eval/voc_long_reviews_dev, 84 reviews with 1-2 or 4-5 stars): plain length
  weighting read 0.702 of them right, the last passage alone 0.845, twice 0.893, three
  times 0.905; then confirmed once on the held-out long reviews
  (data/eval/voc_long_reviews_test, 68): 0.838 -> 0.897. Measured on earlier models: 256-token
  passages beat 512-token ones (0.824 against 0.809), and passages beat averaging single
  sentences (0.721 against 0.632): a sentence alone misses its context (a 5-star review
  that dwells on the product used before). Every sentence of a long text is also scored
  on its own: those results are kept for the explorer, and the text gets a ``mixed`` flag
  when a clearly positive and a clearly negative sentence meet.

>>> clf = Classifier.load()                       # doctest: +SKIP
>>> clf.predict(["配送が遅くて最悪でした"])[0].sentiment   # doctest: +SKIP
'negative'
"""

from __future__ import annotations

import functools
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
#: weight of a long text's last passage (times its length) when passages are averaged
LAST_PASSAGE_WEIGHT = 2.0
MIXED_DOC = 0.25  # a short text is mixed when both polarities exceed this
#: bfloat16 moved a probability of the shipped model by at most 0.037 (sentiment) and 0.027
#: (emotion) on 4,000 review sentences and short reviews, so the gap between the top two
#: probabilities moves by at most twice that (0.074, 0.054): a text whose gap is below these
#: guards is scored again in float32. (The model before moved them by 0.021 and 0.011 and ran
#: with 0.05 and 0.025; no flip of the current model escaped those either: the widest bfloat16
#: gap of a label that differed from float32 was 0.034 and 0.006.)
BF16_GUARD_SENTIMENT = 0.08
BF16_GUARD_EMOTION = 0.06
PRECISIONS = ("auto", "fp32", "bf16")


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


@functools.cache
def native_bf16() -> bool:
    """True when this CPU computes bfloat16 matrix products natively (AVX512-BF16 or AMX)
    and torch can use them (oneDNN); elsewhere bfloat16 is emulated and slower than fp32."""
    try:
        import torch

        if not torch.backends.mkldnn.is_available():
            return False
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            flags = next((line for line in fh if line.startswith("flags")), "")
        return any(f in flags.split() for f in ("avx512_bf16", "amx_bf16"))
    except OSError:
        return False


def resolve_precision(precision: str | None) -> str:
    """``auto`` (or ``$VOC_PRECISION``) -> ``bf16`` on CPUs with native bfloat16, else ``fp32``."""
    choice = (precision or os.environ.get("VOC_PRECISION") or "auto").lower()
    if choice not in PRECISIONS:
        from voc.errors import ConfigError

        raise ConfigError(
            "E052", f"unknown precision {choice!r}", hint=f"Use one of {', '.join(PRECISIONS)}"
        )
    if choice == "auto":
        return "bf16" if native_bf16() else "fp32"
    return choice


def _margin(probs: Any) -> Any:
    """Gap between the two largest probabilities of each row (1.0 with one label)."""
    import numpy as np

    if probs.shape[1] < 2:
        return np.ones(len(probs))
    top = np.sort(probs, axis=1)
    return top[:, -1] - top[:, -2]


def _near_boundary(s_probs: Any, e_probs: Any) -> Any:
    """Rows whose bfloat16 labels could differ from float32 (see BF16_GUARD_*)."""
    return (_margin(s_probs) < BF16_GUARD_SENTIMENT) | (_margin(e_probs) < BF16_GUARD_EMOTION)


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
        precision: str | None = None,
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
        #: "fp32" or "bf16" (int8 models run their own kernels: fp32 around them)
        self.precision = "fp32" if quantize else resolve_precision(precision)
        self.module = module
        #: texts (or sentences) scored again in float32 after bfloat16 (BF16_GUARD_*), in the
        #: last predict() and since loading (statistics: not exact under concurrent predict)
        self.last_rechecked = 0
        self.total_rechecked = 0

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        *,
        base: str | None = None,
        quantize: bool = False,
        precision: str | None = None,
        threads: int | None = None,
    ) -> Classifier:
        """Load a voc model folder, ready to score texts with ``.predict(list_of_texts)``
        (also ``voc.classify.load``).

        ``path``: a folder written by ``voc train`` (default: ``$VOC_MODEL`` or the shipped
        ``models/voc-sentiment-ja``). ``base``: the encoder a model without a merged one runs
        on (default: the one its config names; the offline e5-small is prepared on first use).
        ``quantize``: int8 dynamic quantization. ``precision``: ``auto`` (default, or
        ``$VOC_PRECISION``), ``fp32`` or ``bf16``. ``threads``: torch threads (default: the
        CPUs this process may use)."""
        folder = Path(path) if path else default_model_dir()
        module, tokenizer, cfg = load_module(folder, base=base)
        return cls(
            module, tokenizer, cfg, quantize=quantize, precision=precision, threads=threads, source=str(folder)
        )

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
            "precision": self.precision,
            "sentiment_labels": list(self.config.sentiment_labels),
            "emotion_labels": list(self.config.emotion_labels),
        }

    # ------------------------------------------------------------------------------
    @functools.cached_property
    def _overhead(self) -> int:
        """Tokens every text gets besides its own: the prefix and the special tokens."""
        return len(self.encode_lengths([""])[0])

    def encode_lengths(self, texts: Sequence[str]) -> list[list[int]]:
        prefix = self.config.prefix
        enc = self.tokenizer([prefix + t for t in texts], add_special_tokens=True, truncation=False, verbose=False)
        return enc["input_ids"]

    def probabilities(self, texts: Sequence[str]) -> tuple[Any, Any]:
        """Raw (sentiment, emotion) probability arrays for texts, truncated at max_length.

        In bfloat16, texts near a decision boundary are scored again in float32."""
        s_out, e_out, _ = self._probabilities(texts)
        return s_out, e_out

    def _probabilities(self, texts: Sequence[str]) -> tuple[Any, Any, Any]:
        """(sentiment, emotion, exact): ``exact[i]`` is True where text i was scored in fp32."""
        import numpy as np

        self.last_rechecked = 0

        if not texts:
            n_s, n_e = len(self.config.sentiment_labels), len(self.config.emotion_labels)
            return np.zeros((0, n_s)), np.zeros((0, n_e)), np.zeros(0, dtype=bool)
        bf16 = self.precision == "bf16"
        s_out, e_out = self._forward(texts, bf16=bf16)
        exact = np.full(len(texts), not bf16)
        if bf16:
            near = np.flatnonzero(_near_boundary(s_out, e_out))
            self._recheck(texts, near, s_out, e_out, exact)
        return s_out, e_out, exact

    def _recheck(self, texts: Sequence[str], idx: Any, s_out: Any, e_out: Any, exact: Any) -> None:
        """Score ``texts[idx]`` again in float32, in place."""
        idx = [int(i) for i in idx if not exact[i]]
        if not idx:
            return
        s_fix, e_fix = self._forward([texts[i] for i in idx], bf16=False)
        s_out[idx], e_out[idx] = s_fix, e_fix
        exact[idx] = True
        self.last_rechecked += len(idx)
        self.total_rechecked += len(idx)

    def _forward(self, texts: Sequence[str], *, bf16: bool) -> tuple[Any, Any]:
        import numpy as np
        import torch

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
                s_logits, e_logits = self.module(input_ids, mask, bf16)
                s_prob = torch.softmax(s_logits.float(), -1).numpy()
                e_prob = torch.softmax(e_logits.float(), -1).numpy()
                for row, i in enumerate(batch):
                    s_out[i] = s_prob[row]
                    e_out[i] = e_prob[row]
        return np.stack(s_out), np.stack(e_out)

    def _passages(self, sents: Sequence[str]) -> list[str]:
        """Consecutive sentences packed into passages of at most ``max_length`` tokens (a
        sentence longer than that on its own is one passage, cut by the window)."""
        overhead = self._overhead
        room = self.max_length - overhead
        passages: list[str] = []
        current: list[str] = []
        used = 0
        for sent, ids in zip(sents, self.encode_lengths(sents), strict=True):
            n = len(ids) - overhead
            if current and used + n > room:
                passages.append("".join(current))
                current, used = [], 0
            current.append(sent)
            used += n
        if current:
            passages.append("".join(current))
        return passages

    def _recheck_documents(
        self,
        units: Sequence[str],
        passage_units: dict[int, list[int]],
        s_prob: Any,
        e_prob: Any,
        exact: Any,
    ) -> None:
        """bfloat16: a long text (scored by its passages) whose averaged probabilities are
        near a decision boundary gets its passages scored again in float32."""
        import numpy as np

        redo: list[int] = []
        for i, us in passage_units.items():
            if all(exact[u] for u in us):
                continue
            sp, ep = _aggregate([units[u] for u in us], s_prob[us], e_prob[us])
            if _near_boundary(sp[None], ep[None])[0]:
                redo.extend(us)
        if redo:
            self._recheck(units, np.array(sorted(set(redo))), s_prob, e_prob, exact)

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
        clean: list[str] = []
        for i, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                results[i].error = f"[{ROW_EMPTY}] the text is empty"
                text = ""
            elif len(text) > self.max_chars:
                text = text[: self.max_chars]
                results[i].truncated = True
            clean.append(text)
        # texts far longer than the window are split without tokenizing them whole
        # (a MeCab-based tokenizer also crashes on megabyte inputs)
        very_long = 8 * self.max_length
        lengths = self.encode_lengths([t if len(t) <= very_long else "" for t in clean]) if clean else []
        units: list[str] = []
        unit_of: dict[str, int] = {}  # a passage that is one sentence is scored once

        def unit(t: str) -> int:
            if t not in unit_of:
                unit_of[t] = len(units)
                units.append(t)
            return unit_of[t]

        whole: dict[int, int] = {}  # text -> unit of the whole text
        sentence_units: dict[int, list[int]] = {}  # long (or sentence_level) text -> its sentences
        passage_units: dict[int, list[int]] = {}  # long text -> its passages
        for i, text in enumerate(clean):
            if results[i].error:
                continue
            n_tok = len(lengths[i]) if len(text) <= very_long else self.max_length + 1
            results[i].n_tokens = n_tok
            long_text = n_tok > self.max_length
            sents = split_sentences(text) if (long_text or sentence_level) else []
            if long_text or (sentence_level and len(sents) > 1):
                sentence_units[i] = [unit(x) for x in sents]
            if long_text:
                passage_units[i] = [unit(x) for x in self._passages(sents)]
            else:
                whole[i] = unit(text)
        try:
            s_prob, e_prob, exact = self._probabilities(units)
            if not exact.all():  # a long text near a boundary as a whole: its passages in fp32
                self._recheck_documents(units, passage_units, s_prob, e_prob, exact)
        except Exception as exc:  # a model failure must not lose the batch: say why per row
            logger.exception("the classifier failed on a batch of %d texts", len(units))
            for i in {*whole, *passage_units}:
                results[i].error = f"[{ROW_SCORING_FAILED}] the classifier failed: {exc}"
            return results
        s_labels = list(self.config.sentiment_labels)
        e_labels = list(self.config.emotion_labels)
        for i, res in enumerate(results):
            if res.error:
                continue
            sents = [units[u] for u in sentence_units.get(i, [])]
            scored = [(s_prob[u], e_prob[u]) for u in sentence_units.get(i, [])]
            if i in whole:
                sp, ep = s_prob[whole[i]], e_prob[whole[i]]
            else:  # long text: length-weighted mean of its passages
                us = passage_units[i]
                sp, ep = _aggregate([units[u] for u in us], s_prob[us], e_prob[us])
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


def _aggregate(parts: Sequence[str], s_probs: Sequence[Any], e_probs: Sequence[Any]) -> tuple[Any, Any]:
    """A long text's probabilities: the length-weighted mean of its parts' (passages),
    the last part weighted ``LAST_PASSAGE_WEIGHT`` times more (where reviews conclude)."""
    import numpy as np

    w = np.array([max(len(s), 1) for s in parts], dtype=float)
    if len(w) > 1:
        w[-1] *= LAST_PASSAGE_WEIGHT
    sp = (np.stack(list(s_probs)) * w[:, None]).sum(0) / w.sum()
    ep = (np.stack(list(e_probs)) * w[:, None]).sum(0) / w.sum()
    return sp, ep


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
