"""Run voc's scoring on a distributed engine (Spark), beyond what one machine handles.

:func:`voc.pipeline.score_frame` is the scoring function; :mod:`voc.engines.batches` is the
engine-independent part (one chunk in Arrow, one output batch out) and
:mod:`voc.engines.spark` the Spark job (``voc analyze --engine spark``). pyspark is
imported only when a Spark job starts.
"""

from __future__ import annotations

from typing import Any

__all__ = ["run_spark"]


def run_spark(*args: Any, **kwargs: Any) -> Any:
    """See :func:`voc.engines.spark.run_spark`."""
    from voc.engines.spark import run_spark as _run

    return _run(*args, **kwargs)
