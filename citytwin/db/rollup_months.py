"""Month totals of the cell rollups (`cell_rollup_months`, migration 014): built for months that
are over, forgotten for a month as soon as a load writes into it.

A build runs after a compaction, one month per transaction, holding the load lock exclusively
(as retention does): no load writes while a month is summed, and a load's own transaction
deletes the mark of every month it writes into, so marked months are always current.
"""

from datetime import datetime

import asyncpg
import pandas as pd

from citytwin.db.locks import LOAD_LOCK

# Months of each variable between its first and last day row (by index probes) that ended a
# day ago or more and are not built: the ones to build. Month arithmetic on UTC wall time, so
# that the session's time zone does not move month starts.
UNBUILT = """
WITH spans AS (
    SELECT v.id AS variable_id,
           (SELECT min(day) FROM cell_rollups r WHERE r.variable_id = v.id) AS first,
           (SELECT max(day) FROM cell_rollups r WHERE r.variable_id = v.id) AS last
    FROM variables v
)
SELECT s.variable_id, m.month AT TIME ZONE 'UTC' AS month
FROM spans s
CROSS JOIN LATERAL generate_series(
    date_trunc('month', s.first AT TIME ZONE 'UTC'), s.last AT TIME ZONE 'UTC',
    interval '1 month') AS m (month)
WHERE s.first IS NOT NULL
  AND m.month + interval '1 month' <= (now() AT TIME ZONE 'UTC') - interval '1 day'
  AND NOT EXISTS (
    SELECT 1 FROM cell_rollup_months_built b
    WHERE b.variable_id = s.variable_id AND b.month = m.month AT TIME ZONE 'UTC')
ORDER BY 1, 2
"""

CLEAR = "DELETE FROM cell_rollup_months WHERE variable_id = $1 AND month = $2"
BUILD = """
INSERT INTO cell_rollup_months
SELECT $1, $2, cell, sum(count), sum(sum), sum(sum_sq), min(min), max(max)
FROM (
    SELECT cell, count, sum, sum_sq, min, max FROM cell_rollups
    WHERE variable_id = $1 AND day >= $2 AND day < $3
    UNION ALL
    SELECT cell, count, sum, sum_sq, min, max FROM cell_rollup_deltas
    WHERE variable_id = $1 AND day >= $2 AND day < $3
) days
GROUP BY cell
"""
MARK = """INSERT INTO cell_rollup_months_built (variable_id, month) VALUES ($1, $2)
ON CONFLICT DO NOTHING"""

FORGET = """
DELETE FROM cell_rollup_months_built b
USING unnest($1::int2[], $2::timestamptz[]) AS t (variable_id, month)
WHERE b.variable_id = t.variable_id AND b.month = t.month
"""


def next_month(t: datetime) -> datetime:
    """The start of the month after the one starting at `t`."""
    return t.replace(year=t.year + t.month // 12, month=t.month % 12 + 1)


async def build_months(conn: asyncpg.Connection) -> int:
    """Build the month totals of every month that is over and not built; how many months."""
    months = await conn.fetch(UNBUILT)
    for row in months:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", LOAD_LOCK)
            # Rows of a month a load wrote into after its last build are replaced.
            month, variable = row["month"], row["variable_id"]
            after = month.replace(year=month.year + month.month // 12, month=month.month % 12 + 1)
            await conn.execute(CLEAR, variable, month)
            await conn.execute(BUILD, variable, month, after)
            await conn.execute(MARK, variable, month)
    return len(months)


async def forget_months(conn: asyncpg.Connection, keys: pd.DataFrame) -> None:
    """Unmark the months of the (variable_id, day) keys a load writes into."""
    month = keys["day"].to_numpy().astype("datetime64[M]").astype("datetime64[us]")
    months = pd.DataFrame({"variable_id": keys["variable_id"].to_numpy(), "month": month})
    months = months.drop_duplicates()
    starts = months["month"].dt.tz_localize("UTC").dt.to_pydatetime().tolist()
    await conn.execute(FORGET, months["variable_id"].tolist(), starts)
