"""``voc topics``: find what customers complain about, name it, and keep it up to date.

A thin layer over :class:`voc.topics.TopicModeler` and :mod:`voc.topics.store`.
"""

from __future__ import annotations

import logging
import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import typer

from voc.errors import ConfigError, InputError

logger = logging.getLogger(__name__)

topics_app = typer.Typer(
    help=(
        "Complaint topics: group negative and mixed feedback into topics with Japanese keywords "
        "and labels (BERTopic), curate them, and assign new feedback to them."
    ),
    no_args_is_help=True,
)

_INPUTS = typer.Argument(
    help="Files to read (csv, tsv, xlsx, jsonl, json, parquet). Leave out to use the store's complaints.",
    show_default=False,
)
_STORE = typer.Option("--store", help="DuckDB results file (default: voc.duckdb, or the config).")
_MODEL_DIR = typer.Option(
    "--model-dir", help="Folder of the topic model (default: voc_topics next to the store)."
)
_CONFIG = typer.Option(
    "--config", help="A TOML settings file; its [topics] table sets the topic options."
)


def _progress() -> bool:
    return logging.getLogger().getEffectiveLevel() <= logging.INFO


def load_settings(path: Path | None) -> tuple[Any, Any]:
    """``(VocConfig, TopicConfig)`` from the defaults and an optional TOML file.

    The ``[topics]`` table is read here (see :class:`voc.topics.config.TopicConfig`); the
    rest of the file goes to :class:`voc.config.VocConfig` as usual.
    """
    from voc.config import VocConfig, _deep_merge, _read_toml_text
    from voc.topics.config import TopicConfig

    raw = _read_toml_text(
        resources.files("voc").joinpath("default_config.toml").read_text("utf-8"), "<defaults>"
    )
    if path is not None:
        if not Path(path).is_file():
            raise ConfigError("E001", "config file not found", path=str(path))
        try:
            user = tomllib.loads(Path(path).read_text("utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                "E004", f"the config file is not valid TOML: {exc}", path=str(path)
            ) from exc
        raw = _deep_merge(raw, user)
    topics_raw = raw.pop("topics", {})
    try:
        cfg = VocConfig.from_dict(raw)
    except ConfigError:
        cfg = VocConfig.from_dict({**raw, "topics": topics_raw})  # a VocConfig that knows [topics]
    topic_cfg = getattr(cfg, "topics", None)
    if not isinstance(topic_cfg, TopicConfig):
        topic_cfg = TopicConfig.from_mapping(topics_raw)
    return cfg, topic_cfg


def _store_path(store: Path | None, cfg: Any) -> Path:
    return Path(store) if store is not None else Path(cfg.store.path)


def _model_dir(model_dir: Path | None, store_path: Path) -> Path:
    return Path(model_dir) if model_dir is not None else store_path.parent / "voc_topics"


def _tokenizer(cfg: Any, topic_cfg: Any) -> Any:
    from voc.topics.vectorizer import TopicTokenizer

    return TopicTokenizer(
        user_words=cfg.tokenize.user_words,
        extra_stopwords=cfg.tokenize.extra_stopwords,
        keep_unknown_words=topic_cfg.keep_unknown_words,
    )


def read_texts(
    paths: list[str], text_col: str | None, cfg: Any
) -> tuple[list[dict[str, Any]], list[str], str]:
    """Rows (input columns as read), their normalised texts and the text column name.

    Texts are normalised like ``voc analyze`` does (NFKC, URLs, personal data masked), so
    that keywords and saved verbatims carry no phone numbers or names.
    """
    from voc.ingest.columns import as_text, recognize_columns
    from voc.ingest.readers import open_dump
    from voc.pipeline import expand_inputs
    from voc.text.normalize import Normalizer

    normalizer = Normalizer(cfg.normalize)
    rows: list[dict[str, Any]] = []
    texts: list[str] = []
    col_used = text_col or ""
    files = expand_inputs(paths)
    if not files:
        raise InputError("E101", "no input files found", hint="Check the paths or glob patterns")
    for p in files:
        dump = open_dump(p, encoding=cfg.ingest.encoding, sheet=cfg.ingest.sheet)
        cmap = recognize_columns(dump.columns, {"text": text_col} if text_col else None)
        if cmap.text is None:
            raise InputError(
                "E112",
                "no text column was found",
                path=str(p),
                hint="Name it with --text-col; columns: " + ", ".join(map(str, dump.columns)),
            )
        col_used = cmap.text
        for raw in dump.rows():
            rows.append(dict(raw.values))
            text = as_text(raw.values.get(cmap.text))
            texts.append(normalizer(text).text if text.strip() else "")
    return rows, texts, col_used


def _write_output(
    path: Path, rows: list[dict[str, Any]], topic_ids: list[int], labels: list[str]
) -> None:
    from voc.output import OutputWriter

    columns = list(dict.fromkeys(c for r in rows for c in r))
    tid = "topic_id" if "topic_id" not in columns else "voc_topic_id"
    tlab = "topic_label" if "topic_label" not in columns else "voc_topic_label"
    writer = OutputWriter(path, [*columns, tid, tlab], {tid: "int", tlab: "string"})
    out = []
    for r, t, lab in zip(rows, topic_ids, labels, strict=True):
        row = {c: r.get(c) for c in columns}
        row[tid] = t
        row[tlab] = lab
        out.append(row)
    for a in range(0, len(out), 5000):
        writer.write(out[a : a + 5000])
    writer.close()


def _print_topics(tm: Any, n_verbatims: int = 3) -> None:
    echo = typer.echo
    n = len(tm.topics_)
    for info in tm.topic_info():
        mark = " *" if info.curated else ""
        echo(
            f"[{info.topic_id:>3}] {info.label}{mark}  ({info.size}, {100 * info.size / max(n, 1):.1f} %)"
        )
        echo(f"      keywords: {' / '.join(info.keywords)}")
        for text in info.representative[:n_verbatims]:
            short = text.replace("\n", " ")
            echo(f"      「{short[:80]}{'…' if len(short) > 80 else ''}」")
    n_out = int((tm.topics_ == -1).sum())
    echo(f"[ -1] 未分類  ({n_out}, {100 * n_out / max(n, 1):.1f} %)")


def _fit_common(
    inputs: list[str] | None,
    store: Path | None,
    text_col: str | None,
    output: Path | None,
    model_dir: Path | None,
    min_topic_size: int | None,
    seed: int | None,
    max_outliers: float | None,
    config: Path | None,
    previous: Any = None,
) -> None:
    from voc.topics.model import TopicModeler

    cfg, topic_cfg = load_settings(config)
    topic_cfg = topic_cfg.replace(
        min_topic_size=min_topic_size, seed=seed, max_outlier_share=max_outliers
    )
    store_path = _store_path(store, cfg)
    folder = _model_dir(model_dir, store_path)
    rows: list[dict[str, Any]] | None = None
    if inputs:
        rows, texts, col = read_texts(inputs, text_col, cfg)
        record_ids: list[str | None] = [None] * len(texts)
        keep = [i for i, t in enumerate(texts) if t.strip()]
        typer.echo(f"{len(texts)} rows read ({len(keep)} with text in column {col!r})", err=True)
    else:
        from voc.store import Store
        from voc.topics.store import load_complaints

        if not store_path.exists():
            raise InputError(
                "E508",
                "the store does not exist yet",
                path=str(store_path),
                hint="Run `voc analyze` first, or give files to fit on",
            )
        with Store(store_path, read_only=True) as st:
            ids, texts, rule = load_complaints(st)
        record_ids = list(ids)
        keep = list(range(len(texts)))
        typer.echo(f"{len(texts)} complaints in the store (chosen by {rule})", err=True)
    if previous is not None and config is None:
        topic_cfg = previous.config.replace(
            min_topic_size=min_topic_size, seed=seed, max_outlier_share=max_outliers
        )
    if previous is None:
        tm = TopicModeler(topic_cfg, tokenizer=_tokenizer(cfg, topic_cfg), progress=_progress())
        tm.fit([texts[i] for i in keep], [record_ids[i] for i in keep])
    else:
        previous.config = topic_cfg
        previous.tokenizer = _tokenizer(cfg, topic_cfg)  # today's user words and stopwords
        tm = previous.refit([texts[i] for i in keep], [record_ids[i] for i in keep])
    tm.save(folder)
    _print_topics(tm)
    stats = tm.fit_stats_
    typer.echo(
        f"{tm.n_topics} topics; unassigned {100 * tm.outlier_share:.1f} % "
        f"(HDBSCAN alone {100 * stats.get('hdbscan_outlier_share', 0):.1f} %); model saved to {folder}"
    )
    _print_layout(stats)
    if not inputs:
        from voc.store import Store
        from voc.topics.store import write_topics

        with Store(store_path) as st:
            write_topics(st, tm, str(folder))
        typer.echo(f"store updated: {store_path} (topics, topic_assignments and the topic views)")
    if output is not None:
        topic_ids = [-1] * len(texts)
        for pos, t in zip(keep, tm.topics_.tolist(), strict=True):
            topic_ids[pos] = int(t)
        labels = [tm.label_of(t) for t in topic_ids]
        if rows is None:
            rows = [{"record_id": r, "text": t} for r, t in zip(record_ids, texts, strict=True)]
        _write_output(output, rows, topic_ids, labels)
        typer.echo(f"output: {output}")


_TEXT_COL = typer.Option("--text-col", help="Column holding the text (files only).")
_OUTPUT = typer.Option(
    "--output", "-o", help="Write one row per input row with topic_id and topic_label (.csv, .parquet, .xlsx)."
)
_MIN_TOPIC_SIZE = typer.Option("--min-topic-size", help="Smallest topic (default: grows with the data, at least 10).")
_SEED = typer.Option("--seed", help="Random seed; the same seed gives the same topics (default 42).")
_MAX_OUTLIERS = typer.Option("--max-outliers", help="Largest share left unassigned, 0-1 (default 0.15).")


@topics_app.command("fit")
def fit(
    inputs: Annotated[list[str] | None, _INPUTS] = None,
    store: Annotated[Path | None, _STORE] = None,
    text_col: Annotated[str | None, _TEXT_COL] = None,
    output: Annotated[Path | None, _OUTPUT] = None,
    model_dir: Annotated[Path | None, _MODEL_DIR] = None,
    min_topic_size: Annotated[int | None, _MIN_TOPIC_SIZE] = None,
    seed: Annotated[int | None, _SEED] = None,
    max_outliers: Annotated[float | None, _MAX_OUTLIERS] = None,
    config: Annotated[Path | None, _CONFIG] = None,
) -> None:
    """Find complaint topics in files, or in the store's negative and mixed feedback, and save the model."""
    _fit_common(
        inputs, store, text_col, output, model_dir, min_topic_size, seed, max_outliers, config
    )


@topics_app.command("refit")
def refit(
    inputs: Annotated[list[str] | None, _INPUTS] = None,
    store: Annotated[Path | None, _STORE] = None,
    text_col: Annotated[str | None, _TEXT_COL] = None,
    output: Annotated[Path | None, _OUTPUT] = None,
    model_dir: Annotated[Path | None, _MODEL_DIR] = None,
    min_topic_size: Annotated[int | None, _MIN_TOPIC_SIZE] = None,
    seed: Annotated[int | None, _SEED] = None,
    max_outliers: Annotated[float | None, _MAX_OUTLIERS] = None,
    config: Annotated[Path | None, _CONFIG] = None,
) -> None:
    """Fit the topics again on today's complaints, keeping your renames and merges where topics match."""
    from voc.topics.model import TopicModeler

    cfg, _ = load_settings(config)
    folder = _model_dir(model_dir, _store_path(store, cfg))
    previous = TopicModeler.load(folder, progress=_progress())
    _fit_common(
        inputs,
        store,
        text_col,
        output,
        folder,
        min_topic_size,
        seed,
        max_outliers,
        config,
        previous,
    )


@topics_app.command("show")
def show(
    model_dir: Annotated[Path | None, _MODEL_DIR] = None,
    store: Annotated[Path | None, _STORE] = None,
    verbatims: Annotated[int, typer.Option("--verbatims", help="Verbatims shown per topic.")] = 3,
) -> None:
    """List the topics: id, label, size, keywords and representative verbatims (* = named by you)."""
    from voc.topics.model import TopicModeler

    cfg, _ = load_settings(None)
    tm = TopicModeler.load(_model_dir(model_dir, _store_path(store, cfg)))
    _print_topics(tm, verbatims)


def _save_curated(
    tm: Any, folder: Path, store: Path | None, cfg: Any, mapping: dict[int, int] | None = None
) -> None:
    tm.save(folder)
    store_path = _store_path(store, cfg)
    if store_path.exists():
        from voc.store import Store
        from voc.topics.store import update_curation

        with Store(store_path) as st:
            current = st.con.execute(
                "SELECT value FROM voc_meta WHERE key = 'topics_model_id'"
            ).fetchall()
            if current and current[0][0] == tm.model_id_:
                update_curation(st, tm, mapping)
                typer.echo(f"store updated: {store_path}")


@topics_app.command("rename")
def rename(
    topic_id: Annotated[int, typer.Argument(help="Topic id (see `voc topics show`).")],
    label: Annotated[str, typer.Argument(help="The new label, e.g. 配送の遅れ.")],
    model_dir: Annotated[Path | None, _MODEL_DIR] = None,
    store: Annotated[Path | None, _STORE] = None,
) -> None:
    """Give a topic your own label; it is kept when the topics are fitted again."""
    from voc.topics.model import TopicModeler

    cfg, _ = load_settings(None)
    folder = _model_dir(model_dir, _store_path(store, cfg))
    tm = TopicModeler.load(folder)
    tm.rename(topic_id, label)
    _save_curated(tm, folder, store, cfg)
    typer.echo(f"topic {topic_id} is now 「{tm.label_of(topic_id)}」")


@topics_app.command("merge")
def merge(
    topic_ids: Annotated[
        list[int], typer.Argument(help="Two or more topic ids to merge into one.")
    ],
    label: Annotated[str | None, typer.Option("--label", help="Label of the merged topic.")] = None,
    model_dir: Annotated[Path | None, _MODEL_DIR] = None,
    store: Annotated[Path | None, _STORE] = None,
) -> None:
    """Merge topics into one; the merge is repeated when the topics are fitted again."""
    from voc.topics.model import TopicModeler

    cfg, _ = load_settings(None)
    folder = _model_dir(model_dir, _store_path(store, cfg))
    tm = TopicModeler.load(folder, progress=_progress())
    new_id = tm.merge(topic_ids, label=label)
    _save_curated(tm, folder, store, cfg, tm.last_mapping_)
    typer.echo(
        f"merged {', '.join(map(str, topic_ids))} into topic {new_id} 「{tm.label_of(new_id)}」 "
        "(ids are renumbered by size)"
    )


@topics_app.command("assign")
def assign(
    inputs: Annotated[
        list[str], typer.Argument(help="Files with new feedback to assign to the saved topics.")
    ],
    text_col: Annotated[
        str | None, typer.Option("--text-col", help="Column holding the text.")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write one row per input row with its topic."),
    ] = None,
    model_dir: Annotated[Path | None, _MODEL_DIR] = None,
    store: Annotated[Path | None, _STORE] = None,
    config: Annotated[Path | None, _CONFIG] = None,
) -> None:
    """Assign every row of new files to the saved topics and report how many fit none."""
    from voc.topics.model import TopicModeler

    cfg, _ = load_settings(config)
    tm = TopicModeler.load(_model_dir(model_dir, _store_path(store, cfg)), progress=_progress())
    rows, texts, _ = read_texts(inputs, text_col, cfg)
    keep = [i for i, t in enumerate(texts) if t.strip()]
    got, _sims = tm.transform([texts[i] for i in keep])
    topic_ids = [-1] * len(texts)
    for pos, t in zip(keep, got.tolist(), strict=True):
        topic_ids[pos] = int(t)
    n_none = sum(1 for i in keep if topic_ids[i] == -1)
    share = n_none / len(keep) if keep else 0.0
    typer.echo(
        f"{len(keep)} texts assigned; {n_none} ({100 * share:.1f} %) fit no existing topic "
        f"(at fit time: {100 * (tm.baseline_nofit_share_ or 0):.1f} %)"
    )
    if share > tm.config.refit_share:
        typer.echo("many complaints fit no topic: consider `voc topics refit`")
    if output is not None:
        _write_output(output, rows, topic_ids, [tm.label_of(t) for t in topic_ids])
        typer.echo(f"output: {output}")


def _print_layout(stats: dict) -> None:  # type: ignore[type-arg]
    """Which of the compared layouts was kept, and a plain warning when they disagree."""
    from voc.topics.config import UNSTEADY_AGREEMENT

    seeds = stats.get("layout_seeds")
    if not seeds:
        return
    agreement = float(stats.get("layout_agreement", 1.0))
    typer.echo(
        f"layout: seed {stats.get('layout_seed')}, the most central of {len(seeds)} "
        f"(seeds {seeds[0]}-{seeds[-1]}; their agreement {agreement:.2f} of 1.00)"
    )
    if agreement < UNSTEADY_AGREEMENT:
        typer.echo(
            f"note: on {stats.get('n_docs', 0):,} complaints the grouping changes a lot from one "
            "seed to another. Read these topics as a first sorting of the complaints, not a "
            "fixed structure; more complaints give steadier topics.",
            err=True,
        )
