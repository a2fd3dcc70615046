"""Quality flags as SensorThings resultQuality: a reading kept but flagged (below zero) is
`flagged`; the latest of a stuck series (the twin's suspect rule) is `suspect`."""

from tests.factories import API_KEY

HEADERS = {"Content-Type": "text/csv", "X-API-Key": API_KEY}
LATEST = "Observations($top=1;$orderby=phenomenonTime desc)"


def csv(sensor: str, values: list[float]) -> bytes:
    lines = ["sensor_id,lon,lat,time,variable,value,unit"]
    lines += [
        f"{sensor},9.52,47.14,2026-11-02T{hour:02d}:00:00Z,no2,{value},µg/m³"
        for hour, value in enumerate(values)
    ]
    return "\n".join(lines).encode()


async def test_flagged_and_suspect_observations(client):
    for sensor, values in (("stuck", [12.0] * 7), ("lively", [10.0, 11.0, -5.0])):
        answer = await client.post(
            "/feeds/air/readings", content=csv(sensor, values), headers=HEADERS
        )
        assert answer.status_code == 200, answer.text
    streams = (await client.get("/v1.1/Datastreams", params={"$expand": LATEST})).json()["value"]
    latest = {s["name"]: s["Observations"][0] for s in streams}
    assert latest["no2 of stuck"]["resultQuality"] == "suspect"
    assert latest["no2 of lively"]["resultQuality"] == "flagged"  # -5: kept, flagged
    lively = next(s for s in streams if s["name"] == "no2 of lively")
    page = await client.get(
        f"/v1.1/Datastreams({lively['@iot.id']})/Observations",
        params={"$orderby": "phenomenonTime", "$select": "result,resultQuality"},
    )
    assert [(o["result"], o["resultQuality"]) for o in page.json()["value"]] == [
        (10.0, "ok"),
        (11.0, "ok"),
        (-5.0, "flagged"),
    ]
