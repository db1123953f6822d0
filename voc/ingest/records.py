"""From a raw input row to feedback records (one per utterance) and one output row.

The output row keeps the input's columns first (personal data masked), then voc's own
columns. A one-cell call transcript becomes one record per turn in the store, and one
output row whose ``text_normalized`` holds the customer's turns.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from voc.config import VocConfig
from voc.errors import ROW_BAD_VALUE, ROW_EMPTY, ROW_TRUNCATED, RowIssue
from voc.ingest.columns import (
    ColumnMap,
    as_text,
    header_key,
    is_blank,
    parse_channel,
    parse_datetime,
    parse_number,
    parse_touchpoint,
    personal_column_placeholder,
)
from voc.ingest.readers import RawRow
from voc.ingest.seen import SeenIds
from voc.ingest.transcripts import Turn, looks_like_transcript, speaker_role, split_transcript
from voc.text.normalize import Normalizer, split_sentences
from voc.text.pii import PiiMasker
from voc.text.tokenize import JapaneseTokenizer

# voc's own output columns, in order (a clash with an input column gets a "voc_" prefix)
OUTPUT_COLUMNS: tuple[str, ...] = (
    "voc_id",
    "source_file",
    "source_row",
    "text_normalized",
    "channel",
    "touchpoint",
    "touchpoint_source",
    "created_at",
    "rating",
    "nps",
    "role",
    "n_turns",
    "truncated",
    "pii_masked",
    "warning",
    "error",
)


@dataclass
class FeedbackRecord:
    """One utterance, as stored in the ``feedback`` table."""

    record_id: str
    voc_id: str
    source_file: str
    source_row: int
    sheet: str | None
    conversation_id: str | None
    turn: int | None
    speaker: str | None
    role: str | None
    is_voc: bool
    channel: str
    touchpoint: str
    touchpoint_source: str
    created_at: datetime | None
    rating: float | None
    nps: float | None
    title: str | None
    text: str
    text_normalized: str
    sentences: list[str]
    keywords: list[str]
    n_chars: int
    truncated: bool
    pii_count: int
    content_hash: str
    warning: str | None = None
    error: str | None = None


@dataclass
class Prepared:
    """What one input row became."""

    output: dict[str, Any]
    records: list[FeedbackRecord] = field(default_factory=list)
    ok: bool = True
    # True when every record of this row is already in the store with the same content:
    # scorers then fill the output row from the store instead of scoring again.
    cached: bool = False


class RecordBuilder:
    """Turns the raw rows of one dump into records and output rows.

    One builder per input file: it holds the column map, the file's default channel and
    the counter that keeps generated ids unique when identical rows repeat.
    """

    def __init__(
        self,
        config: VocConfig,
        source_file: str | Path,
        columns: Sequence[str],
        column_map: ColumnMap,
        *,
        normalizer: Normalizer | None = None,
        tokenizer: JapaneseTokenizer | None = None,
        channel: str | None = None,
    ) -> None:
        self.config = config
        self.source_file = str(source_file)
        self.columns = list(columns)
        self.cmap = column_map
        self.normalizer = normalizer or Normalizer(config.normalize)
        self.masker: PiiMasker | None = self.normalizer.masker
        self.tokenizer = tokenizer or JapaneseTokenizer(
            user_words=config.tokenize.user_words, extra_stopwords=config.tokenize.extra_stopwords
        )
        self.default_channel = channel or config.ingest.default_channel or guess_channel(
            Path(source_file), columns, column_map
        )
        self.personal_cols = (
            {c: p for c in self.columns if (p := personal_column_placeholder(c))}
            if self.masker is not None
            else {}
        )
        if self.masker is not None:
            for c in (column_map.text, column_map.title, column_map.speaker):
                self.personal_cols.pop(c, None)  # text columns are masked span by span
        self._seen_ids = SeenIds()
        self._touchpoint_rules = [
            (tp, tuple(kw)) for tp, kw in config.touchpoints.items()
        ]

    # -------------------------------------------------------------------------------
    def prepare(self, raw: RawRow) -> Prepared:
        cmap = self.cmap
        values = raw.values
        issues: list[RowIssue] = list(raw.issues)
        out: dict[str, Any] = {c: values.get(c) for c in self.columns}
        for col, placeholder in self.personal_cols.items():
            if not is_blank(out.get(col)):
                out[col] = placeholder

        text_raw = as_text(values.get(cmap.text)) if cmap.text else ""
        title_raw = as_text(values.get(cmap.title)) if cmap.title else ""
        if self.masker is not None:
            if cmap.text and text_raw:
                out[cmap.text] = self.masker.mask(text_raw).text
            if cmap.title and title_raw:
                out[cmap.title] = self.masker.mask(title_raw).text

        voc_id, dup_issue = self._voc_id(raw)
        if dup_issue is not None:
            issues.append(dup_issue)
        base = {
            "voc_id": voc_id,
            "source_file": self.source_file,
            "source_row": raw.row,
            "text_normalized": "",
            "channel": None,
            "touchpoint": None,
            "touchpoint_source": None,
            "created_at": None,
            "rating": None,
            "nps": None,
            "role": None,
            "n_turns": None,
            "truncated": False,
            "pii_masked": 0,
        }

        fatal = [i for i in issues if i.fatal]
        if cmap.text is None:
            fatal.append(
                RowIssue(
                    "E112",
                    "no text column was found in this file; name it with --text-col",
                )
            )
        elif not fatal and not text_raw.strip():
            fatal.append(RowIssue(ROW_EMPTY, "the text is empty", column=cmap.text))
        elif not fatal and not _has_visible(text_raw):
            fatal.append(
                RowIssue(
                    ROW_EMPTY,
                    "the text is empty: it holds only spaces and invisible characters",
                    column=cmap.text,
                )
            )
        if fatal:
            return self._finish(out, base, issues, fatal, [], ok=False)

        max_chars = self.config.ingest.max_text_chars
        truncated = len(text_raw) > max_chars
        if truncated:
            issues.append(
                RowIssue(
                    ROW_TRUNCATED,
                    f"the text has {len(text_raw):,} characters; only the first {max_chars:,} were analysed",
                    column=cmap.text,
                    fatal=False,
                )
            )
            text_raw = text_raw[:max_chars]

        created_at = self._parse(values, cmap.created_at, parse_datetime, issues, "a date")
        rating = self._parse(values, cmap.rating, lambda v: parse_number(v, 1, 5), issues, "a 1-5 rating")
        nps = self._parse(values, cmap.nps, lambda v: parse_number(v, 0, 10), issues, "a 0-10 NPS score")
        channel = self._channel(values, issues)
        given_tp = parse_touchpoint(values.get(cmap.touchpoint)) if cmap.touchpoint else None
        conversation_id = as_text(values.get(cmap.conversation_id)) or None if cmap.conversation_id else None

        # utterances: (turn, speaker, role, text)
        utterances: list[Turn]
        if cmap.speaker:
            speaker = as_text(values.get(cmap.speaker))
            role = speaker_role(speaker)
            if role == "unknown":
                issues.append(
                    RowIssue(
                        ROW_BAD_VALUE,
                        f"speaker {speaker!r} is neither a known operator nor customer label; "
                        "scored as customer",
                        column=cmap.speaker,
                        fatal=False,
                    )
                )
            turn_no = parse_number(values.get(cmap.turn), 0, 1e9) if cmap.turn else None
            utterances = [Turn(int(turn_no) if turn_no is not None else raw.row, speaker, role, text_raw)]
            single_turn = True
        elif looks_like_transcript(text_raw):
            utterances = split_transcript(text_raw)
            single_turn = False
            if channel == "review":
                channel = "call"
        else:
            utterances = [Turn(0, "", "", text_raw)]
            single_turn = None  # plain feedback, not a transcript
        if title_raw and self.config.ingest.include_title and single_turn is None:
            utterances = [Turn(0, "", "", f"{title_raw}\n{text_raw}")]

        records: list[FeedbackRecord] = []
        pii_total = 0
        for utt in utterances:
            norm = self.normalizer(utt.text)
            pii_total += norm.pii_total
            display = self.masker.mask(utt.text).text if self.masker is not None else utt.text
            role = utt.role or None
            is_voc = role != "operator"
            sentences = split_sentences(norm.text, self.config.max_sentence_chars)
            keywords = list(dict.fromkeys(self.tokenizer.lemmas(norm.text))) if is_voc else []
            if given_tp:
                tp, tp_source = given_tp, "given"
            else:
                tp, tp_source = self._infer_touchpoint(norm.text, channel)
            rec_key = voc_id if single_turn is not False else f"{voc_id}#t{utt.index}"
            records.append(
                FeedbackRecord(
                    record_id=_hash(self.source_namespace, rec_key)[:20],
                    voc_id=rec_key,
                    source_file=self.source_file,
                    source_row=raw.row,
                    sheet=raw.sheet,
                    conversation_id=conversation_id or (voc_id if single_turn is False else None),
                    turn=utt.index if single_turn is not None else None,
                    speaker=utt.speaker or None,
                    role=role if single_turn is not None else None,
                    is_voc=is_voc,
                    channel=channel,
                    touchpoint=tp,
                    touchpoint_source=tp_source,
                    created_at=created_at,
                    rating=rating,
                    nps=nps,
                    title=(self.masker.mask(title_raw).text if self.masker else title_raw) or None,
                    text=display,
                    text_normalized=norm.text,
                    sentences=sentences,
                    keywords=keywords,
                    n_chars=len(norm.text),
                    truncated=truncated,
                    pii_count=norm.pii_total,
                    content_hash=_hash(utt.text)[:16],
                    warning=_join(issues, fatal=False),
                )
            )
        voc_records = [r for r in records if r.is_voc]
        if single_turn is False and not voc_records:
            issues.append(RowIssue(ROW_EMPTY, "the transcript has no customer turn", fatal=False))
        base.update(
            text_normalized="\n".join(r.text_normalized for r in voc_records),
            channel=channel,
            touchpoint=_most_common([r.touchpoint for r in voc_records] or [r.touchpoint for r in records]),
            touchpoint_source=records[0].touchpoint_source if records else None,
            created_at=created_at,
            rating=rating,
            nps=nps,
            role=records[0].role if single_turn else ("transcript" if single_turn is False else None),
            n_turns=len(records) if single_turn is False else None,
            truncated=truncated,
            pii_masked=pii_total,
        )
        return self._finish(out, base, issues, [], records, ok=True)

    # -------------------------------------------------------------------------------
    @property
    def source_namespace(self) -> str:
        """Ids are unique per id column name: 「レビューID:123」 and 「回答ID:123」 differ."""
        return header_key(self.cmap.id or self.cmap.conversation_id or "row")

    def _voc_id(self, raw: RawRow) -> tuple[str, RowIssue | None]:
        """The row's id, and a warning when the id (or the whole row) repeats an earlier one:
        the repeat is stored under ``id~2``, ``id~3`` ..."""
        cmap = self.cmap
        given = as_text(raw.values.get(cmap.id)) if cmap.id else ""
        column = cmap.id
        if not given and cmap.conversation_id and not cmap.speaker:
            given = as_text(raw.values.get(cmap.conversation_id))
            column = cmap.conversation_id
        if not given and cmap.conversation_id and cmap.speaker:
            conv = as_text(raw.values.get(cmap.conversation_id))
            turn = as_text(raw.values.get(cmap.turn)) if cmap.turn else ""
            if conv and turn:
                given = f"{conv}#{turn}"
                column = cmap.conversation_id
        if given:
            key, what = given, f"duplicate id {given}"
        elif all(is_blank(v) for v in raw.values.values()):
            # nothing could be read (a broken JSON line ...): the row's place is its id
            return "h" + _hash(self.source_file, str(raw.sheet), str(raw.row))[:15], None
        else:
            # no id in the dump: a content hash of the whole row, numbered when rows repeat
            blob = json.dumps(
                {c: as_text(v) for c, v in sorted(raw.values.items()) if c != "sheet"},
                ensure_ascii=False,
                sort_keys=True,
            )
            key, what, column = "h" + _hash(blob)[:15], "this row repeats", None
        k, first = self._seen_ids.see(key, raw.row, raw.sheet)
        if k == 1:
            return key, None
        where = "an earlier row"
        if first is not None:
            row, sheet = first
            where = f"row {row}" + (f" of sheet {sheet!r}" if sheet and sheet != raw.sheet else "")
        text = f"{what}, also on {where}" if given else f"{what} {where} word for word"
        return f"{key}~{k}", RowIssue(
            ROW_BAD_VALUE, f"{text}; stored as {key}~{k}", column=column, fatal=False
        )

    def _parse(self, values: Mapping[str, Any], col: str | None, parser, issues, what: str) -> Any:
        if not col or is_blank(values.get(col)):
            return None
        parsed = parser(values.get(col))
        if parsed is None:
            issues.append(
                RowIssue(
                    ROW_BAD_VALUE,
                    f"{values.get(col)!r} is not {what}; left empty",
                    column=col,
                    fatal=False,
                )
            )
        return parsed

    def _channel(self, values: Mapping[str, Any], issues: list[RowIssue]) -> str:
        col = self.cmap.channel
        if col and not is_blank(values.get(col)):
            ch = parse_channel(values.get(col))
            if ch is not None:
                return ch
        return self.default_channel

    def _infer_touchpoint(self, text: str, channel: str) -> tuple[str, str]:
        text = _PLACEHOLDER_RE.sub(" ", text)  # ＜電話番号＞ is not a mention of the phone line
        best, best_hits = None, 0
        for tp, keywords in self._touchpoint_rules:
            hits = sum(text.count(k) for k in keywords)
            if hits > best_hits:
                best, best_hits = tp, hits
        if best is not None:
            return best, "inferred"
        fallback = {"review": "product", "call": "call_center", "chat": "call_center"}.get(channel, "other")
        return fallback, "default"

    def _finish(self, out, base, issues, fatal, records, ok) -> Prepared:
        for k, v in base.items():
            out[self.output_name(k)] = v
        out[self.output_name("warning")] = _join(issues, fatal=False)
        out[self.output_name("error")] = "; ".join(str(i) for i in fatal) or None
        if not ok:
            out[self.output_name("error")] = out[self.output_name("error")] or _join(issues, fatal=True)
        return Prepared(out, records, ok)

    def output_name(self, col: str) -> str:
        return f"voc_{col}" if col in self.columns and not col.startswith("voc_") else col


_PLACEHOLDER_RE = re.compile(r"＜[^＜＞\s]{1,12}＞")


def _has_visible(text: str) -> bool:
    """True when ``text`` holds a character that shows: not a space, a control or a
    format character (zero-width space, BOM, direction marks)."""
    return any(not ch.isspace() and unicodedata.category(ch) not in ("Cc", "Cf", "Zs", "Zl", "Zp") for ch in text)


def guess_channel(path: Path, columns: Sequence[str], cmap: ColumnMap) -> str:
    """Channel of a dump without a channel column, from its file name and its columns."""
    name = path.stem.lower()
    for hint, ch in (
        ("sns", "sns"), ("twitter", "sns"), ("tweet", "sns"), ("instagram", "sns"),
        ("chat", "chat"), ("call", "call"), ("transcript", "call"), ("通話", "call"),
        ("survey", "survey"), ("nps", "survey"), ("enquete", "survey"), ("アンケート", "survey"),
        ("review", "review"), ("レビュー", "review"), ("mail", "email"),
    ):
        if hint in name:
            return ch
    keys = {header_key(c) for c in columns}
    if cmap.nps:
        return "survey"
    if cmap.speaker:
        return "chat" if keys & {"chatid", "チャットid"} else "call"
    if cmap.rating:
        return "review"
    if keys & {"user", "username", "handle", "retweets", "likes", "postid", "tweetid"}:
        return "sns"
    return "other"


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def _join(issues: Sequence[RowIssue], fatal: bool) -> str | None:
    picked = [str(i) for i in issues if i.fatal == fatal]
    return "; ".join(picked) or None


def _most_common(items: Sequence[str]) -> str | None:
    return Counter(items).most_common(1)[0][0] if items else None

