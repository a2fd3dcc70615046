"""OGC API - Features, the pure parts: collection ids, `datetime`, extents, documents and links."""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import h3.api.basic_int as h3
import shapely

from citytwin.errors import InvalidParameter
from citytwin.query.cells import Bounds, grow_by_cells
from citytwin.query.params import Area, TimeRange, parse_time

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/arithmetic",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
]
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
GEOJSON = "application/geo+json"
JSON = "application/json"
PARQUET = "application/vnd.apache.parquet"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
OPENAPI_30_PATH = "/openapi-3.0.json"  # the OpenAPI 3.0 restatement the `oas30` classes ask for
HTML = "text/html"
TILESETS_VECTOR = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
# The collections drawn as vector tiles (roads and buildings are features only: the web map
# draws them from /tiles/{layer}, and as OGC tilesets they added nothing a client asked for).
TILED_LAYERS = ("sensors", "cells", "districts")
TILING_SCHEMES = "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes"

# PostgreSQL keeps microseconds: [t, t + 1 µs) holds exactly the instant t, and widened to
# rollup buckets it becomes the bucket that contains t.
INSTANT = timedelta(microseconds=1)
CELLS_ID = re.compile(r"cells-r(0|[1-9][0-9]?)(?:-([a-z0-9_]+))?")
QUERYABLES = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
SCHEMA_JSON = "application/schema+json"


@dataclass(frozen=True)
class Collection:
    id: str
    title: str
    description: str
    layer: str  # the stored layer behind it: sensors, districts, roads, buildings or cells
    resolution: int | None = None
    temporal: bool = True
    variable: str | None = None  # cells-r{N}-{variable}: the one variable aggregated


SENSORS = Collection(
    "sensors",
    "Sensors",
    "Every sensor of every feed as a point: id, feed, external_id, name, h3 (its base-resolution "
    "cell) and mobile. `datetime` keeps the sensors with readings in that instant or interval.",
    "sensors",
)
DISTRICTS = Collection(
    "districts",
    "Districts",
    "The city's districts as imported (`citytwin city import`), cut at its boundary: id and "
    "name. Attribution: see /city.",
    "districts",
    temporal=False,
)
ROADS = Collection(
    "roads",
    "Roads",
    "The city's roads as imported, cut at its boundary: id, road_class (OSM highway), name, "
    "maxspeed (km/h), lanes, oneway. Attribution: see /city (OSM: © OpenStreetMap "
    "contributors, ODbL).",
    "roads",
    temporal=False,
)
BUILDINGS = Collection(
    "buildings",
    "Buildings",
    "The city's buildings as imported, whole where their representative point is inside its "
    "boundary: id, use (OSM building), name, levels, height (m), year. Attribution: see /city.",
    "buildings",
    temporal=False,
)
BASE = (DISTRICTS, ROADS, BUILDINGS)


def cells_collection(resolution: int, variable: str | None = None) -> Collection:
    """`cells-r{N}` (every variable) or `cells-r{N}-{variable}`: H3 cell aggregates at
    resolution N."""
    window = (
        "count, mean, min, max and std of the readings within the `datetime` instant or interval "
        "(default: all time), from hourly rollups; `start`/`end`: the window aggregated"
    )
    series = (
        "Time series of these aggregates: `/cells/{h3}/series?variable=…&bucket=1h` for one cell, "
        "or `/cells?variable=…&resolution=…&bucket=1d` (the `bucket` parameter) for every cell."
    )
    if variable is None:
        return Collection(
            f"cells-r{resolution}",
            f"H3 cell aggregates, resolution {resolution}",
            f"Hexagons of H3 resolution {resolution} with data, one feature per cell and variable "
            f"(id `<h3>:<variable>`): {window}. Filter one variable with `variable` (or the "
            f"`cells-r{resolution}-<variable>` collections). {series}",
            "cells",
            resolution,
        )
    return Collection(
        f"cells-r{resolution}-{variable}",
        f"{variable} per H3 cell, resolution {resolution}",
        f"Hexagons of H3 resolution {resolution} with {variable} readings, one feature per cell "
        f"(id `<h3>`): {window}. {series}",
        "cells",
        resolution,
        variable=variable,
    )


def collections(base_resolution: int, variables: Sequence[str] = ()) -> list[Collection]:
    """Every collection: sensors, the city's base layers, cells at resolutions 0 … base, and
    cells of each of `variables` at each resolution."""
    resolutions = range(base_resolution + 1)
    return [
        SENSORS,
        *BASE,
        *(cells_collection(r) for r in resolutions),
        *(cells_collection(r, name) for name in variables for r in resolutions),
    ]


def find_collection(
    collection_id: str, base_resolution: int, variables: Sequence[str] = ()
) -> Collection | None:
    """The collection named `collection_id` (cells of a variable: one of `variables`), or None."""
    fixed = {item.id: item for item in (SENSORS, *BASE)}
    if collection_id in fixed:
        return fixed[collection_id]
    match = CELLS_ID.fullmatch(collection_id)
    if match is None or int(match[1]) > base_resolution:
        return None
    if match[2] is not None and match[2] not in variables:
        return None
    return cells_collection(int(match[1]), match[2])


def split_cell_id(feature_id: str, resolution: int) -> tuple[int, str | None] | None:
    """(cell, variable or None) of a feature id `<h3hex>` or `<h3hex>:<variable>` naming a cell
    at `resolution`; None if it names none."""
    text, _, variable = feature_id.partition(":")
    if not re.fullmatch(r"[0-9a-fA-F]{15,16}", text):
        return None
    cell = int(text, 16)
    if not h3.is_valid_cell(cell) or h3.get_resolution(cell) != resolution:
        return None
    return cell, variable or None


def sensor_id(feature_id: str) -> int | None:
    """The sensor id in a feature id, or None if it cannot be one (not an int4)."""
    if not re.fullmatch(r"[0-9]{1,10}", feature_id) or int(feature_id) >= 2**31:
        return None
    return int(feature_id)


def parse_datetime(text: str | None) -> TimeRange:
    """The `datetime` parameter: an RFC 3339 instant, or an interval `a/b`, `../b`, `a/..`.

    An interval includes its start and excludes its end, like `start`/`end` of `/cells`.
    """
    if text is None or not text.strip():
        return TimeRange(None, None)
    if "/" not in text:
        instant = parse_time(text.upper(), "datetime")
        return TimeRange(instant, instant + INSTANT)
    first, _, second = text.partition("/")
    start, end = (
        None if part.strip() in ("", "..") else parse_time(part.upper(), "datetime")
        for part in (first, second)
    )
    if start and end and start >= end:
        raise InvalidParameter("datetime", f"{text!r}: the interval ends before it starts")
    return TimeRange(start, end)


def search_area(bounds: Bounds | None, resolution: int) -> Area:
    """The base cells whose aggregates complete every resolution-N hexagon touching `bounds`."""
    if bounds is None:
        return Area()
    return Area(geometry=shapely.box(*grow_by_cells(bounds, resolution)))


def rings_touching(rings: Sequence[list[list[float]]], bounds: Bounds) -> list[bool]:
    """Whether each polygon (an outer ring of [lon, lat]) intersects `bounds`."""
    polygons = [shapely.Polygon(ring) for ring in rings]
    return shapely.intersects(polygons, shapely.box(*bounds)).tolist()


def iso(value: datetime) -> str:
    """A UTC RFC 3339 timestamp with a `Z`."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def extent(bounds: Bounds | None, span: tuple[datetime, datetime] | None) -> dict:
    """A collection's `extent`: spatial bbox (CRS84) and temporal interval, where known."""
    document: dict = {}
    if bounds is not None:
        document["spatial"] = {"bbox": [list(bounds)], "crs": CRS84}
    if span is not None:
        document["temporal"] = {"interval": [[iso(span[0]), iso(span[1])]], "trs": GREGORIAN}
    return document


def collection_extent(
    collection: Collection,
    bounds: dict[str, Bounds | None],
    span: tuple[datetime, datetime] | None,
) -> dict:
    """The extent of `collection` from its layer's bounds (cells: of their centres, grown to
    hold the hexagons at its resolution) and the time span of the readings."""
    box = bounds[collection.layer]
    if box is not None and collection.resolution is not None:
        box = grow_by_cells(box, collection.resolution)
    return extent(box, span if collection.temporal else None)


def link(rel: str, href: str, media_type: str, title: str | None = None) -> dict:
    """A link object."""
    item = {"rel": rel, "href": href, "type": media_type}
    if title:
        item["title"] = title
    return item


def with_query(url: str, **changes: object) -> str:
    """`url` with the query parameters in `changes` set; the others kept in their order."""
    parts = urlsplit(url)
    pairs = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key not in changes
    ]
    pairs += [(key, str(value)) for key, value in changes.items()]
    return urlunsplit(parts._replace(query=urlencode(pairs, safe=",:/")))


def landing_page(root: str, openapi: str, docs: str) -> dict:
    """The landing page at `root` (absolute URLs)."""
    return {
        "title": "citytwin OGC API - Features",
        "description": "City sensors, districts and H3 cell aggregates of citytwin as OGC API "
        "- Features collections, for QGIS, GDAL/OGR, OWSLib and other clients.",
        "links": [
            link("self", root, JSON, "This document"),
            link("service-desc", openapi, OPENAPI, "The API definition (OpenAPI)"),
            link("service-doc", docs, HTML, "The API documentation"),
            link("conformance", f"{root}/conformance", JSON, "Conformance classes"),
            link("data", f"{root}/collections", JSON, "The collections"),
            link(TILING_SCHEMES, f"{root}/tileMatrixSets", JSON, "Tile matrix sets"),
        ],
    }


def collection_document(
    root: str, collection: Collection, extent_: dict, crs: Sequence[str] = (CRS84,)
) -> dict:
    """The description of one collection, with its links; `crs`: those it answers in."""
    here = f"{root}/collections/{collection.id}"
    document = {
        "id": collection.id,
        "title": collection.title,
        "description": collection.description,
        "itemType": "feature",
        "crs": list(crs),
        "storageCrs": CRS84,
        "links": [
            link("self", here, JSON, "This collection"),
            link("items", f"{here}/items", GEOJSON, "Items as GeoJSON"),
            link("items", f"{here}/items?f=parquet", PARQUET, "Items as GeoParquet"),
            link(QUERYABLES, f"{here}/queryables", SCHEMA_JSON, "Queryables (JSON Schema)"),
        ],
    }
    if collection.layer in TILED_LAYERS:
        document["links"].append(
            link(TILESETS_VECTOR, f"{here}/tiles", JSON, "Vector tilesets (OGC API - Tiles)")
        )
    if extent_:
        document["extent"] = extent_
    return document


def items_links(
    url: str,
    collection_url: str,
    offset: int,
    limit: int,
    returned: int,
    matched: int,
    requested: int | None = None,
) -> list[dict]:
    """self, alternate (the other encodings), collection, and next/prev links of a page (the
    other parameters kept); a `requested` limit above `limit` was capped, and the links say so."""
    capped = requested is not None and requested > limit
    here = with_query(url, limit=limit) if capped else url
    note = f" (limit capped at {limit})" if capped else ""
    links = [
        link("self", url, GEOJSON, "This page" + note),
        link("alternate", with_query(here, f="parquet"), PARQUET, "This page as GeoParquet"),
        link("collection", collection_url, JSON, "The collection"),
    ]
    if offset + returned < matched:
        links.append(link("next", with_query(here, offset=offset + limit), GEOJSON, "Next page"))
    if offset > 0:
        previous = max(offset - limit, 0)
        links.append(link("prev", with_query(here, offset=previous), GEOJSON, "Previous page"))
    return links
