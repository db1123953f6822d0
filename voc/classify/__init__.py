"""Classification models: sentiment, emotion and the shared multilingual-e5 base encoder.

The Python API::

    import voc.classify

    clf = voc.classify.load()                  # the shipped model (or a folder: load("models/adapted"))
    preds = clf.predict(["配送が遅くて箱も潰れていた。最悪です", "店員さんの対応が丁寧でした"])
    preds[0].sentiment, preds[0].sentiment_score, preds[0].emotion

``import voc.classify`` stays light: the modules defer torch and transformers to the first
model they load (a test holds this), so the converter and the CLI's light commands don't pay for them.
"""

from __future__ import annotations

from pathlib import Path

from voc.classify.predict import Classifier, Prediction, SentenceResult

__all__ = ["Classifier", "Prediction", "SentenceResult", "load"]


def load(
    path: str | Path | None = None,
    *,
    base: str | None = None,
    quantize: bool = False,
    precision: str | None = None,
    threads: int | None = None,
) -> Classifier:
    """Load a voc model folder, ready to score texts with ``.predict(list_of_texts)``.

    ``path``: a folder written by ``voc train`` (default: ``$VOC_MODEL`` or the shipped
    ``models/voc-sentiment-ja``). ``base``: the encoder a model without a merged one runs on
    (default: the one its config names; the offline e5-small is prepared on first use).
    ``quantize``: int8 dynamic quantization. ``precision``: ``auto``, ``fp32`` or ``bf16``.
    ``threads``: torch threads (default: the CPUs this process may use).
    """
    return Classifier.load(path, base=base, quantize=quantize, precision=precision, threads=threads)

