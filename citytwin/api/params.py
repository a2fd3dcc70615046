"""Query parameters shared by routes, grouped as small dependencies (titiler style)."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query

from citytwin.api.deps import SettingsDep, VariablesDep
from citytwin.errors import InvalidParameter
from citytwin.query.params import Area, TimeRange, parse_area, parse_time_range


async def area_params(
    settings: SettingsDep,
    bbox: Annotated[
        str | None,
        Query(
            description="minlon,minlat,maxlon,maxlat (EPSG:4326).",
            examples=["9.50,47.12,9.54,47.15"],
        ),
    ] = None,
    polygon: Annotated[str | None, Query(description="GeoJSON geometry or WKT polygon.")] = None,
    cells: Annotated[
        str | None,
        Query(description="Comma-separated H3 cells (hex, any resolution up to the base)."),
    ] = None,
) -> Area:
    return parse_area(
        bbox, polygon, cells, settings.ingest.h3_resolution, settings.api.area_max_vertices
    )


async def time_params(
    start: Annotated[
        str | None,
        Query(description="ISO 8601 start (inclusive).", examples=["2026-11-02T00:00:00Z"]),
    ] = None,
    end: Annotated[str | None, Query(description="ISO 8601 end (exclusive).")] = None,
) -> TimeRange:
    return parse_time_range(start, end)


AreaDep = Annotated[Area, Depends(area_params)]
TimeDep = Annotated[TimeRange, Depends(time_params)]


@dataclass(frozen=True)
class Variable:
    name: str
    id: int


def variable_of(name: str, variables: dict[str, int], parameter: str = "variable") -> Variable:
    """The stored variable `name`, or an error listing the known ones."""
    if name not in variables:
        known = ", ".join(sorted(variables))
        raise InvalidParameter(parameter, f"unknown variable {name!r} (known: {known})")
    return Variable(name, variables[name])


async def required_variable(
    variables: VariablesDep,
    variable: Annotated[str, Query(description="Variable name, e.g. no2 or vehicle_count.")],
) -> Variable:
    return variable_of(variable, variables)


async def optional_variable(
    variables: VariablesDep,
    variable: Annotated[str | None, Query(description="Variable name.")] = None,
) -> Variable | None:
    return None if variable is None else variable_of(variable, variables)


VariableDep = Annotated[Variable, Depends(required_variable)]
OptionalVariableDep = Annotated[Variable | None, Depends(optional_variable)]
FormatQuery = Annotated[
    str | None, Query(alias="format", description="geojson, csv or parquet (or use Accept).")
]
