"""The schema of a feed definition file (`sensors/<feed>.yaml`), validated by pydantic."""

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from citytwin.errors import InvalidParameter

FeedKind = Literal["traffic", "air", "energy"]

# Canonical long-format fields; `unit` and `name` are optional in every source.
CANONICAL_FIELDS = ("sensor_id", "lon", "lat", "time", "variable", "value", "unit")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UnitConversion(Strict):
    """canonical = value * scale + offset."""

    scale: float
    offset: float = 0.0


class VariableSpec(Strict):
    """One measured variable: canonical unit, accepted aliases, plausible range."""

    unit: str
    description: str = ""
    aliases: dict[str, float | UnitConversion] = Field(default_factory=dict)
    range: tuple[float, float] | None = None
    out_of_range: Literal["reject", "flag"] = "reject"

    def conversion(self, unit: str) -> UnitConversion:
        """The conversion from `unit` to the canonical unit; raises if there is none."""
        if unit == self.unit:
            return UnitConversion(scale=1.0)
        alias = self.aliases.get(unit)
        if alias is None:
            known = ", ".join([self.unit, *self.aliases])
            raise InvalidParameter("unit", f"cannot convert {unit!r} (accepted: {known})")
        return alias if isinstance(alias, UnitConversion) else UnitConversion(scale=alias)


class VariableColumn(Strict):
    """A source column holding one variable, in a given unit."""

    column: str
    unit: str | None = None


class SourceFormat(Strict):
    """How a source's own (wide) layout maps onto canonical readings."""

    description: str = ""
    delimiter: str = ","
    encoding: str = "utf-8"
    columns: dict[Literal["sensor_id", "lon", "lat", "time", "name"], str]
    variables: dict[str, VariableColumn]
    properties: dict[str, str] = Field(
        default_factory=dict, description="Sensor properties: name → source column."
    )
    time_format: str | None = Field(
        default=None, description="strptime format when times are not ISO 8601."
    )
    timezone: str | None = Field(default=None, description="Zone of times without an offset.")
    missing_values: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _needs_sensor_and_time(self) -> "SourceFormat":
        for field in ("sensor_id", "time"):
            if field not in self.columns:
                raise ValueError(f"columns must map {field!r}")
        return self

    @property
    def required_columns(self) -> list[str]:
        return [*self.columns.values(), *(v.column for v in self.variables.values())]


def parse_interval(text: str) -> timedelta:
    """Parse `15min`, `1h`, `1d`, `1w` into a timedelta."""
    units = {"s": 1, "min": 60, "h": 3600, "d": 86400, "w": 604800}
    number = text.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = text[len(number) :]
    if not number.isdigit() or unit not in units or int(number) == 0:
        raise ValueError(f"{text!r} is not an interval like 15min, 1h, 1d or 1w")
    return timedelta(seconds=int(number) * units[unit])


def parse_period(text: str) -> timedelta:
    """Parse a retention period: `90d`, `12w`, `5y` (a year is 365 days), or any interval."""
    if text.endswith("y") and text[:-1].isdigit() and int(text[:-1]) > 0:
        return timedelta(days=365 * int(text[:-1]))
    try:
        return parse_interval(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a period like 90d, 12w or 5y") from None


class Retention(Strict):
    """How long a feed's data is kept; a missing period keeps it forever."""

    readings: str | None = Field(default=None, description="Raw readings, e.g. 90d.")
    rollups: str | None = Field(default=None, description="Cell rollups, e.g. 5y.")

    @model_validator(mode="after")
    def _periods_parse(self) -> "Retention":
        for period in (self.readings, self.rollups):
            if period is not None:
                parse_period(period)
        return self

    def readings_period(self) -> timedelta | None:
        """How long readings are kept (None: forever)."""
        return None if self.readings is None else parse_period(self.readings)

    def rollups_period(self) -> timedelta | None:
        """How long cell rollups are kept (None: forever)."""
        return None if self.rollups is None else parse_period(self.rollups)


class FeedDefinition(Strict):
    """A sensor feed: its kind, variables, time zone and source formats."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: FeedKind
    description: str = ""
    timezone: str | None = Field(default=None, description="Zone of times without an offset.")
    expected_interval: str = "1h"
    variables: dict[str, VariableSpec]
    formats: dict[str, SourceFormat] = Field(default_factory=dict)
    attribution: str = ""
    retention: Retention = Field(default_factory=Retention)

    @model_validator(mode="after")
    def _formats_name_known_variables(self) -> "FeedDefinition":
        parse_interval(self.expected_interval)
        for format_name, source in self.formats.items():
            unknown = set(source.variables) - set(self.variables)
            if unknown:
                raise ValueError(f"format {format_name!r} maps unknown variables {sorted(unknown)}")
        return self

    def variable(self, name: str) -> VariableSpec:
        """The spec of variable `name`; raises naming the known ones."""
        try:
            return self.variables[name]
        except KeyError:
            known = ", ".join(sorted(self.variables))
            raise InvalidParameter(
                "variable", f"{name!r} is not in feed {self.name!r} ({known})"
            ) from None
