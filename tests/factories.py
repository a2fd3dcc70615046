"""Small, exact test feeds built in code: known values at known places and times."""

import numpy as np
import pandas as pd

# Three air stations in Vaduz, two close together (same res-8 parent), one further south.
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
