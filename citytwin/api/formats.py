"""Answer encodings, named once in `OutputFormat`: GeoJSON/JSON (orjson), CSV, GeoParquet,
FlatGeobuf, NetCDF, CoverageJSON and tiles, chosen by `format` or Accept. Pages of features are
written by the `FeatureEncoding` registered under the format's name: one more encoding of every
feature endpoint is one `register_feature_encoding` call."""

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import geopandas as gpd
import orjson
import pandas as pd
import pyogrio
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
    FLATGEOBUF = "fgb"
    NDJSON = "ndjson"
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
    OutputFormat.FLATGEOBUF: "application/flatgeobuf",
    OutputFormat.NDJSON: "application/x-ndjson",
    OutputFormat.NETCDF: "application/x-netcdf",
    OutputFormat.COVERAGEJSON: COVERAGEJSON_MEDIA_TYPE,
    OutputFormat.MVT: "application/vnd.mapbox-vector-tile",
    OutputFormat.PNG: "image/png",
    OutputFormat.HTML: "text/html",
}
MEDIA_TYPES = {fmt.value: fmt.media_type for fmt in OutputFormat}
# Accept types naming a format, beside each format's own media type.
ACCEPT_ALIASES = {"application/x-parquet": OutputFormat.PARQUET.media_type}
TABLE_FORMATS = (OutputFormat.JSON, OutputFormat.CSV)
GRID_FORMATS = (OutputFormat.NETCDF, OutputFormat.COVERAGEJSON)


@dataclass(frozen=True)
class FeatureEncoding:
    """One way to write a page of GeoJSON features: `write(features, members)` gives the body;
    `members` are the collection's own (numberMatched, links, ...), kept where the encoding can."""

    name: str
    media_type: str
    write: Callable[[list[dict], dict], bytes]


FEATURE_ENCODINGS: dict[str, FeatureEncoding] = {}


def register_feature_encoding(encoding: FeatureEncoding) -> FeatureEncoding:
    """Offer `encoding` on every endpoint answering features (`format=<name>` or its Accept)."""
    FEATURE_ENCODINGS[encoding.name] = encoding
    return encoding


def feature_formats() -> tuple[str, ...]:
    """The names of the registered feature encodings, GeoJSON (the default) first."""
    return tuple(FEATURE_ENCODINGS)


def media_type_of(name: str) -> str:
    encoding = FEATURE_ENCODINGS.get(name)
    return encoding.media_type if encoding else OutputFormat(name).media_type


def choose_format(requested: str | None, accept: str | None, allowed: Sequence[str]) -> str:
    """The encoding: the `format` parameter wins, then the first allowed Accept type."""
    if requested:
        if requested not in allowed:
            raise InvalidParameter("format", f"{requested!r} is not one of {', '.join(allowed)}")
        return requested
    by_media_type = {media_type_of(name).split(";")[0]: name for name in reversed(allowed)}
    for media in (accept or "").split(","):
        wanted = media.split(";")[0].strip()
        name = by_media_type.get(ACCEPT_ALIASES.get(wanted, wanted))
        if name is not None:
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
    return Response(_csv_text(frame), media_type=MEDIA_TYPES["csv"], headers=headers)


def _csv_text(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%SZ")


def _geo_frame(features: list[dict]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        [feature["properties"] for feature in features],
        geometry=[shape(feature["geometry"]) for feature in features],
        crs="EPSG:4326",
    )


def _write_geojson(features: list[dict], members: dict) -> bytes:
    document = {"type": "FeatureCollection", **members, "features": features}
    return orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


def _write_csv(features: list[dict], members: dict) -> bytes:
    """Properties, and lon/lat of points."""
    rows = []
    for item in features:
        row = dict(item["properties"])
        if item["geometry"]["type"] == "Point":
            row["lon"], row["lat"] = item["geometry"]["coordinates"]
        rows.append(row)
    return _csv_text(pd.DataFrame(rows)).encode()


def feature_line(feature: dict) -> bytes:
    """One GeoJSON feature and a newline: a line of newline-delimited GeoJSON (GDAL's
    GeoJSONSeq, `jq`, and every streaming reader take it)."""
    return orjson.dumps(feature, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n"


def _write_ndjson(features: list[dict], members: dict) -> bytes:
    """The features one per line; the collection's own members have no place in it."""
    return b"".join(map(feature_line, features))


def _write_parquet(features: list[dict], members: dict) -> bytes:
    """GeoParquet 1.x (metadata written by geopandas)."""
    sink = io.BytesIO()
    _geo_frame(features).to_parquet(sink, index=False)
    return sink.getvalue()


def _write_flatgeobuf(features: list[dict], members: dict) -> bytes:
    """FlatGeobuf with its spatial index (GDAL, QGIS and browsers read it streaming)."""
    sink = io.BytesIO()
    pyogrio.write_dataframe(_geo_frame(features), sink, driver="FlatGeobuf", layer="features")
    return sink.getvalue()


for _name, _writer in (
    (OutputFormat.GEOJSON, _write_geojson),
    (OutputFormat.CSV, _write_csv),
    (OutputFormat.PARQUET, _write_parquet),
    (OutputFormat.FLATGEOBUF, _write_flatgeobuf),
    (OutputFormat.NDJSON, _write_ndjson),
):
    register_feature_encoding(FeatureEncoding(_name, _name.media_type, _writer))


def parquet_response(features: list[dict], headers: dict[str, str] | None = None) -> Response:
    """GeoParquet of GeoJSON features."""
    body = _write_parquet(features, {})
    return Response(body, media_type=MEDIA_TYPES["parquet"], headers=headers)


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
    """A page of features in the registered encoding `fmt`; `links` also as a Link header."""
    encoding = FEATURE_ENCODINGS[fmt]
    headers = None
    if links:
        members["links"] = links
        headers = {"Link": ", ".join(f'<{link["href"]}>; rel="{link["rel"]}"' for link in links)}
    return Response(
        encoding.write(features, members), media_type=encoding.media_type, headers=headers
    )


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
