"""The "Sensor health" layer as a person reads it: every sensor drawn in the colour of its score
from `/sensors/health`, a legend with the numbers of that scale, a popup of open faults."""

import io

import httpx
from PIL import Image
from playwright.async_api import Page

from tests.factories import post_readings
from tests.quality.test_quality_api import network
from tests.web.pages import ARTIFACTS, BROWSER_TEST, map_pixels, read_legend

pytestmark = BROWSER_TEST
GREEN = (0x1A, 0x96, 0x41)  # score 1 in health.js


async def show_health(page: Page) -> None:
    await page.uncheck("#show-sensors")
    await page.check("#show-health")
    await page.wait_for_function("document.body.dataset.health === 'shown'")
    await map_pixels(page)


async def test_the_health_layer_draws_each_sensor_by_its_score_with_a_numbered_legend(
    page: Page, site: str
):
    async with httpx.AsyncClient(base_url=site) as client:
        network = (await client.get("/sensors/health")).json()
    scores = {f["id"]: f["properties"]["score"] for f in network["features"]}
    await show_health(page)
    drawn = await page.evaluate(
        "citytwin.map.queryRenderedFeatures({layers: ['health']})"
        ".map((f) => [f.properties.id, f.properties.score ?? null])"
    )
    assert len(drawn) >= 3
    assert {sensor: score for sensor, score in drawn} == {s: scores[s] for s, _ in drawn}

    legend = await read_legend(page, "#health-legend")
    assert legend["ticks"] == ["0", "0.5", "0.9", "1"]
    assert legend["unit"] == "share of readings without a fault"
    scored = sum(score is not None for score in scores.values())
    assert f"{scored} sensors scored" in legend["caption"]
    assert f"{network['faulty']} with an open fault" in legend["caption"]

    # A sensor of score 1 is painted in the scale's green at its place.
    healthy = next(s for s, score in drawn if score == 1)
    x, y = await page.evaluate(
        """(id) => {
            const map = window.citytwin.map;
            const f = map.queryRenderedFeatures({layers: ['health']})
                .find((g) => g.properties.id === id);
            const p = map.project(f.geometry.coordinates);
            return [p.x, p.y];
        }""",
        healthy,
    )
    image = Image.open(io.BytesIO(await map_pixels(page))).convert("RGB")
    ARTIFACTS.mkdir(exist_ok=True)
    image.save(ARTIFACTS / "map-health.png")
    pixel = image.getpixel((round(x), round(y)))
    assert all(abs(a - b) <= 12 for a, b in zip(pixel, GREEN, strict=True)), pixel

    # Its popup names it and its open faults (none).
    box = await page.locator("#map").bounding_box()
    await page.mouse.click(box["x"] + x, box["y"] + y)
    popup = await page.wait_for_selector(".maplibregl-popup-content")
    text = await popup.inner_text()
    props = next(f["properties"] for f in network["features"] if f["id"] == healthy)
    assert text.startswith(f"{props['name'] or props['external_id']} ({props['feed']}, score 1)")
    assert "no open fault" in text


async def test_a_stuck_sensors_popup_names_its_fault_and_since_when(page: Page, site: str):
    async with httpx.AsyncClient(base_url=site) as client:
        await post_readings(client, network())  # Q2 sticks from 2026-10-05 00:00 UTC
    await show_health(page)
    legend = await read_legend(page, "#health-legend")
    assert "1 with an open fault (stuck 1)" in legend["caption"]
    await page.evaluate(
        """() => new Promise((resolve) => {
            const map = window.citytwin.map;
            map.once('idle', resolve);
            map.jumpTo({center: [9.524, 47.14], zoom: 16});
        })"""
    )
    box = await page.locator("#map").bounding_box()
    await page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    popup = await page.wait_for_selector(".maplibregl-popup-content")
    text = await popup.inner_text()
    assert text.startswith("Q2 (air, score 0.8)")
    assert "pm25: stuck since 2026-10-05 00:00 UTC" in text
