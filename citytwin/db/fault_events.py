"""Recording the faults a load opened or closed as a twin event, announced when it commits.

Written after the load's cell event, under the publish lock the load holds to its commit, so
event ids still commit in order; pruned with the other events (citytwin.db.latest).
"""

from datetime import UTC

import asyncpg
import pandas as pd

from citytwin.db.latest import CHANNEL

# Sensors by external id within the feed; each fault names the sensor's id and external id.
RECORD_FAULTS = f"""
WITH faults AS (
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'sensor', s.id, 'external_id', f.external_id, 'variable', f.variable,
               'kind', f.kind, 'state', f.state, 'time', to_char(f.hour AT TIME ZONE 'UTC',
               'YYYY-MM-DD"T"HH24:MI:SS"Z"')) ORDER BY s.id, f.variable, f.kind), '[]') AS list
    FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
         AS f(external_id, variable, kind, state, hour)
    JOIN sensors s ON s.feed = $1 AND s.external_id = f.external_id
), event AS (
    INSERT INTO twin_events (variable_ids, cells, faults)
    SELECT '{{}}', '{{}}', list FROM faults WHERE list <> '[]'
    RETURNING id
)
SELECT id, pg_notify('{CHANNEL}', id::text) FROM event
"""


async def record_faults(conn: asyncpg.Connection, feed: str, faults: list[dict]) -> int | None:
    """One twin event of `faults` (from QualityStage.faults) of `feed`'s sensors: its id, or
    None when there are none."""
    if not faults:
        return None
    return await conn.fetchval(
        RECORD_FAULTS,
        feed,
        [f["sensor"] for f in faults],
        [f["variable"] for f in faults],
        [f["kind"] for f in faults],
        [f["state"] for f in faults],
        [pd.Timestamp(f["hour"]).tz_localize(UTC).to_pydatetime() for f in faults],
    )
