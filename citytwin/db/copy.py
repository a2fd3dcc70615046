"""COPY into keyed tables: binary streams built by numpy, CSV for the rows with a geometry."""

import asyncio
import io
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from citytwin.db.binary_copy import HEADER, TRAILER, encode_rows

READING_TYPES = {
    "sensor_id": "int4",
    "variable_id": "int2",
    "time": "timestamptz",
    "value": "float8",
    "cell": "int8",
    "flagged": "bool",
}
READING_COLUMNS = [*READING_TYPES, "geom"]
ROLLUP_TYPES = {
    "variable_id": "int2",
    "bucket": "timestamptz",
    "cell": "int8",
    "count": "int8",
    "sum": "float8",
    "sum_sq": "float8",
    "min": "float8",
    "max": "float8",
}
STREAM_ROWS = 65_536  # rows per COPY message: the server parses one while numpy encodes the next


def _columns(frame: pd.DataFrame, types: dict[str, str]) -> list[tuple[str, np.ndarray]]:
    return [(pg_type, frame[name].to_numpy()) for name, pg_type in types.items()]


async def _binary_stream(frame: pd.DataFrame, types: dict[str, str]) -> AsyncIterator[bytes]:
    def encoded(start: int) -> asyncio.Task[bytes]:
        part = frame.iloc[start : start + STREAM_ROWS]
        return asyncio.create_task(asyncio.to_thread(encode_rows, _columns(part, types)))

    yield HEADER
    # One message ahead: numpy encodes the next rows while the server parses these.
    upcoming = encoded(0) if len(frame) else None
    for start in range(STREAM_ROWS, len(frame) + STREAM_ROWS, STREAM_ROWS):
        current, upcoming = upcoming, encoded(start) if start < len(frame) else None
        yield await current
    yield TRAILER


async def copy_binary(
    conn: asyncpg.Connection, table: str, frame: pd.DataFrame, types: dict[str, str]
) -> None:
    """COPY the `types` columns of `frame` into `table` in binary."""
    await conn.copy_to_table(
        table, source=_binary_stream(frame, types), columns=list(types), format="binary"
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
    await copy_binary(conn, table, readings.loc[~own_point], READING_TYPES)
    if own_point.any():
        await conn.copy_to_table(
            table,
            source=io.BytesIO(_csv_bytes(readings.loc[own_point, READING_COLUMNS])),
            columns=READING_COLUMNS,
            format="csv",
        )


async def copy_if_new(conn: asyncpg.Connection, copy: Callable[[], Awaitable[None]]) -> bool:
    """Run a COPY into a keyed table in a savepoint: False (and nothing kept) on a key clash."""
    try:
        async with conn.transaction():
            await copy()
    except asyncpg.UniqueViolationError:
        return False
    return True
