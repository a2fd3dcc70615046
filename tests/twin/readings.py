"""Crafted air readings at the factory stations, for exact expectations."""

import pandas as pd

from citytwin.feeds import FeedRegistry
from citytwin.feeds.definition import Retention
from tests.factories import STATIONS


def at(hour: float, day: str = "2026-11-02") -> str:
    """An ISO time `hour` hours (fractions allowed) after midnight UTC of `day`."""
    moment = pd.Timestamp(f"{day}T00:00:00Z") + pd.Timedelta(hours=hour)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def air(points: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    """Canonical air rows from (station, variable, time, value)."""
    return pd.DataFrame(
        [
            {
                "sensor_id": station,
                "lon": STATIONS[station][0],
                "lat": STATIONS[station][1],
                "time": time,
                "variable": variable,
                "value": value,
                "unit": "µg/m³",
            }
            for station, variable, time, value in points
        ]
    )


def hourly(station: str, variable: str, values: list[float], start: float = 0) -> list[tuple]:
    """Points of one series, one an hour from hour `start`."""
    return [(station, variable, at(start + i), v) for i, v in enumerate(values)]


def air_day(station: str, day: str) -> pd.DataFrame:
    return air([(s, v, f"{day}{t[10:]}", x) for s, v, t, x in hourly(station, "no2", [30.0] * 24)])


def policies(feeds: FeedRegistry, **chosen: Retention) -> FeedRegistry:
    return FeedRegistry(
        {n: feeds[n].model_copy(update={"retention": chosen.get(n, Retention())}) for n in feeds}
    )


async def partitions(conn) -> list[str]:
    rows = await conn.fetch(
        "SELECT inhrelid::regclass::text AS name FROM pg_inherits "
        "WHERE inhparent = 'readings'::regclass ORDER BY 1"
    )
    return [r["name"] for r in rows]
