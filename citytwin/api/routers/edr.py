"""`/edr`: OGC API - Environmental Data Retrieval over the stored layers (position, area, cube)."""

from typing import Annotated

import numpy as np
import shapely
import xarray as xr
from fastapi import APIRouter, Depends, Query, Request, Response
from shapely.geometry.base import BaseGeometry

from citytwin import __version__
from citytwin.api.deps import LayerId, LayerStoreDep, SettingsDep
from citytwin.api.formats import json_response
from citytwin.api.layer_answers import area_answer, cube_answer, part_response
from citytwin.api.strict_query import reject_unknown_parameters
from citytwin.errors import InvalidParameter
from citytwin.layers.coverage import (
    CRS84,
    MEDIA_TYPE,
    parameter,
    point_series_coverage,
)
from citytwin.layers.selection import (
    TimeWindow,
    datetime_window,
    describe,
    grid_of,
    locate,
    pick_variables,
    polygon_mask,
    step_starts,
    subset,
)
from citytwin.query.crs import bounds_to_crs84, epsg_uri, parse_crs, to_crs84
from citytwin.query.ogc import OPENAPI, OPENAPI_30_PATH
from citytwin.query.params import parse_polygon

router = APIRouter(
    prefix="/edr", tags=["OGC API - EDR"], dependencies=[Depends(reject_unknown_parameters)]
)

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-edr-1/1.1/conf/core",
    "http://www.opengis.net/spec/ogcapi-edr-1/1.1/conf/collections",
    "http://www.opengis.net/spec/ogcapi-edr-1/1.1/conf/json",
    "http://www.opengis.net/spec/ogcapi-edr-1/1.1/conf/covjson",
    "http://www.opengis.net/spec/ogcapi-edr-1/1.1/conf/oas30",
]
# The first format of each query is its default.
QUERIES = {
    "position": ["CoverageJSON"],
    "area": ["CoverageJSON", "JSON", "NetCDF"],
    "cube": ["CoverageJSON", "NetCDF"],
}
DatetimeQuery = Annotated[
    str | None, Query(description="ISO 8601 instant or interval start/end ('..' open).")
]
CrsQuery = Annotated[
    str | None,
    Query(description="CRS of `coords`/`bbox`: one of the collection's `crs` (default CRS84)."),
]
# Short names clients send for the formats (`f=covjson` is the EDR media type's own name).
FORMAT_ALIASES = {"covjson": "CoverageJSON", "nc": "NetCDF"}
ParameterQuery = Annotated[
    str | None, Query(alias="parameter-name", description="Comma-separated parameters.")
]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("", summary="EDR landing page")
def landing(request: Request) -> Response:
    """Title and links to the conformance classes, collections and API description."""
    base = _base(request)
    return json_response(
        {
            "title": "citytwin layers (OGC API - EDR)",
            "description": f"Gridded simulation layers of citytwin {__version__}.",
            "links": [
                {"rel": "self", "href": f"{base}/edr", "type": "application/json"},
                {"rel": "conformance", "href": f"{base}/edr/conformance"},
                {"rel": "data", "href": f"{base}/edr/collections"},
                {"rel": "service-desc", "href": f"{base}{OPENAPI_30_PATH}", "type": OPENAPI},
            ],
        }
    )


@router.get("/conformance", summary="EDR conformance classes")
def conformance() -> Response:
    """The conformance classes this EDR implements."""
    return json_response({"conformsTo": CONFORMANCE})


def collection(request: Request, layer: xr.Dataset, layer_id: str) -> dict:
    """The EDR collection of one layer: extent, data queries, parameters."""
    meta = describe(layer, layer_id)
    href = f"{_base(request)}/edr/collections/{layer_id}"
    queries = {
        name: {
            "link": {
                "href": f"{href}/{name}",
                "rel": "data",
                "variables": {
                    "title": f"{name} query",
                    "query_type": name,
                    "output_formats": formats,
                    "default_output_format": formats[0],
                },
            }
        }
        for name, formats in QUERIES.items()
    }
    return {
        "id": layer_id,
        "title": meta["title"] or layer_id,
        "extent": {
            "spatial": {"bbox": [meta["grid"]["bbox"]], "crs": CRS84},
            "temporal": {
                "interval": [[f"{meta['time']['start']:%FT%TZ}", f"{meta['time']['end']:%FT%TZ}"]],
                "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
            },
        },
        "data_queries": queries,
        "crs": _crs_list(layer),
        "output_formats": ["CoverageJSON", "NetCDF", "JSON"],
        "parameter_names": {v["name"]: parameter(layer, v["name"]) for v in meta["variables"]},
        "links": [
            {"rel": "self", "href": href, "type": "application/json"},
            {"rel": "alternate", "href": f"{_base(request)}/layers/{layer_id}"},
            *(
                {"rel": "data", "href": f"{href}/{name}", "title": f"{name} query"}
                for name in QUERIES
            ),
        ],
    }


@router.get("/collections", summary="One EDR collection per stored layer")
def collections(request: Request, store: LayerStoreDep) -> Response:
    """Every stored layer as an EDR collection."""
    return json_response(
        {
            "collections": [collection(request, store.open(i), i) for i in store.list()],
            "links": [{"rel": "self", "href": f"{_base(request)}/edr/collections"}],
        }
    )


@router.get("/collections/{layer_id}", summary="One layer as an EDR collection")
def one_collection(request: Request, store: LayerStoreDep, layer_id: LayerId) -> Response:
    """A layer's EDR collection (404 if unknown)."""
    return json_response(collection(request, store.open(layer_id), layer_id))


def _crs_list(layer: xr.Dataset) -> list[str]:
    """The CRSs coordinates may be given in: lon/lat, and the layer's own grid CRS."""
    return [CRS84, epsg_uri(grid_of(layer).epsg)]


def _format(text: str | None, allowed: list[str]) -> str:
    """The `f` parameter matched without case to one of `allowed` (default: the first)."""
    if not text:
        return allowed[0]
    wanted = FORMAT_ALIASES.get(text.lower(), text).lower()
    for name in allowed:
        if wanted == name.lower():
            return name
    raise InvalidParameter("f", f"{text!r} is not one of {', '.join(allowed)} (or covjson)")


def _coords_in_crs84(layer: xr.Dataset, coords: str, crs: str | None, kind: str) -> str:
    """`coords` (WKT in `crs`) as WKT in lon/lat."""
    source = parse_crs(crs, _crs_list(layer))
    if source == CRS84:
        return coords
    geometry = to_crs84(_wkt(coords, kind) if kind == "Point" else _any_wkt(coords), source)
    return shapely.to_wkt(geometry, rounding_precision=-1)


def _bbox_numbers(text: str) -> tuple[float, float, float, float]:
    try:
        west, south, east, north = (float(part) for part in text.split(","))
    except ValueError:
        raise InvalidParameter("bbox", f"{text!r}: four numbers expected") from None
    return west, south, east, north


def _any_wkt(text: str) -> shapely.Geometry:
    try:
        return shapely.from_wkt(text)
    except shapely.errors.GEOSException as exc:
        raise InvalidParameter("coords", f"not WKT: {exc}") from None


def _wkt(text: str, kind: str) -> shapely.Geometry:
    try:
        geometry = shapely.from_wkt(text)
    except shapely.errors.GEOSException as exc:
        raise InvalidParameter("coords", f"not WKT: {exc}") from None
    if geometry.geom_type != kind:
        raise InvalidParameter("coords", f"must be a {kind}, not {geometry.geom_type}")
    return geometry


@router.get("/collections/{layer_id}/position", summary="Time series at a point (PointSeries)")
def position(
    store: LayerStoreDep,
    layer_id: LayerId,
    coords: Annotated[str, Query(description="WKT POINT(lon lat).")],
    datetime: DatetimeQuery = None,
    parameter_name: ParameterQuery = None,
    crs: CrsQuery = None,
    f: Annotated[str | None, Query(description="CoverageJSON (or covjson).")] = None,
) -> Response:
    """The layer's values in the grid cell holding the point, per step, as CoverageJSON."""
    layer = store.open(layer_id)
    _format(f, QUERIES["position"])
    point = _wkt(_coords_in_crs84(layer, coords, crs, "Point"), "Point")
    lon, lat = point.x, point.y
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InvalidParameter("coords", "must be lon/lat in EPSG:4326")
    names = pick_variables(layer, parameter_name, "parameter-name")
    window = datetime_window(layer, datetime)
    try:
        cell = locate(grid_of(layer), lon, lat)
    except InvalidParameter as exc:
        raise InvalidParameter("coords", exc.message) from None
    steps = slice(window.first, window.stop)
    series = {
        name: np.asarray(layer[name].isel(time=steps, y=cell.row, x=cell.col).values)
        for name in names
    }
    times = step_starts(layer)[steps]
    document = point_series_coverage(layer, lon, lat, times, series)
    return json_response(document, media_type=MEDIA_TYPE)


def polygon_part(
    layer: xr.Dataset, polygon: BaseGeometry, variables: list[str], window: TimeWindow
) -> xr.Dataset:
    """The smallest grid window holding the cells centred in the `polygon` (the `coords`
    parameter), with the cells outside it as NaN; errors name `coords`."""
    mask = polygon_mask(grid_of(layer), polygon, "coords")
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    rows, cols = slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)
    part = subset(layer, variables, rows, cols, window)
    return part.where(xr.DataArray(mask[rows, cols], dims=("y", "x")))


@router.get("/collections/{layer_id}/area", summary="The data inside a polygon")
def area(
    store: LayerStoreDep,
    settings: SettingsDep,
    layer_id: LayerId,
    coords: Annotated[str, Query(description="WKT POLYGON or MULTIPOLYGON (in `crs`).")],
    datetime: DatetimeQuery = None,
    parameter_name: ParameterQuery = None,
    crs: CrsQuery = None,
    f: Annotated[str | None, Query(description="CoverageJSON, JSON or NetCDF.")] = None,
) -> Response:
    """The grid cells centred in the polygon per step: a Grid Coverage (cells outside it
    null) or NetCDF; `f=JSON`: their count, mean, min, max, std as `/layers/area`."""
    layer = store.open(layer_id)
    coords = _coords_in_crs84(layer, coords, crs, "Polygon")
    polygon = parse_polygon(coords, settings.api.area_max_vertices, "coords")
    fmt = _format(f, QUERIES["area"])
    names = pick_variables(layer, parameter_name, "parameter-name")
    window = datetime_window(layer, datetime)
    if fmt == "JSON":
        if parameter_name and len(names) > 1:
            raise InvalidParameter("parameter-name", "the area statistics take one parameter")
        return json_response(area_answer(layer, layer_id, polygon, names[0], window, "coords"))
    part = polygon_part(layer, polygon, names, window)
    return part_response(layer, part, names, fmt.lower(), "area")


@router.get("/collections/{layer_id}/cube", summary="A subset as CoverageJSON or NetCDF")
def cube(
    store: LayerStoreDep,
    layer_id: LayerId,
    bbox: Annotated[str, Query(description="minx,miny,maxx,maxy in `crs` (default lon/lat).")],
    datetime: DatetimeQuery = None,
    parameter_name: ParameterQuery = None,
    crs: CrsQuery = None,
    f: Annotated[str | None, Query(description="CoverageJSON or NetCDF.")] = None,
) -> Response:
    """The grid window of the cells centred in `bbox`, as `/layers/cube`."""
    layer = store.open(layer_id)
    source = parse_crs(crs, _crs_list(layer))
    if source != CRS84:
        bbox = ",".join(map(str, bounds_to_crs84(_bbox_numbers(bbox), source)))
    fmt = _format(f, QUERIES["cube"])
    names = pick_variables(layer, parameter_name, "parameter-name")
    window = datetime_window(layer, datetime)
    return cube_answer(layer, bbox, names, window, fmt.lower(), "bbox")
