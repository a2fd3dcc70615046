"""The web map in Debian's Chromium (headless, software WebGL), driven by Playwright, against the
demo city served by a real uvicorn. Screenshots go to `test-artifacts/`."""

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, async_playwright

from citytwin.api.app import create_app
from tests.live_server import serve
from tests.web.pages import ARTIFACTS, CHROMIUM

# Software WebGL: the CI machines have no GPU and no screen.
FLAGS = ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]


@pytest.fixture(scope="module")
async def site(settings, pool, demo_city, tmp_path_factory) -> AsyncIterator[str]:
    """The demo city (its base and samples) behind a live server with its own layer store."""
    layers = tmp_path_factory.mktemp("map-layers")
    app = create_app(settings.updated(layer_store=str(layers)))
    async with serve(app) as url:
        yield url


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Browser, site: str, request) -> AsyncIterator[Page]:
    """A fresh page on the map, ready; fails the test on any console error or page error."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    opened = await context.new_page()
    errors: list[str] = []
    opened.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    opened.on("pageerror", lambda e: errors.append(str(e)))
    await opened.goto(site + "/")
    await opened.wait_for_function("document.body.dataset.ready", timeout=30_000)
    assert await opened.evaluate("document.body.dataset.ready") == "true", errors
    yield opened
    ARTIFACTS.mkdir(exist_ok=True)
    await opened.screenshot(path=ARTIFACTS / f"map-{request.node.name}.png")
    await context.close()
    assert errors == []
