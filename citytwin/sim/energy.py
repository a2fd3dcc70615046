"""Building energy model: hourly demand of each building, calibrated on smart meters, with
retrofit, heat-pump and rooftop-PV measures, summed onto the city grid.

Demand is final energy drawn by a building in each time step (kWh). Pure functions of their
inputs; arrays are (time, building) in the order of `read_buildings`, which is sorted by id.
"""

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from citytwin.core.grid import Grid
from citytwin.errors import InvalidParameter, MalformedInput
from citytwin.sim.energy_profiles import (
    DAY_LENGTH,
    ENERGY_USES,
    HEATING_FRACTION,
    INTENSITY,
    MONTHLY_FACTOR,
    PV_DAILY_YIELD,
    TEMPERATURE_AMPLITUDE,
    TEMPERATURE_MEAN,
    USE_OF_TAG,
    daylight_fraction,
    profile_table,
    temperature_cycle,
)

HOURS_PER_YEAR = 8760
STOREY_HEIGHT = 3.0  # metres per level when OSM gives a height but no levels
MATCH_RADIUS = 30.0  # metres: a meter outside every building counts for the nearest this close
METER_COLUMNS = ("sensor", "lon", "lat", "time", "value")


@dataclass(frozen=True)
class EnergyParameters:
    """Parameters of the building energy model (all in the layer's provenance)."""

    default_levels: float = 2.0  # when OSM gives neither levels nor height
    other_levels: float = 1.0  # garages, roofs, greenhouses are single-storey
    default_year: int = 1975  # construction year when the data has none
    intensity: Mapping[str, float] = field(default_factory=lambda: dict(INTENSITY))
    heating_fraction: Mapping[str, float] = field(default_factory=lambda: dict(HEATING_FRACTION))
    monthly_factor: tuple[float, ...] = MONTHLY_FACTOR
    heating_months: tuple[int, ...] = (1, 2, 3, 4, 10, 11, 12)
    age_bounds: tuple[int, ...] = (1980, 2001)  # built before 1980, 1980-2000, from 2001
    age_factors: tuple[float, ...] = (1.2, 1.0, 0.7)  # heating part per age class
    base_temperature: float = 18.0  # °C, heating degree-hours are (base - T)+
    retrofit_saving: float = 0.5  # share of the heating part a retrofit saves
    heat_pump_cop: float = 3.0  # heat delivered per kWh of electricity
    pv_kwp_per_m2: float = 0.2  # peak power per m² of panel
    pv_roof_share: float = 0.6  # share of the roof that can carry panels
    pv_daily_yield: tuple[float, ...] = PV_DAILY_YIELD  # kWh per kWp and day, by month
    day_length: tuple[float, ...] = DAY_LENGTH  # hours, by month
    longitude: float = 0.0  # degrees east, for solar time: the city's
    timezone: str = "UTC"  # the city's: profiles and months follow local time
    step_seconds: int = 3600  # the city's model step

    def __post_init__(self) -> None:
        for name in ("intensity", "heating_fraction"):
            missing = [use for use in ENERGY_USES if use not in getattr(self, name)]
            if missing:
                raise InvalidParameter(name, f"no value for {', '.join(missing)}")
        for name in ("monthly_factor", "pv_daily_yield", "day_length"):
            if len(getattr(self, name)) != 12:
                raise InvalidParameter(name, "needs one value per month")
        if len(self.age_factors) != len(self.age_bounds) + 1:
            raise InvalidParameter("age_factors", "needs one value more than age_bounds")
        if self.base_temperature <= TEMPERATURE_MEAN + TEMPERATURE_AMPLITUDE:
            warmest = TEMPERATURE_MEAN + TEMPERATURE_AMPLITUDE
            raise InvalidParameter("base_temperature", f"must be above {warmest} °C")
        if not 0 <= self.retrofit_saving <= 1:
            raise InvalidParameter("retrofit_saving", "must be between 0 and 1")
        if self.heat_pump_cop <= 0:
            raise InvalidParameter("heat_pump_cop", "must be positive")
        if not (0 < self.step_seconds <= 86400 and 86400 % self.step_seconds == 0):
            raise InvalidParameter("step_seconds", "must divide a day")

    def as_dict(self) -> dict:
        """Plain JSON values."""
        values = asdict(self)
        for key, value in values.items():
            if isinstance(value, tuple):
                values[key] = list(value)
            elif isinstance(value, Mapping):
                values[key] = {use: float(value[use]) for use in ENERGY_USES}
        return {"method": "building-energy", **values}


@dataclass(frozen=True)
class Measures:
    """Shares (0 to 1) of each building's heating retrofitted, roof under PV, heat served by a
    heat pump: arrays that broadcast to (time, building)."""

    retrofit: np.ndarray
    pv: np.ndarray
    heat_pump: np.ndarray

    @classmethod
    def none(cls, n_times: int, n_buildings: int) -> "Measures":
        """No measure anywhere; three separate arrays, so callers may fill each in place."""
        shape = (n_times, n_buildings)
        return cls(np.zeros(shape), np.zeros(shape), np.zeros(shape))


@dataclass(frozen=True)
class Calibration:
    """A factor per building scaling the raw demand onto the meters, and how each was found."""

    factors: np.ndarray  # (building,)
    report: pd.DataFrame  # one row per meter

    def apply(self, raw: np.ndarray) -> np.ndarray:
        """The calibrated demand (time, building)."""
        return raw * self.factors[None, :]


def read_buildings(
    base: gpd.GeoDataFrame, epsg: int, params: EnergyParameters | None = None
) -> gpd.GeoDataFrame:
    """The city's base buildings (`id`, `use` tag, `levels`, `height`, `year`) projected to
    `epsg` with (id, tag, use class, levels, roof and floor area m², year, x, y), sorted by id."""
    params = params or EnergyParameters()
    frame = base[base.geom_type.isin(["Polygon", "MultiPolygon"])].to_crs(epsg)
    ids = frame["id"].astype(str)
    if ids.duplicated().any():
        raise MalformedInput(f"buildings: duplicate id {ids[ids.duplicated()].iloc[0]}")
    tag = _text(frame, "use").fillna("yes").str.strip().str.lower()
    use = tag.map(USE_OF_TAG).fillna("other")
    levels = _number(frame, "levels")
    levels = levels.where(levels > 0, (_number(frame, "height") / STOREY_HEIGHT).round().clip(1))
    default = np.where(use == "other", params.other_levels, params.default_levels)
    levels = levels.fillna(pd.Series(default, index=frame.index))
    year = _year(frame, "year").fillna(params.default_year)
    point = frame.representative_point()
    buildings = gpd.GeoDataFrame(
        {
            "building": ids,
            "tag": tag,
            "use": use,
            "levels": levels.astype(float),
            "roof_area": frame.area,
            "floor_area": frame.area * levels,
            "year": year.astype(int),
            "x": point.x,
            "y": point.y,
        },
        geometry=frame.geometry,
        crs=frame.crs,
    )
    return buildings.sort_values("building", kind="stable").reset_index(drop=True)


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame:
        return pd.Series(None, index=frame.index, dtype="str")
    return frame[column].astype("str").where(frame[column].notna())


def _number(frame: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_numeric(_text(frame, column), errors="coerce").astype(float)


def _year(frame: pd.DataFrame, column: str) -> pd.Series:
    # OSM dates read "1975", "1975-05-01", "~1975"; the first four digits are the year.
    return _text(frame, column).str.extract(r"(\d{4})", expand=False).astype(float)


def _utc(times: pd.DatetimeIndex) -> pd.DatetimeIndex:
    times = pd.DatetimeIndex(times)
    return times if times.tz is None else times.tz_convert("UTC").tz_localize(None)


def _local(times: pd.DatetimeIndex, timezone: str) -> pd.DatetimeIndex:
    return _utc(times).tz_localize("UTC").tz_convert(timezone)


def default_temperature(times: pd.DatetimeIndex, timezone: str) -> np.ndarray:
    """Outdoor temperature (°C) at each step start: a November daily cycle, mean 5 °C, ±3 °C,
    coldest at 06 and warmest at 15 local time in `timezone`."""
    local = _local(times, timezone)
    return temperature_cycle(np.asarray(local.hour + local.minute / 60, dtype=float))


def _use_codes(buildings: pd.DataFrame) -> np.ndarray:
    codes = pd.Categorical(buildings["use"], categories=ENERGY_USES).codes
    if (codes < 0).any():
        unknown = buildings["use"][codes < 0].iloc[0]
        raise InvalidParameter("buildings", f"unknown use {unknown!r}")
    return np.asarray(codes)


def _parts(
    buildings: pd.DataFrame,
    times: pd.DatetimeIndex,
    temperature: np.ndarray | None,
    params: EnergyParameters,
) -> tuple[np.ndarray, np.ndarray]:
    """The other (non-heating) and heating parts of the raw demand, (time, building) kWh."""
    local = _local(times, params.timezone)
    month = np.asarray(local.month) - 1
    code = _use_codes(buildings)
    day, hour = np.asarray(local.day_of_week), np.asarray(local.hour)
    profile = profile_table(ENERGY_USES)[code[None, :], day[:, None], hour[:, None]]
    intensity = np.array([params.intensity[use] for use in ENERGY_USES])[code]
    mean_kw = buildings["floor_area"].to_numpy(float) * intensity / HOURS_PER_YEAR
    monthly = np.asarray(params.monthly_factor)[month]
    demand = monthly[:, None] * mean_kw[None, :] * profile * (params.step_seconds / 3600)
    season = np.isin(month + 1, params.heating_months)
    fraction = np.array([params.heating_fraction[use] for use in ENERGY_USES])[code]
    fraction = season[:, None] * fraction[None, :]
    age = np.searchsorted(params.age_bounds, buildings["year"].to_numpy(), side="right")
    default = default_temperature(times, params.timezone)
    reference = params.base_temperature - default
    temperature = default if temperature is None else np.asarray(temperature)
    if temperature.ndim == 1:
        temperature = temperature[:, None]
    if temperature.shape not in ((len(times), 1), (len(times), len(buildings))):
        raise InvalidParameter("temperature", "needs one value per step (or step and building)")
    # Degree-hours relative to the reference cycle: 1 at the default temperature.
    ratio = np.maximum(params.base_temperature - temperature, 0.0) / reference[:, None]
    heating = demand * fraction * np.asarray(params.age_factors)[age][None, :] * ratio
    return demand * (1 - fraction), heating


def raw_demand(
    buildings: pd.DataFrame,
    times: pd.DatetimeIndex,
    temperature: np.ndarray | None = None,
    params: EnergyParameters | None = None,
) -> np.ndarray:
    """Uncalibrated demand (time, building), kWh per step, at `temperature` (°C per step;
    None: the default cycle)."""
    other, heating = _parts(buildings, times, temperature, params or EnergyParameters())
    return other + heating


def pv_generation(
    buildings: pd.DataFrame, times: pd.DatetimeIndex, params: EnergyParameters | None = None
) -> np.ndarray:
    """PV energy (time, building), kWh per step, of panels on the whole usable roof."""
    params = params or EnergyParameters()
    times = _utc(times)
    month = np.asarray(_local(times, params.timezone).month) - 1
    utc_hour = np.asarray((times - times.normalize()) / pd.Timedelta(hours=1), dtype=float)
    solar = (utc_hour + params.longitude / 15) % 24  # mean solar time
    hours = params.step_seconds / 3600
    share = daylight_fraction(solar, hours, np.asarray(params.day_length)[month])
    daily = np.asarray(params.pv_daily_yield)[month] * share  # kWh per kWp in the step
    kwp = buildings["roof_area"].to_numpy(float) * params.pv_roof_share * params.pv_kwp_per_m2
    return daily[:, None] * kwp[None, :]


def apply_measures(
    demand: np.ndarray,
    buildings: pd.DataFrame,
    times: pd.DatetimeIndex,
    measures: Measures,
    params: EnergyParameters | None = None,
    temperature: np.ndarray | None = None,
) -> np.ndarray:
    """Net demand (time, building) after retrofits, heat pumps and rooftop PV; negative where
    PV exports. `temperature` must be the one the demand was computed at."""
    params = params or EnergyParameters()
    shares = {}
    for name in ("retrofit", "pv", "heat_pump"):
        share = np.asarray(getattr(measures, name), dtype=float)
        try:
            share = np.broadcast_to(share, demand.shape)
        except ValueError:
            raise InvalidParameter(name, f"shape {share.shape} is not {demand.shape}") from None
        if not np.all((share >= 0) & (share <= 1)):
            raise InvalidParameter(name, "shares must be between 0 and 1")
        shares[name] = share
    other, heating = _parts(buildings, times, temperature, params)
    total = other + heating
    # Calibration scales both parts alike, so the raw split holds for calibrated demand too.
    heat = demand * np.divide(heating, total, out=np.zeros_like(total), where=total > 0)
    kept = (1 - params.retrofit_saving * shares["retrofit"]) * (
        1 - shares["heat_pump"] * (1 - 1 / params.heat_pump_cop)
    )
    generation = shares["pv"] * pv_generation(buildings, times, params)
    return demand - heat * (1 - kept) - generation


def _match(
    buildings: gpd.GeoDataFrame, lon: np.ndarray, lat: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Building index (-1: none), how it matched and the distance (m) of each meter point."""
    points = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=4326).to_crs(buildings.crs)
    index = np.full(len(points), -1)
    distance = np.full(len(points), np.nan)
    found, tree = buildings.sindex.query(points, predicate="intersects")
    # Overlapping buildings: the lowest id (first row) holds the meter.
    inside = pd.Series(tree).groupby(found).min()
    index[inside.index] = inside.to_numpy()
    distance[inside.index] = 0.0
    outside = np.flatnonzero(index < 0)
    if len(outside):
        (near, tree), gap = buildings.sindex.nearest(
            points.iloc[outside], max_distance=MATCH_RADIUS, return_all=True, return_distance=True
        )
        nearest = pd.DataFrame({"tree": tree, "gap": gap}).groupby(outside[near]).min()
        index[nearest.index] = nearest["tree"].to_numpy()
        distance[nearest.index] = nearest["gap"].to_numpy()
    how = np.where(distance == 0, "inside", np.where(index >= 0, "nearest", "unmatched"))
    return index, how, distance


def calibrate(
    buildings: gpd.GeoDataFrame, times: pd.DatetimeIndex, raw: np.ndarray, meters: pd.DataFrame
) -> Calibration:
    """Factors scaling each metered building's raw demand to its meters' total over the steps
    they report; unmetered buildings take the median factor of their use (else of all)."""
    missing = [name for name in METER_COLUMNS if name not in meters]
    if missing:
        raise InvalidParameter("meters", f"missing columns: {', '.join(missing)}")
    if raw.shape != (len(times), len(buildings)):
        raise InvalidParameter("raw", f"shape {raw.shape} is not (time, building)")
    frame = meters.loc[:, list(METER_COLUMNS)].dropna(subset=["sensor", "lon", "lat", "time"])
    frame = frame.assign(
        sensor=frame["sensor"].astype(str),
        time=pd.to_datetime(frame["time"], utc=True).dt.tz_localize(None),
    )
    # Sorted rows make every sum below run in one order, whatever order the rows came in.
    frame = frame.sort_values(["sensor", "time", "value"], kind="stable")
    places = frame.groupby("sensor", sort=True)[["lon", "lat"]].first()
    index, how, distance = _match(buildings, places["lon"].to_numpy(), places["lat"].to_numpy())
    frame = frame.assign(step=_utc(times).get_indexer(frame["time"])).dropna(subset=["value"])
    steps = frame[frame["step"] >= 0].groupby(["sensor", "step"], sort=True)["value"].mean()
    steps = steps.reset_index()
    steps["column"] = pd.Series(index, index=places.index)[steps["sensor"]].to_numpy()
    metered_kwh = steps.groupby("sensor", sort=True)["value"].sum()
    steps = steps[steps["column"] >= 0].copy()
    steps["modelled"] = raw[steps["step"].to_numpy(), steps["column"].to_numpy()]
    modelled_kwh = steps.groupby("sensor", sort=True)["modelled"].sum()
    # Meters on one building are its sub-meters: added up over the steps any of them reports.
    metered = steps.groupby("column", sort=True)["value"].sum()
    modelled = steps.drop_duplicates(["column", "step"]).groupby("column", sort=True)["modelled"]
    modelled = modelled.sum().reindex(metered.index)
    own = (metered / modelled)[modelled > 0]
    matched = index >= 0
    report = pd.DataFrame(
        {
            "sensor": places.index.to_numpy(),
            "building": np.where(matched, buildings["building"].to_numpy()[index], None),
            "use": np.where(matched, buildings["use"].to_numpy()[index], None),
            "match": how,
            "distance_m": distance,
            "metered_kwh": metered_kwh.reindex(places.index, fill_value=0.0).to_numpy(),
            "modelled_kwh": np.where(
                matched, modelled_kwh.reindex(places.index, fill_value=0.0), np.nan
            ),
            "factor": own.reindex(index).to_numpy(),
        }
    )
    factors = _fill_factors(buildings, own)
    return Calibration(factors, report)


def _fill_factors(buildings: pd.DataFrame, own: pd.Series) -> np.ndarray:
    """Own factors where metered, else the median of the use class, else of all, else 1."""
    use = buildings["use"].to_numpy()
    overall = float(own.median()) if len(own) else 1.0
    by_use = pd.Series(own.to_numpy(), index=use[own.index]).groupby(level=0).median()
    factors = np.array(pd.Series(use).map(by_use).fillna(overall), dtype=float)
    factors[own.index.to_numpy()] = own.to_numpy()
    return factors


def demand_grid(demand: np.ndarray, buildings: pd.DataFrame, grid: Grid) -> np.ndarray:
    """Demand (time, y, x) float32 kWh per step, summed over the buildings whose representative
    point is in each cell; buildings off the grid are left out."""
    if demand.shape[1:] != (len(buildings),):
        raise InvalidParameter("demand", f"shape {demand.shape} does not match the buildings")
    col = np.floor((buildings["x"].to_numpy() - grid.west) / grid.cell_size).astype(np.int64)
    row = np.floor((grid.north - buildings["y"].to_numpy()) / grid.cell_size).astype(np.int64)
    on = (col >= 0) & (col < grid.nx) & (row >= 0) & (row < grid.ny)
    cell = (row * grid.nx + col)[on]
    order = np.argsort(cell, kind="stable")
    cell = cell[order]
    out = np.zeros((demand.shape[0], grid.cells), dtype=np.float32)
    if len(cell):
        # Summed in float64 in a fixed (cell, building id) order, then stored as float32.
        starts = np.flatnonzero(np.r_[True, np.diff(cell) != 0])
        out[:, cell[starts]] = np.add.reduceat(demand[:, on][:, order], starts, axis=1)
    return out.reshape(demand.shape[0], grid.ny, grid.nx)


def daily_peak(grid_demand: np.ndarray, times: pd.DatetimeIndex, step_seconds: int) -> np.ndarray:
    """Each cell's highest mean power (kW) in the UTC day of each step, (time, y, x) float32."""
    if len(times) != grid_demand.shape[0]:
        raise InvalidParameter("times", "needs one time per step of the demand")
    power = grid_demand / np.float32(step_seconds / 3600)
    days, _ = pd.factorize(_utc(times).normalize(), sort=True)
    order = np.argsort(days, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(days[order]) != 0])
    ordered = power if np.all(order[1:] > order[:-1]) else power[order]  # copy only if needed
    return np.maximum.reduceat(ordered, starts, axis=0)[days].astype(np.float32, copy=False)
