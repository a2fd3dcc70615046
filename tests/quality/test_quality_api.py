"""The quality stage in the data path: codes set at ingest, shown and filtered by `/readings`,
`/twin/state` and `/sensors/{id}/health`, left out of `/cells`. Real PostGIS."""

import numpy as np
import pandas as pd

from tests.factories import API_KEY, to_csv

WRITE = {"X-API-Key": API_KEY, "Content-Type": "text/csv"}
HOURS = 120
SPIKE_HOUR, STUCK_FROM = 100, 96


def network() -> pd.DataFrame:
    """Six pm25 sensors a few hundred metres apart sharing one diurnal signal; Q1 spikes once
    (+150 µg/m³ at hour 100), Q2 sticks at one value from hour 96 to the end."""
    rng = np.random.default_rng(15)
    times = pd.date_range("2026-10-01", periods=HOURS, freq="h", tz="UTC")
    signal = 12 + 6 * np.sin(np.arange(HOURS) * 2 * np.pi / 24)
    frames = []
    for number in range(6):
        values = np.round(signal + rng.normal(0, 0.4, HOURS), 2)
        if number == 1:
            values[SPIKE_HOUR] += 150
        if number == 2:
            values[STUCK_FROM:] = values[STUCK_FROM]
        frames.append(
            pd.DataFrame(
                {
                    "sensor_id": f"Q{number}",
                    "lon": 9.52 + 0.002 * number,
                    "lat": 47.14,
                    "time": times.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "variable": "pm25",
                    "value": values,
                    "unit": "µg/m³",
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


async def ids_by_name(client) -> dict[str, int]:
    sensors = (await client.get("/sensors", params={"feed": "air"})).json()["features"]
    return {f["properties"]["external_id"]: f["properties"]["id"] for f in sensors}


async def test_ingest_codes_readings_and_keeps_them_out_of_cells(client):
    answer = await client.post("/feeds/air/readings", content=to_csv(network()), headers=WRITE)
    assert answer.status_code == 200
    assert answer.json()["quality"] == {"stuck": HOURS - STUCK_FROM, "spike": 1}

    spikes = (await client.get("/readings", params={"quality": "spike"})).json()["features"]
    assert [(f["properties"]["external_id"], f["properties"]["time"]) for f in spikes] == [
        ("Q1", "2026-10-05T04:00:00+00:00")
    ]
    assert spikes[0]["properties"]["quality"] == ["spike"]
    assert spikes[0]["properties"]["flagged"] is True
    flagged = await client.get("/readings", params={"quality": "flagged", "limit": 100})
    assert len(flagged.json()["features"]) == HOURS - STUCK_FROM + 1
    good = await client.get("/readings", params={"quality": "good", "limit": 1000})
    assert len(good.json()["features"]) == 6 * HOURS - (HOURS - STUCK_FROM + 1)

    # The hour of the spike: /cells averages the four sensors neither spiking nor stuck.
    hour = {"start": "2026-10-05T04:00:00Z", "end": "2026-10-05T05:00:00Z", "variable": "pm25"}
    cells = (await client.get("/cells", params={**hour, "resolution": 5})).json()["features"]
    readings = network().query("time == '2026-10-05T04:00:00Z' and sensor_id not in ('Q1', 'Q2')")
    assert [c["properties"]["count"] for c in cells] == [4]
    assert abs(cells[0]["properties"]["mean"] - readings["value"].mean()) < 1e-9


async def test_health_and_state_name_the_open_fault(client):
    await client.post("/feeds/air/readings", content=to_csv(network()), headers=WRITE)
    ids = await ids_by_name(client)
    health = (await client.get(f"/sensors/{ids['Q2']}/health")).json()
    pm25 = health["variables"]["pm25"]
    assert pm25["status"] == "fault"
    assert pm25["open"] == [{"kind": "stuck", "since": "2026-10-05T00:00:00Z"}]
    assert pm25["checks"]["stuck"]["flagged"] == HOURS - STUCK_FROM
    assert pm25["score"] == round(1 - (HOURS - STUCK_FROM) / HOURS, 4)
    spiky = (await client.get(f"/sensors/{ids['Q1']}/health")).json()["variables"]["pm25"]
    assert (spiky["status"], spiky["checks"]["spike"]) == (
        "ok",
        {"status": "ok", "since": None, "flagged": 1},
    )

    state = (await client.get("/twin/state", params={"variable": "pm25"})).json()
    flags = {s["external_id"]: s["flags"] for s in state["sensors"]}
    assert flags["Q2"]["quality"] == ["stuck"]
    assert flags["Q1"]["quality"] == []


async def test_bad_quality_filter_and_unknown_sensor_are_4xx(client):
    answer = await client.get("/readings", params={"quality": "wobbly"})
    assert answer.status_code == 400
    assert answer.json()["parameter"] == "quality"
    assert "wobbly" in answer.json()["detail"]
    assert (await client.get("/sensors/999999/health")).status_code == 404


async def test_a_lone_reading_is_judged_against_the_stored_history(client):
    """A streamed batch of one reading: its spike is found from the hours stored before it."""
    rows = network()
    hour = rows["time"] == "2026-10-05T04:00:00Z"
    first = await client.post("/feeds/air/readings", content=to_csv(rows[~hour]), headers=WRITE)
    assert first.json()["quality"] == {"stuck": HOURS - STUCK_FROM - 1}
    spike = rows[hour & (rows["sensor_id"] == "Q1")]
    others = rows[hour & (rows["sensor_id"] != "Q1")]
    await client.post("/feeds/air/readings", content=to_csv(others), headers=WRITE)
    lone = await client.post("/feeds/air/readings", content=to_csv(spike), headers=WRITE)
    assert (lone.json()["loaded"], lone.json()["quality"]) == (1, {"spike": 1})
