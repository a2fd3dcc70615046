"""One session fixture reaches real PostGIS: the embedded cluster, or CITYTWIN_DATABASE_URL.

Tests get their own database (`<name>_test`), dropped and created fresh for each session.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from citytwin.api.app import create_app
from citytwin.cli.city import import_city
from citytwin.cli.demo import demo_sources
from citytwin.db import embedded
from citytwin.db.connect import create_database_if_missing
from citytwin.db.feeds import sync_feeds
from citytwin.db.migrate import migrate
from citytwin.db.pool import create_pool
from citytwin.feeds import FeedRegistry, load_feeds
from citytwin.ingest.city.build import CityBase, CitySources
from citytwin.ingest.city.files import Source
from citytwin.services.ingest import ingest
from citytwin.settings import Settings
from tests.asgi import asgi_client
from tests.databases import drop_database
from tests.factories import API_KEY

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SAMPLES = ROOT / "sensors" / "samples"
DEMO_FILES = (("traffic", "traffic.csv", "csv", None), ("air", "air.ndjson", "ndjson", None))
DEMO_FILES += (("energy", "energy_meters.csv", "csv", "meters"),)
DEMO_CITY = demo_sources(ROOT / "gis_data")  # imported into the test database once
# The demo's districts file is all of Liechtenstein: imported as a city of its own, all 11 stay.
COUNTRY = CitySources(
    name="Liechtenstein",
    boundary=Source(ROOT / "gis_data" / "districts.geojson"),
    districts=Source(ROOT / "gis_data" / "districts.geojson"),
)


@asynccontextmanager
async def city_imported(conn: asyncpg.Connection, sources: CitySources) -> AsyncIterator[CityBase]:
    """Another city's base imported for a test, the demo city's restored afterwards."""
    try:
        yield await import_city(conn, sources)
    finally:
        await import_city(conn, DEMO_CITY)


@asynccontextmanager
async def city_zone(conn, zone: str | None) -> AsyncIterator[None]:
    """The imported city's record with another zone (None: no city at all), then restored."""
    await conn.execute("CREATE TEMP TABLE kept_city AS SELECT * FROM city")
    try:
        if zone is None:
            await conn.execute("DELETE FROM city")
        else:
            await conn.execute("UPDATE city SET timezone = $1", zone)
        yield
    finally:
        await conn.execute("DELETE FROM city")
        await conn.execute("INSERT INTO city SELECT * FROM kept_city")
        await conn.execute("DROP TABLE kept_city")


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
async def database_url() -> str:
    """A fresh, empty test database on real PostGIS."""
    configured = Settings()
    if configured.database.database_url:
        admin = configured.database.database_url
        name = (urlsplit(admin).path.lstrip("/") or "citytwin") + "_test"
    else:
        cluster = embedded.cluster_for(configured)
        embedded.start(cluster)
        admin, name = cluster.admin_url(), f"{configured.database.pg_database}_test"
    await drop_database(_with_database(admin, "postgres"), name)
    await create_database_if_missing(_with_database(admin, "postgres"), name)
    return _with_database(admin, name)


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    # The service's retention schedule would drop test data by the wall clock, and its rollup
    # compaction would fold deltas tests count (and lock tables the fixtures empty): tests run
    # both themselves.
    return Settings().updated(
        database_url=database_url,
        api_keys=[API_KEY],
        feeds_dir=ROOT / "sensors",
        retention_hours=0,
        rollup_compact_seconds=0,
    )


@pytest.fixture(scope="session")
def feeds(settings: Settings) -> FeedRegistry:
    return load_feeds(settings.ingest.feeds_dir, settings.city.time_zone)


@pytest.fixture(scope="session")
async def pool(settings: Settings, feeds: FeedRegistry) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(settings.database.database_url)
    async with pool.acquire() as conn:
        await migrate(conn, settings)
        await sync_feeds(conn, feeds)
        await import_city(conn, DEMO_CITY)
    yield pool
    await pool.close()


@pytest.fixture
async def conn(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A connection to an emptied store."""
    async with pool.acquire() as connection:
        await connection.execute(
            "TRUNCATE sensors, readings, cell_rollups, cell_rollup_deltas, "
            "cell_rollup_months, cell_rollup_months_built, sensor_hours, sensor_hour_deltas, "
            "cells, "
            "tile_versions, dead_letters, scenario_runs, latest_readings, twin_events, "
            "source_health RESTART IDENTITY"
        )
        yield connection


@pytest.fixture(scope="session")
async def app_client(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with asgi_client(app) as client:
        yield client


@pytest.fixture
async def client(app_client: httpx.AsyncClient, conn: asyncpg.Connection) -> httpx.AsyncClient:
    """The API over an emptied store."""
    return app_client


@pytest.fixture(scope="module")
async def demo_city(pool, feeds: FeedRegistry, settings: Settings) -> None:
    """The sample traffic, air and energy feeds loaded into an emptied store."""
    async with pool.acquire() as conn:
        await conn.execute(
            "TRUNCATE sensors, readings, cell_rollups, cell_rollup_deltas, "
            "cell_rollup_months, cell_rollup_months_built, sensor_hours, sensor_hour_deltas, "
            "cells, "
            "scenario_runs, latest_readings, twin_events RESTART IDENTITY"
        )
        for feed, name, encoding, source_format in DEMO_FILES:
            report = await ingest(
                conn,
                feeds[feed],
                (SAMPLES / name).read_bytes(),
                encoding=encoding,
                source_format=source_format,
                resolution=settings.ingest.h3_resolution,
                bucket_seconds=settings.database.rollup_bucket_seconds,
            )
            assert (report.loaded, report.rejected) == (report.read, [])


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that need no database `nodb`: `pytest -m nodb` runs them alone."""
    for item in items:
        if "database_url" not in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.nodb)
