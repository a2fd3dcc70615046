"""Small, exact test feeds built in code: known values at known places and times."""

import httpx
import numpy as np
import pandas as pd

from citytwin.services.ingest import ingest

API_KEY = "test-key"

# Three air stations in Vaduz, two close together (same res-7 parent), one further south.
STATIONS = {
    "S1": (9.5209, 47.1410),
    "S2": (9.5215, 47.1415),
    "S3": (9.5090, 47.1200),
}


def air_rows(hours: int = 48, start: str = "2026-11-02T00:00:00Z", seed: int = 7) -> pd.DataFrame:
    """Hourly no2 and pm25 at every station, deterministic values."""
    rng = np.random.default_rng(seed)
    times = pd.date_range(start, periods=hours, freq="h")
    frames = []
    for sensor, (lon, lat) in STATIONS.items():
        for variable, level in (("no2", 30.0), ("pm25", 10.0)):
            frames.append(
                pd.DataFrame(
                    {
                        "sensor_id": sensor,
                        "lon": lon,
                        "lat": lat,
                        "time": times.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "variable": variable,
                        "value": np.round(level + rng.gamma(2.0, 5.0, hours), 2),
                        "unit": "µg/m³",
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def to_csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


async def post_readings(
    client: httpx.AsyncClient, rows: pd.DataFrame | bytes, feed: str = "air"
) -> dict:
    """Push readings through the API; a frame must load whole."""
    body = rows if isinstance(rows, bytes) else to_csv(rows)
    answer = await client.post(
        f"/feeds/{feed}/readings",
        content=body,
        headers={"X-API-Key": API_KEY, "Content-Type": "text/csv"},
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    if isinstance(rows, pd.DataFrame):
        assert report["loaded"] == len(rows), report
    return report


async def ingest_rows(conn, feeds, settings, rows: pd.DataFrame, feed: str = "air") -> dict:
    """Store readings through the ingest service (no HTTP), with the session's grid settings;
    the report as a dict."""
    report = await ingest(
        conn,
        feeds[feed],
        to_csv(rows),
        resolution=settings.ingest.h3_resolution,
        bucket_seconds=settings.database.rollup_bucket_seconds,
    )
    return report.as_dict()


def bus_rows(start: str = "2026-11-02T00:00:00Z", hours: int = 6) -> pd.DataFrame:
    """A bus (BUS9) across the stations' part of Vaduz, every 10 minutes, measuring NO2 at
    400 µg/m³, ten times what any station does."""
    times = pd.date_range(start, periods=hours * 6, freq="10min")
    return pd.DataFrame(
        {
            "sensor_id": "BUS9",
            "lon": np.linspace(9.505, 9.530, len(times)),
            "lat": np.linspace(47.118, 47.145, len(times)),
            "time": times.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "variable": "no2",
            "value": 400.0,
            "unit": "µg/m³",
        }
    )
