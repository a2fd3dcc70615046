"""OGC API - Features (Part 1: Core, GeoJSON, OpenAPI 3.0) at `/ogc`, for QGIS, GDAL and OWSLib.

Collections: `sensors` (points), the city's `districts`, `roads` and `buildings`, and
`cells-r{N}` (H3 cell aggregates at
resolution N, one feature per cell and variable). Pages go by `offset`, linked `next`/`prev`.
"""

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response

from citytwin.api.deps import ConnDep, FeedsDep, SettingsDep, VariablesDep
from citytwin.api.formats import (
    OutputFormat,
    choose_format,
    feature,
    features_response,
    json_response,
    parquet_response,
    sensor_feature,
)
from citytwin.api.pages import MAX_LIMIT
from citytwin.api.params import variable_of
from citytwin.api.strict_query import reject_unknown_parameters
from citytwin.core.limits import INT64_MAX
from citytwin.db.pool import Connection
from citytwin.db.queries.cells import CellQuery, cell_aggregates
from citytwin.db.queries.features import (
    BASE_PROPERTIES,
    base_page,
    fetch_base_feature,
    layer_bounds,
    sensor_page,
    time_span,
)
from citytwin.db.queries.sensors import fetch_sensor
from citytwin.errors import InvalidParameter, NotFound
from citytwin.feeds import FeedRegistry
from citytwin.query import ogc
from citytwin.query.cells import STAT_COLUMNS, boundary, to_hex
from citytwin.query.params import Area, TimeRange, parse_bbox, widen_to_buckets
from citytwin.settings import Settings

router = APIRouter(
    prefix="/ogc", tags=["OGC API - Features"], dependencies=[Depends(reject_unknown_parameters)]
)

ITEM_FORMATS = (OutputFormat.GEOJSON, OutputFormat.JSON, OutputFormat.PARQUET)
ITEM_RESPONSES: dict[int | str, dict] = {
    200: {
        "description": "GeoJSON (application/geo+json), or GeoParquet with f=parquet.",
        "content": {ogc.GEOJSON: {}, ogc.PARQUET: {}},
    },
    400: {"description": "A parameter is wrong; the JSON body names it."},
    404: {"description": "No such collection or feature."},
}

CollectionId = Annotated[
    str,
    Path(
        alias="collectionId",
        description="sensors, districts, roads, buildings, or cells-r{N} for N = 0 … the base "
        "H3 resolution.",
    ),
]
FeatureId = Annotated[
    str,
    Path(
        alias="featureId",
        description="sensors: the sensor id; districts, roads, buildings: their id; cells-r{N}: "
        "<h3hex>:<variable>, or <h3hex> for the cell's first variable.",
    ),
]
# Checked, though JSON is the only encoding: some clients always send f=json.
MetadataFormat = Annotated[Literal["json"] | None, Query(description="json (the only one).")]
ItemFormat = Annotated[
    Literal["geojson", "json", "parquet"] | None,
    Query(description="geojson (or json) or parquet (GeoParquet); default: Accept, else GeoJSON."),
]
BboxQuery = Annotated[
    str | None,
    Query(
        description="minlon,minlat,maxlon,maxlat (CRS84): features intersecting it.",
        examples=["9.50,47.12,9.54,47.15"],
    ),
]
DatetimeQuery = Annotated[
    str | None,
    Query(
        alias="datetime",
        description="RFC 3339 instant, or interval a/b, ../b, a/.. (start included, end "
        "excluded). sensors: those with readings then; cells-r{N}: the aggregation window "
        "(default: all time); districts, roads, buildings: no time, ignored.",
        examples=["2026-11-02T00:00:00Z/2026-11-03T00:00:00Z"],
    ),
]
# OGC API - Features: a limit above the maximum is served at the maximum, not refused.
OgcLimitQuery = Annotated[
    int, Query(ge=1, description=f"Items per page; above {MAX_LIMIT:,} served as {MAX_LIMIT:,}.")
]
OffsetQuery = Annotated[
    int, Query(ge=0, le=INT64_MAX, description="Items to skip; follow the next link.")
]
VariableQuery = Annotated[
    str | None, Query(description="cells-r{N} only: just this variable, e.g. no2.")
]
AcceptHeader = Annotated[str | None, Header()]


def _root(request: Request) -> str:
    return str(request.url_for("ogc_landing"))


def _collection(collection_id: str, settings: Settings) -> ogc.Collection:
    found = ogc.find_collection(collection_id, settings.h3_resolution)
    if found is None:
        raise NotFound("collection", collection_id)
    return found


async def _extents(
    conn: Connection,
) -> tuple[dict[str, ogc.Bounds | None], tuple[datetime, datetime] | None]:
    layers = ("sensors", *BASE_PROPERTIES, "cells")
    bounds = {layer: await layer_bounds(conn, layer) for layer in layers}
    return bounds, await time_span(conn)


def _base_feature(row: dict) -> dict:
    properties = {key: value for key, value in row.items() if key != "geometry"}
    return feature(row["geometry"], properties, row["id"])


def _cell_feature(row: dict, variable: str, unit: str | None) -> dict:
    h3 = to_hex(row["cell"])
    properties = {
        "h3": h3,
        "variable": variable,
        "unit": unit,
        **{name: row[name] for name in STAT_COLUMNS},
    }
    polygon = {"type": "Polygon", "coordinates": [boundary(row["cell"])]}
    return feature(polygon, properties, f"{h3}:{variable}")


async def _cell_features(
    conn: Connection,
    settings: Settings,
    feeds: FeedRegistry,
    chosen: dict[str, int],
    resolution: int,
    area: Area,
    time: TimeRange,
) -> list[dict]:
    """One feature per (cell, variable) with data, in (cell, variable) order."""
    window = widen_to_buckets(time, settings.rollup_bucket_seconds)
    features = []
    for name, variable_id in sorted(chosen.items()):
        query = CellQuery(variable_id, resolution, area, window)
        rows = await cell_aggregates(
            conn, query, settings.h3_resolution, settings.rollup_bucket_seconds
        )
        unit = feeds.unit_of(name)
        features += [_cell_feature(dict(row), name, unit) for row in rows]
    # Hex ids of one resolution have one length, so text order is (cell, variable) order.
    return sorted(features, key=lambda item: item["id"])


@router.get("", name="ogc_landing", summary="Landing page")
@router.get("/", include_in_schema=False)
async def landing(request: Request, f: MetadataFormat = None) -> Response:
    """Links to the API definition, its documentation, the conformance classes and the data."""
    base = str(request.base_url).rstrip("/")
    openapi, docs = ogc.OPENAPI_30_PATH, request.app.docs_url
    return json_response(ogc.landing_page(_root(request), f"{base}{openapi}", f"{base}{docs}"))


@router.get("/conformance", summary="Conformance classes")
async def conformance(f: MetadataFormat = None) -> Response:
    """The OGC API - Features classes implemented: Core, GeoJSON and OpenAPI 3.0."""
    return json_response({"conformsTo": ogc.CONFORMANCE})


@router.get("/collections", summary="Collections")
async def get_collections(
    request: Request, conn: ConnDep, settings: SettingsDep, f: MetadataFormat = None
) -> Response:
    """Every collection with its extent and links."""
    root = _root(request)
    bounds, span = await _extents(conn)
    documents = [
        ogc.collection_document(root, item, ogc.collection_extent(item, bounds, span))
        for item in ogc.collections(settings.h3_resolution)
    ]
    self_link = ogc.link("self", f"{root}/collections", ogc.JSON, "The collections")
    return json_response({"links": [self_link], "collections": documents})


@router.get("/collections/{collectionId}", summary="One collection")
async def get_collection(
    request: Request,
    conn: ConnDep,
    settings: SettingsDep,
    collection_id: CollectionId,
    f: MetadataFormat = None,
) -> Response:
    """One collection with its extent and links."""
    collection = _collection(collection_id, settings)
    bounds, span = await _extents(conn)
    extent = ogc.collection_extent(collection, bounds, span)
    return json_response(ogc.collection_document(_root(request), collection, extent))


@router.get(
    "/collections/{collectionId}/items",
    summary="Features of a collection",
    responses=ITEM_RESPONSES,
)
async def get_items(
    request: Request,
    conn: ConnDep,
    settings: SettingsDep,
    feeds: FeedsDep,
    variables: VariablesDep,
    collection_id: CollectionId,
    bbox: BboxQuery = None,
    datetime_: DatetimeQuery = None,
    limit: OgcLimitQuery = 10,
    offset: OffsetQuery = 0,
    variable: VariableQuery = None,
    f: ItemFormat = None,
    accept: AcceptHeader = None,
) -> Response:
    """A page of features, filtered by bbox and datetime, with numberMatched and links."""
    requested, limit = limit, min(limit, MAX_LIMIT)
    collection = _collection(collection_id, settings)
    fmt = choose_format(f, accept, ITEM_FORMATS)
    bounds = parse_bbox(bbox).bounds if bbox else None
    time = ogc.parse_datetime(datetime_)
    if variable is not None and collection.resolution is None:
        raise InvalidParameter("variable", "only the cells-r{N} collections have variables")
    if collection.resolution is not None:
        chosen = variables
        if variable is not None:
            picked = variable_of(variable, variables)
            chosen = {picked.name: picked.id}
        area = ogc.search_area(bounds, collection.resolution)
        matching = await _cell_features(
            conn, settings, feeds, chosen, collection.resolution, area, time
        )
        if bounds is not None:
            rings = [item["geometry"]["coordinates"][0] for item in matching]
            matching = [
                item
                for item, touches in zip(matching, ogc.rings_touching(rings, bounds), strict=True)
                if touches
            ]
        matched, page = len(matching), matching[offset : offset + limit]
    elif collection.layer == "sensors":
        matched, rows = await sensor_page(conn, bounds, time, limit, offset)
        page = [sensor_feature(dict(row), free_properties=False) for row in rows]
    else:
        matched, rows = await base_page(conn, collection.layer, bounds, limit, offset)
        page = [_base_feature(dict(row)) for row in rows]
    collection_url = f"{_root(request)}/collections/{collection.id}"
    links = ogc.items_links(
        str(request.url), collection_url, offset, limit, len(page), matched, requested
    )
    return features_response(
        page,
        "parquet" if fmt == "parquet" else "geojson",
        links=links,
        numberMatched=matched,
        numberReturned=len(page),
        timeStamp=ogc.iso(datetime.now(UTC)),
    )


@router.get(
    "/collections/{collectionId}/items/{featureId}", summary="One feature", responses=ITEM_RESPONSES
)
async def get_item(
    request: Request,
    conn: ConnDep,
    settings: SettingsDep,
    feeds: FeedsDep,
    variables: VariablesDep,
    collection_id: CollectionId,
    feature_id: FeatureId,
    datetime_: DatetimeQuery = None,
    f: ItemFormat = None,
    accept: AcceptHeader = None,
) -> Response:
    """One feature; a cell named without a variable links its other variables as alternates."""
    collection = _collection(collection_id, settings)
    fmt = choose_format(f, accept, ITEM_FORMATS)
    time = ogc.parse_datetime(datetime_)
    found: list[dict] = []
    if collection.resolution is not None:
        parsed = ogc.split_cell_id(feature_id, collection.resolution)
        if parsed is not None and (parsed[1] is None or parsed[1] in variables):
            cell, name = parsed
            chosen = variables if name is None else {name: variables[name]}
            area = Area(cells=(cell,))
            found = await _cell_features(
                conn, settings, feeds, chosen, collection.resolution, area, time
            )
    elif collection.layer == "sensors":
        sensor = ogc.sensor_id(feature_id)
        row = None if sensor is None else await fetch_sensor(conn, sensor)
        found = [] if row is None else [sensor_feature(dict(row), free_properties=False)]
    else:
        row = await fetch_base_feature(conn, collection.layer, feature_id)
        found = [] if row is None else [_base_feature(dict(row))]
    if not found:
        raise NotFound(f"{collection.id} feature", feature_id)
    if fmt == "parquet":
        return parquet_response(found[:1])
    items_url = f"{_root(request)}/collections/{collection.id}/items"
    links = [
        ogc.link("self", str(request.url), ogc.GEOJSON, "This feature"),
        ogc.link("collection", items_url.removesuffix("/items"), ogc.JSON, "The collection"),
    ]
    links += [
        ogc.link("alternate", f"{items_url}/{other['id']}", ogc.GEOJSON, other["id"])
        for other in found[1:]
    ]
    return json_response({**found[0], "links": links}, media_type=ogc.GEOJSON)
