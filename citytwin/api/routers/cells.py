"""`/cells`: H3 aggregates of a variable over an area and time, from rollups."""

from collections.abc import AsyncIterator
from functools import lru_cache
from typing import Annotated

import orjson
import pandas as pd
from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from citytwin.api.deps import ConnDep, FeedsDep, SettingsDep
from citytwin.api.formats import (
    FEATURE_ENCODINGS,
    TABLE_FORMATS,
    OutputFormat,
    choose_format,
    csv_response,
    feature,
    feature_formats,
    features_response,
    json_response,
)
from citytwin.api.params import AreaDep, FormatQuery, TimeDep, VariableDep
from citytwin.db.pool import Record
from citytwin.db.queries.cells import CellQuery, cell_aggregates, streamed_properties
from citytwin.errors import InvalidParameter
from citytwin.query.cells import STAT_COLUMNS, boundary, parse_cell, resolution_of, to_hex
from citytwin.query.params import Area, parse_bucket, widen_to_buckets

router = APIRouter(tags=["cells"])


def _stats(row: dict) -> dict:
    return {name: row[name] for name in STAT_COLUMNS}


def _properties(record: Record, bucketed: bool) -> dict:
    properties = {"h3": to_hex(record["cell"]), **_stats(record)}
    if bucketed:
        properties["bucket_start"] = record["bucket_start"]
    return properties


def _hexagon(cell: int) -> dict:
    return {"type": "Polygon", "coordinates": [boundary(cell)]}


@lru_cache(maxsize=65_536)
def _hexagon_json(cell: int) -> bytes:
    return orjson.dumps(_hexagon(cell))


async def _streamed_lines(batches: AsyncIterator[list[Record]]) -> AsyncIterator[bytes]:
    """Newline-delimited GeoJSON of (cell, properties) rows; a cell's hexagon is encoded once
    (a bucketed answer repeats each cell once per bucket)."""
    async for rows in batches:
        yield b"".join(
            b'{"type":"Feature","geometry":%b,"properties":%b}\n'
            % (_hexagon_json(cell), properties.encode())
            for cell, properties in rows
        )


@router.get("/cells", summary="H3 cell aggregates")
async def get_cells(
    request: Request,
    conn: ConnDep,
    settings: SettingsDep,
    feeds: FeedsDep,
    variable: VariableDep,
    area: AreaDep,
    time: TimeDep,
    fmt: FormatQuery = None,
    resolution: Annotated[
        int | None,
        Query(
            ge=0,
            le=15,
            description=(
                "H3 resolution of the answer, 0 up to the base resolution (default: base)."
            ),
        ),
    ] = None,
    bucket: Annotated[
        str | None, Query(description="Time series per cell, e.g. 1h, 1d, 1w.")
    ] = None,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            description="With `bucket`: features per page (default and most: "
            "CITYTWIN_CELLS_PAGE_SIZE).",
        ),
    ] = None,
    offset: Annotated[
        int, Query(ge=0, description="With `bucket`: features of the answer to skip.")
    ] = 0,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    """Count, mean, min, max (and std) of `variable` per H3 cell, as hexagon features; with
    `bucket`, one feature per cell and bucket, in pages (ordered by cell, then bucket) that
    link to the `next` one. `format=ndjson` streams the whole answer instead, one feature per
    line, from a database cursor: for answers too big for pages."""
    base = settings.ingest.h3_resolution
    resolution = base if resolution is None else resolution
    if resolution > base:
        raise InvalidParameter("resolution", f"must be at most the base resolution {base}")
    fmt = choose_format(fmt, accept, feature_formats())
    step = parse_bucket(bucket, settings.database.rollup_bucket_seconds) if bucket else None
    time = widen_to_buckets(time, settings.database.rollup_bucket_seconds)
    query = CellQuery(variable.id, resolution, area, time, step)
    if fmt == OutputFormat.NDJSON:
        if limit is not None or offset:
            raise InvalidParameter("limit", "NDJSON answers are streamed whole, not in pages")
        batches = streamed_properties(conn, query, base, settings.database.rollup_bucket_seconds)
        media_type = OutputFormat.NDJSON.media_type
        return StreamingResponse(_streamed_lines(batches), media_type=media_type)
    page, links = None, None
    if step is not None:
        size = settings.api.cells_page_size if limit is None else limit
        if size > settings.api.cells_page_size:
            raise InvalidParameter("limit", f"must be at most {settings.api.cells_page_size}")
        page = (size + 1, offset)  # one more row says whether a next page exists
    rows = await cell_aggregates(conn, query, base, settings.database.rollup_bucket_seconds, page)
    if page is not None and len(rows) > size:
        rows = rows[:size]
        after = request.url.include_query_params(limit=size, offset=offset + size)
        links = [{"href": str(after), "rel": "next", "type": FEATURE_ENCODINGS[fmt].media_type}]
    features = [feature(_hexagon(r["cell"]), _properties(r, step is not None)) for r in rows]
    return features_response(
        features,
        fmt,
        links,
        variable=variable.name,
        unit=feeds.unit_of(variable.name),
        resolution=resolution,
        start=time.start,
        end=time.end,
        bucket=bucket,
    )


@router.get("/cells/{h3}/series", summary="Time series of one H3 cell")
async def get_cell_series(
    conn: ConnDep,
    settings: SettingsDep,
    feeds: FeedsDep,
    variable: VariableDep,
    time: TimeDep,
    h3: Annotated[str, Path(description="H3 cell (hex), any resolution up to the base.")],
    bucket: Annotated[str, Query(description="Bucket size, e.g. 1h, 1d, 1w.")] = "1h",
    fmt: FormatQuery = None,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    """count/mean/min/max/std of `variable` in the cell, per bucket."""
    cell = parse_cell(h3, "h3", settings.ingest.h3_resolution)
    cell_resolution = resolution_of(cell)
    fmt = choose_format(fmt, accept, TABLE_FORMATS)
    step = parse_bucket(bucket, settings.database.rollup_bucket_seconds)
    time = widen_to_buckets(time, settings.database.rollup_bucket_seconds)
    query = CellQuery(variable.id, cell_resolution, Area(cells=(cell,)), time, step)
    rows = await cell_aggregates(
        conn, query, settings.ingest.h3_resolution, settings.database.rollup_bucket_seconds
    )
    series = [{"bucket_start": r["bucket_start"], **_stats(r)} for r in rows]
    if fmt == "csv":
        return csv_response(pd.DataFrame(series, columns=["bucket_start", *STAT_COLUMNS]))
    return json_response(
        {
            "h3": h3.lower(),
            "resolution": cell_resolution,
            "variable": variable.name,
            "unit": feeds.unit_of(variable.name),
            "bucket": bucket,
            "series": series,
        }
    )
