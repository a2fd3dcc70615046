"""What the browser tests share: where things are, and waiting for the map to settle."""

import os
from pathlib import Path

import pytest
from playwright.async_api import Page

from tests.conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
VENDOR = ROOT / "citytwin" / "api" / "static" / "vendor" / "maplibre-gl.js"
# Each browser test module's `pytestmark`: the demo city, and Chromium with bundled MapLibre.
BROWSER_TEST = [
    pytest.mark.usefixtures("demo_city"),
    pytest.mark.skipif(
        not (CHROMIUM.exists() and VENDOR.exists()) and not os.environ.get("CI"),
        reason="browser tests need `scripts/setup.sh --browser` (Chromium, bundled MapLibre)",
    ),
]


async def map_pixels(page: Page) -> bytes:
    """A PNG of the map's canvas once every tile it wants is drawn."""
    await page.wait_for_function(
        "window.citytwin.map.loaded() && window.citytwin.map.areTilesLoaded()"
    )
    return await page.locator("#map canvas").screenshot()


async def click_a_hexagon(page: Page) -> dict:
    """Click the middle of a drawn hexagon holding readings; its `h3` and where it was hit."""
    target = await page.evaluate(
        """() => {
            const map = window.citytwin.map;
            const feature = map.queryRenderedFeatures({layers: ['cells-fill']})
                .find((f) => f.properties.count > 0);
            const ring = feature.geometry.coordinates[0].slice(0, -1);
            const lon = ring.reduce((s, p) => s + p[0], 0) / ring.length;
            const lat = ring.reduce((s, p) => s + p[1], 0) / ring.length;
            const point = map.project([lon, lat]);
            return {h3: feature.properties.h3, x: point.x, y: point.y};
        }"""
    )
    box = await page.locator("#map").bounding_box()
    await page.mouse.click(box["x"] + target["x"], box["y"] + target["y"])
    return target


async def read_legend(page: Page, selector: str) -> dict:
    """A legend as a reader sees it: numbered ticks (text and exact value), unit, sides, caption."""
    return await page.evaluate(
        """(selector) => {
            const root = document.querySelector(selector);
            return {
                ticks: [...root.querySelectorAll('.tick')].map((t) => t.textContent),
                values: [...root.querySelectorAll('.tick')].map((t) => Number(t.dataset.value)),
                unit: root.querySelector('.unit')?.textContent,
                sides: [...root.querySelectorAll('.sides span')].map((s) => s.textContent),
                caption: root.querySelector('.caption').textContent,
            };
        }""",
        selector,
    )


def shown(value: float) -> str:
    """A number as the map writes it: three significant digits (formatNumber in legend.js)."""
    return format(float(f"{value:.3g}"), "g")
