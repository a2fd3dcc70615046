"""H3 cell aggregates answered from `cell_rollups`, never from raw readings.

Whole UTC days come from a rollup row's day totals; a day cut by the time range, or a bucket
finer than a day, comes from its slots (one per base bucket).
"""

from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from citytwin.db.queries.sql import Bind, area_clauses
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


def _parts_sql(query: CellQuery, base_resolution: int, step: timedelta, bind: Bind) -> str:
    """Rows (cell, t, count, sum, sum_sq, min, max): day totals where a whole day is wanted
    and fits, slots (at their own start time t) elsewhere."""
    start, end = query.time.start, query.time.end
    where = [f"r.variable_id = {bind(query.variable_id)}"]
    if start:
        where.append(f"r.day > {bind(start)}::timestamptz - interval '1 day'")
    if end:
        where.append(f"r.day < {bind(end)}")
    where += area_clauses(query.area, "r.cell", base_resolution, bind)
    days = f"SELECT * FROM cell_rollups r WHERE {' AND '.join(where)}"
    whole_day = "false"  # a bucket finer than a day cannot use day totals
    if query.bucket is None or query.bucket % DAY == timedelta(0):
        whole = [f"d.day >= {bind(start)}"] if start else []
        whole += [f"d.day + interval '1 day' <= {bind(end)}"] if end else []
        whole_day = " AND ".join(whole) or "true"
    slot_time = f"d.day + (s.i - 1) * {bind(step)}::interval"
    slot_range = [f"{slot_time} >= {bind(start)}"] if start else []
    slot_range += [f"{slot_time} < {bind(end)}"] if end else []
    return f"""
        WITH days AS ({days})
        SELECT d.cell, d.day AS t, d.count, d.sum, d.sum_sq, d.min, d.max
        FROM days d WHERE {whole_day}
        UNION ALL
        SELECT d.cell, {slot_time} AS t, s.count, s.sum, s.sum_sq, s.min, s.max
        FROM days d,
             unnest(d.slot_count, d.slot_sum, d.slot_sum_sq, d.slot_min, d.slot_max)
                 WITH ORDINALITY AS s (count, sum, sum_sq, min, max, i)
        WHERE NOT ({whole_day}) AND s.count > 0 {"".join(" AND " + c for c in slot_range)}"""


def aggregates_sql(query: CellQuery, base_resolution: int, bucket_seconds: int, bind: Bind) -> str:
    """SELECT of count/mean/min/max/std per cell at `query.resolution` (and per bucket)."""
    parts = _parts_sql(query, base_resolution, timedelta(seconds=bucket_seconds), bind)
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
    conn: asyncpg.Connection, query: CellQuery, base_resolution: int, bucket_seconds: int
) -> list[asyncpg.Record]:
    """count/mean/min/max/std per cell at `query.resolution` (and per bucket if asked)."""
    bind = Bind()
    sql = aggregates_sql(query, base_resolution, bucket_seconds, bind)
    return await conn.fetch(sql, *bind.values)


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
    each = [
        f"SELECT x.*, {bind(name)}::text AS variable "
        f"FROM ({aggregates_sql(query, base_resolution, bucket_seconds, bind)}) x"
        for name, query in sorted(queries.items())
    ]
    if not each:
        return []
    where = " AND ".join(selection.where(bind)) or "true"
    order = order_sql(selection.order, "a.cell, a.variable")
    sql = f"SELECT * FROM ({' UNION ALL '.join(each)}) a WHERE {where} ORDER BY {order}"
    return await conn.fetch(sql, *bind.values)
