"""Operations as docs/operations.md and docs/deployment.md describe them, on real PostGIS:
pg_dump/pg_restore of the store, retention by monthly partitions, copies of the layer store,
and why a read replica needs a read-only instance."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import fsspec
import httpx
import numpy as np
import pytest

from citytwin.api.app import create_app
from citytwin.db.connect import create_database_if_missing
from citytwin.db.migrate import check_schema, migrate
from citytwin.layers.store import LayerStore
from citytwin.services.ingest import ingest
from citytwin.sim.nowcast import IdwParameters
from tests.asgi import asgi_client
from tests.databases import drop_database
from tests.factories import API_KEY, air_rows, post_readings, to_csv
from tests.layers.sample import sample_layer

# Hourly no2 and pm25 at three stations: 24 h of October and 24 h of November, 144 each.
TWO_MONTHS = {"hours": 48, "start": "2026-10-31T00:00:00Z"}
OCTOBER_31 = {"start": "2026-10-31T00:00:00Z", "end": "2026-11-01T00:00:00Z"}
CELLS = {"variable": "no2", "resolution": 8, "bucket": "1d"}

# What a restore must bring back: rows, partitions, sequences (tile ETags and sensor ids go on
# from them) and the aggregates `/cells` answers from.
FACTS = {
    "readings": "SELECT count(*) FROM readings",
    "sensors": "SELECT count(*) FROM sensors",
    "cell_rollups": "SELECT count(*) FROM cell_rollups",
    "cells": "SELECT count(*) FROM cells",
    "tile_versions": "SELECT count(*) FROM tile_versions",
    "no2 count": "SELECT sum(r.count) FROM cell_rollups r "
    "JOIN variables v ON v.id = r.variable_id WHERE v.name = 'no2'",
    "no2 sum": "SELECT sum(r.sum) FROM cell_rollups r "
    "JOIN variables v ON v.id = r.variable_id WHERE v.name = 'no2'",
    "readings sum": "SELECT sum(value) FROM readings",
    "partitions": "SELECT array_agg(p ORDER BY p) FROM (SELECT inhrelid::regclass::text AS p "
    "FROM pg_inherits WHERE inhparent = 'readings'::regclass) t",
    "migrations": "SELECT array_agg(version ORDER BY version) FROM schema_migrations",
    "tile_version_seq": "SELECT last_value FROM tile_version_seq",
    "sensor id seq": "SELECT last_value FROM sensors_id_seq",
}


def pg_tool(name: str) -> str:
    """The newest installed PostgreSQL client tool (pg_dump must be at least the server's
    version)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parent.parent.name)
    )
    assert found, f"{name} is not installed under /usr/lib/postgresql/*/bin"
    return str(found[-1])


async def run_tool(name: str, *args: str) -> None:
    """Run a PostgreSQL client tool; fail with its stderr."""
    process = await asyncio.create_subprocess_exec(
        pg_tool(name), *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await process.communicate()
    assert process.returncode == 0, f"{name} {' '.join(args)}: {stderr.decode()}"


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def facts(conn: asyncpg.Connection) -> dict[str, object]:
    return {name: await conn.fetchval(sql) for name, sql in FACTS.items()}


async def month_counts(conn: asyncpg.Connection, table: str) -> dict[str, int]:
    """Rows per UTC month of `readings` (by time) or `cell_rollups` (by day, summed counts)."""
    column, amount = ("time", "count(*)") if table == "readings" else ("day", "sum(count)")
    rows = await conn.fetch(
        f"SELECT to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM') AS month, {amount} AS n "
        f"FROM {table} GROUP BY 1 ORDER BY 1"
    )
    return {row["month"]: row["n"] for row in rows}


@dataclass
class Restored:
    """The test store loaded and dumped, its facts then, and an API over the restored copy."""

    before: dict[str, object]
    cells_before: dict
    conn: asyncpg.Connection
    client: httpx.AsyncClient


@pytest.fixture
async def restored(client, conn, settings, tmp_path) -> AsyncIterator[Restored]:
    """Load two months, `pg_dump -Fc` the test database, `pg_restore` it into a new one."""
    await post_readings(client, air_rows(**TWO_MONTHS))
    before = await facts(conn)
    cells_before = (await client.get("/cells", params=CELLS)).json()

    dump = tmp_path / "citytwin.dump"
    await run_tool("pg_dump", "-Fc", "-d", settings.database.database_url, "-f", str(dump))
    admin = with_database(settings.database.database_url, "postgres")
    name = urlsplit(settings.database.database_url).path.lstrip("/") + "_restored"
    await drop_database(admin, name)
    await create_database_if_missing(admin, name)
    url = with_database(settings.database.database_url, name)
    try:
        await run_tool("pg_restore", "--no-owner", "--exit-on-error", "-d", url, str(dump))
        app = create_app(settings.updated(database_url=url, pool_max_size=2))
        async with asgi_client(app, "http://restored") as api:
            restored_conn = await asyncpg.connect(url)
            try:
                yield Restored(before, cells_before, restored_conn, api)
            finally:
                await restored_conn.close()
    finally:
        await drop_database(admin, name)


async def test_pg_restore_brings_back_rows_partitions_sequences_and_aggregates(restored):
    assert restored.before["readings"] == 288
    assert restored.before["no2 count"] == 144
    assert {"readings_2026_10", "readings_2026_11"} <= set(restored.before["partitions"])
    assert await facts(restored.conn) == restored.before
    assert await month_counts(restored.conn, "readings") == {"2026-10": 144, "2026-11": 144}
    cells = (await restored.client.get("/cells", params=CELLS)).json()
    assert cells == restored.cells_before
    assert sum(f["properties"]["count"] for f in cells["features"]) == 144


async def test_the_restored_store_knows_its_readings_and_takes_new_ones(restored):
    replay = await post_readings(restored.client, to_csv(air_rows(**TWO_MONTHS)))
    assert (replay["loaded"], replay["duplicates"]) == (0, 288)

    december = air_rows(hours=24, start="2026-12-01T00:00:00Z")
    december = december[december["sensor_id"] == "S1"].assign(sensor_id="S4")
    report = await post_readings(restored.client, december)
    assert report["loaded"] == 48
    new_id = await restored.conn.fetchval("SELECT id FROM sensors WHERE external_id = 'S4'")
    assert new_id > restored.before["sensor id seq"] == 3  # ids go on from the restored sequence
    assert await restored.conn.fetchval("SELECT to_regclass('readings_2026_12')::text") == (
        "readings_2026_12"
    )
    version = await restored.conn.fetchval("SELECT max(version) FROM tile_versions")
    assert version > restored.before["tile_version_seq"]


async def test_dropping_a_month_removes_its_readings_and_keeps_its_rollups(client, conn):
    await post_readings(client, air_rows(**TWO_MONTHS))
    rollups = "SELECT * FROM cell_rollups ORDER BY variable_id, day, cell"
    rollups_before = await conn.fetch(rollups)
    cells_before = (await client.get("/cells", params={**CELLS, **OCTOBER_31})).json()

    await conn.execute("DROP TABLE readings_2026_10")

    assert await month_counts(conn, "readings") == {"2026-11": 144}
    assert await conn.fetch(rollups) == rollups_before
    assert await month_counts(conn, "cell_rollups") == {"2026-10": 144, "2026-11": 144}
    cells = (await client.get("/cells", params={**CELLS, **OCTOBER_31})).json()
    assert cells == cells_before
    assert sum(f["properties"]["count"] for f in cells["features"]) == 72
    readings = (await client.get("/readings", params={"variable": "no2", **OCTOBER_31})).json()
    assert readings["features"] == []


async def test_a_dropped_month_sent_again_is_refused_and_never_counted_twice(client, conn):
    data = to_csv(air_rows(**TWO_MONTHS))
    await post_readings(client, data)
    await conn.execute("DROP TABLE readings_2026_10")

    again = await post_readings(client, data)

    # October's readings are gone but its rollups are kept: storing them again would count
    # them twice, so each is refused by line; November's are duplicates as before.
    assert (again["loaded"], again["duplicates"], again["rejected_total"]) == (0, 144, 144)
    first = again["rejected"][0]
    assert (first["line"], first["field"]) == (2, "time")
    assert "2026-10 were dropped by retention while their cell rollups are kept" in first["error"]
    assert await month_counts(conn, "readings") == {"2026-11": 144}
    assert await month_counts(conn, "cell_rollups") == {"2026-10": 144, "2026-11": 144}


async def test_a_detached_month_archived_with_pg_dump_can_be_attached_again(
    client, conn, settings, tmp_path
):
    await post_readings(client, air_rows(**TWO_MONTHS))
    total = await conn.fetchval("SELECT sum(value) FROM readings")
    archive = tmp_path / "readings_2026_10.dump"
    url = settings.database.database_url
    await conn.execute("ALTER TABLE readings DETACH PARTITION readings_2026_10")
    try:
        # While the detached table keeps the name, a load with rows of its month fails whole,
        # with a 409 saying why.
        late = air_rows(hours=2, start="2026-10-31T22:00:00Z")
        refused = await client.post(
            "/feeds/air/readings",
            content=to_csv(late),
            headers={"X-API-Key": API_KEY, "Content-Type": "text/csv"},
        )
        assert refused.status_code == 409
        assert "detached from the store (archived)" in refused.json()["detail"]
        assert await month_counts(conn, "readings") == {"2026-11": 144}
        await run_tool("pg_dump", "-Fc", "-t", "readings_2026_10", "-d", url, "-f", str(archive))
        await conn.execute("DROP TABLE readings_2026_10")
        assert await month_counts(conn, "readings") == {"2026-11": 144}

        await run_tool("pg_restore", "--no-owner", "--exit-on-error", "-d", url, str(archive))
        await conn.execute(
            "ALTER TABLE readings ATTACH PARTITION readings_2026_10 "
            "FOR VALUES FROM ('2026-10-01 00:00+00') TO ('2026-11-01 00:00+00')"
        )
        assert await month_counts(conn, "readings") == {"2026-10": 144, "2026-11": 144}
        assert await conn.fetchval("SELECT sum(value) FROM readings") == total
        assert await month_counts(conn, "cell_rollups") == {"2026-10": 144, "2026-11": 144}
    finally:
        # A detached table left behind would stop later loads of October in this database.
        await conn.execute(
            "DO $$ BEGIN IF to_regclass('readings_2026_10') IS NOT NULL AND NOT EXISTS ("
            "SELECT 1 FROM pg_inherits WHERE inhrelid = 'readings_2026_10'::regclass) "
            "THEN DROP TABLE readings_2026_10; END IF; END $$"
        )


async def test_a_dump_in_progress_holds_up_a_new_month_but_not_a_created_one(conn, feeds, settings):
    async def load(start: str) -> int:
        rows = to_csv(air_rows(hours=2, start=start))
        report = await ingest(
            conn,
            feeds["air"],
            rows,
            resolution=settings.ingest.h3_resolution,
            bucket_seconds=settings.database.rollup_bucket_seconds,
        )
        return report.loaded

    await conn.execute("SELECT ensure_readings_partitions('2027-05-01', '2027-05-31')")
    dump = await asyncpg.connect(settings.database.database_url)  # holds the lock pg_dump holds
    try:
        async with dump.transaction(isolation="repeatable_read"):
            await dump.execute("LOCK TABLE readings IN ACCESS SHARE MODE")
            await conn.execute("SET lock_timeout = '300ms'")
            assert await load("2027-05-10T00:00:00Z") == 12
            with pytest.raises(asyncpg.LockNotAvailableError):
                await load("2027-06-10T00:00:00Z")  # CREATE TABLE … PARTITION OF waits
    finally:
        await conn.execute("RESET lock_timeout")
        await dump.close()
    assert await month_counts(conn, "readings") == {"2027-05": 12}


def copy_layers(source: str, target: str) -> list[str]:
    """An incremental copy of a layer store: the files not in `target` yet, `_incoming` left out
    (a layer's files never change once it is stored, so a present file is a copied file)."""
    src, src_root = fsspec.core.url_to_fs(source)
    dst, dst_root = fsspec.core.url_to_fs(target)
    copied = []
    for path in src.find(src_root):
        relative = path.removeprefix(src_root.rstrip("/") + "/")
        destination = f"{dst_root}/{relative}"
        if relative.startswith("_incoming/") or dst.exists(destination):
            continue
        dst.makedirs(destination.rsplit("/", 1)[0], exist_ok=True)
        dst.pipe_file(destination, src.cat_file(path))
        copied.append(relative)
    return copied


def test_an_incremental_copy_of_the_layer_store_opens_as_a_store(tmp_path):
    source = f"memory://layers-{uuid.uuid4().hex}"
    store = LayerStore(source)
    first = store.write(*sample_layer())
    store.fs.pipe_file(f"{store.root}/_incoming/{first}-partial.zarr/.zgroup", b"{}")

    copied = copy_layers(source, str(tmp_path))
    assert copied and all(path.startswith(f"{first}.zarr/") for path in copied)
    second = store.write(*sample_layer(IdwParameters(power=1)))  # another run, another layer
    again = copy_layers(source, str(tmp_path))
    assert again and all(path.startswith(f"{second}.zarr/") for path in again)

    backup = LayerStore(tmp_path)
    assert backup.list() == sorted([first, second])
    assert not (tmp_path / "_incoming").exists()
    for layer_id in (first, second):
        assert np.array_equal(
            backup.open(layer_id)["no2"].values, store.open(layer_id)["no2"].values, equal_nan=True
        )
        assert backup.provenance(layer_id) == store.provenance(layer_id)


async def test_a_replica_session_is_checked_not_migrated(settings, pool):
    # A hot standby refuses every write, as a read-only session does here: `migrate` cannot run
    # there, and `CITYTWIN_READ_ONLY` instances check the schema instead.
    conn = await asyncpg.connect(
        settings.database.database_url, server_settings={"default_transaction_read_only": "on"}
    )
    try:
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError, match="CREATE TABLE"):
            await migrate(conn, settings)
        await check_schema(conn, settings)
    finally:
        await conn.close()
