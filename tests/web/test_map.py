"""The web map: hexagons, the cell panel, the hour slider, scenarios, shared views, the basemap."""

from urllib.parse import parse_qs, urlsplit

import h3.api.basic_str as h3
import httpx
import pytest
from playwright.async_api import Browser, Page

from tests.conftest import ROOT
from tests.factories import API_KEY
from tests.web.pages import (
    ARTIFACTS,
    BROWSER_TEST,
    click_a_hexagon,
    map_pixels,
    read_legend,
    shown,
)

pytestmark = BROWSER_TEST


async def test_the_map_loads_and_hexagons_follow_the_variable(page: Page):
    assert await page.title() == "citytwin"
    sources = await page.evaluate(
        "['cells', 'sensors'].map((id) => citytwin.map.getSource(id).url)"
    )
    assert "/tiles/cells/tilejson.json?variable=no2&start=2026-11-02T08" in sources[0]
    assert sources[1].endswith("/tiles/sensors/tilejson.json")  # MapLibre reads our TileJSON
    options = await page.locator("#variable option").all_inner_texts()
    assert "air: no2 (µg/m³)" in options and "traffic: vehicle_count (veh/h)" in options
    hexagons = await page.evaluate(
        "window.citytwin.map.queryRenderedFeatures({layers: ['cells-fill']}).length"
    )
    assert hexagons > 0
    before = await map_pixels(page)
    await page.select_option("#variable", "vehicle_count")
    await page.wait_for_function("window.location.hash.includes('variable=vehicle_count')")
    after = await map_pixels(page)
    assert after != before  # other values, other colours


async def test_clicking_a_hexagon_charts_the_api_numbers(page: Page, site: str):
    await page.uncheck("#show-sensors")
    target = await click_a_hexagon(page)
    await page.wait_for_selector("#chart polyline")
    assert await page.inner_text("#panel-title") == f"Cell {target['h3']}"
    hour = parse_qs(urlsplit(await page.evaluate("window.location.href")).fragment)["time"][0]
    async with httpx.AsyncClient(base_url=site) as client:
        end = hour[:11] + f"{int(hour[11:13]) + 1:02d}:00Z"
        where = {"cells": target["h3"], "resolution": h3.get_resolution(target["h3"])}
        cells = await client.get(
            "/cells", params={"variable": "no2", **where, "start": hour, "end": end}
        )
        stats = cells.json()["features"][0]["properties"]
        series = await client.get(
            f"/cells/{target['h3']}/series",
            params={"variable": "no2", "start": "2026-11-02T00:00:00Z", "end": "2026-11-09"},
        )
    assert await page.inner_text("[data-stat=count]") == str(stats["count"])
    assert await page.inner_text("[data-stat=mean]") == f"{stats['mean']:.2f} µg/m³"
    points = await page.get_attribute("#chart polyline", "points")
    with_data = [s for s in series.json()["series"] if s["mean"] is not None]
    assert len(points.split()) == len(with_data) == 168


async def test_the_time_slider_asks_for_that_hour(page: Page):
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/tiles/cells/" in r.url else None)
    await page.fill("#time", "30")  # 2026-11-03T06:00Z: a range input takes its value so
    await page.dispatch_event("#time", "input")
    await page.wait_for_function("window.location.hash.includes('time=2026-11-03T06')")
    await map_pixels(page)
    starts = {parse_qs(urlsplit(url).query)["start"][0] for url in asked}
    assert starts == {"2026-11-03T06:00:00.000Z"}


async def test_a_scenario_drawn_on_the_map_runs_and_shows_its_difference(page: Page, site: str):
    await page.uncheck("#show-sensors")
    await page.click("#draw")
    box = await page.locator("#map").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for dx, dy in ((-150, -150), (150, -150), (150, 150), (-150, 150)):
        await page.mouse.click(cx + dx, cy + dy)
    await page.click("#draw")  # finish the polygon
    await page.select_option("#effect", "traffic_volume")
    await page.fill("#effect-size", "0.5")
    await page.fill("#scenario-name", "Drawn in the browser")
    await page.fill("#api-key", API_KEY)
    tiles: list[str] = []
    page.on("request", lambda r: tiles.append(r.url) if "/tiles/" in r.url else None)
    await page.click("#run-scenario")
    await page.wait_for_function("document.body.dataset.scenario", timeout=120_000)
    assert await page.evaluate("document.body.dataset.scenario") == "succeeded"
    assert (await page.inner_text("#scenario-status")) == "done: Drawn in the browser"
    await page.wait_for_function("window.location.hash.includes('view=diff')")
    run = parse_qs(urlsplit(await page.evaluate("window.location.href")).fragment)["run"][0]
    async with httpx.AsyncClient(base_url=site) as client:
        finished = (await client.get(f"/scenarios/{run}")).json()
    assert (finished["name"], finished["status"]) == ("Drawn in the browser", "succeeded")
    assert await page.evaluate("document.body.dataset.layer") == finished["diff"]
    await map_pixels(page)
    diff_tiles = [url for url in tiles if f"/layers/{finished['diff']}/tiles/" in url]
    assert diff_tiles and all("colormap=RdBu_r" in url for url in diff_tiles)
    # The legend: numbers symmetric about zero, the unit, what blue and red mean, and the
    # band about zero left see-through (the tiles' threshold, 5 % of the bound).
    legend = await read_legend(page, "#layer-legend")
    low, middle, high = legend["values"]
    assert low == -high < 0 and middle == pytest.approx(0, abs=1e-12)
    assert legend["ticks"] == [shown(low), "0", shown(high)]
    assert legend["unit"] == "µg/m³"
    assert legend["sides"] == ["◀ blue: scenario lower than baseline", "red: scenario higher ▶"]
    threshold = parse_qs(urlsplit(diff_tiles[-1]).query)["threshold"][0]
    assert float(threshold) == pytest.approx(0.05 * high, rel=1e-2)
    assert f"clear within ±{shown(float(threshold))} µg/m³" in legend["caption"]
    assert await page.inner_text("#label-left") == (
        "Difference: scenario − baseline (Drawn in the browser)"
    )


async def test_the_readme_maplibre_snippet_renders_our_hexagons(browser: Browser, site: str):
    """The README's portal snippet, as is but for the server's address, on a bare page."""
    readme = (ROOT / "README.md").read_text()
    snippet = readme.split("```js\n", 1)[1].split("```", 1)[0]
    page = await browser.new_page(viewport={"width": 800, "height": 600})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.set_content(
        f'<link rel="stylesheet" href="{site}/static/vendor/maplibre-gl.css">'
        f'<script src="{site}/static/vendor/maplibre-gl.js"></script>'
        '<div id="map" style="width:800px;height:600px"></div>'
    )
    await page.evaluate(
        """(snippet) => new Promise((resolve) => {
            const style = {version: 8, sources: {}, layers: []};
            window.map = new maplibregl.Map({container: "map", style, center: [9.522, 47.143],
                                             zoom: 13});
            map.on("load", () => { new Function("map", snippet)(map); resolve(); });
        })""",
        snippet.replace("http://127.0.0.1:8000", site),
    )
    await page.wait_for_function("map.loaded() && map.areTilesLoaded()")
    await page.wait_for_function("map.queryRenderedFeatures({layers: ['no2']}).length > 0")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=ARTIFACTS / "readme-maplibre-snippet.png")
    await page.close()
    assert errors == []


async def test_a_shared_url_restores_the_view_and_compares_side_by_side(
    browser: Browser, site: str
):
    body = (
        "name: Shared\nbaseline: {start: 2026-11-03T00:00:00Z, end: 2026-11-04T00:00:00Z, "
        "variables: [no2]}\ninterventions:\n  - geometry: 'POLYGON((9.515 47.133, 9.53 47.133, "
        "9.53 47.145, 9.515 47.145, 9.515 47.133))'\n    effect: {type: road_closure}\n"
    )
    async with httpx.AsyncClient(base_url=site, headers={"X-API-Key": API_KEY}) as client:
        run = (await client.post("/scenarios", content=body)).json()
        while run["status"] in ("queued", "running"):
            run = (await client.get(f"/scenarios/{run['id']}")).json()
    assert run["status"] == "succeeded"
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/layers/" in r.url else None)
    shared = f"/#map=14.00/47.14000/9.52200&variable=pm25&time=2026-11-03T07:00Z&run={run['id']}"
    await page.goto(site + shared + "&view=side")
    await page.wait_for_function("document.body.dataset.ready === 'true'", timeout=30_000)
    assert await page.input_value("#variable") == "pm25"
    assert await page.input_value("#run") == run["id"]
    # The city's own clock (Vaduz: UTC+1 in November), UTC on hover.
    assert await page.inner_text("#time-label") == "2026-11-03 08:00 Europe/Vaduz"
    assert await page.get_attribute("#time-label", "title") == "2026-11-03 07:00 UTC"
    assert await page.evaluate("citytwin.map.getZoom()") == 14
    await page.wait_for_function("!document.getElementById('map-right').hidden")
    await page.wait_for_function(
        "citytwin.state.right && citytwin.state.right.getLayer('layer') !== undefined"
    )
    tiles: set[str] = set()
    for _ in range(200):  # scenario on the left, baseline on the right
        tiles = {url.split("/layers/")[1].split("/")[0] for url in asked if "/tiles/" in url}
        if {run["layer"], run["baseline"]} <= tiles:
            break
        await page.wait_for_timeout(50)
    assert {run["layer"], run["baseline"]} <= tiles
    ranges = {parse_qs(urlsplit(url).query)["rescale"][0] for url in asked if "/tiles/" in url}
    assert len(ranges) == 1  # both sides on the baseline's colour range
    assert await page.inner_text("#label-left") == "Scenario (Shared)"
    assert await page.inner_text("#label-right") == "Baseline (Shared)"
    legend = await read_legend(page, "#layer-legend")
    assert legend["values"][0] == pytest.approx(float(ranges.pop().split(",")[0]))
    assert legend["unit"] == "µg/m³" and "both panes on the baseline's range" in legend["caption"]
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=ARTIFACTS / "map-side-by-side.png")
    await page.close()


async def test_the_basemap_draws_the_citys_roads_buildings_and_districts(page: Page):
    await page.uncheck("#show-sensors")
    await page.wait_for_function(
        "window.citytwin.map.loaded() && window.citytwin.map.areTilesLoaded()"
    )
    drawn = await page.evaluate(
        """() => {
            const map = window.citytwin.map;
            const roads = map.queryRenderedFeatures({layers: ['roads']});
            return {
                roads: roads.length,
                classes: [...new Set(roads.map((f) => f.properties.road_class))].sort(),
                buildings: map.queryRenderedFeatures({layers: ['buildings']}).length,
                districts: map.queryRenderedFeatures({layers: ['districts']}).length,
                sources: ['roads', 'buildings', 'districts'].map(
                    (l) => map.getSource('base-' + l).tiles[0]),
            };
        }"""
    )
    assert drawn["roads"] > 100 and drawn["buildings"] > 100 and drawn["districts"] > 0
    assert {"primary", "residential", "secondary"} <= set(drawn["classes"])
    assert [url.split("/tiles/")[1] for url in drawn["sources"]] == [
        "roads/{z}/{x}/{y}.mvt",
        "buildings/{z}/{x}/{y}.mvt",
        "districts/{z}/{x}/{y}.mvt",
    ]
    assert await page.locator(".district-label").all_inner_texts() == ["Vaduz"]
    credit = await page.locator(".maplibregl-ctrl-attrib").inner_text()
    assert "© OpenStreetMap contributors" in credit
    # The basemap is what makes the map not blank: hide it and the pixels change.
    before = await map_pixels(page)
    await page.evaluate(
        "['roads', 'buildings'].forEach((l) => "
        "window.citytwin.map.setLayoutProperty(l, 'visibility', 'none'))"
    )
    assert await map_pixels(page) != before
