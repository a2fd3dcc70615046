"""COPY into keyed tables: binary streams built by numpy, CSV for the rows with a geometry."""

import asyncio
import io
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from citytwin.aggregate.rollups import Rollups
from citytwin.db.binary_copy import HEADER, TRAILER, decode, encode_rows

READING_TYPES = {
    "sensor_id": "int4",
    "variable_id": "int2",
    "time": "timestamptz",
    "value": "float8",
    "cell": "int8",
    "flagged": "bool",
    "quality": "int2",
}
READING_COLUMNS = [*READING_TYPES, "geom"]
ROLLUP_TYPES = {
    "variable_id": "int2",
    "day": "timestamptz",
    "cell": "int8",
    "count": "int8",
    "sum": "float8",
    "sum_sq": "float8",
    "min": "float8",
    "max": "float8",
    "slot_count": "int4[]",
    "slot_sum": "float8[]",
    "slot_sum_sq": "float8[]",
    "slot_min": "float8[]",
    "slot_max": "float8[]",
}
# A load's per-slot rollups, appended to `cell_rollup_deltas`.
SLOT_TYPES = {
    "variable_id": "int2",
    "day": "timestamptz",
    "cell": "int8",
    "slot": "int2",
    "count": "int4",
    "sum": "float8",
    "sum_sq": "float8",
    "min": "float8",
    "max": "float8",
}
STREAM_ROWS = 65_536  # rows per COPY message: the server parses one while numpy encodes the next


async def _binary_stream(columns: list[tuple[str, np.ndarray]]) -> AsyncIterator[bytes]:
    rows = len(columns[0][1])

    def encoded(start: int) -> asyncio.Task[bytes]:
        part = [(pg_type, values[start : start + STREAM_ROWS]) for pg_type, values in columns]
        return asyncio.create_task(asyncio.to_thread(encode_rows, part))

    yield HEADER
    # One message ahead: numpy encodes the next rows while the server parses these.
    upcoming = encoded(0) if rows else None
    for start in range(STREAM_ROWS, rows + STREAM_ROWS, STREAM_ROWS):
        current, upcoming = upcoming, encoded(start) if start < rows else None
        yield await current
    yield TRAILER


async def copy_binary(
    conn: asyncpg.Connection, table: str, columns: dict[str, np.ndarray], types: dict[str, str]
) -> None:
    """COPY `columns` (name → values, typed by `types`) into `table` in binary."""
    typed = [(pg_type, np.asarray(columns[name])) for name, pg_type in types.items()]
    await conn.copy_to_table(
        table, source=_binary_stream(typed), columns=list(types), format="binary"
    )


async def copy_rollups(conn: asyncpg.Connection, table: str, rollups: Rollups) -> None:
    """COPY rollup rows into `table` (`cell_rollups` or a staging table like it)."""
    await copy_binary(conn, table, rollups.columns(), ROLLUP_TYPES)


async def copy_slot_stats(conn: asyncpg.Connection, table: str, stats: pd.DataFrame) -> None:
    """COPY per-slot rollups (citytwin.aggregate.rollups.slot_stats) into `table`."""
    await copy_binary(
        conn, table, {name: stats[name].to_numpy() for name in SLOT_TYPES}, SLOT_TYPES
    )


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    sink = io.BytesIO()
    pacsv.write_csv(
        pa.Table.from_pandas(frame, preserve_index=False),
        sink,
        pacsv.WriteOptions(include_header=False, quoting_style="needed"),
    )
    return sink.getvalue()


async def copy_readings(conn: asyncpg.Connection, table: str, readings: pd.DataFrame) -> None:
    """Readings at their sensor's point go binary; the few with their own point go as CSV."""
    own_point = readings["geom"].notna().to_numpy()
    at_sensor = readings.loc[~own_point]
    await copy_binary(
        conn, table, {name: at_sensor[name].to_numpy() for name in READING_TYPES}, READING_TYPES
    )
    if own_point.any():
        await conn.copy_to_table(
            table,
            source=io.BytesIO(_csv_bytes(readings.loc[own_point, READING_COLUMNS])),
            columns=READING_COLUMNS,
            format="csv",
        )


async def copy_out_frame(
    conn: asyncpg.Connection, query: str, *args: object, schema: pa.Schema
) -> pd.DataFrame:
    """The rows of `query` (columns as `schema` names and types them) through COPY as CSV,
    parsed by pyarrow: many rows without a Python object per value."""
    out = io.BytesIO()
    await conn.copy_from_query(query, *args, output=out, format="csv")
    if not out.getbuffer().nbytes:
        return schema.empty_table().to_pandas()
    out.seek(0)
    table = pacsv.read_csv(
        out,
        read_options=pacsv.ReadOptions(column_names=schema.names),
        convert_options=pacsv.ConvertOptions(column_types=schema),
    )
    return table.to_pandas()


async def copy_out_binary(
    conn: asyncpg.Connection, query: str, *args: object, types: dict[str, str]
) -> pd.DataFrame:
    """The rows of `query` (non-null fixed-width columns, named and typed by `types`) through a
    binary COPY decoded by numpy: no text formatting on the server, no parsing here."""
    out = io.BytesIO()
    await conn.copy_from_query(query, *args, output=out, format="binary")
    return pd.DataFrame(decode(out.getvalue(), types))


async def copy_if_new(conn: asyncpg.Connection, copy: Callable[[], Awaitable[None]]) -> bool:
    """Run a COPY into a keyed table in a savepoint: False (and nothing kept) on a key clash."""
    try:
        async with conn.transaction():
            await copy()
    except asyncpg.UniqueViolationError:
        return False
    return True
