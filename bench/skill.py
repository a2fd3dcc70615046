"""Leave-one-station-out skill on real networks: each station's hourly series estimated from the
other stations only, by citytwin's nowcast (kriging with external drift on site type) and by the
baselines (IDW, ordinary kriging, site type + hour, mean of the others, nearest station).

Real data from ../shared/data/real (read in place, never copied into the project):
London LAQN, April 2018, and Madrid's municipal network, 2025-08-25 to 2025-09-12. NO2 is
scored hourly and PM2.5 on daily means (FAIRMODE's averaging). With --json the last line is
{city: {pollutant: {method: {"rmse", "bias", "r", "mqi90"}}}}.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
from pyproj import Transformer

from citytwin.core.skill import skill_table
from citytwin.sim.cross_validation import CITYTWIN, METHODS, leave_one_out
from citytwin.sim.kriging import Points
from citytwin.sim.site_types import traffic_indicator

# ../shared beside the clone (as CI has it), or wherever CITYTWIN_REAL_DATA points (a worktree).
REAL = Path(
    os.environ.get(
        "CITYTWIN_REAL_DATA", Path(__file__).resolve().parents[1].parent / "shared/data/real"
    )
)
LONDON = "london_laqn_kdd2018/london_aq_hourly_long.csv"
MADRID = "madrid_air_quality/madrid_aq_hourly_long.csv"
POLLUTANTS = ("no2", "pm25")
# citytwin's nowcast (kriging with external drift) under its own name, then every baseline.
BENCH = {CITYTWIN: METHODS["kriging"]} | {n: m for n, m in METHODS.items() if n != "kriging"}


def london(real: Path, pollutant: str) -> pd.DataFrame:
    """station, lon, lat, site_type, time (hour start, UTC), value of LAQN in April 2018."""
    frame = pd.read_csv(
        real / LONDON, usecols=["station_id", "time_utc", pollutant, "lat", "lon", "SiteType"]
    )
    frame["time"] = pd.to_datetime(frame["time_utc"], utc=True)
    frame = frame[(frame["time"] >= "2018-04-01") & (frame["time"] < "2018-05-01")]
    return frame.rename(
        columns={"station_id": "station", "SiteType": "site_type", pollutant: "value"}
    ).dropna(subset=["value"])


def madrid(real: Path, pollutant: str) -> pd.DataFrame:
    """The same for Madrid, 2025-08-25 to 2025-09-12 (times there mark the hour's end)."""
    frame = pd.read_csv(real / MADRID)
    frame = frame[frame["pollutant"] == {"no2": "NO2", "pm25": "PM2.5"}[pollutant]]
    frame["time"] = pd.to_datetime(frame["time_utc_end"], utc=True) - pd.Timedelta(hours=1)
    frame = frame[(frame["time"] >= "2025-08-25") & (frame["time"] < "2025-09-13")]
    return frame.rename(columns={"estacion": "station", "station_type": "site_type"}).dropna(
        subset=["value"]
    )


CITIES = {"london": (london, 32630), "madrid": (madrid, 32630)}


def station_matrix(
    frame: pd.DataFrame, epsg: int
) -> tuple[np.ndarray, pd.DatetimeIndex, Points, list[str]]:
    """(hours, stations) values, the hours, the stations' Points (drift: traffic site) and ids."""
    meta = frame.groupby("station").agg(
        lon=("lon", "first"), lat=("lat", "first"), site_type=("site_type", "first")
    )
    table = frame.pivot_table(index="time", columns="station", values="value").reindex(
        columns=meta.index
    )
    hours = pd.date_range(table.index.min(), table.index.max(), freq="h", name="time")
    table = table.reindex(hours)
    x, y = Transformer.from_crs(4326, epsg, always_xy=True).transform(
        meta["lon"].to_numpy(), meta["lat"].to_numpy()
    )
    drift = traffic_indicator(list(meta["site_type"]))[:, None]
    points = Points(np.asarray(x), np.asarray(y), drift)
    return table.to_numpy(np.float64), hours.tz_localize(None), points, [str(s) for s in meta.index]


def run_city(real: Path, city: str, pollutants: tuple[str, ...] = POLLUTANTS) -> dict:
    """Per pollutant, per method: the LOSO table of skill_table."""
    load, epsg = CITIES[city]
    out = {}
    for pollutant in pollutants:
        values, hours, points, names = station_matrix(load(real, pollutant), epsg)
        started = time.perf_counter()
        samples = leave_one_out(values, hours, points, names, BENCH)
        table = skill_table(samples, list(BENCH), pollutant)
        table["stations"] = len(names)
        table["seconds"] = time.perf_counter() - started
        out[pollutant] = table
    return out


def summary(results: dict) -> dict:
    """{city: {pollutant: {method: {rmse, bias, r, mqi90}}}}."""
    return {
        city: {
            pollutant: {
                method: {
                    key: _round(entry["overall"].get(key)) for key in ("rmse", "bias", "r", "mqi90")
                }
                for method, entry in table["methods"].items()
            }
            for pollutant, table in tables.items()
        }
        for city, tables in results.items()
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def print_table(results: dict) -> None:
    """The human table: one row per method, each city and pollutant side by side."""
    columns = [(city, pollutant) for city, tables in results.items() for pollutant in tables]
    header = "method".ljust(18) + "".join(
        f"{city} {p} ({results[city][p]['stations']} st.)".rjust(34) for city, p in columns
    )
    print(header)
    print("".ljust(18) + "".join("RMSE   bias     r  MQI90".rjust(34) for _ in columns))
    for method in BENCH:
        row = method.ljust(18)
        for city, pollutant in columns:
            o = results[city][pollutant]["methods"][method]["overall"]
            cell = f"{o['rmse']:6.2f} {o['bias']:6.2f} {o['r'] or 0:5.2f} {o['mqi90'] or 0:6.2f}"
            row += cell.rjust(34)
        print(row)
    print("NO2 hourly, PM2.5 daily means (µg/m³); MQI90: FAIRMODE, 90th-percentile station.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="end with the figures as one JSON line")
    parser.add_argument("--data", type=Path, default=REAL, help="the shared real data folder")
    parser.add_argument("--city", choices=sorted(CITIES), action="append", help="only these cities")
    parser.add_argument("--pollutant", choices=POLLUTANTS, action="append", help="only these")
    args = parser.parse_args()
    missing = [
        str(args.data / name) for name in (LONDON, MADRID) if not (args.data / name).exists()
    ]
    if missing:
        sys.exit(f"bench/skill.py needs the shared real data, not found: {', '.join(missing)}")
    pollutants = tuple(args.pollutant or POLLUTANTS)
    results = {city: run_city(args.data, city, pollutants) for city in args.city or sorted(CITIES)}
    print_table(results)
    if args.json:
        print(orjson.dumps(summary(results)).decode())


if __name__ == "__main__":
    main()
