"""Write-side shapes: each is a 4xx JSON answer naming the body, line or member at fault, or a
200 listing the rejected rows by line and field; never a 500."""

import pytest

from citytwin.api.app import create_app
from citytwin.services import ingest as pipeline
from tests.asgi import asgi_client
from tests.factories import API_KEY

HEADER = "sensor_id,lon,lat,time,variable,value,unit\n"
ROW = "s1,9.52,47.14,2026-11-02T00:00:00Z,no2,10,\n"
POINT = {"type": "Point", "coordinates": [9.52, 47.14]}
PROPS = {"sensor_id": "s1", "time": "2026-11-02T00:00:00Z", "variable": "no2", "value": 1}


def feature(**members: object) -> dict:
    return {"type": "Feature", "geometry": POINT, "properties": PROPS, **members}


def collection(*features: object) -> dict:
    return {"type": "FeatureCollection", "features": list(features)}


async def post(client, body, content_type: str, url: str = "/feeds/air/readings"):
    headers = {"X-API-Key": API_KEY, "Content-Type": content_type}
    if isinstance(body, bytes | str):
        return await client.post(url, content=body, headers=headers)
    return await client.post(url, json=body, headers=headers)


REFUSED_CSV = [
    (HEADER.strip(), "cannot read CSV"),
    (b"sensor_id,lon,lat,time,variable,value,\xff\n" + ROW.encode(), "line 1: not UTF-8 text"),
    (HEADER.replace("unit", "value") + ROW, "line 1: column 'value' appears more than once"),
    (HEADER.replace("unit", "") + ROW, "line 1: column 7 of the header has no name"),
    (HEADER.replace("unit", "line") + ROW, "line 1: column 'line' is a reserved name"),
]


@pytest.mark.parametrize(("body", "start"), REFUSED_CSV)
async def test_unreadable_csv_is_a_400_naming_the_body(client, body, start):
    answer = await post(client, body, "text/csv")
    assert answer.status_code == 400
    assert answer.json()["parameter"] == "body"
    assert answer.json()["detail"].startswith(start)


REJECTED_CSV = [
    (HEADER + "s1,9.52,47.14,,no2,10,\n", "time", "missing"),
    (HEADER + "s1,9.52,47.14,2026-11-02T00:00:00Z,no2,,\n", "value", "missing"),
    (HEADER + "s1,,,2026-11-02T00:00:00Z,no2,1,\n", "lon", "unknown sensor"),
    (
        HEADER + "s1,9.52,47.14,9999-12-31T23:00:00-05:00,no2,10,\n",
        "time",
        "10000-01-01T04:00:00Z is not before",
    ),
    (HEADER + "s1,9.52,47.14,1900-01-01T00:00:00Z,no2,10,\n", "time", "1900-01-01T00:00:00Z"),
]


@pytest.mark.parametrize(("body", "field", "start"), REJECTED_CSV)
async def test_bad_rows_are_rejected_by_line_and_field(client, body, field, start):
    answer = await post(client, body, "text/csv")
    assert answer.status_code == 200, answer.text
    [rejected] = answer.json()["rejected"]
    assert (rejected["line"], rejected["field"]) == (2, field)
    assert rejected["error"].startswith(start)
    assert answer.json()["loaded"] == 0


async def test_a_header_only_file_loads_nothing(client):
    answer = await post(client, HEADER, "text/csv")
    assert (answer.status_code, answer.json()["read"], answer.json()["loaded"]) == (200, 0, 0)


async def test_null_times_in_ndjson_are_rejected(client):
    body = '{"sensor_id":"s1","lon":9.52,"lat":47.14,"time":null,"variable":"no2","value":1}\n'
    answer = await post(client, body, "application/x-ndjson")
    assert answer.json()["rejected"] == [{"line": 1, "field": "time", "error": "missing"}]


@pytest.mark.parametrize(
    ("document", "field"),
    [
        (collection("x"), "feature"),
        (collection(feature(geometry="x")), "geometry"),
        (collection(feature(geometry=None)), "geometry"),
        (collection(feature(properties=[1])), "properties"),
    ],
)
async def test_geojson_members_of_the_wrong_type_are_rejected(client, document, field):
    answer = await post(client, document, "application/geo+json")
    assert answer.status_code == 200
    assert [(r["line"], r["field"]) for r in answer.json()["rejected"]] == [(1, field)]


@pytest.mark.parametrize("features", [None, {}, "x"])
async def test_geojson_features_not_a_list_is_a_400(client, features):
    answer = await post(
        client, {"type": "FeatureCollection", "features": features}, "application/geo+json"
    )
    assert answer.status_code == 400
    assert answer.json()["detail"] == "GeoJSON member 'features' must be a list of Features"


DATASTREAM = {
    "ObservedProperty": {"name": "no2"},
    "unitOfMeasurement": {"symbol": "µg/m³"},
    "Thing": {"name": "t1", "Locations": [{"location": POINT}]},
}


@pytest.mark.parametrize(
    ("datastream", "parameter"),
    [
        (None, "Datastream"),
        ("x", "Datastream"),
        ({**DATASTREAM, "Thing": None}, "Thing"),
        ({**DATASTREAM, "Thing": {"name": "t1", "Locations": "x"}}, "Thing.Locations"),
        ({**DATASTREAM, "ObservedProperty": None}, "ObservedProperty"),
        ({**DATASTREAM, "unitOfMeasurement": {"symbol": 5}}, "unitOfMeasurement"),
    ],
)
async def test_sensorthings_members_of_the_wrong_type_are_named(client, datastream, parameter):
    observation = {"Datastream": datastream, "result": 1, "phenomenonTime": "2026-11-02T00:00:00Z"}
    answer = await post(client, observation, "application/json", "/Observations")
    assert answer.status_code == 400
    assert answer.json()["parameter"] == parameter


async def test_an_empty_list_is_no_observation(client):
    answer = await post(client, [], "application/json", "/Observations")
    assert answer.status_code == 400
    assert (answer.json()["parameter"], answer.json()["detail"]) == (
        "body",
        "one Observation (a JSON object) is expected",
    )


async def test_a_data_array_with_numeric_components_is_answered_per_item(client):
    body = [{"Datastream": DATASTREAM, "components": [1, 2], "dataArray": [[1, 2]]}]
    answer = await post(client, body, "application/json", "/CreateObservations")
    assert (answer.status_code, answer.json()) == (201, ["error"])


@pytest.mark.parametrize(
    ("entity", "detail"),
    [
        ({"id": None, "type": "AirQualityObserved"}, "id: missing entity id"),
        (
            {"id": "urn:a", "type": "AirQualityObserved", "location": None, "no2": None},
            "time: missing",
        ),
    ],
)
async def test_ngsi_ld_members_null_are_named(client, entity, detail):
    answer = await post(
        client, [entity], "application/ld+json", "/ngsi-ld/v1/entityOperations/upsert"
    )
    assert answer.status_code == 207
    assert answer.json()["errors"][0]["error"]["detail"].startswith(detail)


async def test_an_answer_lists_at_most_the_configured_rejects_with_their_total(settings, conn):
    rows = "".join(f"s1,9.52,47.14,2026-11-02T{h:02d}:00:00Z,no2,-50,\n" for h in range(24))
    app = create_app(settings.updated(rejects_listed=5))
    async with asgi_client(app) as client:
        report = (await post(client, HEADER + rows, "text/csv")).json()
    assert report["rejected_total"] == 24
    assert [r["line"] for r in report["rejected"]] == [2, 3, 4, 5, 6]


async def test_a_geojson_body_past_its_cap_is_a_413_naming_csv_and_ndjson(settings, conn):
    async with asgi_client(create_app(settings.updated(geojson_max_bytes=200))) as client:
        answer = await post(client, collection(*[feature()] * 3), "application/geo+json")
    assert (answer.status_code, answer.json()["parameter"]) == (413, "body")
    assert answer.json()["detail"].startswith("a GeoJSON body is read whole, so at most 200 bytes")
    assert "CSV or NDJSON" in answer.json()["detail"]


async def test_ndjson_read_in_pieces_names_each_line(client, monkeypatch):
    monkeypatch.setattr(pipeline, "FIRST_PIECE_BYTES", 100)
    monkeypatch.setattr(pipeline, "PIECE_BYTES", 200)
    good = b'{"sensor_id":"s1","lon":9.52,"lat":47.14,"time":"2026-11-02T%02d:00:00Z",' % 0
    lines = [good + b'"variable":"no2","value":%d}' % i for i in range(30)]
    lines[3] = lines[25] = b"{not json"
    answer = await post(client, b"\n".join(lines) + b"\n", "application/x-ndjson")
    assert answer.status_code == 200, answer.text
    assert [(r["line"], r["field"]) for r in answer.json()["rejected"]] == [
        (4, "line"),
        (26, "line"),
    ]
    assert (answer.json()["read"], answer.json()["rejected_total"]) == (30, 2)


async def test_a_streamed_body_past_the_limit_is_a_413(client, settings, monkeypatch):
    monkeypatch.setattr(settings.api, "max_body_bytes", 1000)

    async def chunks():  # no Content-Length: refused as it arrives
        yield HEADER.encode()
        for _ in range(100):
            yield ROW.encode()

    headers = {"X-API-Key": API_KEY, "Content-Type": "text/csv"}
    answer = await client.post("/feeds/air/readings", content=chunks(), headers=headers)
    assert (answer.status_code, answer.json()["parameter"]) == (413, "body")
    assert answer.json()["detail"] == "the body is larger than 0 KiB; split it"
