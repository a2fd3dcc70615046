"""OGC API - Features (Part 1: Core, GeoJSON, OpenAPI 3.0) at `/ogc`, for QGIS, GDAL and OWSLib.

Collections: `sensors` (points), the city's `districts`, `roads` and `buildings`, and
`cells-r{N}` (H3 cell aggregates at
resolution N, one feature per cell and variable). Pages go by `offset`, linked `next`/`prev`.
"""

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request, Response

from citytwin.api.deps import ConnDep, FeedsDep, SettingsDep, VariablesDep
from citytwin.api.formats import (
    OutputFormat,
    choose_format,
    features_response,
    json_response,
    parquet_response,
    sensor_feature,
)
from citytwin.api.ogc_html import html_page
from citytwin.api.ogc_items import (
    answer_crs,
    base_feature,
    cell_features,
    chosen_variables,
    in_crs,
    items_page,
    keep_properties,
    property_names,
)
from citytwin.api.ogc_openapi import ogc_openapi
from citytwin.api.ogc_params import (
    PAGE_RESPONSES,
    AcceptHeader,
    BboxCrsQuery,
    BboxQuery,
    CollectionId,
    CrsQuery,
    DatetimeQuery,
    FeatureId,
    FilterCrsQuery,
    FilterLangQuery,
    FilterQuery,
    ItemFormat,
    MetadataFormat,
    OffsetQuery,
    OgcLimitQuery,
    PageFormat,
    PropertiesQuery,
    SortbyQuery,
    VariableQuery,
)
from citytwin.api.openapi30 import app_openapi_30
from citytwin.api.strict_query import also_takes, reject_unknown_parameters
from citytwin.db.city import city_epsg
from citytwin.db.pool import Connection
from citytwin.db.queries.features import (
    BASE_PROPERTIES,
    fetch_base_feature,
    layer_bounds,
    time_span,
    variables_with_data,
)
from citytwin.db.queries.sensors import fetch_sensor
from citytwin.errors import InvalidParameter, NotFound
from citytwin.query import cql, ogc
from citytwin.query.crs import bbox_to_crs84, feature_crs_list, parse_crs
from citytwin.query.ogc_queryables import queryables_of
from citytwin.query.params import Area, bbox_numbers, lonlat_box
from citytwin.settings import Settings

router = APIRouter(
    prefix="/ogc", tags=["OGC API - Features"], dependencies=[Depends(reject_unknown_parameters)]
)

ITEM_FORMATS = (OutputFormat.GEOJSON, OutputFormat.JSON, OutputFormat.PARQUET, OutputFormat.HTML)
ITEM_RESPONSES: dict[int | str, dict] = {
    200: {
        "description": "GeoJSON (application/geo+json), or GeoParquet with f=parquet.",
        "content": {ogc.GEOJSON: {}, ogc.PARQUET: {}, ogc.HTML: {}},
    },
    400: {"description": "A parameter is wrong; the JSON body names it."},
    404: {"description": "No such collection or feature."},
}


def _root(request: Request) -> str:
    return str(request.url_for("ogc_landing"))


def _collection(
    collection_id: str, settings: Settings, variables: dict[str, int]
) -> ogc.Collection:
    found = ogc.find_collection(collection_id, settings.ingest.h3_resolution, sorted(variables))
    if found is None:
        raise NotFound("collection", collection_id)
    return found


def _queryable_parameters(request: Request) -> frozenset[str]:
    """The `name=value` parameters the items of the collection in the path take."""
    state = request.app.state
    found = ogc.find_collection(
        request.path_params.get("collectionId", ""),
        state.settings.ingest.h3_resolution,
        sorted(state.variables),
    )
    if found is None:
        return frozenset()
    return frozenset(name for name, item in queryables_of(found).items() if item.type != "geometry")


async def _extents(
    conn: Connection,
) -> tuple[dict[str, ogc.Bounds | None], tuple[datetime, datetime] | None]:
    layers = ("sensors", *BASE_PROPERTIES, "cells")
    bounds = {layer: await layer_bounds(conn, layer) for layer in layers}
    return bounds, await time_span(conn)


def _page(document: dict, f: str | None, title: str) -> Response:
    return html_page(document, title) if f == "html" else json_response(document)


@router.get("", name="ogc_landing", summary="Landing page", responses=PAGE_RESPONSES)
@router.get("/", include_in_schema=False)
async def landing(request: Request, f: PageFormat = None) -> Response:
    """Links to the API definition, its documentation, the conformance classes and the data."""
    base = str(request.base_url).rstrip("/")
    openapi = str(request.url_for("ogc_api"))
    document = ogc.landing_page(_root(request), openapi, f"{base}{request.app.docs_url}")
    return _page(document, f, "citytwin OGC API")


@router.get("/api", name="ogc_api", include_in_schema=False)
async def api_definition(
    request: Request, conn: ConnDep, settings: SettingsDep, f: MetadataFormat = None
) -> Response:
    """This service's OpenAPI 3.0 document, paths relative to its landing page."""
    listed = ogc.collections(settings.ingest.h3_resolution, await variables_with_data(conn))
    queryables = {item.id: queryables_of(item) for item in listed}
    document = ogc_openapi(app_openapi_30(request.app), _root(request), listed, queryables)
    return json_response(document, media_type=ogc.OPENAPI)


@router.get("/conformance", summary="Conformance classes")
async def conformance(f: MetadataFormat = None) -> Response:
    """The OGC API - Features classes implemented: Core, GeoJSON and OpenAPI 3.0."""
    return json_response({"conformsTo": ogc.CONFORMANCE})


@router.get("/collections", summary="Collections", responses=PAGE_RESPONSES)
async def get_collections(
    request: Request, conn: ConnDep, settings: SettingsDep, f: PageFormat = None
) -> Response:
    """Every collection with its extent and links; cells of each variable holding data."""
    root = _root(request)
    bounds, span = await _extents(conn)
    listed = ogc.collections(settings.ingest.h3_resolution, await variables_with_data(conn))
    listed_crs = feature_crs_list(await city_epsg(conn))
    documents = [
        ogc.collection_document(root, item, ogc.collection_extent(item, bounds, span), listed_crs)
        for item in listed
    ]
    self_link = ogc.link("self", f"{root}/collections", ogc.JSON, "The collections")
    return _page({"links": [self_link], "collections": documents}, f, "Collections")


@router.get("/collections/{collectionId}", summary="One collection", responses=PAGE_RESPONSES)
async def get_collection(
    request: Request,
    conn: ConnDep,
    settings: SettingsDep,
    variables: VariablesDep,
    collection_id: CollectionId,
    f: PageFormat = None,
) -> Response:
    """One collection with its extent and links."""
    collection = _collection(collection_id, settings, variables)
    bounds, span = await _extents(conn)
    extent = ogc.collection_extent(collection, bounds, span)
    listed_crs = feature_crs_list(await city_epsg(conn))
    document = ogc.collection_document(_root(request), collection, extent, listed_crs)
    return _page(document, f, collection.id)


@router.get(
    "/collections/{collectionId}/queryables",
    summary="Queryables of a collection",
    responses={200: {"content": {cql.JSON_SCHEMA: {}}}},
)
async def get_queryables(
    request: Request,
    settings: SettingsDep,
    variables: VariablesDep,
    collection_id: CollectionId,
    f: MetadataFormat = None,
) -> Response:
    """The properties `filter`, `sortby` and `name=value` parameters may name, as JSON Schema."""
    collection = _collection(collection_id, settings, variables)
    url = f"{_root(request)}/collections/{collection.id}/queryables"
    schema = cql.queryables_schema(url, collection.title, queryables_of(collection))
    return json_response(schema, media_type=cql.JSON_SCHEMA)


@router.get(
    "/collections/{collectionId}/items",
    summary="Features of a collection",
    responses=ITEM_RESPONSES,
)
@also_takes(_queryable_parameters)
async def get_items(
    request: Request,
    conn: ConnDep,
    settings: SettingsDep,
    feeds: FeedsDep,
    variables: VariablesDep,
    collection_id: CollectionId,
    bbox: BboxQuery = None,
    bbox_crs: BboxCrsQuery = None,
    crs: CrsQuery = None,
    datetime_: DatetimeQuery = None,
    limit: OgcLimitQuery = 10,
    offset: OffsetQuery = 0,
    variable: VariableQuery = None,
    filter_: FilterQuery = None,
    filter_lang: FilterLangQuery = None,
    filter_crs: FilterCrsQuery = None,
    sortby: SortbyQuery = None,
    properties: PropertiesQuery = None,
    f: ItemFormat = None,
    accept: AcceptHeader = None,
) -> Response:
    """A page of features, filtered by bbox, datetime, CQL2 `filter` and `name=value`
    parameters, sorted by `sortby`, with numberMatched and links."""
    requested, limit = limit, min(limit, settings.api.max_page_size)
    collection = _collection(collection_id, settings, variables)
    fmt = choose_format(f, accept, ITEM_FORMATS)
    allowed = feature_crs_list(await city_epsg(conn))
    target = answer_crs(crs, allowed, fmt)
    bounds = None
    if bbox:
        source = parse_crs(bbox_crs, allowed, "bbox-crs")
        bounds = lonlat_box(bbox_to_crs84(bbox_numbers(bbox), source)).bounds
    time = ogc.parse_datetime(datetime_)
    if filter_crs is not None and filter_crs.strip() not in (ogc.CRS84, "OGC:CRS84"):
        raise InvalidParameter("filter-crs", f"{filter_crs!r} is not {ogc.CRS84}")
    queryables = queryables_of(collection)
    asked = {key: value for key, value in request.query_params.items() if key != "variable"}
    selection = cql.Selection(
        queryables,
        cql.both(cql.parse_filter(filter_, filter_lang), cql.property_filter(asked, queryables)),
        tuple(cql.parse_sortby(sortby, queryables)),
    )
    chosen = chosen_variables(collection, variable, variables)
    page = await items_page(
        conn, settings, feeds, collection, chosen, bounds, time, selection, limit, offset
    )
    features = in_crs(
        keep_properties(
            page.features, cql.parse_properties(properties, property_names(collection))
        ),
        target,
    )
    collection_url = f"{_root(request)}/collections/{collection.id}"
    links = ogc.items_links(
        str(request.url), collection_url, offset, limit, len(features), page.matched, requested
    )
    if fmt == "html":
        members = {"numberMatched": page.matched, "numberReturned": len(features)}
        document = {"title": collection.title, **members, "features": features, "links": links}
        return html_page(document, collection.id)
    answer = features_response(
        features,
        "parquet" if fmt == "parquet" else "geojson",
        links=links,
        numberMatched=page.matched,
        numberReturned=len(features),
        timeStamp=ogc.iso(datetime.now(UTC)),
    )
    answer.headers["Content-Crs"] = f"<{target}>"
    return answer


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
    crs: CrsQuery = None,
    datetime_: DatetimeQuery = None,
    f: ItemFormat = None,
    accept: AcceptHeader = None,
) -> Response:
    """One feature; a cell named without a variable links its other variables as alternates."""
    collection = _collection(collection_id, settings, variables)
    fmt = choose_format(f, accept, ITEM_FORMATS)
    target = answer_crs(crs, feature_crs_list(await city_epsg(conn)), fmt)
    time = ogc.parse_datetime(datetime_)
    found: list[dict] = []
    if collection.resolution is not None:
        parsed = ogc.split_cell_id(feature_id, collection.resolution)
        if collection.variable is not None and parsed is not None:
            parsed = None if parsed[1] is not None else (parsed[0], collection.variable)
        if parsed is not None and (parsed[1] is None or parsed[1] in variables):
            cell, name = parsed
            chosen = variables if name is None else {name: variables[name]}
            selection = cql.Selection(queryables_of(collection))
            area = Area(cells=(cell,))
            found = await cell_features(
                conn, settings, feeds, collection, chosen, area, time, selection
            )
    elif collection.layer == "sensors":
        sensor = ogc.sensor_id(feature_id)
        row = None if sensor is None else await fetch_sensor(conn, sensor)
        found = [] if row is None else [sensor_feature(dict(row), free_properties=False)]
    else:
        row = await fetch_base_feature(conn, collection.layer, feature_id)
        found = [] if row is None else [base_feature(dict(row))]
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
    first = in_crs(found[:1], target)[0]
    if fmt == "html":
        return html_page({"title": feature_id, "features": [first], "links": links}, feature_id)
    headers = {"Content-Crs": f"<{target}>"}
    return json_response({**first, "links": links}, media_type=ogc.GEOJSON, headers=headers)
