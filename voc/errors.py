"""Every error voc raises, in one place, each with a code (spaCy style).

Messages speak to a CX analyst: what went wrong, where (file, row, column) and how to fix
it. Row-level problems that must not stop a batch are not raised; they become the text of
the ``error`` column of that row (see :class:`RowIssue`).

>>> raise InputError("E101", "ファイルが見つかりません", path="reviews.csv")
Traceback (most recent call last):
...
voc.errors.InputError: [E101] ファイルが見つかりません (file reviews.csv)
"""

from __future__ import annotations

from dataclasses import dataclass


class VocError(Exception):
    """Base class of every error voc raises on purpose."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        path: str | None = None,
        row: int | None = None,
        column: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.path = path
        self.row = row
        self.column = column
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = []
        if self.path is not None:
            where.append(f"file {self.path}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        text = f"[{self.code}] {self.message}"
        if where:
            text += " (" + ", ".join(where) + ")"
        if self.hint:
            text += f". {self.hint}"
        return text


class InputError(VocError):
    """A dump cannot be read at all (missing, unreadable, unknown format, no text column)."""


class ConfigError(VocError):
    """A setting or an option is invalid."""


class ModelError(VocError):
    """A model folder is missing, incomplete, or unsafe (e.g. it holds a pickle)."""


class StoreError(VocError):
    """The results store cannot be opened or written."""


class MissingExtraError(VocError):
    """An optional dependency is needed for this feature and is not installed."""

    def __init__(self, feature: str, package: str) -> None:
        super().__init__(
            "E900",
            f"{feature} needs the package {package!r}, which is not installed",
            hint=f"Install it with: pip install {package}",
        )


# Row-level issue codes. They go into the `error` column; the row is still written out.
ROW_EMPTY = "E201"
ROW_UNDECODABLE = "E202"
ROW_TRUNCATED = "E203"
ROW_BAD_VALUE = "E204"
ROW_SCORING_FAILED = "E205"
ROW_BROKEN_RECORD = "E206"


@dataclass(frozen=True)
class RowIssue:
    """A problem with one input row: kept with the row, never raised."""

    code: str
    message: str
    column: str | None = None
    fatal: bool = True  # False: the row was still processed (e.g. truncated text)

    def __str__(self) -> str:
        col = f" [{self.column}]" if self.column else ""
        return f"[{self.code}]{col} {self.message}"
