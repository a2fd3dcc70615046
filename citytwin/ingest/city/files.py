"""GIS files through GDAL (pyogrio): GeoPackage, Shapefile, GeoJSON, FlatGeobuf, GeoParquet.

A source is `path` or `path#layer` (a GeoPackage may hold several layers); every error names
the file and layer.
"""

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError
from shapely.geometry.base import BaseGeometry

from citytwin.errors import MalformedInput


@dataclass(frozen=True)
class Source:
    """One layer of one file (`layer` None: the file's first)."""

    path: Path
    layer: str | None = None

    @classmethod
    def parse(cls, text: str) -> "Source":
        """`path` or `path#layer`."""
        path, _, layer = text.partition("#")
        return cls(Path(path), layer or None)

    def __str__(self) -> str:
        return f"{self.path}" + (f" (layer {self.layer})" if self.layer else "")


def read_layer(source: Source) -> gpd.GeoDataFrame:
    """The layer in EPSG:4326; MalformedInput naming file and layer if it cannot be read or
    has no CRS (GeoJSON is EPSG:4326 by definition)."""
    if not source.path.exists():
        raise MalformedInput(f"{source}: no such file")
    try:
        if source.path.suffix.lower() == ".parquet":
            frame = gpd.read_parquet(source.path)
        else:
            frame = pyogrio.read_dataframe(source.path, layer=source.layer)
    except (DataSourceError, DataLayerError, OSError, ValueError) as exc:
        raise MalformedInput(f"{source}: cannot be read: {exc}") from None
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame:
        raise MalformedInput(f"{source}: has no geometry column")
    if frame.crs is None:
        raise MalformedInput(
            f"{source}: has no CRS; give the file one (e.g. a .prj beside a Shapefile)"
        )
    return frame.to_crs(4326)


def read_boundary(source: Source) -> BaseGeometry:
    """The union of the polygons of a boundary layer; MalformedInput if it holds none."""
    frame = read_layer(source)
    polygons = frame.geometry[frame.geom_type.isin(["Polygon", "MultiPolygon"])]
    if polygons.empty:
        kinds = ", ".join(sorted(set(frame.geom_type.dropna()))) or "nothing"
        raise MalformedInput(f"{source}: the boundary must be a polygon, not {kinds}")
    boundary = shapely.union_all(shapely.make_valid(polygons.to_numpy()))
    if boundary.geom_type == "GeometryCollection":
        parts = [p for p in shapely.get_parts(boundary) if p.geom_type == "Polygon"]
        boundary = shapely.MultiPolygon(parts)
    return boundary
