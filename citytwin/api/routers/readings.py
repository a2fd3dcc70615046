"""`/readings`: raw readings by sensor, area, variable and time, paged by keyset."""

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from citytwin.api.deps import ConnDep, SettingsDep
from citytwin.api.formats import choose_format, feature, feature_formats, features_response, point
from citytwin.api.pages import (
    LimitQuery,
    decode_cursor,
    encode_cursor,
    next_link,
    page_limit,
    split_page,
)
from citytwin.api.params import AreaDep, FormatQuery, OptionalVariableDep, TimeDep
from citytwin.core.limits import INT32_MAX, check_int
from citytwin.db.queries.readings import ReadingCursor, ReadingQuery, fetch_readings
from citytwin.errors import InvalidParameter
from citytwin.quality.stage import kind_names, quality_mask
from citytwin.query.cells import to_hex

router = APIRouter(tags=["readings"])


def _sensor_ids(text: str | None) -> tuple[int, ...]:
    if not text:
        return ()
    try:
        ids = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise InvalidParameter("sensor", f"{text!r}: comma-separated sensor ids expected") from None
    return tuple(check_int(i, "sensor", INT32_MAX) for i in ids)


def reading_feature(row: dict) -> dict:
    properties = {
        "sensor_id": row["sensor_id"],
        "feed": row["feed"],
        "external_id": row["external_id"],
        "time": row["time"],
        "variable": row["variable"],
        "value": row["value"],
        "unit": row["unit"],
        "flagged": row["flagged"],
        "quality": kind_names(row["quality"]),
        "h3": to_hex(row["cell"]),
    }
    return feature(point(row["lon"], row["lat"]), properties)


@router.get("/readings", summary="Raw readings")
async def get_readings(
    request: Request,
    conn: ConnDep,
    settings: SettingsDep,
    area: AreaDep,
    time: TimeDep,
    variable: OptionalVariableDep,
    sensor: Annotated[str | None, Query(description="Comma-separated sensor ids.")] = None,
    quality: Annotated[
        str | None,
        Query(
            description="`good` (no fault found), `flagged` (any), or kinds of fault by comma "
            "(range, stuck, spike, offset, drift, noise). Unset: every reading.",
        ),
    ] = None,
    limit: LimitQuery = 1000,
    cursor: Annotated[str | None, Query(description="From a `next` link.")] = None,
    fmt: FormatQuery = None,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    """Readings in (sensor, variable, time) order, `limit` a page, with a `next` link."""
    limit = page_limit(limit, settings.api.max_page_size)
    fmt = choose_format(fmt, accept, feature_formats())
    query = ReadingQuery(
        _sensor_ids(sensor),
        variable.id if variable else None,
        area,
        time,
        limit,
        decode_cursor(cursor) if cursor else None,
        None if quality is None else quality_mask(quality),
    )
    rows = await fetch_readings(conn, query, settings.ingest.h3_resolution)
    page, more = split_page(rows, limit)
    links = []
    if more:
        last = page[-1]
        token = encode_cursor(ReadingCursor(last["sensor_id"], last["variable_id"], last["time"]))
        links.append(next_link(request, cursor=token))
    return features_response(
        [reading_feature(dict(r)) for r in page], fmt, links=links, numberReturned=len(page)
    )
