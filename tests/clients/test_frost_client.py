"""FROST's SensorThings client (frost_sta_client, PyPI), not written by us, creating
Observations on our SensorThings endpoint over real HTTP."""

import asyncio

import frost_sta_client as fsc
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


async def test_frost_client_creates_observations(sta_url, conn):
    service = fsc.SensorThingsService(sta_url, auth_handler=fsc.AuthHandler("city", API_KEY))
    stream = datastream("parts per billion", "ppb", "NO2")
    for hour, value in ((8, 20.0), (9, 25.0)):
        observation = fsc.Observation(
            phenomenon_time=f"2026-11-02T{hour:02d}:00:00Z", result=value, datastream=stream
        )
        await asyncio.to_thread(service.create, observation)
        assert observation.id.startswith("bus-7")  # read from our Location header
    rows = await conn.fetch(
        """SELECT s.feed, s.external_id, v.name, r.value FROM readings r
           JOIN sensors s ON s.id = r.sensor_id JOIN variables v ON v.id = r.variable_id
           ORDER BY r.time"""
    )
    assert [tuple(row) for row in rows] == [
        ("air", "bus-7", "no2", pytest.approx(37.6)),  # 20 ppb as µg/m³
        ("air", "bus-7", "no2", pytest.approx(47.0)),
    ]
    refused = fsc.SensorThingsService(sta_url, auth_handler=fsc.AuthHandler("city", "wrong"))
    with pytest.raises(Exception, match="403"):
        await asyncio.to_thread(
            refused.create,
            fsc.Observation(phenomenon_time="2026-11-02T10:00:00Z", result=1.0, datastream=stream),
        )
