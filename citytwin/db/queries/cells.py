"""H3 cell aggregates answered from `cell_rollups`, never from raw readings."""

from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from citytwin.db.queries.sql import Bind, area_clauses
from citytwin.query.params import Area, TimeRange

BUCKET_ORIGIN = "2000-01-03 00:00:00+00"  # a Monday: weekly buckets start on Mondays


@dataclass(frozen=True)
class CellQuery:
    variable_id: int
    resolution: int
    area: Area
    time: TimeRange
    bucket: timedelta | None = None


def _aggregate_sql(query: CellQuery, base_resolution: int, bind: Bind, cell_expr: str) -> str:
    where = [f"r.variable_id = {bind(query.variable_id)}"]
    if query.time.start:
        where.append(f"r.bucket >= {bind(query.time.start)}")
    if query.time.end:
        where.append(f"r.bucket < {bind(query.time.end)}")
    where += area_clauses(query.area, "r.cell", base_resolution, bind)
    bucket_select, group = "", "1"
    if query.bucket is not None:
        bucket_select = (
            f", date_bin({bind(query.bucket)}::interval, r.bucket, "
            f"'{BUCKET_ORIGIN}') AS bucket_start"
        )
        group = "1, bucket_start"
    return f"""
        SELECT {cell_expr} AS cell{bucket_select},
               sum(r.count)::bigint AS count,
               sum(r.sum) / sum(r.count) AS mean,
               min(r.min) AS min,
               max(r.max) AS max,
               CASE WHEN sum(r.count) > 1 THEN sqrt(greatest(
                   (sum(r.sum_sq) - sum(r.sum) ^ 2 / sum(r.count)) / (sum(r.count) - 1), 0))
               END AS std
        FROM cell_rollups r
        WHERE {" AND ".join(where)}
        GROUP BY {group}
        ORDER BY {group}"""


async def cell_aggregates(
    conn: asyncpg.Connection, query: CellQuery, base_resolution: int
) -> list[asyncpg.Record]:
    """count/mean/min/max/std per cell at `query.resolution` (and per bucket if asked)."""
    bind = Bind()
    cell_expr = (
        "r.cell"
        if query.resolution == base_resolution
        else f"h3_parent(r.cell, {bind(query.resolution)})"
    )
    sql = _aggregate_sql(query, base_resolution, bind, cell_expr)
    return await conn.fetch(sql, *bind.values)
