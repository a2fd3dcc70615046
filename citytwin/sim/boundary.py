"""The city boundary read from a GeoJSON file (EPSG:4326)."""

from pathlib import Path

import orjson
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from citytwin.errors import MalformedInput


def read_boundary(path: Path) -> BaseGeometry:
    """The union of the polygons of a GeoJSON FeatureCollection (or single geometry)."""
    document = orjson.loads(path.read_bytes())
    if document.get("type") == "FeatureCollection":
        geometries = [shape(item["geometry"]) for item in document["features"]]
    elif document.get("type") == "Feature":
        geometries = [shape(document["geometry"])]
    else:
        geometries = [shape(document)]
    polygons = [g for g in geometries if g.geom_type in ("Polygon", "MultiPolygon")]
    if not polygons:
        raise MalformedInput(f"{path}: no polygon in the boundary file")
    return shapely.union_all(polygons)
