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

from voc.classify.predict import Classifier, Prediction, SentenceResult

__all__ = ["Classifier", "Prediction", "SentenceResult", "load"]


#: ``voc.classify.load(path=None, ...)``: ``Classifier.load`` (its docstring has the arguments)
load = Classifier.load
