"""`GET /twin/stream` on a real uvicorn server: events after loads, resuming by Last-Event-ID."""

import asyncio
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import h3.api.basic_str as h3
import httpx
import orjson
import pytest

from citytwin.api.app import create_app
from tests.factories import API_KEY, STATIONS, to_csv
from tests.live_server import serve
from tests.twin.readings import air, at

pytestmark = pytest.mark.usefixtures("conn")  # an emptied store


@pytest.fixture
async def site(settings) -> AsyncIterator[str]:
    async with serve(create_app(settings)) as url:
        yield url


def parent(station: str, resolution: int) -> str:
    lon, lat = STATIONS[station]
    return h3.cell_to_parent(h3.latlng_to_cell(lat, lon, 10), resolution)


async def load(http: httpx.AsyncClient, points: list[tuple]) -> None:
    answer = await http.post(
        "/feeds/air/readings",
        content=to_csv(air(points)),
        headers={"X-API-Key": API_KEY, "Content-Type": "text/csv"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["loaded"] == len(points)


class Events:
    """Server-Sent Events read off a streaming response."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.aiter_lines()

    async def next(self, seconds: float = 10) -> dict:
        """The next event (comments and retry lines skipped): id, event, data."""
        fields: dict = {}
        async with asyncio.timeout(seconds):
            async for line in self.lines:
                if not line:
                    if "event" in fields:
                        return fields
                    fields = {}
                elif not line.startswith((":", "retry:")):
                    name, _, value = line.partition(": ")
                    fields[name] = orjson.loads(value) if name == "data" else value
        raise AssertionError("the stream ended")


@asynccontextmanager
async def subscribe(http: httpx.AsyncClient, **params) -> AsyncIterator[Events]:
    headers = {}
    if "last_event_id" in params:
        headers["Last-Event-ID"] = str(params.pop("last_event_id"))
    async with http.stream("GET", "/twin/stream", params=params, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        yield Events(response)


async def test_a_load_sends_the_new_state_of_the_cells_it_changed(site):
    async with (
        httpx.AsyncClient(base_url=site, timeout=30) as http,
        subscribe(http, variable="no2", resolution=7) as events,
    ):
        await load(
            http,
            [
                ("S1", "no2", at(1), 40.0),
                ("S2", "no2", at(1), 50.0),
                ("S3", "pm25", at(1), 9.0),  # another variable: not followed
            ],
        )
        event = await events.next()
    assert (event["event"], event["id"]) == ("cells", "1")
    assert event["data"]["event"] == 1
    assert event["data"]["resolution"] == 7
    [cell] = event["data"]["cells"]
    assert cell["h3"] == parent("S1", 7) == parent("S2", 7)
    assert (cell["variable"], cell["mean"], cell["count"], cell["time"]) == ("no2", 45.0, 2, at(1))


async def test_last_event_id_resumes_with_every_event_after_it(site):
    async with httpx.AsyncClient(base_url=site, timeout=30) as http:
        async with subscribe(http, variable="no2") as events:
            await load(http, [("S1", "no2", at(1), 40.0)])
            first = await events.next()
        # Away: three loads, one of pm25 only, which a no2 subscriber does not hear of.
        await load(http, [("S1", "no2", at(2), 41.0)])
        await load(http, [("S3", "pm25", at(2), 7.0)])
        await load(http, [("S3", "no2", at(2), 20.0), ("S1", "no2", at(3), 42.0)])
        async with subscribe(http, variable="no2", last_event_id=first["id"]) as events:
            second, fourth = await events.next(), await events.next()
            await load(http, [("S2", "no2", at(3), 30.0)])
            fifth = await events.next()
    assert [e["id"] for e in (first, second, fourth, fifth)] == ["1", "2", "4", "5"]
    s1, s2, s3 = (parent(s, 10) for s in ("S1", "S2", "S3"))
    # An event carries its cells' state when it is sent: S1 is at 42 by the time event 2 is.
    assert [(c["h3"], c["mean"], c["time"]) for c in second["data"]["cells"]] == [(s1, 42.0, at(3))]
    assert sorted((c["h3"], c["mean"]) for c in fourth["data"]["cells"]) == sorted(
        [(s1, 42.0), (s3, 20.0)]
    )
    assert [(c["h3"], c["mean"]) for c in fifth["data"]["cells"]] == [(s2, 30.0)]


async def test_a_client_behind_the_held_events_is_told_to_reset(site, conn):
    async with httpx.AsyncClient(base_url=site, timeout=30) as http:
        for hour in (1, 2, 3):
            await load(http, [("S1", "no2", at(hour), 40.0 + hour)])
        await conn.execute("DELETE FROM twin_events WHERE id < 3")  # as if an hour had passed
        async with subscribe(http, last_event_id=1) as events:
            reset = await events.next()
            await load(http, [("S1", "no2", at(4), 44.0)])
            after = await events.next()
        state = (await http.get("/twin/state")).json()
    assert (reset["event"], reset["id"], reset["data"]["event"]) == ("reset", "3", 3)
    assert (after["id"], after["data"]["cells"][0]["mean"]) == ("4", 44.0)
    assert state["event"] == 4  # resume the stream after the state's event: nothing is lost


async def test_a_bad_last_event_id_is_named(site):
    async with httpx.AsyncClient(base_url=site, timeout=30) as http:
        answer = await http.get("/twin/stream", headers={"Last-Event-ID": "x"})
        too_fine = await http.get("/twin/stream", params={"resolution": 12})
    assert (answer.status_code, answer.json()["parameter"]) == (400, "Last-Event-ID")
    assert (too_fine.status_code, too_fine.json()["parameter"]) == (400, "resolution")


def pm25_hours(start: int, hours: int, stuck_from: int | None = None) -> list[tuple]:
    """pm25 at the three stations sharing a diurnal signal; S3 stuck from `stuck_from`."""
    points = []
    for number, station in enumerate(STATIONS):
        for hour in range(start, start + hours):
            value = 12 + 6 * math.sin(hour * 2 * math.pi / 24) + 0.37 * number + 0.011 * hour
            if station == "S3" and stuck_from is not None and hour >= stuck_from:
                value = 12 + 6 * math.sin(stuck_from * 2 * math.pi / 24)
            points.append((station, "pm25", at(hour), round(value, 2)))
    return points


async def test_a_fault_opening_and_closing_is_a_faults_event(site):
    """S3 stuck over the last 8 hours of a day's load opens a `stuck` fault (an event of its
    own after the load's cells); readings moving again close it. A no2 subscriber hears of
    neither."""
    async with (
        httpx.AsyncClient(base_url=site, timeout=30) as http,
        subscribe(http, variable="pm25") as events,
        subscribe(http, variable="no2") as no2,
    ):
        await load(http, pm25_hours(0, 24, stuck_from=16))
        cells, opened = await events.next(), await events.next()
        await load(http, pm25_hours(24, 4))
        _, closed = await events.next(), await events.next()
        await load(http, [("S1", "no2", at(30), 40.0)])
        heard = await no2.next()
    assert (cells["event"], opened["event"], opened["id"]) == ("cells", "faults", "2")
    sensor = opened["data"]["faults"][0]["sensor"]
    assert isinstance(sensor, int)
    fault = {"sensor": sensor, "external_id": "S3", "variable": "pm25", "kind": "stuck"}
    assert opened["data"] == {"event": 2, "faults": [{**fault, "state": "open", "time": at(23)}]}
    assert closed["data"] == {"event": 4, "faults": [{**fault, "state": "closed", "time": at(27)}]}
    assert (heard["event"], heard["id"]) == ("cells", "5")  # the no2 stream skipped 1 to 4
