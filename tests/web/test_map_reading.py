"""The web map as a person reads it: legends with numbers and units, the city's own clock, the
selected hour on the cell chart, hexagons that stay the city's shape and are never cut."""

import io
import math
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import h3.api.basic_str as h3
import httpx
import numpy as np
import pytest
from PIL import Image
from playwright.async_api import Page

from citytwin.tiles.tile_matrix import resolution_for_zoom
from tests.web.pages import (
    ARTIFACTS,
    BROWSER_TEST,
    click_a_hexagon,
    map_pixels,
    read_legend,
    shown,
)

pytestmark = BROWSER_TEST
MAGENTA = (255, 0, 255)


async def shown_hour(page: Page) -> tuple[str, str]:
    """The hour the map shows, as `start`, `end` (UTC) of the API."""
    hour = parse_qs(urlsplit(await page.evaluate("window.location.href")).fragment)["time"][0]
    start = datetime.fromisoformat(hour.replace("Z", "+00:00"))
    return start.isoformat(), (start + timedelta(hours=1)).isoformat()


async def hour_means(site: str, start: str, end: str, resolution: int) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=site) as client:
        answer = await client.get(
            "/cells",
            params={"variable": "no2", "resolution": resolution, "start": start, "end": end},
        )
    return {f["properties"]["h3"]: f["properties"]["mean"] for f in answer.json()["features"]}


async def settle_at(page: Page, lon: float, lat: float, zoom: float) -> None:
    await page.evaluate(
        """([lon, lat, zoom]) => new Promise((resolve) => {
            const map = window.citytwin.map;
            map.once('idle', resolve);
            map.jumpTo({center: [lon, lat], zoom});
            map.triggerRepaint();
        })""",
        [lon, lat, zoom],
    )


async def test_the_cell_legend_numbers_the_hexagons_drawn_in_that_hour(page: Page, site: str):
    legend = await read_legend(page, "#cells-legend")
    assert legend["unit"] == "µg/m³"
    caption = legend["caption"]
    assert "2026-11-02 09:00" in caption  # the slider's first shown hour, Vaduz time
    resolution = int(caption.rsplit("resolution ", 1)[1].rstrip(")"))
    means = await hour_means(site, *await shown_hour(page), resolution)
    drawn = np.array([m for m in means.values() if m is not None])
    assert f"of the {len(drawn)} hexagons in view" in caption
    # The 2nd, 25th, 50th, 75th and 98th percentile of those means, written under their colours.
    want = np.percentile(drawn, [2, 25, 50, 75, 98])
    assert legend["values"] == pytest.approx(list(want))
    assert legend["ticks"] == [shown(v) for v in want]
    # Another hour has a scale of its own.
    await page.fill("#time", "17")
    await page.dispatch_event("#time", "input")
    await page.wait_for_function(
        "document.querySelector('#cells-legend .caption').textContent.includes('2026-11-02 18:00')"
    )
    later = await read_legend(page, "#cells-legend")
    assert later["values"] != legend["values"] and later["unit"] == "µg/m³"


def hexagons_in_view(
    means: dict[str, float], view: tuple[float, float, float, float], grow: float = 0.0
) -> dict[str, float]:
    """The hexagons whose lon/lat box reaches into `view` (west, south, east, north) grown by
    `grow` degrees on each side."""
    west, south, east, north = view
    found = {}
    for cell, mean in means.items():
        lats, lons = zip(*h3.cell_to_boundary(cell), strict=True)
        if (
            min(lons) <= east + grow
            and max(lons) >= west - grow
            and min(lats) <= north + grow
            and max(lats) >= south - grow
        ):
            found[cell] = mean
    return found


async def test_the_cell_scale_follows_the_hexagons_in_view_when_panning(page: Page, site: str):
    whole = await read_legend(page, "#cells-legend")
    resolution = int(whole["caption"].rsplit("resolution ", 1)[1].rstrip(")"))
    means = await hour_means(site, *await shown_hour(page), resolution)
    means = {cell: mean for cell, mean in means.items() if mean is not None}
    centre = await page.evaluate("window.citytwin.map.getCenter().toArray()")
    zoom = await page.evaluate("window.citytwin.map.getZoom()")
    # Pan (same zoom, same resolution) until the view's west edge is about the middle of the
    # data, and no hexagon lies on an edge of the view (within a few metres).
    data_lons = [lon for cell in means for _, lon in h3.cell_to_boundary(cell)]
    middle = (min(data_lons) + max(data_lons)) / 2
    for nudge in range(6):
        width = await page.evaluate(
            "(() => { const b = window.citytwin.map.getBounds(); "
            "return b.getEast() - b.getWest(); })()"
        )
        lon = middle + width / 2 + nudge * width / 50
        await settle_at(page, lon, centre[1], zoom)
        view = await page.evaluate("window.citytwin.map.getBounds().toArray().flat()")
        inside = hexagons_in_view(means, view, grow=-1e-4)
        if inside == hexagons_in_view(means, view, grow=1e-4):
            break
    assert 0 < len(inside) < len(means)
    await page.wait_for_function(
        "(n) => document.querySelector('#cells-legend .caption').textContent"
        ".includes(`of the ${n} hexagons in view`)",
        arg=len(inside),
    )
    panned = await read_legend(page, "#cells-legend")
    want = np.percentile(list(inside.values()), [2, 25, 50, 75, 98])
    assert panned["values"] == pytest.approx(list(want))
    assert panned["values"] != whole["values"] and panned["unit"] == "µg/m³"
    # The hexagons are painted on that scale: its numbers are the stops of their fill colour.
    paint = await page.evaluate("window.citytwin.map.getPaintProperty('cells-fill', 'fill-color')")
    assert paint[:3] == ["interpolate", ["linear"], ["get", "mean"]]
    assert paint[3::2] == pytest.approx(list(want))
    await page.screenshot(path=ARTIFACTS / "map-panned-scale.png")


async def test_the_hour_is_the_citys_own_with_utc_on_hover(page: Page):
    assert await page.inner_text("#time-label") == "2026-11-02 09:00 Europe/Vaduz"
    assert await page.get_attribute("#time-label", "title") == "2026-11-02 08:00 UTC"


async def test_the_cell_chart_marks_the_selected_hour_with_its_value_and_unit(
    page: Page, site: str
):
    await page.uncheck("#show-sensors")
    target = await click_a_hexagon(page)
    await page.wait_for_selector("#chart .now", state="attached")  # a line: no area to see
    start, end = await shown_hour(page)
    assert await page.get_attribute("#chart .now", "data-time") == "2026-11-02T08:00:00.000Z"
    async with httpx.AsyncClient(base_url=site) as client:
        cell = (
            await client.get(
                "/cells",
                params={
                    "variable": "no2",
                    "cells": target["h3"],
                    "resolution": h3.get_resolution(target["h3"]),
                    "start": start,
                    "end": end,
                },
            )
        ).json()["features"][0]["properties"]
    assert await page.text_content("#chart .now-value") == f"{shown(cell['mean'])} µg/m³"
    assert await page.text_content("#chart .unit") == "µg/m³"
    assert await page.inner_text("[data-stat=max]") == f"{cell['max']:.2f} µg/m³"
    assert await page.get_attribute("[data-stat=hour]", "title") == "2026-11-02 08:00 UTC"
    # The slider moves the mark.
    before = float(await page.get_attribute("#chart .now", "x1"))
    await page.fill("#time", "20")
    await page.dispatch_event("#time", "input")
    await page.wait_for_function(
        "document.querySelector('#chart .now').dataset.time === '2026-11-02T20:00:00.000Z'"
    )
    assert float(await page.get_attribute("#chart .now", "x1")) > before


async def test_at_zoom_9_the_city_keeps_its_shape_in_hexagons(page: Page, site: str):
    means = await hour_means(site, *await shown_hour(page), 7)
    lats, lons = zip(*(h3.cell_to_latlng(cell) for cell in means), strict=True)
    await settle_at(page, (min(lons) + max(lons)) / 2, (min(lats) + max(lats)) / 2, 9)
    drawn = await page.evaluate(
        "[...new Set(citytwin.map.queryRenderedFeatures({layers: ['cells-fill']})"
        ".map((f) => f.properties.h3))]"
    )
    # Resolution 7 (about 2.5 km across), not the two resolution-5 hexagons it once was.
    assert {h3.get_resolution(cell) for cell in drawn} == {7}
    assert set(drawn) == set(means) and len(drawn) >= 4
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=ARTIFACTS / "map-zoom-9.png")


def edge_vertices(cells: list[str]) -> dict[str, tuple[tuple[float, float], tuple[float, float]]]:
    """The westmost, eastmost, southmost and northmost corners of all `cells` (lon, lat), each
    with the centre of its hexagon."""
    corners = [
        ((lon, lat), tuple(reversed(h3.cell_to_latlng(cell))))
        for cell in cells
        for lat, lon in h3.cell_to_boundary(cell)
    ]
    return {
        "west": min(corners, key=lambda c: c[0][0]),
        "east": max(corners, key=lambda c: c[0][0]),
        "south": min(corners, key=lambda c: c[0][1]),
        "north": max(corners, key=lambda c: c[0][1]),
    }


async def test_no_hexagon_at_the_edge_of_the_data_is_cut_at_zooms_9_to_16(
    page: Page, site: str, settings
):
    """Each outermost corner of the data's hexagons is painted at every zoom: a hexagon cut at
    a tile boundary (a tile the client was told not to fetch) would leave it blank."""
    await page.uncheck("#show-sensors")
    hide = ".district-label, .maplibregl-control-container {display: none}"
    await page.add_style_tag(content=hide)
    # The cell tiles in one opaque colour, over everything else.
    await page.evaluate(
        """() => {
            const map = window.citytwin.map;
            map.setLayoutProperty('cells-fill', 'visibility', 'none');
            map.addLayer({id: 'probe', type: 'fill', source: 'cells', 'source-layer': 'cells',
                          paint: {'fill-color': '#ff00ff', 'fill-antialias': false}});
        }"""
    )
    hour = await shown_hour(page)
    blank = []
    for zoom in range(9, 17):
        resolution = resolution_for_zoom(zoom, settings.ingest.h3_resolution)
        corners = edge_vertices(list(await hour_means(site, *hour, resolution)))
        lons, lats = zip(*(corner for corner, _ in corners.values()), strict=True)
        # The whole data in one view while it fits (zooms 9 to 12 here), then each corner left.
        view = ((min(lons) + max(lons)) / 2, (min(lats) + max(lats)) / 2)
        while corners:
            await settle_at(page, *view, zoom)
            image = Image.open(io.BytesIO(await map_pixels(page))).convert("RGB")
            image.save(ARTIFACTS / f"map-edge-z{zoom}.png")
            for side, (corner, centre) in list(corners.items()):
                vx, vy, cx, cy = await page.evaluate(
                    """([corner, centre]) => {
                        const map = window.citytwin.map;
                        const [v, c] = [map.project(corner), map.project(centre)];
                        return [v.x, v.y, c.x, c.y];
                    }""",
                    [list(corner), list(centre)],
                )
                if not (10 <= vx < image.width - 10 and 10 <= vy < image.height - 10):
                    continue  # off this view: the next one is centred on it
                del corners[side]
                # Five pixels inside the hexagon from its corner, towards its centre.
                length = math.hypot(cx - vx, cy - vy)
                x, y = vx + 5 * (cx - vx) / length, vy + 5 * (cy - vy) / length
                pixel = image.getpixel((round(x), round(y)))
                if any(abs(a - b) > 40 for a, b in zip(pixel, MAGENTA, strict=True)):
                    blank.append((zoom, resolution, side, pixel))
            if corners:
                view = next(iter(corners.values()))[0]
    assert blank == []
