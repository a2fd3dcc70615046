"""The city record: what every model, grid and clock of citytwin takes from the city it serves.

One city per database. Its name, IANA time zone, local metric CRS, grid cell size, model step,
boundary (lon/lat) and the attribution its base data's licence asks for.
"""

import math
from dataclasses import dataclass, field, replace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shapely.geometry.base import BaseGeometry

from citytwin.core.grid import DEFAULT_MAX_CELLS, Grid, city_grid, utm_epsg
from citytwin.errors import InvalidParameter
from citytwin.settings import Settings

DEFAULT_CELL_SIZE = 100.0  # metres: what an import records unless told otherwise
DEFAULT_STEP_SECONDS = 3600  # one hour: what an import records unless told otherwise
DAY_SECONDS = 86_400


@dataclass(frozen=True)
class City:
    """A city: `boundary` is a (Multi)Polygon in EPSG:4326; `climatology` names the weather
    the models fall back on (parameters in `citytwin.sim.meteorology`)."""

    name: str
    timezone: str
    epsg: int
    cell_size: float
    step_seconds: int
    boundary: BaseGeometry
    attribution: str = ""
    climatology: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_timezone(self.timezone)
        if not (math.isfinite(self.cell_size) and self.cell_size > 0):
            raise InvalidParameter("cell_size", f"{self.cell_size!r} is not a positive length")
        if not (0 < self.step_seconds <= DAY_SECONDS and DAY_SECONDS % self.step_seconds == 0):
            raise InvalidParameter(
                "step_seconds", f"{self.step_seconds} must divide a day (86400 s) evenly"
            )
        if self.boundary.geom_type not in ("Polygon", "MultiPolygon") or self.boundary.is_empty:
            raise InvalidParameter("boundary", f"must be a polygon, not {self.boundary.geom_type}")

    @property
    def longitude(self) -> float:
        """Longitude of the boundary's centroid (degrees east), e.g. for solar time."""
        return float(self.boundary.centroid.x)

    def grid(self, max_cells: int = DEFAULT_MAX_CELLS) -> Grid:
        """The city grid: the boundary covered by cells of `cell_size` in the city's CRS."""
        return city_grid(self.boundary, self.cell_size, max_cells, self.epsg)

    def overridden(
        self,
        timezone: str | None = None,
        cell_size: float | None = None,
        step_seconds: int | None = None,
    ) -> "City":
        """The record with the given values (those not None) in place of its own."""
        changes = {"timezone": timezone, "cell_size": cell_size, "step_seconds": step_seconds}
        return replace(self, **{key: value for key, value in changes.items() if value is not None})

    def as_properties(self) -> dict:
        """Every field but the boundary, as plain JSON values."""
        return {
            "name": self.name,
            "timezone": self.timezone,
            "epsg": self.epsg,
            "crs": f"EPSG:{self.epsg}",
            "cell_size": self.cell_size,
            "step_seconds": self.step_seconds,
            "attribution": self.attribution,
            "climatology": self.climatology.get("name"),
        }


def with_settings(city: "City", settings: Settings) -> "City":
    """The record as the service uses it: `CITYTWIN_TIME_ZONE`, `CITYTWIN_GRID_CELL_SIZE` and
    `CITYTWIN_STEP_SECONDS`, where set, override the imported values."""
    return city.overridden(
        settings.city.time_zone, settings.city.grid_cell_size, settings.city.step_seconds
    )


def check_timezone(name: str) -> str:
    """`name` if it is an IANA time zone; InvalidParameter `timezone` otherwise."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidParameter("timezone", f"{name!r} is not an IANA time zone") from None
    return name


def timezone_of(boundary: BaseGeometry) -> str:
    """The IANA time zone at the boundary's representative point (timezonefinder's offline
    polygons); `Etc/GMT±N` from the longitude at sea, where no zone is drawn."""
    from timezonefinder import TimezoneFinder  # loads its data once, on first use

    point = boundary.representative_point()
    found = TimezoneFinder().timezone_at(lng=point.x, lat=point.y)
    if found:
        return found
    offset = round(point.x / 15)
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"  # POSIX signs are inverted


def make_city(
    name: str,
    boundary: BaseGeometry,
    *,
    timezone: str | None = None,
    epsg: int | None = None,
    cell_size: float = DEFAULT_CELL_SIZE,
    step_seconds: int = DEFAULT_STEP_SECONDS,
    attribution: str = "",
    climatology: dict | None = None,
) -> City:
    """A city record; the time zone and the CRS (UTM zone of the centroid) are derived from the
    boundary unless given."""
    centroid = boundary.centroid
    return City(
        name=name,
        timezone=timezone or timezone_of(boundary),
        epsg=epsg or utm_epsg(centroid.x, centroid.y),
        cell_size=float(cell_size),
        step_seconds=int(step_seconds),
        boundary=boundary,
        attribution=attribution,
        climatology=dict(climatology or {}),
    )
