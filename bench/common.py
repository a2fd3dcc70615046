"""Shared by the benchmarks: deterministic canonical `air` CSV and an emptied store."""

import argparse
import io
from dataclasses import dataclass

import asyncpg
import httpx
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.csv as pacsv

VARIABLES = ("pm25", "pm10", "no2", "o3")
HEADER = b"sensor_id,lon,lat,time,variable,value,unit\n"


@dataclass(frozen=True)
class Sensors:
    """Fixed sensors: external ids and coordinates, rounded to the 6 decimals the CSV holds."""

    ids: list[str]
    lon: np.ndarray
    lat: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


def place_sensors(
    count: int, bounds: tuple[float, float, float, float], rng: np.random.Generator
) -> Sensors:
    """`count` sensors spread uniformly over `bounds` (west, south, east, north), 6 decimals."""
    west, south, east, north = bounds
    lon = rng.uniform(west, east, count).round(6)
    lat = rng.uniform(south, north, count).round(6)
    return Sensors([f"air-{i:04d}" for i in range(count)], lon, lat)


def _take(dictionary: list[str], indices: np.ndarray) -> pa.Array:
    return pa.array(dictionary, pa.string()).take(pa.array(indices))


def canonical_csv(
    sensors: Sensors, stamps: np.ndarray, rng: np.random.Generator, rows: int | None = None
) -> bytes:
    """Each sensor and variable at each UTC stamp (time-major), cut to `rows`: canonical CSV."""
    per_stamp = len(sensors) * len(VARIABLES)
    rows = per_stamp * len(stamps) if rows is None else rows
    sensor = np.tile(np.repeat(np.arange(len(sensors)), len(VARIABLES)), len(stamps))[:rows]
    variable = np.tile(np.arange(len(VARIABLES)), len(sensors) * len(stamps))[:rows]
    stamp = np.repeat(np.arange(len(stamps)), per_stamp)[:rows]
    times = [f"{t}Z" for t in np.datetime_as_string(stamps, unit="s")]
    table = pa.table(
        {
            "sensor_id": _take(sensors.ids, sensor),
            "lon": _take([f"{x:.6f}" for x in sensors.lon], sensor),
            "lat": _take([f"{y:.6f}" for y in sensors.lat], sensor),
            "time": _take(times, stamp),
            "variable": _take(list(VARIABLES), variable),
            "value": rng.gamma(2.0, 10.0, len(sensor)).clip(0.0, 500.0).round(1),
            "unit": _take(["µg/m³"], np.zeros(len(sensor), np.int32)),
        }
    )
    sink = io.BytesIO()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return HEADER + sink.getvalue()


async def empty_store(conn: asyncpg.Connection) -> None:
    """Empty the store, drop every readings partition and checkpoint, so a run starts clean."""
    await conn.execute(
        "TRUNCATE sensors, readings, cell_rollups, cell_rollup_deltas, "
        "cell_rollup_months, cell_rollup_months_built, sensor_hours, sensor_hour_deltas, cells, "
        "latest_readings, twin_events RESTART IDENTITY"
    )
    partitions = await conn.fetch(
        """SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'readings'::regclass"""
    )
    for row in partitions:
        await conn.execute(f'DROP TABLE IF EXISTS "{row["relname"]}"')
    await conn.execute("CHECKPOINT")


def figures_parser(description: str | None) -> argparse.ArgumentParser:
    """An argument parser with the `--json` flag every benchmark takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--json", action="store_true", help="end with the figures as one JSON object on a line"
    )
    return parser


def print_figures(figures: dict, as_json: bool) -> None:
    """With `--json`, the figures as one JSON object on the last line of the output."""
    if as_json:
        print(orjson.dumps(figures, option=orjson.OPT_SERIALIZE_NUMPY).decode(), flush=True)


async def paged_cells(client: httpx.AsyncClient, params: dict) -> int:
    """Features of GET /cells as GeoJSON pages, following each `next` link to the end."""
    url, query, count = "/cells", params, 0
    while url:
        document = (await client.get(url, params=query)).json()
        count += len(document["features"])
        nexts = [link["href"] for link in document.get("links", []) if link["rel"] == "next"]
        url, query = (nexts[0], None) if nexts else (None, None)
    return count
