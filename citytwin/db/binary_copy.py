"""PostgreSQL binary COPY payloads built with numpy: one packed record array, no per-row Python.

Only fixed-width, non-null columns; the server parses this several times faster than CSV text.
"""

import struct
from collections.abc import Sequence

import numpy as np

PG_EPOCH_MICROSECONDS = 946_684_800_000_000  # 2000-01-01T00:00:00Z, PostgreSQL's epoch
HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
TRAILER = struct.pack("!h", -1)
WIRE_TYPES = {
    "int2": ">i2",
    "int4": ">i4",
    "int8": ">i8",
    "float8": ">f8",
    "bool": "u1",
    "timestamptz": ">i8",
}


def timestamptz_values(times: np.ndarray) -> np.ndarray:
    """Microseconds since PostgreSQL's epoch, from datetime64 values in UTC."""
    return times.astype("datetime64[us]").view(np.int64) - PG_EPOCH_MICROSECONDS


def encode_rows(columns: Sequence[tuple[str, np.ndarray]]) -> bytes:
    """Binary COPY tuples of `columns`, each (PostgreSQL type, values), without header/trailer."""
    fields: list[tuple[str, str]] = [("count", ">i2")]
    for index, (pg_type, _) in enumerate(columns):
        fields += [(f"size{index}", ">i4"), (f"value{index}", WIRE_TYPES[pg_type])]
    rows = np.empty(len(columns[0][1]), dtype=np.dtype(fields))
    rows["count"] = len(columns)
    for index, (pg_type, values) in enumerate(columns):
        rows[f"size{index}"] = np.dtype(WIRE_TYPES[pg_type]).itemsize
        rows[f"value{index}"] = timestamptz_values(values) if pg_type == "timestamptz" else values
    return rows.tobytes()


def encode(columns: Sequence[tuple[str, np.ndarray]]) -> bytes:
    """A whole binary COPY payload of `columns`, each (PostgreSQL type, values)."""
    return HEADER + encode_rows(columns) + TRAILER
