"""`citytwin demo`: the demo city imported (as `city.yaml` in gis_data/ declares it), its sample
feeds loaded, simulated and served."""

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import yaml

from citytwin.cli.city import import_city, print_report, read_climatology
from citytwin.cli.common import (
    HostOption,
    PortOption,
    app,
    fail,
    out,
    store_connection,
)
from citytwin.cli.ingesting import ENCODINGS, ingest_files
from citytwin.cli.serving import run_api
from citytwin.cli.simulation import nowcast_layer, run_scenario_here
from citytwin.db.pool import Connection
from citytwin.errors import CityTwinError, MalformedInput
from citytwin.ingest.city.build import CityBase, CitySources
from citytwin.ingest.city.files import Source
from citytwin.ingest.window import STORE_START
from citytwin.settings import Settings

if TYPE_CHECKING:
    from citytwin.scenarios.run import RunResult
    from citytwin.scenarios.spec import Scenario


def demo_samples(feeds_dir: Path) -> dict[str, list[Path]]:
    """The demo city's sample files by feed: `samples/<feed>[_anything].<ext>`."""
    samples: dict[str, list[Path]] = {}
    for path in sorted((feeds_dir / "samples").iterdir()):
        feed = path.stem.split("_")[0]
        if path.suffix.lower() in ENCODINGS and (feeds_dir / f"{feed}.yaml").exists():
            samples.setdefault(feed, []).append(path)
    return samples


def demo_sources(gis_dir: Path) -> CitySources:
    """The demo city's sources as `city.yaml` in `gis_dir` declares them."""
    try:
        declared = yaml.safe_load((gis_dir / "city.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise MalformedInput(f"{gis_dir / 'city.yaml'}: cannot be read: {exc}") from None
    layers = {
        layer: Source(gis_dir / declared[layer])
        for layer in ("boundary", "districts", "roads", "buildings")
        if layer in declared
    }
    climatology = declared.get("climatology")
    return CitySources(
        name=declared["name"],
        attribution=declared.get("attribution", ""),
        climatology=read_climatology(gis_dir / climatology if climatology else None),
        **layers,
    )


async def _demo_city(
    settings: Settings, jobs: list[tuple[str, Path]]
) -> tuple[int, CityBase, str | None, "RunResult | dict | None"]:
    """Load the demo city on one connection: (failed files, its base, nowcast layer id), then
    model its baseline over the span of its traffic readings."""
    async with store_connection(settings) as conn:
        base = await import_city(conn, demo_sources(settings.ingest.gis_dir))
        # The samples are a fixed week: loading them is a back-load, whatever the date.
        failures = await ingest_files(
            conn, settings, jobs, None, settings.database.state_dir / "rejects", since=STORE_START
        )
        nowcast = await nowcast_layer(conn, settings)
        scenario = await _demo_baseline(conn, settings)
    modelled = None
    if scenario is not None:
        modelled = await run_scenario_here(settings, scenario, lambda stage, fraction: None)
    return failures, base, nowcast, modelled


async def _demo_baseline(conn: Connection, settings: Settings) -> "Scenario | None":
    """The baseline scenario over the whole days of the stored traffic readings."""
    from citytwin.db.queries.layers import reading_span
    from citytwin.scenarios.spec import Baseline, Scenario

    span = await reading_span(conn, "vehicle_count")
    if span is None:
        return None
    start = span[0].replace(hour=0, minute=0, second=0, microsecond=0)
    end = span[1].replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    baseline = Baseline(start=start, end=end)  # the city's (or the setting's) cell size
    return Scenario(name="Baseline", description="The demo city as it is.", baseline=baseline)


def with_demo_key(settings: Settings) -> tuple[Settings, str | None]:
    """The settings with a write key: the configured ones if any (None returned, nothing to
    print), else the demo's own, made once and kept in `<state dir>/demo-key`."""
    if settings.api.api_keys or settings.api.feed_api_keys:
        return settings, None
    import secrets

    path = settings.database.state_dir / "demo-key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(18) + "\n")
        path.chmod(0o600)
    key = path.read_text().strip()
    return settings.updated(api_keys=[key]), key


@app.command("demo")
def demo(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    serve_api: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the API afterwards.")
    ] = True,
) -> None:
    """The demo city: database up, sample feeds ingested (re-runs add nothing), API served."""
    settings = Settings()
    jobs = [
        (feed, path)
        for feed, files in demo_samples(settings.ingest.feeds_dir).items()
        for path in files
    ]
    try:
        failures, base, nowcast, modelled = asyncio.run(_demo_city(settings, jobs))
    except CityTwinError as exc:
        fail(exc)
    print_report(base)
    out.print(f"observed no2 nowcast layer: http://{host}:{port}/layers/{nowcast}")
    if isinstance(modelled, dict):
        fail(RuntimeError(f"baseline run {modelled['status']}: {modelled['error']}"))
    if modelled is not None:
        out.print(
            f"modelled baseline (traffic air quality, building energy): "
            f"http://{host}:{port}/layers/{modelled.layer}"
        )
    if failures:
        raise typer.Exit(1)
    if serve_api:
        settings, key = with_demo_key(settings)
        if key is not None:
            out.print(
                f"writes: X-API-Key: {key} (the demo's key, kept in "
                f"{settings.database.state_dir / 'demo-key'}; CITYTWIN_API_KEYS sets your own)"
            )
        run_api(settings, host, port)
