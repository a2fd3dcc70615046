"""H3 cell aggregates answered from `cell_rollups`, never from raw readings.

Whole UTC months come from the month totals where they are built (`cell_rollup_months`, when
no bucket is asked), whole UTC days from a rollup row's day totals; a day cut by the time
range, or a bucket finer than a day, comes from its slots (one per base bucket).
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import asyncpg

from citytwin.db.queries.sql import Bind, area_clauses
from citytwin.db.rollup_months import next_month
from citytwin.query.cells import STAT_COLUMNS
from citytwin.query.cql import Selection, order_sql
from citytwin.query.params import Area, TimeRange

BUCKET_ORIGIN = "2000-01-03 00:00:00+00"  # a Monday: weekly buckets start on Mondays
DAY = timedelta(days=1)
STATS = """sum(p.count)::bigint AS count,
           sum(p.sum) / sum(p.count) AS mean,
           min(p.min) AS min,
           max(p.max) AS max,
           CASE WHEN sum(p.count) > 1 THEN sqrt(greatest(
               (sum(p.sum_sq) - sum(p.sum) ^ 2 / sum(p.count)) / (sum(p.count) - 1), 0))
           END AS std"""


@dataclass(frozen=True)
class CellQuery:
    variable_id: int
    resolution: int
    area: Area
    time: TimeRange
    bucket: timedelta | None = None


# The built months wholly inside a time range (a bound may be absent).
BUILT_MONTHS = """
SELECT month FROM cell_rollup_months_built
WHERE variable_id = $1 AND ($2::timestamptz IS NULL OR month >= $2)
  AND ($3::timestamptz IS NULL
       OR (month AT TIME ZONE 'UTC' + interval '1 month') AT TIME ZONE 'UTC' <= $3)
ORDER BY month
"""


def month_block(months: list[datetime]) -> tuple[datetime, datetime] | None:
    """The longest run of consecutive months among sorted month starts: [first, after last)."""
    best, start = None, 0
    for i in range(1, len(months) + 1):
        if i == len(months) or months[i] != next_month(months[i - 1]):
            if best is None or i - start > best[1] - best[0]:
                best = (start, i)
            start = i
    return None if best is None else (months[best[0]], next_month(months[best[1] - 1]))


async def _built_block(
    conn: asyncpg.Connection, query: CellQuery
) -> tuple[datetime, datetime] | None:
    """The months of `query` to answer from month totals (none when buckets are asked)."""
    if query.bucket is not None:
        return None
    rows = await conn.fetch(BUILT_MONTHS, query.variable_id, query.time.start, query.time.end)
    return month_block([r["month"] for r in rows])


def _day_of(t: datetime) -> datetime:
    """The UTC midnight starting the day of `t`."""
    return t.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _parts_sql(query: CellQuery, base_resolution: int, step: timedelta, bind: Bind) -> str:
    """Rows (cell, t, count, sum, sum_sq, min, max): day totals where a whole day is wanted
    and fits, slots (at their own start time t) elsewhere, and the deltas not compacted yet.

    No CTE: the day totals branch is an index-only scan of the totals index, so a city-wide
    answer over months never reads (nor spills) the slot arrays."""
    start, end = query.time.start, query.time.end
    where = [f"r.variable_id = {bind(query.variable_id)}"]
    if start:
        where.append(f"r.day > {bind(start)}::timestamptz - interval '1 day'")
    if end:
        where.append(f"r.day < {bind(end)}")
    where += area_clauses(query.area, "r.cell", base_resolution, bind)
    days = " AND ".join(where)
    whole_day, slot_days = "false", "true"  # a bucket finer than a day cannot use day totals
    if query.bucket is None or query.bucket % DAY == timedelta(0):
        whole = [f"r.day >= {bind(start)}"] if start else []
        whole += [f"r.day + interval '1 day' <= {bind(end)}"] if end else []
        whole_day = " AND ".join(whole) or "true"
        # Only the days the range cuts need their slots: named, so that the index finds them.
        cut = {_day_of(t) for t in (start, end) if t is not None and t != _day_of(t)}
        slot_days = f"r.day = ANY({bind(sorted(cut))}::timestamptz[])"
    step_sql = f"{bind(step)}::interval"

    def in_range(t: str) -> str:
        bounds = [f" AND {t} >= {bind(start)}"] if start else []
        bounds += [f" AND {t} < {bind(end)}"] if end else []
        return "".join(bounds)

    slot_time = f"r.day + (s.i - 1) * {step_sql}"
    delta_time = f"r.day + r.slot * {step_sql}"
    return f"""
        SELECT r.cell, r.day AS t, r.count, r.sum, r.sum_sq, r.min, r.max
        FROM cell_rollups r WHERE {days} AND {whole_day}
        UNION ALL
        SELECT r.cell, {slot_time} AS t, s.count, s.sum, s.sum_sq, s.min, s.max
        FROM cell_rollups r,
             unnest(r.slot_count, r.slot_sum, r.slot_sum_sq, r.slot_min, r.slot_max)
                 WITH ORDINALITY AS s (count, sum, sum_sq, min, max, i)
        WHERE {days} AND {slot_days} AND NOT ({whole_day}) AND s.count > 0{in_range(slot_time)}
        UNION ALL
        SELECT r.cell, {delta_time} AS t, r.count, r.sum, r.sum_sq, r.min, r.max
        FROM cell_rollup_deltas r WHERE {days}{in_range(delta_time)}"""


def _month_parts_sql(
    query: CellQuery, months: tuple[datetime, datetime], base_resolution: int, bind: Bind
) -> str:
    where = [
        f"r.variable_id = {bind(query.variable_id)}",
        f"r.month >= {bind(months[0])}",
        f"r.month < {bind(months[1])}",
        *area_clauses(query.area, "r.cell", base_resolution, bind),
    ]
    return f"""
        SELECT r.cell, r.month AS t, r.count, r.sum, r.sum_sq, r.min, r.max
        FROM cell_rollup_months r WHERE {" AND ".join(where)}"""


def aggregates_sql(
    query: CellQuery,
    base_resolution: int,
    bucket_seconds: int,
    bind: Bind,
    months: tuple[datetime, datetime] | None = None,
) -> str:
    """SELECT of count/mean/min/max/std per cell at `query.resolution` (and per bucket), the
    `months` [first, after) from month totals."""
    step = timedelta(seconds=bucket_seconds)
    if months is None:
        parts = _parts_sql(query, base_resolution, step, bind)
    else:
        # The months from their totals, the days before and after them as without.
        start, end = query.time.start, query.time.end
        pieces = [_month_parts_sql(query, months, base_resolution, bind)]
        if start is None or start < months[0]:
            before = replace(query, time=TimeRange(start, months[0]))
            pieces.append(_parts_sql(before, base_resolution, step, bind))
        if end is None or months[1] < end:
            after = replace(query, time=TimeRange(months[1], end))
            pieces.append(_parts_sql(after, base_resolution, step, bind))
        parts = " UNION ALL ".join(pieces)
    cell = (
        "p.cell"
        if query.resolution == base_resolution
        else f"h3_parent(p.cell, {bind(query.resolution)})"
    )
    bucket, group = "", "1"
    if query.bucket is not None:
        bucket = (
            f", date_bin({bind(query.bucket)}::interval, p.t, '{BUCKET_ORIGIN}') AS bucket_start"
        )
        group = "1, 2"
    return f"""
        SELECT {cell} AS cell{bucket}, {STATS}
        FROM ({parts}) p
        GROUP BY {group}
        ORDER BY {group}"""


async def cell_aggregates(
    conn: asyncpg.Connection,
    query: CellQuery,
    base_resolution: int,
    bucket_seconds: int,
    page: tuple[int, int] | None = None,
) -> list[asyncpg.Record]:
    """count/mean/min/max/std per cell at `query.resolution` (and per bucket if asked); with
    `page` (limit, offset), that slice of the rows in (cell, bucket) order."""
    bind = Bind()
    months = await _built_block(conn, query)
    sql = aggregates_sql(query, base_resolution, bucket_seconds, bind, months)
    if page is not None:
        sql += f" LIMIT {bind(page[0])} OFFSET {bind(page[1])}"
    return await conn.fetch(sql, *bind.values)


async def streamed_properties(
    conn: asyncpg.Connection,
    query: CellQuery,
    base_resolution: int,
    bucket_seconds: int,
    batch: int = 5_000,
) -> AsyncIterator[list[asyncpg.Record]]:
    """Every row of `cell_aggregates` as (cell, properties): the properties (h3, the
    statistics, bucket_start) as JSON text written by PostgreSQL, in batches from a server-side
    cursor inside a transaction of its own, so that an answer of any size is never held whole
    and no row becomes a Python object."""
    bind = Bind()
    months = await _built_block(conn, query)
    members = ["'h3', to_hex(a.cell)", *(f"'{name}', a.{name}" for name in STAT_COLUMNS)]
    order = "a.cell"
    if query.bucket is not None:
        members.append("'bucket_start', a.bucket_start")
        order += ", a.bucket_start"
    sql = f"""
        SELECT a.cell, json_build_object({", ".join(members)})::text AS properties
        FROM ({aggregates_sql(query, base_resolution, bucket_seconds, bind, months)}) a
        ORDER BY {order}"""
    async with conn.transaction():
        cursor = await conn.cursor(sql, *bind.values)
        while rows := await cursor.fetch(batch):
            yield rows


async def selected_aggregates(
    conn: asyncpg.Connection,
    queries: dict[str, CellQuery],
    selection: Selection,
    base_resolution: int,
    bucket_seconds: int,
) -> list[asyncpg.Record]:
    """The aggregates of each variable's query (rows with `variable`), kept by `selection`'s
    filter, in its order, then by cell and variable: one statement for every variable."""
    bind = Bind()
    months = {name: await _built_block(conn, query) for name, query in queries.items()}
    each = [
        f"SELECT x.*, {bind(name)}::text AS variable FROM "
        f"({aggregates_sql(query, base_resolution, bucket_seconds, bind, months[name])}) x"
        for name, query in sorted(queries.items())
    ]
    if not each:
        return []
    where = " AND ".join(selection.where(bind)) or "true"
    order = order_sql(selection.order, "a.cell, a.variable")
    sql = f"SELECT * FROM ({' UNION ALL '.join(each)}) a WHERE {where} ORDER BY {order}"
    return await conn.fetch(sql, *bind.values)
