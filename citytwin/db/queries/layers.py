"""Model inputs from the sensor store: per-sensor means of a variable per time step."""

from datetime import datetime

import asyncpg
import pandas as pd

from citytwin.errors import InvalidParameter

COLUMNS = ["sensor", "lon", "lat", "time", "value", "count", "site_type", "mobile"]
# Step means of the unflagged readings of each sensor; a mobile sensor's readings of one step
# are placed at the mean of their positions (and the models leave them out:
# citytwin/sim/mobile_sensors.py). Sums run in time order, whatever the plan: float
# sums in another order differ in the last bit, and layers must be bit-identical on re-runs.
STEP_MEANS = """
    SELECT s.feed || ':' || s.external_id AS sensor,
           avg(ST_X(coalesce(r.geom, s.geom)) ORDER BY r.time) AS lon,
           avg(ST_Y(coalesce(r.geom, s.geom)) ORDER BY r.time) AS lat,
           date_bin(make_interval(secs => $4), r.time, TIMESTAMPTZ '1970-01-01 00:00:00+00')
               AS time,
           avg(r.value ORDER BY r.time) AS value,
           count(*) AS count,
           s.properties ->> 'site_type' AS site_type,
           s.mobile
    FROM readings r
    JOIN sensors s ON s.id = r.sensor_id
    WHERE r.variable_id = $1 AND r.time >= $2 AND r.time < $3 AND NOT r.flagged
    GROUP BY s.feed, s.external_id, 4, s.properties, s.mobile
    ORDER BY 4, 1"""


async def variable_unit(conn: asyncpg.Connection, variable: str) -> tuple[int, str]:
    """(id, unit) of a stored variable; InvalidParameter `variable` if it is unknown."""
    row = await conn.fetchrow("SELECT id, unit FROM variables WHERE name = $1", variable)
    if row is None:
        known = await conn.fetchval("SELECT string_agg(name, ', ' ORDER BY name) FROM variables")
        raise InvalidParameter("variable", f"unknown variable {variable!r} (known: {known})")
    return row["id"], row["unit"]


async def reading_span(conn: asyncpg.Connection, variable: str) -> tuple[datetime, datetime] | None:
    """(first, last) time of the stored readings of `variable`, or None if it has none."""
    row = await conn.fetchrow(
        "SELECT min(r.time), max(r.time) FROM readings r "
        "JOIN variables v ON v.id = r.variable_id WHERE v.name = $1",
        variable,
    )
    return None if row[0] is None else (row[0], row[1])


async def step_means(
    conn: asyncpg.Connection,
    variable_id: int,
    start: datetime,
    end: datetime,
    step_seconds: int,
) -> pd.DataFrame:
    """sensor, lon, lat, time (step start, UTC), value (mean), count, site_type (the sensor's
    declared site type, None if it has none) and mobile (it reported away from its point) per
    sensor and step of the readings of a variable in [start, end)."""
    rows = await conn.fetch(STEP_MEANS, variable_id, start, end, float(step_seconds))
    frame = pd.DataFrame([tuple(row) for row in rows], columns=COLUMNS)
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame.astype(
        {"lon": float, "lat": float, "value": float, "count": "int64", "mobile": bool}
    )
