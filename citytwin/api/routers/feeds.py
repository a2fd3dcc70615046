"""`/feeds`: feed definitions, and pushing readings into a feed."""

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response

from citytwin.api.deps import ConnDep, FeedsDep, SettingsDep, WriterDep, read_body
from citytwin.api.formats import json_response
from citytwin.db.feeds import variable_spans
from citytwin.errors import InvalidParameter
from citytwin.ingest.pipeline import ingest

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
    conn: ConnDep,
    settings: SettingsDep,
    feeds: FeedsDep,
    _key: WriterDep,
    feed: FeedName,
    content_type: Annotated[str, Header()] = "text/csv",
    source_format: Annotated[
        str | None, Query(alias="format", description="A source format of the feed (CSV bodies).")
    ] = None,
) -> Response:
    """Ingest a CSV, NDJSON or GeoJSON body: its good rows land together, or none do.

    The answer counts what was read, loaded and already stored, and lists each rejected row
    with its line, field and reason.
    """
    definition = feeds[feed]
    media = content_type.split(";")[0].strip().lower()
    if media not in CONTENT_TYPES:
        raise InvalidParameter(
            "Content-Type", f"{media!r} is not one of {', '.join(CONTENT_TYPES)}"
        )
    data = await read_body(request, settings.max_body_bytes)
    report = await ingest(
        conn,
        definition,
        data,
        encoding=CONTENT_TYPES[media],
        source_format=source_format,
        resolution=settings.h3_resolution,
        bucket_seconds=settings.rollup_bucket_seconds,
    )
    return json_response(report.as_dict())
