"""The query and path parameters of the OGC API - Features routes, declared once."""

from typing import Annotated, Literal

from fastapi import Header, Path, Query

from citytwin.core.limits import INT64_MAX
from citytwin.query import cql, ogc

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
PageFormat = Annotated[
    Literal["json", "html"] | None, Query(description="json (default) or html (a page for people).")
]
PAGE_RESPONSES: dict[int | str, dict] = {
    200: {"description": "JSON, or HTML with f=html.", "content": {ogc.JSON: {}, ogc.HTML: {}}}
}
ItemFormat = Annotated[
    Literal["geojson", "json", "parquet", "html"] | None,
    Query(
        description="geojson (or json), parquet (GeoParquet) or html (a page for people); "
        "default: Accept, else GeoJSON."
    ),
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
    int,
    Query(
        ge=1,
        description="Items per page; above `CITYTWIN_MAX_PAGE_SIZE` (10,000) served at it.",
    ),
]
OffsetQuery = Annotated[
    int, Query(ge=0, le=INT64_MAX, description="Items to skip; follow the next link.")
]
VariableQuery = Annotated[
    str | None, Query(description="cells-r{N} only: just this variable, e.g. no2.")
]
AcceptHeader = Annotated[str | None, Header()]
FilterQuery = Annotated[
    str | None,
    Query(
        alias="filter",
        description="A CQL2 filter over the collection's queryables (see its `queryables`), "
        "e.g. `feed = 'air' AND name LIKE 'S%'`.",
        examples=["feed = 'air'"],
    ),
]
FilterLangQuery = Annotated[
    Literal[cql.FILTER_LANGS] | None,  # type: ignore[valid-type]
    Query(
        alias="filter-lang",
        description="cql2-text (default) or cql2-json; cql-text (the draft's name, as GDAL up "
        "to 3.6 sends it) is read as cql2-text.",
    ),
]
FilterCrsQuery = Annotated[
    str | None,
    Query(alias="filter-crs", description="The CRS of the filter's geometries: CRS84 only."),
]
CrsQuery = Annotated[
    str | None,
    Query(
        description="The CRS of the answer's geometries, one of the collection's `crs` (URI or "
        "EPSG:n; default CRS84); coordinates in its axis order (EPSG:4326: lat, lon).",
        examples=["http://www.opengis.net/def/crs/EPSG/0/3857"],
    ),
]
BboxCrsQuery = Annotated[
    str | None,
    Query(alias="bbox-crs", description="The CRS of `bbox`, one of the collection's `crs`."),
]
SortbyQuery = Annotated[
    str | None,
    Query(
        description="Queryables to sort by, comma-separated; `-name` descending.",
        examples=["-mean"],
    ),
]
PropertiesQuery = Annotated[
    str | None,
    Query(
        description="The properties to return, comma-separated (default: all).",
        examples=["h3,mean"],
    ),
]
