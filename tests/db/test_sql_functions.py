import h3.api.basic_int as h3
import numpy as np
import pytest

from citytwin.db.migrate import migrate, migration_files
from citytwin.errors import CityTwinError


async def test_h3_parent_in_sql_matches_h3_on_20000_cells(conn):
    rng = np.random.default_rng(3)
    lats, lons = rng.uniform(-89, 89, 19_000), rng.uniform(-180, 180, 19_000)
    cells = [h3.latlng_to_cell(lat, lon, 10) for lat, lon in zip(lats, lons, strict=True)]
    # Pentagons and their descendants have a deleted digit: include all of them.
    cells += [h3.cell_to_center_child(p, 10) for p in h3.get_pentagons(0)]
    cells += [child for p in h3.get_pentagons(7) for child in h3.cell_to_children(p, 10)][:988]
    resolutions = rng.integers(0, 11, len(cells)).tolist()
    rows = await conn.fetch(
        "SELECT h3_parent(c, r) AS parent FROM unnest($1::int8[], $2::int[]) AS t (c, r)",
        cells,
        resolutions,
    )
    expected = [h3.cell_to_parent(c, r) for c, r in zip(cells, resolutions, strict=True)]
    assert len(cells) == 20_000
    assert [row["parent"] for row in rows] == expected


async def test_partitions_are_monthly_and_created_on_demand(conn):
    await conn.execute(
        "SELECT ensure_readings_partitions('2030-01-31T23:00Z', '2030-03-01T00:00Z')"
    )
    names = await conn.fetch(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'readings'::regclass "
        "AND c.relname LIKE 'readings_2030%' ORDER BY 1"
    )
    assert [row["relname"] for row in names] == [
        "readings_2030_01",
        "readings_2030_02",
        "readings_2030_03",
    ]
    assert names[0]["bound"] == (
        "FOR VALUES FROM ('2030-01-01 00:00:00+00') TO ('2030-02-01 00:00:00+00')"
    )


async def test_migrations_apply_once(conn, settings):
    assert await migrate(conn, settings) == []
    versions = await conn.fetch("SELECT version FROM schema_migrations ORDER BY 1")
    assert [row["version"] for row in versions] == [v for v, _, _ in migration_files()]


async def test_a_store_refuses_another_base_resolution(conn, settings):
    other = settings.updated(h3_resolution=9)
    with pytest.raises(CityTwinError, match="created with h3_resolution=10"):
        await migrate(conn, other)
