"""`/sensors`: the sensors of every feed as GeoJSON points."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response

from citytwin.api.deps import ConnDep, FeedsDep, SettingsDep
from citytwin.api.formats import (
    MEDIA_TYPES,
    choose_format,
    feature_formats,
    features_response,
    json_response,
    sensor_feature,
)
from citytwin.api.pages import LimitQuery, next_link, page_limit, split_page
from citytwin.api.params import AreaDep, FormatQuery
from citytwin.core.limits import INT32_MAX
from citytwin.db.queries.quality import network_health, sensor_health
from citytwin.db.queries.sensors import SensorQuery, fetch_sensor, fetch_sensors
from citytwin.errors import NotFound
from citytwin.quality.health import ANY, ASKED, health_document, network_document

router = APIRouter(tags=["sensors"])

HoursQuery = Annotated[
    float,
    Query(gt=0, le=24 * 366, description="Look back this far from each sensor's newest reading."),
]


@router.get("/sensors", summary="Sensors")
async def get_sensors(
    request: Request,
    conn: ConnDep,
    settings: SettingsDep,
    feeds: FeedsDep,
    area: AreaDep,
    feed: Annotated[str | None, Query(description="Only this feed's sensors.")] = None,
    site_type: Annotated[
        str | None,
        Query(
            description="Only stations of this site type (`traffic`, `urban background`, "
            "`suburban`, `industrial`, `rural`), as their station list declares it.",
        ),
    ] = None,
    limit: LimitQuery = 1000,
    after: Annotated[
        int, Query(ge=0, le=INT32_MAX, description="Page cursor: sensors after this id.")
    ] = 0,
    fmt: FormatQuery = None,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    """Sensors as a GeoJSON FeatureCollection; filter by feed, site type, bbox/polygon or H3
    cells."""
    if feed is not None:
        feeds[feed]  # unknown feed: 404 naming it
    limit = page_limit(limit, settings.api.max_page_size)
    fmt = choose_format(fmt, accept, feature_formats())
    properties = {"site_type": site_type} if site_type is not None else None
    query = SensorQuery(feed, area, limit, after, properties)
    rows = await fetch_sensors(conn, query, settings.ingest.h3_resolution)
    page, more = split_page(rows, limit)
    links = [next_link(request, after=page[-1]["id"])] if more else []
    return features_response(
        [sensor_feature(dict(r)) for r in page], fmt, links=links, numberReturned=len(page)
    )


# Before `/sensors/{sensor_id}`: that path would take `health` for an id and refuse it.
@router.get("/sensors/health", summary="The sensor network's health")
async def get_network_health(
    conn: ConnDep,
    feeds: FeedsDep,
    feed: Annotated[str | None, Query(description="Only this feed's sensors.")] = None,
    hours: HoursQuery = 168,
) -> Response:
    """Every sensor as a GeoJSON point with its score (share of its readings without a fault),
    status and open faults (variable, kind, since), and per kind of fault how many sensors have it
    open and how many readings it flagged, over the readings of the last `hours`."""
    if feed is not None:
        feeds[feed]  # unknown feed: 404 naming it
    rows = await network_health(conn, feed, timedelta(hours=hours), ASKED, ANY)
    document = network_document([dict(r) for r in rows], hours)
    return json_response(document, media_type=MEDIA_TYPES["geojson"])


@router.get("/sensors/{sensor_id}", summary="One sensor")
async def get_sensor(
    conn: ConnDep, sensor_id: Annotated[int, Path(ge=1, le=INT32_MAX)]
) -> Response:
    """One sensor as a GeoJSON Feature."""
    row = await fetch_sensor(conn, sensor_id)
    if row is None:
        raise NotFound("sensor", sensor_id)
    return json_response(sensor_feature(dict(row)), media_type=MEDIA_TYPES["geojson"])


@router.get("/sensors/{sensor_id}/health", summary="One sensor's health")
async def get_sensor_health(
    conn: ConnDep,
    sensor_id: Annotated[int, Path(ge=1, le=INT32_MAX)],
    hours: HoursQuery = 168,
) -> Response:
    """Per variable: a score (share of readings without a fault), the open faults with their
    kind and start, and each check's state and count, over the readings of the last `hours`."""
    row = await fetch_sensor(conn, sensor_id)
    if row is None:
        raise NotFound("sensor", sensor_id)
    rows = await sensor_health(conn, sensor_id, timedelta(hours=hours), ASKED)
    document = health_document([dict(r) for r in rows], hours)
    return json_response(
        {"sensor": sensor_id, "feed": row["feed"], "external_id": row["external_id"], **document}
    )
