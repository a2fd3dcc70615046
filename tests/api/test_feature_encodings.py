"""Feature encodings are a registry: FlatGeobuf read back by GDAL, and one more encoding added in
a few lines reaches every feature endpoint by `format` and by Accept."""

import io

import orjson
import pyogrio
import pytest

from citytwin.api.formats import FEATURE_ENCODINGS, FeatureEncoding, register_feature_encoding
from tests.factories import API_KEY, STATIONS, air_rows, to_csv

RECORD_SEPARATOR = b"\x1e"


@pytest.fixture
def geojson_seq():
    """GeoJSON Text Sequences (RFC 8142): one feature a record."""

    def write(features: list[dict], members: dict) -> bytes:
        return b"".join(RECORD_SEPARATOR + orjson.dumps(item) + b"\n" for item in features)

    encoding = FeatureEncoding("geojsonseq", "application/geo+json-seq", write)
    yield register_feature_encoding(encoding)
    del FEATURE_ENCODINGS["geojsonseq"]


@pytest.fixture
async def loaded(client):
    headers = {"X-API-Key": API_KEY, "Content-Type": "text/csv"}
    answer = await client.post("/feeds/air/readings", content=to_csv(air_rows(2)), headers=headers)
    assert answer.json()["loaded"] == 12
    return client


async def test_readings_as_flatgeobuf_read_by_gdal(loaded):
    answer = await loaded.get("/readings", params={"format": "fgb", "variable": "no2"})
    assert answer.headers["content-type"] == "application/flatgeobuf"
    frame = pyogrio.read_dataframe(io.BytesIO(answer.content))
    assert len(frame) == 6 and frame.crs.to_epsg() == 4326
    by_sensor = frame.set_index("external_id").geometry
    for station in ("S1", "S2", "S3"):
        assert (by_sensor[station].iloc[0].x, by_sensor[station].iloc[0].y) == STATIONS[station]


async def test_a_registered_encoding_is_offered_by_every_feature_endpoint(loaded, geojson_seq):
    readings = await loaded.get("/readings", params={"format": "geojsonseq", "variable": "no2"})
    assert readings.headers["content-type"] == "application/geo+json-seq"
    records = readings.content.split(RECORD_SEPARATOR)[1:]
    assert len(records) == 6
    assert orjson.loads(records[0])["properties"]["variable"] == "no2"
    sensors = await loaded.get("/sensors", headers={"Accept": "application/geo+json-seq"})
    assert sensors.headers["content-type"] == "application/geo+json-seq"
    assert len(sensors.content.split(RECORD_SEPARATOR)[1:]) == 3


async def test_an_unregistered_encoding_is_a_400_naming_the_ones_offered(loaded):
    answer = await loaded.get("/readings", params={"format": "kml"})
    assert answer.status_code == 400
    assert answer.json()["parameter"] == "format"
    assert answer.json()["detail"] == "'kml' is not one of geojson, csv, parquet, fgb, ndjson"
