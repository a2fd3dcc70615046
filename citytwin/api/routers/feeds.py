"""`/feeds`: feed definitions, and pushing readings into a feed."""

from collections.abc import Iterable
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response

from citytwin.api.deps import (
    ConnDep,
    FeedsDep,
    PoolDep,
    SettingsDep,
    WriterDep,
    read_body,
    spooled_body,
)
from citytwin.api.formats import json_response
from citytwin.api.tile_responses import data_changed
from citytwin.db.feeds import variable_spans
from citytwin.db.pool import Pool
from citytwin.errors import InvalidParameter
from citytwin.feeds import FeedRegistry
from citytwin.ingest.payload_formats import PAYLOAD_FORMATS, by_media_type
from citytwin.query.params import parse_time
from citytwin.services.ingest import ingest, ingest_window
from citytwin.services.push import push_payload
from citytwin.settings import Settings

router = APIRouter(tags=["feeds"])
FeedName = Annotated[str, Path(description="Feed name, e.g. traffic, air, energy.")]
CONTENT_TYPES = {
    "text/csv": "csv",
    "application/csv": "csv",
    "application/x-ndjson": "ndjson",
    "application/ndjson": "ndjson",
    "application/jsonl": "ndjson",
    "application/geo+json": "geojson",
}


@router.get("/feeds", summary="Feed definitions")
async def list_feeds(feeds: FeedsDep) -> Response:
    """Every feed with its kind, variables and units, and source formats."""
    return json_response({"feeds": [feed.model_dump(mode="json") for feed in feeds.values()]})


@router.get("/variables", summary="Variables with their feed, unit and span of data")
async def list_variables(conn: ConnDep, feeds: FeedsDep) -> Response:
    """Every variable of every feed: unit, description, and the first and last UTC day that
    holds readings (null when none is stored)."""
    spans = await variable_spans(conn)
    variables = []
    for feed in feeds.values():
        for name, spec in feed.variables.items():
            first, last = spans.get(name, (None, None))
            variables.append(
                {
                    "name": name,
                    "feed": feed.name,
                    "unit": spec.unit,
                    "description": spec.description,
                    "first_day": first,
                    "last_day": last,
                }
            )
    return json_response({"variables": variables})


@router.get("/feeds/{feed}", summary="One feed definition")
async def get_feed(feeds: FeedsDep, feed: FeedName) -> Response:
    return json_response(feeds[feed].model_dump(mode="json"))


@router.post("/feeds/{feed}/readings", summary="Push readings into a feed")
async def post_readings(
    request: Request,
    pool: PoolDep,
    settings: SettingsDep,
    feeds: FeedsDep,
    writer: WriterDep,
    feed: FeedName,
    content_type: Annotated[str, Header()] = "text/csv",
    source_format: Annotated[
        str | None,
        Query(
            alias="format",
            description="A source format of the feed (CSV bodies), or a platform payload: "
            "ngsi-ld, sta-observation, sta-dataarray (JSON bodies).",
        ),
    ] = None,
    since: Annotated[
        str | None,
        Query(
            description="A historical back-load: accept readings from this ISO 8601 time on "
            "(default: CITYTWIN_ACCEPT_PAST_DAYS before now).",
        ),
    ] = None,
) -> Response:
    """Ingest a body. Files — CSV (`text/csv`), NDJSON (`application/x-ndjson`), GeoJSON
    (`application/geo+json`) — land their good rows together or none, and list each rejected
    row with its line, field and reason. Pushed payloads — canonical JSON readings
    (`application/json`, one object or a list), NGSI-LD entities (`application/ld+json`),
    SensorThings Observations (`format=sta-observation|sta-dataarray`) — store their good
    items and list, and dead-letter, each rejected item with its reasons.
    """
    definition = feeds[feed]
    writer.check_feeds([feed])
    media = content_type.split(";")[0].strip().lower()
    chosen = PAYLOAD_FORMATS.get(source_format or "") or by_media_type(media)
    if chosen is not None:
        return await _push_into(request, pool, settings, feeds, feed, chosen.name)
    if media not in CONTENT_TYPES:
        pushed = (f.media_type for f in PAYLOAD_FORMATS.values() if f.media_type)
        known = [*CONTENT_TYPES, *pushed]
        raise InvalidParameter("Content-Type", f"{media!r} is not one of {', '.join(known)}")
    window = ingest_window(settings, parse_time(since, "since"))
    # The body is read whole (into a file) before a connection is taken: a stalled upload
    # holds none, and the ingest reads it back piece by piece.
    async with spooled_body(request, settings.api.max_body_bytes) as body, pool.acquire() as conn:
        report = await ingest(
            conn,
            definition,
            body,
            encoding=CONTENT_TYPES[media],
            source_format=source_format,
            resolution=settings.ingest.h3_resolution,
            bucket_seconds=settings.database.rollup_bucket_seconds,
            city_zone=feeds.city_zone,
            window=window,
            keep_rejects=settings.api.rejects_listed,
            limits=settings.ingest.read_limits(),
        )
    await data_changed(request)
    return json_response(report.as_dict(settings.api.rejects_listed))


async def _push_into(
    request: Request,
    pool: Pool,
    settings: Settings,
    feeds: FeedRegistry,
    feed: str,
    push_format: str,
) -> Response:
    """A pushed payload into one feed (canonical readings, NGSI-LD, SensorThings): its items
    are checked, stored, or rejected and dead-lettered one by one; items of another feed refuse
    the whole body."""

    def only_this_feed(mapped: Iterable[str]) -> None:
        others = sorted(set(mapped) - {feed})
        if others:
            raise InvalidParameter("body", f"items map to feed {others[0]!r}, not {feed!r}")

    data = await read_body(request, min(settings.api.push_max_bytes, settings.api.max_body_bytes))
    async with pool.acquire() as conn:
        result = await push_payload(
            conn,
            feeds,
            data,
            push_format,
            resolution=settings.ingest.h3_resolution,
            bucket_seconds=settings.database.rollup_bucket_seconds,
            check_feeds=only_this_feed,
            feed=feed,
            future=timedelta(seconds=settings.ingest.future_seconds),
        )
    await data_changed(request)
    errors = [{"item": item, "errors": reasons} for item, reasons in result.errors.items()]
    return json_response({**result.summary(), "rejected": errors})
