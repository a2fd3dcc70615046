"""Source formats: how a publisher's own CSV layout maps onto readings, declared, not coded.

Three layouts: `wide` (one column per variable), `long` (a variable column holding codes and a
value column) and `stations` (a station list: one row per station, joined to readings by id).
"""

from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Field_ = Literal["sensor_id", "lon", "lat", "time", "name", "variable", "value", "unit"]
LOCAL = "local"  # the city's time zone


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimeConvention(Strict):
    """How a source writes times: its zone, what its stamps mark, and their text format."""

    zone: str = Field(
        default=LOCAL,
        description="Zone of times without an offset: `UTC`, an IANA zone, or `local` "
        "(the city's zone). Times with an offset keep it.",
    )
    stamp: Literal["hour-beginning", "hour-ending"] = Field(
        default="hour-beginning",
        description="hour-ending stamps mark the end of the hour they measure: they are "
        "stored an hour earlier (readings are stamped with the start of their interval).",
    )
    format: str | None = Field(default=None, description="strptime format; omit for ISO 8601.")
    hour_column: str | None = Field(
        default=None, description="A column of hours 0-23 added to a date-only time column."
    )

    @field_validator("zone")
    @classmethod
    def _zone_exists(cls, zone: str) -> str:
        if zone != LOCAL:
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"{zone!r} is not an IANA time zone, UTC or local") from None
        return zone

    @field_validator("format")
    @classmethod
    def _format_round_trips(cls, fmt: str | None) -> str | None:
        if fmt is not None:
            sample = datetime(2001, 2, 3, 4, 5, 6)
            try:
                datetime.strptime(sample.strftime(fmt), fmt)
            except ValueError as exc:
                raise ValueError(f"{fmt!r} is not a strptime format: {exc}") from None
            if "%" not in fmt:
                raise ValueError(f"{fmt!r} has no strptime directive (%Y, %d, ...)")
        return fmt


class VariableColumn(Strict):
    """Where a variable sits in a source: its column (wide) or its code (long), and its unit."""

    column: str | None = None
    code: str | None = Field(default=None, description="Value of the variable column (long).")
    unit: str | None = None

    @field_validator("code", mode="before")
    @classmethod
    def _code_as_text(cls, code: object) -> object:
        if isinstance(code, bool):  # YAML 1.1 reads bare NO, no, yes, off as booleans
            raise ValueError(f"{code} is a YAML boolean: quote the code")
        return str(code) if isinstance(code, int | float) else code


class PropertyColumn(Strict):
    """A sensor property read from a column, its values optionally renamed."""

    column: str
    values: dict[str, str] = Field(
        default_factory=dict, description="Source value → property value, e.g. site types."
    )


class ValidWhen(Strict):
    """Rows are kept only when `column` holds one of `values` (e.g. EEA validity flags)."""

    column: str
    values: list[str]

    @field_validator("values", mode="before")
    @classmethod
    def _values_as_text(cls, values: object) -> object:
        return [str(v) for v in values] if isinstance(values, list) else values


class SourceFormat(Strict):
    """How a source's own layout maps onto canonical readings (or stations)."""

    description: str = ""
    layout: Literal["wide", "long", "stations"] = "wide"
    delimiter: str = ","
    encoding: str = "utf-8"
    decimal: Literal[".", ","] = "."
    columns: dict[Field_, str]
    time: TimeConvention = Field(default_factory=TimeConvention)
    variables: dict[str, VariableColumn] = Field(default_factory=dict)
    properties: dict[str, str | PropertyColumn] = Field(
        default_factory=dict, description="Sensor properties: name → source column."
    )
    missing_values: list[str] = Field(default_factory=list)
    valid_when: ValidWhen | None = None

    @model_validator(mode="after")
    def _layout_is_complete(self) -> "SourceFormat":
        needed = {
            "wide": ("sensor_id", "time"),
            "long": ("sensor_id", "time", "variable", "value"),
            "stations": ("sensor_id", "lon", "lat"),
        }[self.layout]
        for field in needed:
            if field not in self.columns:
                raise ValueError(f"columns must map {field!r} in a {self.layout} layout")
        key = "code" if self.layout == "long" else "column"
        for name, spec in self.variables.items():
            if getattr(spec, key) is None:
                raise ValueError(f"variables.{name} needs a {key} in a {self.layout} layout")
        if self.layout == "stations" and self.variables:
            raise ValueError("a stations layout has no variables")
        return self

    def property_columns(self) -> dict[str, PropertyColumn]:
        """Every property as a PropertyColumn."""
        return {
            name: PropertyColumn(column=spec) if isinstance(spec, str) else spec
            for name, spec in self.properties.items()
        }

    @property
    def required_columns(self) -> list[str]:
        wide = [v.column for v in self.variables.values() if self.layout == "wide"]
        hour = [self.time.hour_column] if self.time.hour_column else []
        return [*self.columns.values(), *wide, *hour]
