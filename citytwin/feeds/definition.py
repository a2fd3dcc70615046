"""The schema of a feed definition file (`sensors/<feed>.yaml`), validated by pydantic."""

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from citytwin.errors import InvalidParameter
from citytwin.feeds.opcua import Sources
from citytwin.feeds.source import LOCAL, SourceFormat, TimeConvention
from citytwin.feeds.units import UNITS, convert

FeedKind = Literal["traffic", "air", "energy"]

# Canonical long-format fields; `unit` and `name` are optional in every source.


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UnitConversion(Strict):
    """canonical = value * scale + offset."""

    scale: float
    offset: float = 0.0


class BelowZero(Strict):
    """What to do with values just below zero (instrument noise around a zero level)."""

    policy: Literal["keep-and-flag", "clip-and-flag", "reject"]
    down_to: float = Field(
        lt=0,
        description="Values from here up to zero count as just below zero; lower ones "
        "meet the range check.",
    )


class QualitySpec(Strict):
    """The quality stage of one variable (citytwin.quality): the network checks' floors in its
    unit, and how much stored history a load reads to judge new readings against."""

    spike_floor: float = Field(
        default=30.0, gt=0, description="Smallest jump away from the sensor's recent values "
        "and from its network called a spike."
    )  # fmt: skip
    bias_floor: float = Field(
        default=2.0, gt=0, description="Smallest lasting bias against the network called "
        "an offset or a drift."
    )  # fmt: skip
    history_hours: int = Field(
        default=168, ge=0, le=24 * 90, description="Hours of stored readings before a load's "
        "own that the sensors' models are fitted on."
    )  # fmt: skip


class VariableSpec(Strict):
    """One measured variable: canonical unit, accepted aliases, plausible range."""

    unit: str
    description: str = ""
    aliases: dict[str, float | UnitConversion] = Field(default_factory=dict)
    molar_mass: float | None = Field(
        default=None, gt=0, description="g/mol, for a gas: ppb and ppm convert to µg/m³."
    )
    range: tuple[float, float] | None = None
    out_of_range: Literal["reject", "flag"] = "reject"
    below_zero: BelowZero | None = None
    quality: QualitySpec | None = Field(
        default=None,
        description="Network quality checks (stuck, spike, offset, drift, noise); without it "
        "only the range check.",
    )

    def conversion(self, unit: str, reference_celsius: float = 20.0) -> UnitConversion:
        """The conversion from `unit` to the canonical unit; raises if there is none."""
        alias = self.aliases.get(unit)
        if alias is not None:
            return alias if isinstance(alias, UnitConversion) else UnitConversion(scale=alias)
        known = convert(unit, self.unit, self.molar_mass, reference_celsius)
        if known is None:
            accepted = ", ".join([self.unit, *self.aliases])
            hint = "" if unit in UNITS else " (not a unit citytwin knows)"
            raise InvalidParameter(
                "unit",
                f"cannot convert {unit!r}{hint} to {self.unit} (accepted: {accepted}, "
                "or a unit of the same quantity)",
            )
        return UnitConversion(scale=known[0], offset=known[1])


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
    timezone: str | None = Field(
        default=None,
        description="Zone of canonical times without an offset; omit for the city's zone.",
    )
    reference_temperature: float = Field(
        default=20.0,
        description="°C at which ppb and µg/m³ of a gas convert (EU air-quality rules: 20 °C).",
    )
    expected_interval: str = "1h"
    variables: dict[str, VariableSpec]
    formats: dict[str, SourceFormat] = Field(default_factory=dict)
    attribution: str = ""
    retention: Retention = Field(default_factory=Retention)
    sources: Sources = Field(default_factory=Sources, description="Live sources (OPC UA).")

    @field_validator("timezone")
    @classmethod
    def _zone_exists(cls, zone: str | None) -> str | None:
        return zone if zone is None else TimeConvention(zone=zone).zone

    @model_validator(mode="after")
    def _formats_name_known_variables_and_units(self) -> "FeedDefinition":
        parse_interval(self.expected_interval)
        for format_name, source in self.formats.items():
            unknown = set(source.variables) - set(self.variables)
            if unknown:
                raise ValueError(f"format {format_name!r} maps unknown variables {sorted(unknown)}")
            for name, column in source.variables.items():
                if column.unit is None:
                    continue
                try:
                    self.conversion(name, column.unit)
                except InvalidParameter as exc:
                    key = f"formats.{format_name}.variables.{name}.unit"
                    raise ValueError(f"{key}: {exc.message}") from None
        for number, server in enumerate(self.sources.opcua):
            for index, node in enumerate(server.nodes):
                key = f"sources.opcua.{number}.nodes.{index}"
                if node.variable not in self.variables:
                    raise ValueError(f"{key}.variable: {node.variable!r} is not in this feed")
                try:
                    self.conversion(node.variable, node.unit or self.variables[node.variable].unit)
                except InvalidParameter as exc:
                    raise ValueError(f"{key}.unit: {exc.message}") from None
        return self

    def conversion(self, variable: str, unit: str) -> UnitConversion:
        """How `unit` converts to the canonical unit of `variable` in this feed."""
        return self.variables[variable].conversion(unit, self.reference_temperature)

    def time_convention(self, source_format: str | None) -> TimeConvention:
        """The time convention of a source format, or of canonical sources of this feed."""
        if source_format is not None:
            return self.formats[source_format].time
        return TimeConvention(zone=self.timezone or LOCAL)

    def variable(self, name: str) -> VariableSpec:
        """The spec of variable `name`; raises naming the known ones."""
        try:
            return self.variables[name]
        except KeyError:
            known = ", ".join(sorted(self.variables))
            raise InvalidParameter(
                "variable", f"{name!r} is not in feed {self.name!r} ({known})"
            ) from None
