"""A store started with a non-default rollup bucket (CITYTWIN_ROLLUP_BUCKET_SECONDS=900): its
rollups keep quarter hours, /cells and series answer per quarter hour, coarser buckets combine
them, and the store refuses to start with another bucket."""

from urllib.parse import urlsplit, urlunsplit

import h3
import pytest

from citytwin.api.app import create_app
from citytwin.db.connect import create_database_if_missing
from citytwin.errors import CityTwinError
from tests.asgi import asgi_client
from tests.databases import drop_database
from tests.factories import STATIONS, post_readings

LON, LAT = STATIONS["S1"]
# Four readings in one hour, one per quarter: 10, 20, 30, 40.
READINGS = "sensor_id,lon,lat,time,variable,value\n" + "".join(
    f"S1,{LON},{LAT},2026-11-02T08:{minute:02d}:00Z,no2,{value}\n"
    for minute, value in ((0, 10), (15, 20), (30, 30), (45, 40))
)
WINDOW = {"start": "2026-11-02T08:00:00Z", "end": "2026-11-02T09:00:00Z"}


def elsewhere(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@pytest.fixture
async def quarter_hours(settings, pool):
    """An app on its own fresh database, started with 900 s rollup buckets."""
    admin = elsewhere(settings.database.database_url, "postgres")
    name = urlsplit(settings.database.database_url).path.lstrip("/") + "_quarter"
    await drop_database(admin, name)
    await create_database_if_missing(admin, name)
    chosen = settings.updated(database_url=elsewhere(admin, name), rollup_bucket_seconds=900)
    try:
        async with asgi_client(create_app(chosen)) as client:
            yield client, chosen
    finally:
        await drop_database(admin, name)


async def test_cells_and_series_answer_per_quarter_hour(quarter_hours):
    client, _ = quarter_hours
    await post_readings(client, READINGS.encode())
    params = {"variable": "no2", "resolution": 10, **WINDOW}
    quarters = (await client.get("/cells", params={**params, "bucket": "15min"})).json()
    got = sorted(
        (f["properties"]["bucket_start"], f["properties"]["count"], f["properties"]["mean"])
        for f in quarters["features"]
    )
    assert [(count, mean) for _, count, mean in got] == [(1, 10), (1, 20), (1, 30), (1, 40)]
    assert got[1][0].startswith("2026-11-02T08:15:00")
    hour = (await client.get("/cells", params={**params, "bucket": "1h"})).json()["features"]
    assert [(f["properties"]["count"], f["properties"]["mean"]) for f in hour] == [(4, 25.0)]
    # A cut quarter: 08:15-08:45 holds the 20 and the 30.
    cut = {"variable": "no2", "resolution": 10, "start": "2026-11-02T08:15:00Z"}
    cut["end"] = "2026-11-02T08:45:00Z"
    (middle,) = (await client.get("/cells", params=cut)).json()["features"]
    assert (middle["properties"]["count"], middle["properties"]["mean"]) == (2, 25.0)
    cell = h3.latlng_to_cell(LAT, LON, 10)
    series = await client.get(
        f"/cells/{cell}/series", params={"variable": "no2", "bucket": "15min", **WINDOW}
    )
    assert series.status_code == 200, series.text
    assert [row["mean"] for row in series.json()["series"]] == [10.0, 20.0, 30.0, 40.0]
    ten = await client.get("/cells", params={**params, "bucket": "10min"})
    assert (ten.status_code, ten.json()["parameter"]) == (400, "bucket")
    assert "900 s rollup bucket" in ten.json()["detail"]


async def test_the_store_refuses_to_start_with_another_bucket(quarter_hours):
    _, chosen = quarter_hours
    hourly = chosen.updated(rollup_bucket_seconds=3600)
    with pytest.raises(CityTwinError, match="900"):
        async with asgi_client(create_app(hourly)):
            pass
