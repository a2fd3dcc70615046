"""Base layers checked and clipped to the boundary, with a count of what was dropped and why.

Roads and districts are cut at the boundary; buildings are kept whole when their
representative point lies inside it (a building cut in two is no building).
"""

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

MIN_DISTRICT_SHARE = 0.01  # a district with less of its area inside is a neighbour's sliver
LINES = ("LineString", "MultiLineString")
POLYGONS = ("Polygon", "MultiPolygon")
TRUE = {"yes", "true", "1", "-1"}  # OSM oneway=-1 is one way, against the drawing direction
FALSE = {"no", "false", "0"}


@dataclass
class LayerReport:
    """What one layer's import read, kept and dropped (reason -> count)."""

    layer: str
    source: str
    read: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)

    def drop(self, reason: str, mask: np.ndarray) -> np.ndarray:
        """Count the rows of `mask` as dropped for `reason`; return the rows to keep."""
        count = int(np.count_nonzero(mask))
        if count:
            self.dropped[reason] = self.dropped.get(reason, 0) + count
        return ~mask

    def as_dict(self) -> dict:
        """Plain JSON values."""
        return {
            "layer": self.layer,
            "source": self.source,
            "read": self.read,
            "kept": self.kept,
            "dropped": dict(self.dropped),
        }


def number(values: pd.Series) -> pd.Series:
    """The leading number of each value ("50", "12.5 m", "3;4" -> 50, 12.5, 3); NaN if none."""
    text = values.astype("string").str.extract(r"^\s*(\d+(?:\.\d+)?)", expand=False)
    return pd.to_numeric(text, errors="coerce").astype(float)


def year(values: pd.Series) -> pd.Series:
    """The first four-digit year of each value ("1975", "1975-05-01", "~1975"); NaN if none."""
    text = values.astype("string").str.extract(r"(\d{4})", expand=False)
    return pd.to_numeric(text, errors="coerce").astype(float)


def flag(values: pd.Series) -> pd.Series:
    """yes/true/1/-1 -> True, no/false/0 -> False, anything else missing."""
    text = values.astype("string").str.strip().str.lower()
    return pd.Series(
        np.where(text.isin(TRUE), True, np.where(text.isin(FALSE), False, None)),
        index=values.index,
        dtype=object,
    )


def _text(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip()
    return text.where(text.notna() & (text != ""), None).astype(object)


def _ids(values: pd.Series, prefix: str) -> pd.Series:
    """Ids as text; rows without one are numbered (`<prefix><row>`)."""
    text = _text(values)
    numbered = pd.Series([f"{prefix}{i + 1}" for i in range(len(values))], index=values.index)
    return text.where(text.notna(), numbered)


def _shapes(frame: gpd.GeoDataFrame, kinds: tuple[str, ...], report: LayerReport) -> np.ndarray:
    """Rows to keep: a geometry of `kinds`, valid and not degenerate (zero length or area)."""
    geometry = frame.geometry.to_numpy()
    keep = report.drop("no geometry", shapely.is_missing(geometry) | shapely.is_empty(geometry))
    kind = np.array([g.geom_type if g is not None else "" for g in geometry])
    keep &= report.drop(f"not a {' or '.join(kinds)}", keep & ~np.isin(kind, kinds))
    valid = shapely.is_valid(geometry)
    keep &= report.drop("invalid geometry", keep & ~valid)
    size = shapely.area(geometry) if kinds == POLYGONS else shapely.length(geometry)
    keep &= report.drop("degenerate geometry", keep & ~(size > 0))
    return keep


def _parts_of(geometry: np.ndarray, kinds: tuple[str, ...]) -> np.ndarray:
    """Each clipped geometry reduced to its parts of `kinds` (a cut may leave points too)."""
    out = []
    for item in geometry:
        if item.geom_type == "GeometryCollection":
            parts = [p for p in shapely.get_parts(item) if p.geom_type in kinds]
            item = shapely.union_all(parts) if parts else shapely.Point()
        out.append(item)
    return np.array(out, dtype=object)


def _clipped(frame: gpd.GeoDataFrame, boundary: BaseGeometry, kinds: tuple[str, ...]) -> np.ndarray:
    """Geometries cut at the boundary; those wholly inside are kept as they were drawn."""
    geometry = frame.geometry.to_numpy()
    shapely.prepare(boundary)
    within = shapely.within(geometry, boundary)
    out = geometry.copy()
    out[~within] = _parts_of(shapely.intersection(geometry[~within], boundary), kinds)
    return out


def _unique(frame: pd.DataFrame, report: LayerReport) -> np.ndarray:
    return report.drop("duplicate id", frame["id"].duplicated().to_numpy())


def clean_roads(
    frame: gpd.GeoDataFrame, boundary: BaseGeometry, report: LayerReport
) -> gpd.GeoDataFrame:
    """Roads (id, road_class, name, maxspeed km/h, lanes, oneway) cut at the boundary."""
    report.read = len(frame)
    frame = frame.assign(id=_ids(frame["id"], "r"), road_class=_text(frame["road_class"]))
    keep = _shapes(frame, LINES, report)
    keep &= report.drop("no road class", keep & frame["road_class"].isna().to_numpy())
    frame = frame[keep]
    frame = frame[_unique(frame, report)]
    clipped = _clipped(frame, boundary, LINES)
    inside = ~shapely.is_empty(clipped) & (shapely.length(clipped) > 0)
    frame = frame.set_geometry(clipped)[report.drop("outside the boundary", ~inside)]
    roads = gpd.GeoDataFrame(
        {
            "id": frame["id"],
            "road_class": frame["road_class"],
            "name": _text(frame["name"]),
            "maxspeed": number(frame["maxspeed"]),
            "lanes": number(frame["lanes"]).round(),
            "oneway": flag(frame["oneway"]),
        },
        geometry=frame.geometry,
        crs=4326,
    )
    report.kept = len(roads)
    return roads.sort_values("id").reset_index(drop=True)


def clean_buildings(
    frame: gpd.GeoDataFrame, boundary: BaseGeometry, report: LayerReport
) -> gpd.GeoDataFrame:
    """Buildings (id, use, name, levels, height m, year) whose representative point is inside
    the boundary, whole; `use` is `yes` (a building of no stated use) where missing."""
    report.read = len(frame)
    frame = frame.assign(id=_ids(frame["id"], "b"))
    frame = frame[_shapes(frame, POLYGONS, report)]
    frame = frame[_unique(frame, report)]
    shapely.prepare(boundary)
    points = shapely.point_on_surface(frame.geometry.to_numpy())
    frame = frame[report.drop("outside the boundary", ~shapely.contains(boundary, points))]
    buildings = gpd.GeoDataFrame(
        {
            "id": frame["id"],
            "use": _text(frame["use"]).fillna("yes"),
            "name": _text(frame["name"]),
            "levels": number(frame["levels"]),
            "height": number(frame["height"]),
            "year": year(frame["year"]),
        },
        geometry=frame.geometry,
        crs=4326,
    )
    report.kept = len(buildings)
    return buildings.sort_values("id").reset_index(drop=True)


def clean_districts(
    frame: gpd.GeoDataFrame, boundary: BaseGeometry, report: LayerReport
) -> gpd.GeoDataFrame:
    """Districts (id, name) cut at the boundary; those with less than MIN_DISTRICT_SHARE of
    their area inside are dropped as outside it."""
    report.read = len(frame)
    frame = frame.assign(id=_ids(frame["id"], "d"), name=_text(frame["name"]))
    keep = _shapes(frame, POLYGONS, report)
    keep &= report.drop("no name", keep & frame["name"].isna().to_numpy())
    frame = frame[keep]
    frame = frame[_unique(frame, report)]
    clipped = _clipped(frame, boundary, POLYGONS)
    share = shapely.area(clipped) / shapely.area(frame.geometry.to_numpy())
    frame = frame.set_geometry(clipped)[
        report.drop("outside the boundary", ~(share >= MIN_DISTRICT_SHARE))
    ]
    districts = gpd.GeoDataFrame(
        {"id": frame["id"], "name": frame["name"]}, geometry=frame.geometry, crs=4326
    )
    report.kept = len(districts)
    return districts.sort_values("id").reset_index(drop=True)
