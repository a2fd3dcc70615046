"""A scenario: a baseline period plus interventions, read from YAML or JSON and checked, with
errors that name the field at fault (`interventions[1].effect.factor`)."""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from shapely.geometry.base import BaseGeometry

from citytwin.core.limits import SCENARIO_DAYS
from citytwin.errors import InvalidParameter, InvalidParameters
from citytwin.query.params import parse_geometry
from citytwin.scenarios.models import known_variables

GEOMETRY_KINDS = ("Polygon", "MultiPolygon", "LineString", "MultiLineString")
TRAFFIC_EFFECTS = ("traffic_volume", "road_closure", "fleet_mix", "speed_limit")
BUILDING_EFFECTS = ("building_retrofit", "rooftop_pv", "heat_pump")
METEOROLOGY_FIELDS = ("wind_speed", "wind_from", "temperature", "mixing_height")
EFFECT_TYPES = frozenset((*TRAFFIC_EFFECTS, *BUILDING_EFFECTS, "meteorology"))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TrafficVolume(_Strict):
    """Traffic on the roads in the geometry multiplied by `factor`."""

    type: Literal["traffic_volume"]
    factor: float = Field(ge=0, le=10)


class RoadClosure(_Strict):
    """No traffic on the roads in the geometry (it is not rerouted)."""

    type: Literal["road_closure"]


class FleetMixChange(_Strict):
    """The electric share of cars on the roads in the geometry set to `ev_share`."""

    type: Literal["fleet_mix"]
    ev_share: float = Field(ge=0, le=1)


class SpeedLimit(_Strict):
    """A speed limit (km/h) on the roads in the geometry."""

    type: Literal["speed_limit"]
    kmh: float = Field(ge=5, le=130)


class BuildingShare(_Strict):
    """A share of the buildings in the geometry retrofitted, given rooftop PV or heat pumps."""

    type: Literal["building_retrofit", "rooftop_pv", "heat_pump"]
    share: float = Field(ge=0, le=1)


class MeteorologyOverride(_Strict):
    """The city's weather set to these values (the geometry, if any, is not used)."""

    type: Literal["meteorology"]
    wind_speed: float | None = Field(default=None, ge=0, le=40)
    wind_from: float | None = Field(default=None, ge=0, le=360)
    temperature: float | None = Field(default=None, ge=-40, le=50)
    mixing_height: float | None = Field(default=None, ge=10, le=5000)

    @model_validator(mode="after")
    def _any_set(self) -> "MeteorologyOverride":
        if all(getattr(self, name) is None for name in METEOROLOGY_FIELDS):
            raise ValueError(f"set at least one of {', '.join(METEOROLOGY_FIELDS)}")
        return self


Effect = Annotated[
    TrafficVolume | RoadClosure | FleetMixChange | SpeedLimit | BuildingShare | MeteorologyOverride,
    Field(discriminator="type"),
]


class Intervention(_Strict):
    """One change: where (GeoJSON geometry or WKT, lon/lat), when ([start, end), default the
    whole baseline) and what."""

    name: str | None = None
    geometry: dict | str | None = None
    start: datetime | None = None
    end: datetime | None = None
    effect: Effect


class Baseline(_Strict):
    """The period and grid the scenario is compared on (cell size: the city's unless given)."""

    start: datetime
    end: datetime
    cell_size: float | None = Field(default=None, gt=0)
    variables: tuple[str, ...] = Field(default_factory=known_variables)

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    @field_validator("variables")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        known = known_variables()
        unknown = [name for name in value if name not in known]
        if unknown:
            raise ValueError(f"unknown variable {unknown[0]!r} (known: {', '.join(known)})")
        if not value:
            raise ValueError("name at least one variable")
        return tuple(name for name in known if name in value)


class Scenario(_Strict):
    """A named baseline plus interventions."""

    name: str = Field(min_length=1, max_length=100)
    description: str = ""
    baseline: Baseline
    interventions: tuple[Intervention, ...] = ()

    def canonical(self) -> dict:
        """The scenario as plain JSON values (what its layer's provenance records)."""
        return orjson.loads(self.model_dump_json(exclude_none=True))


def _where(location: tuple) -> str:
    """`("interventions", 1, "effect", "factor")` as `interventions[1].effect.factor`."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part in EFFECT_TYPES:
            continue  # pydantic names the union member it tried; the user wrote no such key
        else:
            text += f".{part}" if text else str(part)
    return text or "scenario"


def parse_scenario(text: str | bytes, max_days: int = SCENARIO_DAYS) -> Scenario:
    """A scenario from YAML or JSON text, its fields, geometries and time windows checked
    (a baseline of at most `max_days`); InvalidParameters naming every field at fault (the
    fields first, then windows and geometries, which need well-formed fields)."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        raise InvalidParameter("scenario", f"{where}not YAML or JSON ({exc})") from None
    if not isinstance(document, dict):
        raise InvalidParameter("scenario", "must be a mapping with name, baseline, interventions")
    try:
        scenario = Scenario.model_validate(document)
    except ValidationError as exc:
        problems = [InvalidParameter(_where(e["loc"]), e["msg"]) for e in exc.errors()]
        raise InvalidParameters(problems) from None
    problems = time_problems(scenario, timedelta(days=max_days))
    for index, item in enumerate(scenario.interventions):
        try:
            intervention_geometry(item, f"interventions[{index}].geometry")
        except InvalidParameter as exc:
            problems.append(exc)
    if problems:
        raise InvalidParameters(problems)
    return scenario


def time_problems(scenario: Scenario, longest: timedelta) -> list[InvalidParameter]:
    """What is wrong with the times: the baseline must be a forward span of at most
    `longest`, each window must lie inside it."""
    baseline = scenario.baseline
    if baseline.end <= baseline.start:
        return [InvalidParameter("baseline.end", "must be after baseline.start")]
    if baseline.end - baseline.start > longest:
        message = f"the baseline spans more than {longest.days} days"
        return [InvalidParameter("baseline.end", message)]
    problems = []
    for index, item in enumerate(scenario.interventions):
        start, end = window(scenario, item)
        if not (baseline.start <= start < end <= baseline.end):
            problems.append(
                InvalidParameter(
                    f"interventions[{index}].{'start' if item.start else 'end'}",
                    f"the window {start:%FT%TZ} to {end:%FT%TZ} must be a forward span inside "
                    f"the baseline ({baseline.start:%FT%TZ} to {baseline.end:%FT%TZ})",
                )
            )
    return problems


def window(scenario: Scenario, item: Intervention) -> tuple[datetime, datetime]:
    """An intervention's [start, end) in UTC, defaulting to the baseline's."""
    start = item.start or scenario.baseline.start
    end = item.end or scenario.baseline.end
    aware = [t if t.tzinfo else t.replace(tzinfo=UTC) for t in (start, end)]
    return aware[0].astimezone(UTC), aware[1].astimezone(UTC)


def intervention_geometry(item: Intervention, parameter: str) -> BaseGeometry | None:
    """The intervention's geometry (lon/lat); required for every effect but meteorology."""
    if item.geometry is None:
        if item.effect.type == "meteorology":
            return None
        raise InvalidParameter(parameter, f"a {item.effect.type} needs a polygon or lines")
    text = item.geometry if isinstance(item.geometry, str) else orjson.dumps(item.geometry).decode()
    # No vertex bound of its own: the scenario document's size bounds it (scenario_max_bytes).
    return parse_geometry(text, parameter, GEOMETRY_KINDS, None)
