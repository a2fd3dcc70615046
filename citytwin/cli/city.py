"""`citytwin city`: import a city's base data (OSM PBF or GIS files) and show its record."""

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import yaml
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from citytwin.cli.common import app, console, fail, out, store_connection
from citytwin.core.city import DEFAULT_CELL_SIZE, DEFAULT_STEP_SECONDS
from citytwin.db.pool import Connection
from citytwin.errors import CityTwinError, MalformedInput
from citytwin.ingest.city.build import CityBase, CitySources, build_city
from citytwin.ingest.city.files import Source
from citytwin.settings import Settings

if TYPE_CHECKING:
    from citytwin.core.city import City

city_app = typer.Typer(help="The city: its record and base data.", no_args_is_help=True)
app.add_typer(city_app, name="city")

STAGES = ("reading", "boundary", "districts", "roads", "buildings", "storing")


async def import_city(
    conn: Connection, sources: CitySources, progress: Callable[[str], None] | None = None
) -> CityBase:
    """Build the base of `sources` and store it in place of the previous one (one
    transaction: on any error the previous base stays)."""
    from citytwin.db.city import replace_base

    report = progress or (lambda stage: None)
    base = await asyncio.to_thread(build_city, sources, report)
    report("storing")
    await replace_base(conn, base)
    return base


def read_climatology(path: Path | None) -> dict:
    """A climatology YAML file as a mapping (checked when the models read it)."""
    if path is None:
        return {}
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise MalformedInput(f"{path}: cannot be read as YAML: {exc}") from None
    if not isinstance(values, dict):
        raise MalformedInput(f"{path}: a climatology is a mapping of its parameters")
    from citytwin.sim.meteorology import Climatology

    Climatology.from_dict(values)  # refused at import, not at the first model run
    return values


def print_report(base: CityBase) -> None:
    """The record and a table of what each layer read, kept and dropped, and why."""
    city = base.city
    out.print(
        f"{city.name}: time zone {city.timezone}, EPSG:{city.epsg}, "
        f"{city.cell_size:g} m cells, {city.step_seconds} s steps"
    )
    table = Table("layer", "source", "read", "kept", "dropped (why)")
    for report in base.reports:
        why = ", ".join(f"{n} {reason}" for reason, n in report.dropped.items()) or "-"
        table.add_row(report.layer, report.source, str(report.read), str(report.kept), why)
    out.print(table)


def _source(text: str | None) -> Source | None:
    return None if text is None else Source.parse(text)


LayerOption = Annotated[str | None, typer.Option(help="A GIS file, `path#layer` for one layer.")]


@city_app.command("import")
def city_import(
    name: Annotated[str, typer.Option(help="The city's name.")],
    pbf: Annotated[Path | None, typer.Option(help="An OpenStreetMap PBF extract.")] = None,
    boundary: LayerOption = None,
    boundary_name: Annotated[
        str | None, typer.Option(help="The PBF's administrative area to use as the boundary.")
    ] = None,
    districts: LayerOption = None,
    roads: LayerOption = None,
    buildings: LayerOption = None,
    columns: Annotated[
        Path | None, typer.Option(help="YAML column mapping replacing the shipped entries.")
    ] = None,
    timezone: Annotated[
        str | None, typer.Option(help="IANA time zone (default: from the boundary).")
    ] = None,
    epsg: Annotated[
        int | None, typer.Option(help="Metric CRS (default: UTM zone of the centroid).")
    ] = None,
    cell_size: Annotated[float, typer.Option(help="Grid cell size, metres.")] = DEFAULT_CELL_SIZE,
    step: Annotated[int, typer.Option(help="Model time step, seconds.")] = DEFAULT_STEP_SECONDS,
    climatology: Annotated[
        Path | None, typer.Option(help="YAML climatology the models fall back on.")
    ] = None,
    attribution: Annotated[
        str | None, typer.Option(help="Attribution of the data (default: OSM's for a PBF).")
    ] = None,
) -> None:
    """Import a city's base (boundary, districts, roads, buildings) in place of the current
    one: clipped to the boundary, in one transaction; prints what was kept and dropped."""
    settings = Settings()

    async def run(sources: CitySources, report: Callable[[str], None]) -> CityBase:
        async with store_connection(settings) as conn:
            return await import_city(conn, sources, report)

    columns_ = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    try:
        sources = CitySources(
            name=name,
            pbf=pbf,
            boundary=_source(boundary),
            boundary_name=boundary_name,
            districts=_source(districts),
            roads=_source(roads),
            buildings=_source(buildings),
            columns=columns,
            timezone=timezone,
            epsg=epsg,
            cell_size=cell_size,
            step_seconds=step,
            attribution=attribution,
            climatology=read_climatology(climatology),
        )
        with Progress(*columns_, console=console, transient=True) as progress:
            task = progress.add_task("reading", total=len(STAGES))

            def report(stage: str) -> None:
                done = next((i for i, s in enumerate(STAGES) if stage.startswith(s)), 0)
                progress.update(task, description=stage, completed=done)

            base = asyncio.run(run(sources, report))
    except CityTwinError as exc:
        fail(exc)
    print_report(base)


@city_app.command("show")
def city_show() -> None:
    """The city record as the service uses it (settings' overrides applied)."""
    from citytwin.core.city import with_settings
    from citytwin.db.city import require_city

    settings = Settings()

    async def run() -> "City":
        async with store_connection(settings) as conn:
            return with_settings(await require_city(conn), settings)

    try:
        city = asyncio.run(run())
    except CityTwinError as exc:
        fail(exc)
    for key, value in city.as_properties().items():
        out.print(f"{key}: {value}")
