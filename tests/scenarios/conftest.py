"""The demo city's sample feeds in the test store, and scenario texts over their first day."""

import pytest

from citytwin.feeds import FeedRegistry
from citytwin.ingest.pipeline import ingest
from citytwin.settings import Settings
from tests.conftest import ROOT

SAMPLES = ROOT / "sensors" / "samples"
FILES = (("traffic", "traffic.csv", "csv", None), ("air", "air.ndjson", "ndjson", None))
FILES += (("energy", "energy_meters.csv", "csv", "meters"),)
CENTRE = "POLYGON((9.5150 47.1330, 9.5300 47.1330, 9.5300 47.1450, 9.5150 47.1450, 9.5150 47.1330))"
DAY = "baseline: {start: 2026-11-03T00:00:00Z, end: 2026-11-04T00:00:00Z}"


def scenario_text(*interventions: str, name: str = "Test", baseline: str = DAY) -> str:
    """A scenario over the demo's Tuesday with the given YAML intervention items."""
    items = "".join(f"\n  - {item}" for item in interventions)
    return f"name: {name}\n{baseline}\ninterventions:{items or ' []'}\n"


@pytest.fixture(scope="module")
async def demo_city(pool, feeds: FeedRegistry, settings: Settings) -> None:
    """The sample traffic, air and energy feeds loaded into an emptied store."""
    async with pool.acquire() as conn:
        await conn.execute(
            "TRUNCATE sensors, readings, cell_rollups, cells, scenario_runs RESTART IDENTITY"
        )
        for feed, name, encoding, source_format in FILES:
            report = await ingest(
                conn,
                feeds[feed],
                (SAMPLES / name).read_bytes(),
                encoding=encoding,
                source_format=source_format,
                resolution=settings.h3_resolution,
                bucket_seconds=settings.rollup_bucket_seconds,
            )
            assert (report.loaded, report.rejected) == (report.read, [])
