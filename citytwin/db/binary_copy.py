"""PostgreSQL binary COPY payloads built and read with numpy: one packed record array, no
per-row Python.

Only non-null columns: fixed-width scalars, and one-dimensional arrays of one length per column;
the server parses this several times faster than CSV text, and writes it faster too.
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
ELEMENT_OIDS = {"int4": 23, "int8": 20, "float8": 701}
ARRAY_HEADER = [
    ("ndim", ">i4"),
    ("has_null", ">i4"),
    ("oid", ">i4"),
    ("size", ">i4"),
    ("lower", ">i4"),
]


def timestamptz_values(times: np.ndarray) -> np.ndarray:
    """Microseconds since PostgreSQL's epoch, from datetime64 values in UTC."""
    return times.astype("datetime64[us]").view(np.int64) - PG_EPOCH_MICROSECONDS


def _field_dtype(pg_type: str, values: np.ndarray) -> np.dtype:
    if not pg_type.endswith("[]"):
        return np.dtype(WIRE_TYPES[pg_type])
    element = [("size", ">i4"), ("value", WIRE_TYPES[pg_type[:-2]])]
    return np.dtype([*ARRAY_HEADER, ("elements", element, (values.shape[1],))])


def _fill(field: np.ndarray, pg_type: str, values: np.ndarray) -> None:
    if not pg_type.endswith("[]"):
        field[:] = timestamptz_values(values) if pg_type == "timestamptz" else values
        return
    element_type = pg_type[:-2]
    field["ndim"], field["has_null"] = 1, 0
    field["oid"], field["size"], field["lower"] = ELEMENT_OIDS[element_type], values.shape[1], 1
    field["elements"]["size"] = np.dtype(WIRE_TYPES[element_type]).itemsize
    field["elements"]["value"] = values


def encode_rows(columns: Sequence[tuple[str, np.ndarray]]) -> bytes:
    """Binary COPY tuples of `columns`, each (PostgreSQL type, values), without header/trailer.

    An array type such as `float8[]` takes a 2-D array: one row per tuple.
    """
    fields: list[tuple[str, object]] = [("count", ">i2")]
    dtypes = [_field_dtype(pg_type, values) for pg_type, values in columns]
    for index, dtype in enumerate(dtypes):
        fields += [(f"size{index}", ">i4"), (f"value{index}", dtype)]
    rows = np.empty(len(columns[0][1]), dtype=np.dtype(fields))
    rows["count"] = len(columns)
    for index, ((pg_type, values), dtype) in enumerate(zip(columns, dtypes, strict=True)):
        rows[f"size{index}"] = dtype.itemsize
        _fill(rows[f"value{index}"], pg_type, values)
    return rows.tobytes()


def encode(columns: Sequence[tuple[str, np.ndarray]]) -> bytes:
    """A whole binary COPY payload of `columns`, each (PostgreSQL type, values)."""
    return HEADER + encode_rows(columns) + TRAILER


def decode(payload: bytes, types: dict[str, str]) -> dict[str, np.ndarray]:
    """The columns of a whole binary COPY payload of non-null fixed-width scalars, each named
    and typed by `types` (timestamptz as naive-UTC datetime64[us])."""
    fields: list[tuple[str, str]] = [(" fields", ">i2")]  # no column name holds a space
    for name, pg_type in types.items():
        fields += [(f" size {name}", ">i4"), (name, WIRE_TYPES[pg_type])]
    body = memoryview(payload)[len(HEADER) : len(payload) - len(TRAILER)]
    rows = np.frombuffer(body, dtype=np.dtype(fields))
    columns = {}
    for name, pg_type in types.items():
        values = rows[name]
        if pg_type == "timestamptz":
            values = (values.astype(np.int64) + PG_EPOCH_MICROSECONDS).view("datetime64[us]")
        columns[name] = values.astype(values.dtype.newbyteorder("="))
    return columns
