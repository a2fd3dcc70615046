"""The verdict on each row of a source: the first field that failed, and why."""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)  # millions of them for a body of bad rows
class Rejection:
    line: int
    field: str
    error: str


class Verdicts:
    """The first failing field of each row; later checks only see rows still standing."""

    def __init__(self, lines: np.ndarray) -> None:
        self.lines = lines
        self.ok = np.ones(len(lines), dtype=bool)
        self.field = np.full(len(lines), None, dtype=object)
        self.error = np.full(len(lines), None, dtype=object)
        self.notes: list[str] = []  # what was done to rows that still stand, said once

    def reject(self, mask: np.ndarray, field: str, error: str | np.ndarray) -> None:
        fresh = mask & self.ok
        if not fresh.any():
            return
        self.ok[fresh] = False
        self.field[fresh] = field
        self.error[fresh] = error if isinstance(error, str) else error[fresh]

    def rejections(self) -> list[Rejection]:
        bad = ~self.ok
        return [
            Rejection(int(line), f, e)
            for line, f, e in zip(self.lines[bad], self.field[bad], self.error[bad], strict=True)
        ]


def _short(value: object, limit: int = 40) -> object:
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + "…"
    return value


def messages(mask: np.ndarray, raw: np.ndarray, template: str) -> np.ndarray:
    """`template` formatted with each masked row's raw value (shortened), None elsewhere."""
    out = np.full(len(mask), None, dtype=object)
    out[mask] = [template.format(_short(value)) for value in raw[mask]]
    return out
