"""The verdict on each row of a source: the first field that failed, and why."""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)  # millions of them for a body of bad rows
class Rejection:
    line: int
    field: str
    error: str


def _short(value: object, limit: int = 40) -> object:
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + "…"
    return value


@dataclass(frozen=True, slots=True)
class Messages:
    """A message for each row: `template` formatted with the row's raw value (shortened), only
    when the row is listed; a body of millions of bad rows is counted, not formatted."""

    template: str
    raw: np.ndarray

    def at(self, row: int) -> str:
        return self.template.format(_short(self.raw[row]))


class Verdicts:
    """The first failing field of each row; later checks only see rows still standing."""

    def __init__(self, lines: np.ndarray) -> None:
        self.lines = lines
        self.ok = np.ones(len(lines), dtype=bool)
        self.field = np.full(len(lines), None, dtype=object)
        self.error = np.full(len(lines), None, dtype=object)
        self.notes: list[str] = []  # what was done to rows that still stand, said once

    def reject(self, mask: np.ndarray, field: str, error: str | np.ndarray | Messages) -> None:
        fresh = mask & self.ok
        if not fresh.any():
            return
        self.ok[fresh] = False
        self.field[fresh] = field
        # A text or a Messages is shared by the rows; a per-row array is taken row by row.
        self.error[fresh] = error[fresh] if isinstance(error, np.ndarray) else error

    def count(self) -> int:
        """How many rows are rejected."""
        return int((~self.ok).sum())

    def rejections(self, keep: int | None = None) -> list[Rejection]:
        """The first `keep` rejected rows (None: all), their messages formatted now."""
        rows = np.flatnonzero(~self.ok)[:keep]
        return [Rejection(int(self.lines[row]), self.field[row], self._error(row)) for row in rows]

    def _error(self, row: int) -> str:
        error = self.error[row]
        return error.at(row) if isinstance(error, Messages) else error
