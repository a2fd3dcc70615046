"""`/sensors`, `/readings` and `/feeds` over real PostGIS."""

import io

import geopandas as gpd
import pandas as pd
import pytest

from citytwin.api.app import create_app
from tests.asgi import asgi_client
from tests.factories import API_KEY, STATIONS, air_rows, to_csv

WRITE = {"X-API-Key": API_KEY, "Content-Type": "text/csv"}


async def push(client, body: bytes, feed: str = "air", headers: dict | None = None, **params):
    return await client.post(
        f"/feeds/{feed}/readings", content=body, headers=headers or WRITE, params=params
    )


async def test_push_answers_with_counts_and_named_rejects(client):
    # -50 µg/m³ is no instrument noise around zero (that is down to -20): out of range.
    body = to_csv(air_rows(hours=1)) + b"S9,9.52,47.14,2026-11-02T07:00:00Z,no2,-50,\n"
    answer = await push(client, body)
    assert answer.status_code == 200
    assert answer.json() == {
        "read": 7,
        "loaded": 6,
        "duplicates": 0,
        "flagged": [],
        "flagged_total": 0,
        "warnings": [],
        "rejected": [
            {"line": 8, "field": "value", "error": "-50 is outside the plausible range 0..1000"}
        ],
        "rejected_total": 1,
        "stations": 0,
        "quality": {},
    }
    again = (await push(client, body)).json()
    assert (again["loaded"], again["duplicates"]) == (0, 6)


async def test_push_ndjson(client):
    body = (
        b'{"sensor_id":"N1","lon":9.52,"lat":47.14,"time":"2026-11-02T07:00:00Z",'
        b'"variable":"no2","value":12.5}\n'
    )
    answer = await push(
        client, body, headers={"X-API-Key": API_KEY, "Content-Type": "application/x-ndjson"}
    )
    assert answer.json()["loaded"] == 1


@pytest.mark.parametrize(
    ("headers", "status", "detail"),
    [
        ({"Content-Type": "text/csv"}, 401, "X-API-Key header required"),
        (
            {"Content-Type": "text/csv", "X-API-Key": "wrong"},
            403,
            "X-API-Key is not allowed to write",
        ),
    ],
)
async def test_writes_need_an_api_key(client, conn, headers, status, detail):
    answer = await push(client, to_csv(air_rows(hours=1)), headers=headers)
    assert (answer.status_code, answer.json()["detail"]) == (status, detail)
    assert (await client.get("/readings")).json()["features"] == []
    assert await conn.fetchval("SELECT count(*) FROM sensors") == 0


async def test_push_errors_name_what_is_wrong(client):
    unknown = await push(client, b"x", feed="water")
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "feed 'water' not found"
    wrong_type = await push(client, b"x", headers={**WRITE, "Content-Type": "image/png"})
    assert (wrong_type.status_code, wrong_type.json()["parameter"]) == (400, "Content-Type")
    garbage = await push(client, b"\x00\x01\x02binary")
    assert garbage.status_code == 400
    assert garbage.json() == {
        "error": "MalformedInput",
        "parameter": "body",
        "detail": "the file is binary data, not text",
    }
    missing = await push(client, b"a,b\n1,2\n")
    assert "missing columns: sensor_id, time, variable, value" in missing.json()["detail"]


async def test_sensors_geojson_and_filters(client):
    await push(client, to_csv(air_rows(hours=1)))
    document = (await client.get("/sensors")).json()
    assert document["type"] == "FeatureCollection"
    by_name = {f["properties"]["external_id"]: f for f in document["features"]}
    assert by_name.keys() == STATIONS.keys()
    assert by_name["S3"]["geometry"] == {"type": "Point", "coordinates": list(STATIONS["S3"])}
    south = (await client.get("/sensors", params={"bbox": "9.50,47.11,9.515,47.13"})).json()
    assert [f["properties"]["external_id"] for f in south["features"]] == ["S3"]
    cell = by_name["S1"]["properties"]["h3"]
    same_cell = (await client.get("/sensors", params={"cells": cell})).json()
    assert [f["properties"]["external_id"] for f in same_cell["features"]] == ["S1"]
    assert (await client.get("/sensors", params={"feed": "traffic"})).json()["features"] == []
    assert (await client.get("/sensors", params={"feed": "water"})).status_code == 404
    one = await client.get(f"/sensors/{by_name['S2']['id']}")
    assert one.json()["properties"]["external_id"] == "S2"


@pytest.mark.parametrize("path", ["/sensors/999999", "/sensors/abc"])
async def test_bad_sensor_ids(client, path):
    answer = await client.get(path)
    assert answer.status_code in (400, 404)
    assert answer.status_code == (404 if path.endswith("999999") else 400)


async def test_readings_pages_follow_next_links(client):
    rows = air_rows(hours=10)
    await push(client, to_csv(rows))
    seen, url, params = [], "/readings", {"limit": 25, "variable": "no2"}
    while url:
        document = (await client.get(url, params=params)).json()
        seen += document["features"]
        nxt = [link["href"] for link in document.get("links", []) if link["rel"] == "next"]
        url, params = (nxt[0], None) if nxt else (None, None)
    assert len(seen) == 30
    assert len({(f["properties"]["sensor_id"], f["properties"]["time"]) for f in seen}) == 30
    values = sorted(f["properties"]["value"] for f in seen)
    assert values == sorted(rows.loc[rows["variable"] == "no2", "value"])


async def test_readings_pages_default_to_1000_and_allow_up_to_10000(client):
    rows = air_rows(hours=200)
    assert (await push(client, to_csv(rows))).json()["loaded"] == len(rows) > 1000
    first = await client.get("/readings")
    assert len(first.json()["features"]) == 1000
    assert 'rel="next"' in first.headers["link"]
    whole = await client.get("/readings", params={"limit": 10_000})
    assert len(whole.json()["features"]) == len(rows) and "link" not in whole.headers
    too_many = await client.get("/readings", params={"limit": 10_001})
    assert (too_many.status_code, too_many.json()["parameter"]) == (400, "limit")


async def test_variables_list_each_feed_variable_with_its_days_of_data(client):
    await push(client, to_csv(air_rows(hours=30)))  # 2026-11-02 00:00 to 11-03 05:00
    variables = {v["name"]: v for v in (await client.get("/variables")).json()["variables"]}
    assert variables["no2"] == {
        "name": "no2",
        "feed": "air",
        "unit": "µg/m³",
        "description": variables["no2"]["description"],
        "first_day": "2026-11-02T00:00:00+00:00",
        "last_day": "2026-11-03T00:00:00+00:00",
    }
    assert (variables["vehicle_count"]["first_day"], variables["vehicle_count"]["last_day"]) == (
        None,
        None,
    )
    assert variables["energy_kwh"]["feed"] == "energy"


async def test_readings_filters(client):
    await push(client, to_csv(air_rows(hours=10)))
    window = await client.get(
        "/readings",
        params={"start": "2026-11-02T02:00:00Z", "end": "2026-11-02T04:00:00Z", "variable": "pm25"},
    )
    assert len(window.json()["features"]) == 6
    south = await client.get("/readings", params={"bbox": "9.50,47.11,9.515,47.13"})
    assert {f["properties"]["external_id"] for f in south.json()["features"]} == {"S3"}
    assert (await client.get("/readings", params={"cursor": "garbage!"})).status_code == 400
    assert (await client.get("/readings", params={"limit": 10**6})).json()["parameter"] == "limit"


async def test_readings_as_csv_and_geoparquet(client):
    await push(client, to_csv(air_rows(hours=2)))
    csv = await client.get("/readings", params={"format": "csv", "variable": "no2"})
    frame = pd.read_csv(io.StringIO(csv.text))
    assert len(frame) == 6
    assert {"sensor_id", "time", "value", "unit", "lon", "lat", "h3"} <= set(frame.columns)
    parquet = await client.get("/readings", headers={"Accept": "application/vnd.apache.parquet"})
    assert parquet.headers["content-type"] == "application/vnd.apache.parquet"
    table = gpd.read_parquet(io.BytesIO(parquet.content))
    assert len(table) == 12 and table.crs.to_epsg() == 4326
    assert table.geometry.iloc[0].geom_type == "Point"


async def test_feeds_and_docs(client):
    feeds = (await client.get("/feeds")).json()["feeds"]
    assert {f["name"] for f in feeds} == {"traffic", "air", "energy"}
    air = (await client.get("/feeds/air")).json()
    assert air["variables"]["no2"]["unit"] == "µg/m³"
    assert (await client.get("/docs")).status_code == 200
    spec = (await client.get("/openapi.json")).json()
    assert {"/cells", "/readings", "/sensors", "/feeds/{feed}/readings"} <= set(spec["paths"])


async def test_reads_are_open_to_other_origins_and_compressed(client):
    await push(client, to_csv(air_rows(hours=24)))
    answer = await client.get(
        "/readings", headers={"Origin": "https://portal.example", "Accept-Encoding": "gzip"}
    )
    assert answer.headers["access-control-allow-origin"] == "*"
    assert answer.headers["content-encoding"] == "gzip"


async def test_an_oversized_body_is_413(client, settings, monkeypatch):
    monkeypatch.setattr(settings.api, "max_body_bytes", 1024)
    answer = await push(client, to_csv(air_rows(hours=48)))
    assert answer.status_code == 413
    assert answer.json()["parameter"] == "body"


async def test_cors_origins_set_allow_those_portals_only(settings, conn):
    portal = "https://maps.example.org"
    chosen = settings.updated(cors_origins=[portal, "https://other.example"])
    async with asgi_client(create_app(chosen)) as client:
        allowed = await client.get("/feeds", headers={"Origin": portal})
        stranger = await client.get("/feeds", headers={"Origin": "https://evil.example"})
        preflight = await client.options(
            "/feeds/air/readings",
            headers={"Origin": portal, "Access-Control-Request-Method": "POST"},
        )
        refused = await client.options(
            "/feeds/air/readings",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
    assert allowed.headers["access-control-allow-origin"] == portal
    assert "access-control-allow-origin" not in stranger.headers
    assert stranger.status_code == 200  # the answer is there; a browser hides it from the page
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == portal
    assert refused.status_code == 400 and refused.text == "Disallowed CORS origin"
