"""The city record and its base layers (districts, roads, buildings) in PostGIS: replaced
together in one transaction, read back as the record and as GeoDataFrames for the models."""

import asyncpg
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from citytwin.core.city import City
from citytwin.errors import CityNotImported, Conflict
from citytwin.ingest.city.build import CityBase

UPSERT_CITY = """
INSERT INTO city (singleton, name, timezone, epsg, cell_size, step_seconds, attribution,
                  climatology, boundary, imported_at)
VALUES (true, $1, $2, $3, $4, $5, $6, $7, ST_Multi(ST_GeomFromWKB($8, 4326)), now())
ON CONFLICT (singleton) DO UPDATE SET
    name = EXCLUDED.name, timezone = EXCLUDED.timezone, epsg = EXCLUDED.epsg,
    cell_size = EXCLUDED.cell_size, step_seconds = EXCLUDED.step_seconds,
    attribution = EXCLUDED.attribution, climatology = EXCLUDED.climatology,
    boundary = EXCLUDED.boundary, imported_at = EXCLUDED.imported_at
"""
SELECT_CITY = """
SELECT name, timezone, epsg, cell_size, step_seconds, attribution, climatology,
       ST_AsBinary(boundary) AS boundary
FROM city"""

INSERT_DISTRICTS = """
INSERT INTO districts (id, name, geom)
SELECT d.id, d.name, ST_Multi(ST_GeomFromWKB(d.wkb, 4326))
FROM unnest($1::text[], $2::text[], $3::bytea[]) AS d (id, name, wkb)
"""
INSERT_ROADS = """
INSERT INTO roads (id, road_class, name, maxspeed, lanes, oneway, geom)
SELECT r.id, r.road_class, r.name, r.maxspeed, r.lanes, r.oneway,
       ST_Multi(ST_GeomFromWKB(r.wkb, 4326))
FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::int[], $6::bool[],
            $7::bytea[]) AS r (id, road_class, name, maxspeed, lanes, oneway, wkb)
"""
INSERT_BUILDINGS = """
INSERT INTO buildings (id, use, name, levels, height, year, geom)
SELECT b.id, b.use, b.name, b.levels, b.height, b.year, ST_Multi(ST_GeomFromWKB(b.wkb, 4326))
FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::float8[], $6::int[],
            $7::bytea[]) AS b (id, use, name, levels, height, year, wkb)
"""
ROAD_COLUMNS = ("id", "road_class", "name", "maxspeed", "lanes", "oneway")
BUILDING_COLUMNS = ("id", "use", "name", "levels", "height", "year")


def _values(frame: pd.DataFrame, column: str, kind: str) -> list:
    """A column as a list for asyncpg: None for missing values, Python scalars otherwise."""
    series = frame[column]
    if kind == "text":
        return [None if pd.isna(v) else str(v) for v in series]
    if kind == "int":
        return [None if pd.isna(v) else int(v) for v in series]
    if kind == "bool":
        return [None if pd.isna(v) else bool(v) for v in series]
    return [None if pd.isna(v) else float(v) for v in series]


def _wkb(frame: gpd.GeoDataFrame) -> list[bytes]:
    return shapely.to_wkb(frame.geometry.to_numpy()).tolist()


async def replace_base(conn: asyncpg.Connection, base: CityBase) -> None:
    """Replace the city record and its base layers in one transaction: either all of the new
    base is stored or, on any error, the previous one stays as it was."""
    city = base.city
    async with conn.transaction():
        await conn.execute("TRUNCATE roads, buildings, districts")
        await conn.execute(
            UPSERT_CITY,
            city.name,
            city.timezone,
            city.epsg,
            city.cell_size,
            city.step_seconds,
            city.attribution,
            city.climatology,
            shapely.to_wkb(city.boundary),
        )
        districts = base.districts
        await conn.execute(
            INSERT_DISTRICTS,
            _values(districts, "id", "text"),
            _values(districts, "name", "text"),
            _wkb(districts),
        )
        roads = base.roads
        kinds = ("text", "text", "text", "float", "int", "bool")
        await conn.execute(
            INSERT_ROADS,
            *(_values(roads, c, k) for c, k in zip(ROAD_COLUMNS, kinds, strict=True)),
            _wkb(roads),
        )
        buildings = base.buildings
        kinds = ("text", "text", "text", "float", "float", "int")
        await conn.execute(
            INSERT_BUILDINGS,
            *(_values(buildings, c, k) for c, k in zip(BUILDING_COLUMNS, kinds, strict=True)),
            _wkb(buildings),
        )


async def fetch_city(conn: asyncpg.Connection) -> City | None:
    """The stored city record as imported, or None before the first import."""
    row = await conn.fetchrow(SELECT_CITY)
    if row is None:
        return None
    return City(
        name=row["name"],
        timezone=row["timezone"],
        epsg=row["epsg"],
        cell_size=row["cell_size"],
        step_seconds=row["step_seconds"],
        boundary=shapely.from_wkb(row["boundary"]),
        attribution=row["attribution"],
        climatology=row["climatology"],
    )


async def city_zone(conn: asyncpg.Connection) -> str | None:
    """The imported city's time zone, or None before the first import: one narrow row, read
    afresh by every load (a `city import` elsewhere changes it), never the city's boundary."""
    return await conn.fetchval("SELECT timezone FROM city")


async def require_city(conn: asyncpg.Connection) -> City:
    """The stored city record; Conflict (nothing to model yet) before the first import."""
    city = await fetch_city(conn)
    if city is None:
        raise Conflict(CityNotImported().message)
    return city


async def _frame(
    conn: asyncpg.Connection, table: str, columns: tuple[str, ...]
) -> gpd.GeoDataFrame:
    # `table` and `columns` are the fixed names above, never a request's.
    rows = await conn.fetch(
        f"SELECT {', '.join(columns)}, ST_AsBinary(geom) AS wkb FROM {table} ORDER BY id"
    )
    data = {name: [row[name] for row in rows] for name in columns}
    geometry = shapely.from_wkb(np.array([row["wkb"] for row in rows], dtype=object))
    return gpd.GeoDataFrame(data, geometry=geometry, crs=4326)


async def fetch_roads(conn: asyncpg.Connection) -> gpd.GeoDataFrame:
    """The city's roads (ROAD_COLUMNS, geometry in EPSG:4326), ordered by id."""
    return await _frame(conn, "roads", ROAD_COLUMNS)


async def fetch_buildings(conn: asyncpg.Connection) -> gpd.GeoDataFrame:
    """The city's buildings (BUILDING_COLUMNS, geometry in EPSG:4326), ordered by id."""
    return await _frame(conn, "buildings", BUILDING_COLUMNS)


async def fetch_districts(conn: asyncpg.Connection) -> gpd.GeoDataFrame:
    """The city's districts (id, name, geometry in EPSG:4326), ordered by id."""
    return await _frame(conn, "districts", ("id", "name"))


async def city_epsg(conn: asyncpg.Connection) -> int | None:
    """The imported city's projected CRS (EPSG code), or None before the first import."""
    return await conn.fetchval("SELECT epsg FROM city")
