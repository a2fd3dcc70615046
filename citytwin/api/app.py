"""The app factory: `create_app(settings)`; the lifespan owns the pool and the migrations."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles

from citytwin import __version__
from citytwin.api.contract import truthful_openapi
from citytwin.api.edge import RefuseNul
from citytwin.api.errors import install_error_handlers
from citytwin.api.fast_tiles import FastTiles
from citytwin.api.rate import TokenBuckets
from citytwin.api.retention_schedule import scheduled_retention
from citytwin.api.routers import (
    cells,
    city,
    edr,
    feeds,
    layer_tiles,
    layers,
    ngsi_ld,
    ngsi_ld_subscriptions,
    ogc_features,
    ogc_tiles,
    push,
    readings,
    scenarios,
    sensors,
    sta,
    tiles,
    twin,
    web,
)
from citytwin.api.routers.web import STATIC
from citytwin.api.tile_responses import version_changes
from citytwin.db.connect import resolve_database_url
from citytwin.db.feeds import sync_feeds, variable_ids
from citytwin.db.migrate import check_schema, migrate
from citytwin.db.pool import create_pool
from citytwin.db.twin_listener import EventListener
from citytwin.feeds import load_feeds
from citytwin.layers.store import layer_store_for
from citytwin.scenarios.jobs import ScenarioJobs
from citytwin.services.compaction import scheduled_compaction
from citytwin.services.notifications import Notifier
from citytwin.settings import Settings
from citytwin.stream.listener import running_sources
from citytwin.tiles.cache import TileCache, VersionCache


def create_app(settings: Settings | None = None) -> FastAPI:
    """A citytwin API for `settings` (default: from the environment)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        registry = load_feeds(settings.ingest.feeds_dir, settings.city.time_zone)
        url = await resolve_database_url(settings)
        pool = await create_pool(
            url,
            settings.database.pool_min_size,
            settings.database.pool_max_size,
            settings.api.read_only,
            acquire_timeout=settings.database.pool_timeout,
        )
        try:
            app.state.layer_store = layer_store_for(settings)
            app.state.scenario_jobs = ScenarioJobs(pool, app.state.layer_store, settings)
            async with pool.acquire() as conn:
                if settings.api.read_only:
                    await check_schema(conn, settings)
                else:
                    await migrate(conn, settings)
                    await sync_feeds(conn, registry)
                    await app.state.scenario_jobs.recover(conn)
                variables = await variable_ids(conn)
            app.state.settings, app.state.feeds = settings, registry
            app.state.pool, app.state.variables = pool, variables
            app.state.tile_cache = TileCache(settings.api.tile_cache_size)
            app.state.tile_versions = versions = VersionCache(settings.api.tile_cache_size)
            # Loads anywhere (API, CLI, listener) announce themselves: versions stay exact.
            # A replica hears no announcements, so its instances always ask the database.
            # Subscribers hear of the same loads, after they committed.
            app.state.notifier = notifier = Notifier(pool)

            refreshes: set[asyncio.Task] = set()

            def heard(event_id: int) -> None:
                # Only the tiles whose place and time the committed loads touched go stale;
                # until they are known, no remembered version is used.
                versions.announced()
                task = asyncio.create_task(versions.settle(version_changes(pool)))
                refreshes.add(task)
                task.add_done_callback(refreshes.discard)
                notifier.on_event(event_id)

            data_events = EventListener(url, heard)
            if not settings.api.read_only:
                await notifier.start()
                await data_events.start()
                versions.live = lambda: data_events.connected
            app.state.write_limits = TokenBuckets(settings.api.writes_per_minute)
            every = 0 if settings.api.read_only else settings.database.retention_hours
            compact_every = (
                0 if settings.api.read_only else settings.database.rollup_compact_seconds
            )
            listening = settings.streams.mqtt_listen and not settings.api.read_only
            try:
                async with (
                    scheduled_retention(pool, registry, every),
                    scheduled_compaction(
                        pool, settings.database.rollup_bucket_seconds, compact_every
                    ),
                    running_sources(settings, registry, url, listening) as listener,
                ):
                    app.state.listener = listener
                    yield
            finally:
                await app.state.scenario_jobs.close()
                await data_events.close()
                await notifier.close()
        finally:
            await pool.close()

    app = FastAPI(
        title="citytwin",
        version=__version__,
        lifespan=lifespan,
        description="City sensor feeds on H3 cells in PostGIS: readings, cell "
        "aggregates and feeds.",
    )
    # Innermost: warm tiles are replayed before routing, still through CORS below.
    app.add_middleware(FastTiles)
    # Level 5: within 3% of level 9 on GeoJSON at a quarter of the CPU time.
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=5)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.api.cors_origins,
        allow_methods=["GET", "HEAD", "OPTIONS", "POST"],
        allow_headers=["*"],
    )
    app.add_middleware(RefuseNul)  # outermost: before tiles, CORS or routing see the request
    install_error_handlers(app)
    app.openapi = lambda: truthful_openapi(app)
    routers = (
        city,
        feeds,
        sensors,
        readings,
        cells,
        tiles,
        ogc_features,
        ogc_tiles,
        layers,
        layer_tiles,
        edr,
        scenarios,
        push,
        sta,
        ngsi_ld,
        ngsi_ld_subscriptions,
        twin,
        web,
    )
    for module in routers:
        app.include_router(module.router)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    return app
