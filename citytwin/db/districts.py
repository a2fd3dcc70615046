"""Districts from a GeoJSON file into PostGIS: upserted by id, so a reload changes nothing."""

from pathlib import Path

import asyncpg
import geopandas as gpd
import pyogrio
import shapely

from citytwin.errors import MalformedInput

UPSERT = """
INSERT INTO districts (id, name, geom)
SELECT d.id, d.name, ST_Multi(ST_GeomFromWKB(d.wkb, 4326))
FROM unnest($1::text[], $2::text[], $3::bytea[]) AS d (id, name, wkb)
ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, geom = EXCLUDED.geom
"""


def read_districts(path: Path) -> gpd.GeoDataFrame:
    """The districts of a file: unique `id`, `name` and a (Multi)Polygon in EPSG:4326."""
    try:
        frame = gpd.read_file(path)
    except (OSError, pyogrio.errors.DataSourceError) as exc:
        raise MalformedInput(f"{path}: cannot be read: {exc}") from None
    missing = [column for column in ("id", "name") if column not in frame]
    if missing:
        raise MalformedInput(f"{path}: missing properties: {', '.join(missing)}")
    if frame[["id", "name"]].isna().any(axis=None) or frame["id"].duplicated().any():
        raise MalformedInput(f"{path}: every district needs a unique id and a name")
    kinds = set(frame.geom_type.fillna("no geometry")) - {"Polygon", "MultiPolygon"}
    if kinds:
        raise MalformedInput(f"{path}: districts must be polygons, not {', '.join(sorted(kinds))}")
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    return frame


async def load_districts(conn: asyncpg.Connection, path: Path) -> int:
    """Upsert the districts of a GeoJSON file; return how many the file holds."""
    frame = read_districts(path)
    async with conn.transaction():
        await conn.execute(
            UPSERT,
            frame["id"].astype(str).tolist(),
            frame["name"].astype(str).tolist(),
            shapely.to_wkb(frame.geometry.to_numpy()).tolist(),
        )
    return len(frame)
