"""Answer encodings, named once in `OutputFormat`: GeoJSON/JSON (orjson), CSV, GeoParquet,
NetCDF, CoverageJSON and tiles, chosen by `format` or Accept."""

import io
from collections.abc import Sequence
from enum import StrEnum

import geopandas as gpd
import orjson
import pandas as pd
from fastapi import Response
from shapely.geometry import shape

from citytwin.errors import InvalidParameter
from citytwin.layers.coverage import MEDIA_TYPE as COVERAGEJSON_MEDIA_TYPE
from citytwin.query.cells import to_hex


class OutputFormat(StrEnum):
    """Every encoding an answer can take: the value is the `format`/`f` name, `media_type` what
    the answer's Content-Type says. A new encoding is one member here and its writer."""

    GEOJSON = "geojson"
    JSON = "json"
    CSV = "csv"
    PARQUET = "parquet"
    NETCDF = "netcdf"
    COVERAGEJSON = "coveragejson"
    MVT = "mvt"
    PNG = "png"
    HTML = "html"

    @property
    def media_type(self) -> str:
        """The Content-Type of answers in this encoding."""
        return _MEDIA_TYPES[self]


_MEDIA_TYPES = {
    OutputFormat.GEOJSON: "application/geo+json",
    OutputFormat.JSON: "application/json",
    OutputFormat.CSV: "text/csv; charset=utf-8",
    OutputFormat.PARQUET: "application/vnd.apache.parquet",
    OutputFormat.NETCDF: "application/x-netcdf",
    OutputFormat.COVERAGEJSON: COVERAGEJSON_MEDIA_TYPE,
    OutputFormat.MVT: "application/vnd.mapbox-vector-tile",
    OutputFormat.PNG: "image/png",
    OutputFormat.HTML: "text/html",
}
MEDIA_TYPES = {fmt.value: fmt.media_type for fmt in OutputFormat}
# Accept types naming a format, beside each format's own media type.
ACCEPT_ALIASES = {
    **{fmt.media_type.split(";")[0]: fmt for fmt in OutputFormat},
    "application/x-parquet": OutputFormat.PARQUET,
}
FEATURE_FORMATS = (OutputFormat.GEOJSON, OutputFormat.CSV, OutputFormat.PARQUET)
TABLE_FORMATS = (OutputFormat.JSON, OutputFormat.CSV)
GRID_FORMATS = (OutputFormat.NETCDF, OutputFormat.COVERAGEJSON)


def choose_format(
    requested: str | None, accept: str | None, allowed: Sequence[OutputFormat]
) -> OutputFormat:
    """The encoding: the `format` parameter wins, then the first allowed Accept type."""
    if requested:
        if requested not in allowed:
            raise InvalidParameter("format", f"{requested!r} is not one of {', '.join(allowed)}")
        return OutputFormat(requested)
    for media in (accept or "").split(","):
        name = ACCEPT_ALIASES.get(media.split(";")[0].strip())
        if name in allowed:
            return name
    return allowed[0]


def json_response(
    document: object,
    status_code: int = 200,
    media_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> Response:
    """`document` serialised by orjson (datetimes as ISO 8601, numpy numbers as numbers)."""
    body = orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
    return Response(body, status_code=status_code, media_type=media_type, headers=headers)


def csv_response(frame: pd.DataFrame, headers: dict[str, str] | None = None) -> Response:
    """A CSV table with a header line; times in ISO 8601."""
    text = frame.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
    return Response(text, media_type=MEDIA_TYPES["csv"], headers=headers)


def parquet_response(features: list[dict], headers: dict[str, str] | None = None) -> Response:
    """GeoParquet (GeoParquet 1.x metadata written by geopandas) of GeoJSON features."""
    frame = gpd.GeoDataFrame(
        [feature["properties"] for feature in features],
        geometry=[shape(feature["geometry"]) for feature in features],
        crs="EPSG:4326",
    )
    sink = io.BytesIO()
    frame.to_parquet(sink, index=False)
    return Response(sink.getvalue(), media_type=MEDIA_TYPES["parquet"], headers=headers)


def feature(geometry: dict, properties: dict, feature_id: object = None) -> dict:
    """A GeoJSON Feature."""
    item = {"type": "Feature", "geometry": geometry, "properties": properties}
    if feature_id is not None:
        item["id"] = feature_id
    return item


def point(lon: float, lat: float) -> dict:
    return {"type": "Point", "coordinates": [lon, lat]}


def features_response(
    features: list[dict], fmt: str, links: list[dict] | None = None, **members: object
) -> Response:
    """Features as GeoJSON, CSV (properties + lon/lat of points) or GeoParquet."""
    link_header = (
        {"Link": ", ".join(f'<{link["href"]}>; rel="{link["rel"]}"' for link in links or [])}
        if links
        else None
    )
    if fmt == "csv":
        rows = []
        for item in features:
            row = dict(item["properties"])
            if item["geometry"]["type"] == "Point":
                row["lon"], row["lat"] = item["geometry"]["coordinates"]
            rows.append(row)
        return csv_response(pd.DataFrame(rows), headers=link_header)
    if fmt == "parquet":
        return parquet_response(features, headers=link_header)
    document = {"type": "FeatureCollection", **members, "features": features}
    if links:
        document["links"] = links
    return json_response(document, media_type=MEDIA_TYPES["geojson"], headers=link_header)


def sensor_feature(row: dict, free_properties: bool = True) -> dict:
    """A sensor as a GeoJSON point; `free_properties` adds its feed-specific properties
    (OGC clients fix a layer's fields from the first page, so they get a fixed set)."""
    properties = {
        "id": row["id"],
        "feed": row["feed"],
        "external_id": row["external_id"],
        "name": row["name"],
        "h3": to_hex(row["cell"]),
        "mobile": row["mobile"],
    }
    if free_properties:
        properties.update(row["properties"] or {})
    return feature(point(row["lon"], row["lat"]), properties, row["id"])
