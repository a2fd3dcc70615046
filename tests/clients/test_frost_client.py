"""FROST's SensorThings client (frost_sta_client, PyPI), not written by us, creating
Observations on our SensorThings endpoint over real HTTP."""

import asyncio
from datetime import UTC, datetime

import frost_sta_client as fsc
import httpx
import pytest
from geojson import Point  # frost_sta_client's own geometry type

from citytwin.api.app import create_app
from tests.factories import API_KEY
from tests.live_server import serve


@pytest.fixture(scope="module")
async def sta_url(settings, pool):
    async with serve(create_app(settings)) as url:
        yield url


def datastream(unit: str, symbol: str, prop: str) -> fsc.Datastream:
    """A Datastream of a Thing at a Location of Vaduz, made by the client's own classes."""
    thing = fsc.Thing(
        name="bus-7",
        description="bus-mounted air sensor",
        locations=[
            fsc.Location(
                name="depot",
                description="Vaduz bus depot",
                encoding_type="application/geo+json",
                location=Point((9.5215, 47.1397)),
            )
        ],
    )
    return fsc.Datastream(
        name=f"{prop} of bus-7",
        description=f"{prop} measured on bus 7",
        observation_type="http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
        unit_of_measurement=fsc.UnitOfMeasurement(name=unit, symbol=symbol, definition=""),
        observed_property=fsc.ObservedProperty(name=prop, definition="", description=prop),
        sensor=fsc.Sensor(name="low-cost", description="", encoding_type="text/plain"),
        thing=thing,
    )


def ug(feeds, ppb: float) -> float:
    """NO2 ppb in µg/m³ as the air feed converts it (at its reference temperature)."""
    return pytest.approx(ppb * feeds["air"].conversion("no2", "ppb").scale)


async def test_frost_client_creates_observations(sta_url, conn, feeds):
    service = fsc.SensorThingsService(sta_url, auth_handler=fsc.AuthHandler("city", API_KEY))
    stream = datastream("parts per billion", "ppb", "NO2")
    for hour, value in ((8, 20.0), (9, 25.0)):
        observation = fsc.Observation(
            phenomenon_time=f"2026-11-02T{hour:02d}:00:00Z", result=value, datastream=stream
        )
        await asyncio.to_thread(service.create, observation)
        assert observation.id.endswith(f"{hour:02d}:00:00.000000Z")  # from our Location header
    rows = await conn.fetch(
        """SELECT s.feed, s.external_id, v.name, r.value FROM readings r
           JOIN sensors s ON s.id = r.sensor_id JOIN variables v ON v.id = r.variable_id
           ORDER BY r.time"""
    )
    assert [tuple(row) for row in rows] == [
        ("air", "bus-7", "no2", ug(feeds, 20)),
        ("air", "bus-7", "no2", ug(feeds, 25)),
    ]
    refused = fsc.SensorThingsService(sta_url, auth_handler=fsc.AuthHandler("city", "wrong"))
    with pytest.raises(Exception, match="403"):
        await asyncio.to_thread(
            refused.create,
            fsc.Observation(phenomenon_time="2026-11-02T10:00:00Z", result=1.0, datastream=stream),
        )


CSV = """sensor_id,lon,lat,time,variable,value,unit
AQ-csv,9.5209,47.1412,2026-11-02T08:00:00Z,pm25,7.5,µg/m³
AQ-csv,9.5209,47.1412,2026-11-02T09:00:00Z,pm25,9.25,µg/m³
AQ-csv,9.5209,47.1412,2026-11-02T10:00:00Z,pm25,11.0,µg/m³
"""
AROUND_CSV_SENSOR = "POLYGON((9.52 47.14,9.522 47.14,9.522 47.142,9.52 47.142,9.52 47.14))"


def hours(observations) -> list[tuple[datetime, float]]:
    """(time, result) pairs; the client leaves the times of expanded entities as text."""
    return [
        (datetime.fromisoformat(t) if isinstance(t := o.phenomenon_time, str) else t, o.result)
        for o in observations
    ]


async def test_frost_client_reads_back_sta_and_csv_writes(sta_url, conn, feeds):
    """What FROST's client wrote through SensorThings, and a CSV file pushed to the feed, read
    back by the same client: same values (in the feed's unit), same times."""
    service = fsc.SensorThingsService(f"{sta_url}/v1.1", auth_handler=fsc.AuthHandler("c", API_KEY))
    stream = datastream("parts per billion", "ppb", "NO2")
    written = fsc.Observation(
        phenomenon_time="2026-11-02T08:00:00Z", result=20.0, datastream=stream
    )
    await asyncio.to_thread(service.create, written)
    async with httpx.AsyncClient(base_url=sta_url) as client:
        pushed = await client.post(
            "/feeds/air/readings",
            content=CSV.encode(),
            headers={"Content-Type": "text/csv", "X-API-Key": API_KEY},
        )
        assert pushed.status_code == 200, pushed.text

    found = await asyncio.to_thread(service.observations().find, written.id)
    assert (found.result, found.phenomenon_time) == (ug(feeds, 20), written.phenomenon_time)

    things = service.things().query().filter("name eq 'bus-7'")
    things = things.expand("Datastreams($expand=Observations,ObservedProperty)")
    [thing] = list(await asyncio.to_thread(things.list))
    [bus_stream] = thing.datastreams
    assert bus_stream.observed_property.name == "no2"
    assert bus_stream.unit_of_measurement.symbol == "µg/m³"
    at_eight = datetime(2026, 11, 2, 8, tzinfo=UTC)
    assert hours(bus_stream.observations) == [(at_eight, ug(feeds, 20))]

    streams = service.datastreams().query()
    streams = streams.filter("Thing/name eq 'AQ-csv' and ObservedProperty/name eq 'pm25'")
    [csv_stream] = list(await asyncio.to_thread(streams.list))
    in_time_and_space = (
        csv_stream.get_observations()
        .query()
        .filter(
            "phenomenonTime ge 2026-11-02T09:00:00Z and "
            f"st_within(FeatureOfInterest/feature, geography'{AROUND_CSV_SENSOR}')"
        )
        .orderby("phenomenonTime", "ASC")
    )
    observations = list(await asyncio.to_thread(in_time_and_space.list))
    assert hours(observations) == [
        (datetime(2026, 11, 2, 9, tzinfo=UTC), 9.25),
        (datetime(2026, 11, 2, 10, tzinfo=UTC), 11.0),
    ]
    elsewhere = (
        csv_stream.get_observations()
        .query()
        .filter("st_within(FeatureOfInterest/feature, geography'POLYGON((0 0,1 0,1 1,0 1,0 0))')")
    )
    assert list(await asyncio.to_thread(elsewhere.list)) == []
