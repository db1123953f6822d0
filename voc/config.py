"""voc settings, in one place.

Defaults live in ``voc/default_config.toml`` (every setting, with a comment). A user file
overrides any subset; the CLI's options override the file.

>>> cfg = VocConfig.load()
>>> cfg.ingest.max_text_chars
20000
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

from voc.errors import ConfigError
from voc.text.normalize import NormalizeConfig

CHANNELS: tuple[str, ...] = ("review", "sns", "call", "survey", "chat", "email", "other")


@dataclass(frozen=True)
class IngestConfig:
    max_text_chars: int = 20000
    include_title: bool = True
    default_channel: str = ""
    encoding: str = ""
    sheet: str = ""
    chunk_size: int = 2000


@dataclass(frozen=True)
class TokenizeConfig:
    user_words: tuple[str, ...] = ()
    extra_stopwords: tuple[str, ...] = ()


@dataclass(frozen=True)
class StoreConfig:
    path: str = "voc.duckdb"
    # DuckDB's memory limit while writing ("1GB", "512MB"; "" = DuckDB's default, 80 % of RAM)
    memory_limit: str = "64MB"


@dataclass(frozen=True)
class VocConfig:
    """All settings. Frozen: derive a changed copy with :meth:`with_overrides`."""

    ingest: IngestConfig = field(default_factory=IngestConfig)
    normalize: NormalizeConfig = field(default_factory=NormalizeConfig)
    max_sentence_chars: int = 500
    tokenize: TokenizeConfig = field(default_factory=TokenizeConfig)
    touchpoints: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    store: StoreConfig = field(default_factory=StoreConfig)
    # [topics]: read and validated by voc.topics (TopicConfig.from_mapping)
    topics: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path | None = None) -> VocConfig:
        """Defaults, updated by the TOML file at ``path`` when given."""
        raw = _read_toml_text(
            resources.files("voc").joinpath("default_config.toml").read_text("utf-8"), "<defaults>"
        )
        if path is not None:
            p = Path(path)
            if not p.is_file():
                raise ConfigError("E001", "config file not found", path=str(p))
            user = _read_toml_text(p.read_text("utf-8"), str(p))
            raw = _deep_merge(raw, user)
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> VocConfig:
        known = {"ingest", "normalize", "pii", "tokenize", "touchpoints", "store", "topics"}
        unknown = set(raw) - known
        if unknown:
            raise ConfigError(
                "E002",
                f"unknown config section(s): {sorted(unknown)}",
                hint=f"Known sections: {sorted(known)}",
            )
        norm = dict(raw.get("normalize", {}))
        max_sentence_chars = int(norm.pop("max_sentence_chars", 500))
        pii = dict(raw.get("pii", {}))
        normalize = _build(
            NormalizeConfig,
            {
                **norm,
                "mask_pii": pii.get("enabled", True),
                "pii_types": tuple(pii["types"]) if "types" in pii else None,
                "pii_patterns": dict(pii.get("patterns", {})),
                "mask_person_names": pii.get("mask_person_names", True),
            },
            "normalize",
        )
        tok = dict(raw.get("tokenize", {}))
        ingest = _build(IngestConfig, raw.get("ingest", {}), "ingest")
        if ingest.default_channel and ingest.default_channel not in CHANNELS:
            raise ConfigError(
                "E003",
                f"default_channel {ingest.default_channel!r} is not a channel",
                hint=f"Use one of {', '.join(CHANNELS)}",
            )
        return cls(
            ingest=ingest,
            normalize=normalize,
            max_sentence_chars=max_sentence_chars,
            tokenize=TokenizeConfig(
                user_words=tuple(tok.get("user_words", ())),
                extra_stopwords=tuple(tok.get("extra_stopwords", ())),
            ),
            touchpoints={k: tuple(v) for k, v in raw.get("touchpoints", {}).items()},
            store=_build(StoreConfig, raw.get("store", {}), "store"),
            topics=dict(raw.get("topics", {})),
        )

    def with_overrides(self, **sections: Mapping[str, Any]) -> VocConfig:
        """Copy with some fields of some sections changed: ``with_overrides(ingest={...})``."""
        changes = {}
        for name, values in sections.items():
            current = getattr(self, name)
            changes[name] = replace(current, **values)
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), default=list, ensure_ascii=False))

    def fingerprint(self) -> str:
        """Short stable hash of every setting (recorded in each run's manifest)."""
        blob = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def _read_toml_text(text: str, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("E004", f"the config file is not valid TOML: {exc}", path=where) from exc


def _deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _build(cls: type, values: Mapping[str, Any], section: str) -> Any:
    names = {f.name for f in fields(cls)}
    unknown = set(values) - names
    if unknown:
        raise ConfigError(
            "E005",
            f"unknown setting(s) in [{section}]: {sorted(unknown)}",
            hint=f"Known settings: {sorted(names)}",
        )
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})
