"""`/cells` and `/cells/{h3}/series` checked against pandas + h3 on the same rows."""

from datetime import datetime, timedelta

import h3.api.basic_str as h3
import numpy as np
import orjson
import pandas as pd
import pyogrio
import pytest
import shapely

from citytwin.db.queries.cells import CellQuery, cell_aggregates, streamed_properties
from citytwin.query.cells import to_hex
from citytwin.query.params import Area, TimeRange
from tests.factories import air_rows, post_readings


def expected_cells(
    rows: pd.DataFrame, variable: str, resolution: int, bucket: str | None = None
) -> pd.DataFrame:
    """The same aggregate computed independently: h3 per row, pandas groupby."""
    picked = rows[rows["variable"] == variable].copy()
    picked["h3"] = [
        h3.cell_to_parent(h3.latlng_to_cell(lat, lon, 10), resolution)
        for lon, lat in zip(picked["lon"], picked["lat"], strict=True)
    ]
    keys = ["h3"]
    if bucket:
        picked["bucket_start"] = pd.to_datetime(picked["time"]).dt.floor(bucket)
        keys.append("bucket_start")
    grouped = picked.groupby(keys)["value"]
    return grouped.agg(["count", "mean", "min", "max", "std"]).reset_index()


def answered(features: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame([f["properties"] for f in features])
    if "bucket_start" in frame:
        frame["bucket_start"] = pd.to_datetime(frame["bucket_start"])
    return frame


@pytest.mark.parametrize("resolution", [10, 9, 8, 7, 5])
async def test_cells_match_an_independent_computation(client, resolution):
    rows = air_rows(hours=48)
    await post_readings(client, rows)
    answer = await client.get("/cells", params={"variable": "no2", "resolution": resolution})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/geo+json"
    document = answer.json()
    assert (document["variable"], document["unit"], document["resolution"]) == (
        "no2",
        "µg/m³",
        resolution,
    )
    got = answered(document["features"]).sort_values("h3").reset_index(drop=True)
    want = expected_cells(rows, "no2", resolution).sort_values("h3").reset_index(drop=True)
    assert got["h3"].tolist() == want["h3"].tolist()
    assert got["count"].tolist() == want["count"].tolist()
    for column in ("mean", "min", "max", "std"):
        np.testing.assert_allclose(got[column], want[column], rtol=1e-9)
    # The geometry is the cell's own hexagon.
    first = document["features"][0]
    ring = [tuple(p) for p in first["geometry"]["coordinates"][0]]
    hexagon = [(lng, lat) for lat, lng in h3.cell_to_boundary(first["properties"]["h3"])]
    np.testing.assert_allclose(ring[:-1], hexagon, atol=1e-7)


@pytest.mark.parametrize(("bucket", "pandas_bucket"), [("1h", "1h"), ("6h", "6h"), ("1d", "1D")])
async def test_bucketed_cells_match(client, bucket, pandas_bucket):
    rows = air_rows(hours=48)
    await post_readings(client, rows)
    answer = await client.get(
        "/cells",
        params={
            "variable": "pm25",
            "resolution": 8,
            "bucket": bucket,
            "start": "2026-11-02T06:00:00Z",
            "end": "2026-11-03T18:00:00Z",
        },
    )
    got = answered(answer.json()["features"]).sort_values(["h3", "bucket_start"])
    window = rows[
        (rows["time"] >= "2026-11-02T06:00:00Z") & (rows["time"] < "2026-11-03T18:00:00Z")
    ]
    want = expected_cells(window, "pm25", 8, pandas_bucket).sort_values(["h3", "bucket_start"])
    assert got["bucket_start"].tolist() == want["bucket_start"].tolist()
    assert got["count"].tolist() == want["count"].tolist()
    np.testing.assert_allclose(got["mean"], want["mean"], rtol=1e-9)


async def test_cells_by_area(client):
    rows = air_rows(hours=4)
    await post_readings(client, rows)
    north = {"variable": "no2", "bbox": "9.515,47.135,9.525,47.145"}
    assert len((await client.get("/cells", params=north)).json()["features"]) == 2
    polygon = (
        '{"type":"Polygon","coordinates":[[[9.50,47.11],[9.515,47.11],[9.515,47.13],'
        "[9.50,47.13],[9.50,47.11]]]}"
    )
    south = (await client.get("/cells", params={"variable": "no2", "polygon": polygon})).json()
    assert [f["properties"]["count"] for f in south["features"]] == [4]
    parent = h3.cell_to_parent(h3.latlng_to_cell(47.1410, 9.5209, 10), 7)
    by_cell = await client.get(
        "/cells", params={"variable": "no2", "cells": parent, "resolution": 7}
    )
    assert [f["properties"]["h3"] for f in by_cell.json()["features"]] == [parent]


async def test_cells_as_csv(client):
    await post_readings(client, air_rows(hours=2))
    answer = await client.get(
        "/cells", params={"variable": "no2", "resolution": 7, "format": "csv"}
    )
    assert answer.headers["content-type"].startswith("text/csv")
    lines = answer.text.splitlines()
    assert lines[0] == "h3,count,mean,min,max,std"
    assert len(lines) == 3  # S1 and S2 share a res-7 cell, S3 is in the next one
    assert sorted(int(line.split(",")[1]) for line in lines[1:]) == [2, 4]


async def test_series_of_one_cell_at_any_resolution(client):
    rows = air_rows(hours=48)
    await post_readings(client, rows)
    cell = h3.cell_to_parent(h3.latlng_to_cell(47.1410, 9.5209, 10), 8)
    answer = await client.get(f"/cells/{cell}/series", params={"variable": "no2", "bucket": "1d"})
    document = answer.json()
    assert (document["h3"], document["resolution"], document["bucket"]) == (cell, 8, "1d")
    inside = [
        h3.cell_to_parent(h3.latlng_to_cell(lat, lon, 10), 8) == cell
        for lon, lat in zip(rows["lon"], rows["lat"], strict=True)
    ]
    near = rows[(rows["variable"] == "no2").to_numpy() & np.array(inside)]
    daily = near.groupby(pd.to_datetime(near["time"]).dt.floor("1D"))["value"]
    assert [p["count"] for p in document["series"]] == daily.count().tolist()
    np.testing.assert_allclose([p["mean"] for p in document["series"]], daily.mean())
    assert pd.to_datetime(document["series"][0]["bucket_start"]) == pd.Timestamp(
        "2026-11-02T00:00:00Z"
    )


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({}, "variable"),
        ({"variable": "co2"}, "variable"),
        ({"variable": "no2", "resolution": 11}, "resolution"),
        ({"variable": "no2", "resolution": 16}, "resolution"),
        ({"variable": "no2", "resolution": "x"}, "resolution"),
        ({"variable": "no2", "bucket": "15min"}, "bucket"),
        ({"variable": "no2", "bbox": "1,2,3"}, "bbox"),
        ({"variable": "no2", "polygon": "POLYGON((0 0, 1 1, 1 0, 0 1, 0 0))"}, "polygon"),
        ({"variable": "no2", "cells": "nothex"}, "cells"),
        ({"variable": "no2", "start": "tomorrow"}, "start"),
        ({"variable": "no2", "format": "xlsx"}, "format"),
        ({"variable": "no2", "bucket": "1h", "limit": 0}, "limit"),
        ({"variable": "no2", "bucket": "1h", "limit": 10_001}, "limit"),
        ({"variable": "no2", "bucket": "1h", "offset": -1}, "offset"),
    ],
)
async def test_bad_parameters_are_400_naming_the_parameter(client, params, parameter):
    answer = await client.get("/cells", params=params)
    assert answer.status_code == 400, answer.text
    assert answer.json()["parameter"] == parameter


async def test_bucketed_cells_come_in_pages_linked_by_next(client):
    await post_readings(client, air_rows(hours=48))
    params = {"variable": "no2", "resolution": 8, "bucket": "1h"}
    whole = (await client.get("/cells", params=params)).json()
    assert "links" not in whole  # under the page size: one page, as before
    pages, url = [], "/cells?" + "&".join(f"{k}={v}" for k, v in (params | {"limit": 40}).items())
    while url:
        answer = await client.get(url)
        document = answer.json()
        pages.append(len(document["features"]))
        pages_features = document["features"]
        offset = sum(pages[:-1])
        assert pages_features == whole["features"][offset : offset + len(pages_features)]
        nexts = [link["href"] for link in document.get("links", []) if link["rel"] == "next"]
        assert ("Link" in answer.headers) == bool(nexts)
        url = nexts[0] if nexts else None
    total = len(whole["features"])
    assert total > 80 and sum(pages) == total
    assert pages == [40] * (total // 40) + ([total % 40] if total % 40 else [])


@pytest.mark.parametrize(
    "path",
    ["/cells/zzzz/series", "/cells/8a1f8e7290cfff0/series", "/cells/8c1f8e7290c99ff/series"],
)
async def test_bad_cell_in_path_is_400(client, path):
    answer = await client.get(path, params={"variable": "no2"})
    assert answer.status_code == 400
    assert answer.json()["parameter"] == "h3"


async def test_ranges_cutting_days_mix_day_totals_and_hours(client):
    rows = air_rows(hours=72)
    await post_readings(client, rows)
    params = {
        "variable": "no2",
        "resolution": 9,
        "start": "2026-11-02T06:00:00Z",
        "end": "2026-11-04T03:00:00Z",
    }
    got = answered((await client.get("/cells", params=params)).json()["features"])
    window = rows[(rows["time"] >= params["start"]) & (rows["time"] < params["end"])]
    want = expected_cells(window, "no2", 9)
    got, want = got.sort_values("h3"), want.sort_values("h3")
    assert got["count"].tolist() == want["count"].tolist() == [45, 45, 45]
    np.testing.assert_allclose(got["mean"], want["mean"], rtol=1e-9)
    np.testing.assert_allclose(got["std"], want["std"], rtol=1e-9)


async def test_ndjson_streams_the_whole_bucketed_answer_that_gdal_reads(client, settings):
    await post_readings(client, air_rows(hours=48))
    params = {"variable": "no2", "resolution": 8, "bucket": "1h"}
    whole = (await client.get("/cells", params=params)).json()["features"]
    answer = await client.get("/cells", params=params | {"format": "ndjson"})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/x-ndjson"
    lines = answer.content.splitlines()
    assert [orjson.loads(line) for line in lines] == whole and len(lines) > 80
    read = pyogrio.read_dataframe(answer.content, driver="GeoJSONSeq")
    assert list(read["h3"]) == [f["properties"]["h3"] for f in whole]
    assert read.geometry.iloc[0].equals(shapely.geometry.shape(whole[0]["geometry"]))
    paged = await client.get("/cells", params=params | {"format": "ndjson", "limit": 10})
    assert paged.status_code == 400 and paged.json()["parameter"] == "limit"


async def test_the_cursor_yields_every_row_in_order_across_batches(client, conn, settings):
    await post_readings(client, air_rows(hours=48))
    variable_id = await conn.fetchval("SELECT id FROM variables WHERE name = 'no2'")
    query = CellQuery(variable_id, 9, Area(), TimeRange(None, None), timedelta(hours=1))
    args = (settings.ingest.h3_resolution, settings.database.rollup_bucket_seconds)
    expected = await cell_aggregates(conn, query, *args)
    batches = [rows async for rows in streamed_properties(conn, query, *args, batch=7)]
    assert {len(rows) for rows in batches[:-1]} == {7} and 0 < len(batches[-1]) <= 7
    streamed = [(cell, orjson.loads(text)) for rows in batches for cell, text in rows]
    assert len(streamed) == len(expected) > 7
    for (cell, properties), row in zip(streamed, expected, strict=True):
        assert cell == row["cell"] and properties["h3"] == to_hex(row["cell"])
        assert (properties["count"], properties["max"]) == (row["count"], row["max"])
        assert properties["mean"] == pytest.approx(row["mean"], rel=1e-12)
        assert datetime.fromisoformat(properties["bucket_start"]) == row["bucket_start"]
