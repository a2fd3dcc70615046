"""A line-based source (CSV, NDJSON) cut into pieces at line ends, read from a file one piece
at a time, so that a body of any size is held at most a piece at a time."""

from collections.abc import Iterator
from typing import BinaryIO


def line_pieces(
    source: BinaryIO, first_bytes: int, max_bytes: int, header: bool = True
) -> Iterator[tuple[bytes, int]]:
    """`source` from where it stands, cut at line ends into pieces with the line number of
    each piece's first row. With `header`, the first line is the header: each piece starts
    with it and rows are numbered from 2. Pieces start at about `first_bytes` and double up
    to `max_bytes`: a small first piece lets the server start early, larger ones follow. A
    source without rows is one piece (the header, or nothing), so its reader names why."""
    head = source.readline() if header else b""
    line = 2 if header else 1
    size = first_bytes
    yielded = False
    while piece := source.read(size):
        if not piece.endswith(b"\n"):
            piece += source.readline()
        yield head + piece, line
        yielded = True
        line += piece.count(b"\n")
        size = min(2 * size, max_bytes)
    if not yielded:
        yield head, line
