"""Row validation, vectorised: every rejected row names its line, field and reason."""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from citytwin.errors import InvalidParameter
from citytwin.feeds.definition import FeedDefinition
from citytwin.feeds.source import TimeConvention
from citytwin.ingest.read import HOUR, PROPERTY
from citytwin.ingest.times import parse_times
from citytwin.ingest.verdicts import Messages, Rejection, Verdicts

__all__ = ["Rejection", "ValidRows", "validate", "validate_stations"]

POLICIES = ("keep-and-flag", "clip-and-flag", "reject")  # of values just below zero
POLICY_NOTES = (
    "{:g} is just below zero: kept, flagged",
    "{:g} is just below zero: stored as 0, flagged",
    "{:g} is below zero",
)


@dataclass(frozen=True)
class ValidRows:
    """Rows fit to store: typed, in canonical units; plus the rejected and the flagged ones."""

    # line, sensor_id, name, lon, lat, time, variable, value, flagged, and property:* columns
    frame: pd.DataFrame
    rejected: list[Rejection]
    flagged: list[Rejection]
    notes: list[str] = field(default_factory=list)  # e.g. how DST overlap times were read
    rejected_total: int | None = None  # None: all are in `rejected`
    flagged_total: int | None = None  # None: all are in `flagged`

    def counts(self) -> tuple[int, int]:
        """How many rows were rejected and flagged, listed or not."""
        return (
            len(self.rejected) if self.rejected_total is None else self.rejected_total,
            len(self.flagged) if self.flagged_total is None else self.flagged_total,
        )


def _column(table: pa.Table, name: str) -> pa.ChunkedArray | None:
    return table.column(name) if name in table.column_names else None


def _to_float(array: pa.ChunkedArray) -> np.ndarray:
    """Floats with NaN where the text is not a number (fast path: one Arrow cast)."""
    if pa.types.is_floating(array.type) or pa.types.is_integer(array.type):
        return array.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(float)
    try:
        return pc.cast(pc.utf8_trim_whitespace(array), pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        return pd.to_numeric(array.to_pandas().str.strip(), errors="coerce").to_numpy(float)


def _text(array: pa.ChunkedArray | None, size: int) -> np.ndarray:
    if array is None:
        return np.full(size, None, dtype=object)
    return np.asarray(array.cast(pa.string()).to_pandas().to_numpy(dtype=object, na_value=None))


def _categories(array: pa.ChunkedArray | None, size: int) -> pd.Categorical:
    """Text as a pandas Categorical: a few distinct values stay cheap over a million rows."""
    if array is None:
        return pd.Categorical([None] * size)
    encoded = pc.dictionary_encode(array.cast(pa.string())).combine_chunks()
    return pd.Categorical.from_codes(
        encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False),
        categories=pd.Index(encoded.dictionary.to_pylist(), dtype=object),
    )


def _check_coordinates(table: pa.Table, verdicts: Verdicts) -> tuple[np.ndarray, np.ndarray]:
    size = table.num_rows
    coordinates = []
    for axis, limit in (("lon", 180.0), ("lat", 90.0)):
        array = _column(table, axis)
        if array is None:
            coordinates.append(np.full(size, np.nan))
            continue
        values = _to_float(array)
        present = pc.is_valid(array).to_numpy(zero_copy_only=False)
        verdicts.reject(present & np.isnan(values), axis, "not a number")
        outside = present & (np.abs(values) > limit)
        verdicts.reject(outside, axis, f"must be within -{limit:g}..{limit:g}")
        coordinates.append(values)
    lon, lat = coordinates
    lon_given, lat_given = ~np.isnan(lon), ~np.isnan(lat)
    missing = "lat" if lon_given.any() else "lon"
    verdicts.reject(lon_given != lat_given, missing, "lon and lat must be given together")
    return lon, lat


def _check_values(table: pa.Table, verdicts: Verdicts) -> np.ndarray:
    raw = table.column("value")
    value = _to_float(raw)
    nan, inf = np.isnan(value), np.isinf(value)
    if nan.any() or inf.any():
        text = _text(raw, table.num_rows)
        verdicts.reject(nan & pd.isna(text), "value", "missing")
        verdicts.reject(nan, "value", Messages("{!r} is not a number", text))
        verdicts.reject(inf, "value", Messages("{!r} is not finite", text))
    return value


@dataclass(frozen=True)
class _Canonical:
    value: np.ndarray
    flagged: np.ndarray
    flag_messages: np.ndarray


@dataclass
class _Bounds:
    """Per-row conversion and checks, filled one (variable, unit) pair at a time."""

    size: int

    def __post_init__(self) -> None:
        self.scale, self.offset = np.ones(self.size), np.zeros(self.size)
        self.low, self.high = np.full(self.size, -np.inf), np.full(self.size, np.inf)
        self.flag_range = np.zeros(self.size, bool)
        self.floor = np.zeros(self.size)  # values in [floor, 0) are "just below zero"
        self.policy = np.zeros(self.size, np.int8)  # 0: none, else 1 + POLICIES index


def _reject_unknown_variables(
    feed: FeedDefinition, variable: pd.Categorical, verdicts: Verdicts
) -> None:
    unknown = ~np.isin(
        variable.codes,
        [code for code, name in enumerate(variable.categories) if name in feed.variables],
    )
    known_names = ", ".join(sorted(feed.variables))
    verdicts.reject(
        unknown,
        "variable",
        Messages(
            f"{{!r}} is not a variable of feed {feed.name!r} ({known_names})",
            np.asarray(variable, dtype=object),
        ),
    )


def _bounds(
    feed: FeedDefinition, variable: pd.Categorical, unit: pd.Categorical, verdicts: Verdicts
) -> _Bounds:
    bounds = _Bounds(len(variable))
    pairs = variable.codes.astype(np.int64) * (len(unit.categories) + 1) + unit.codes + 1
    for pair in np.unique(pairs[verdicts.ok]):
        rows = verdicts.ok & (pairs == pair)
        name = variable.categories[pair // (len(unit.categories) + 1)]
        unit_code = pair % (len(unit.categories) + 1) - 1
        unit_name = unit.categories[unit_code] if unit_code >= 0 else ""
        spec = feed.variables[name]
        try:
            conversion = feed.conversion(name, unit_name or spec.unit)
        except InvalidParameter as exc:
            verdicts.reject(rows, "unit", f"{exc.message} for variable {name!r}")
            continue
        bounds.scale[rows], bounds.offset[rows] = conversion.scale, conversion.offset
        if spec.range is not None:
            bounds.low[rows], bounds.high[rows] = spec.range
            bounds.flag_range[rows] = spec.out_of_range == "flag"
        if spec.below_zero is not None:
            bounds.floor[rows] = spec.below_zero.down_to
            bounds.policy[rows] = 1 + POLICIES.index(spec.below_zero.policy)
    return bounds


def _to_canonical(
    feed: FeedDefinition,
    variable: pd.Categorical,
    unit: pd.Categorical,
    value: np.ndarray,
    verdicts: Verdicts,
) -> _Canonical:
    """Known variables, convertible units, plausible values; each (variable, unit) pair once.

    Values just below zero follow their variable's declared policy (kept and flagged, clipped
    to zero and flagged, or rejected); values further out meet the range check.
    """
    size = len(value)
    _reject_unknown_variables(feed, variable, verdicts)
    bounds = _bounds(feed, variable, unit, verdicts)
    value = value * bounds.scale + bounds.offset
    flagged = np.zeros(size, bool)
    notes = np.full(size, None, dtype=object)

    noise = verdicts.ok & (bounds.policy > 0) & (value < 0) & (value >= bounds.floor)
    for code, (policy, note) in enumerate(zip(POLICIES, POLICY_NOTES, strict=True), start=1):
        rows = noise & (bounds.policy == code)
        if not rows.any():
            continue
        notes[rows] = [note.format(v) for v in value[rows]]
        if policy == "reject":
            verdicts.reject(rows, "value", notes)
        else:
            flagged |= rows
    value = np.where(noise & (bounds.policy == 1 + POLICIES.index("clip-and-flag")), 0.0, value)

    outside = verdicts.ok & ~noise & ((value < bounds.low) | (value > bounds.high))
    notes[outside] = [
        f"{v:g} is outside the plausible range {lo:g}..{hi:g}"
        for v, lo, hi in zip(value[outside], bounds.low[outside], bounds.high[outside], strict=True)
    ]
    verdicts.reject(outside & ~bounds.flag_range, "value", notes)
    flagged |= outside & bounds.flag_range
    return _Canonical(value, flagged & verdicts.ok, notes)


def _properties(table: pa.Table, size: int, ok: np.ndarray) -> dict[str, np.ndarray]:
    return {
        name: _text(table.column(name), size)[ok]
        for name in table.column_names
        if name.startswith(PROPERTY)
    }


def _sensor_ids(table: pa.Table, size: int, verdicts: Verdicts) -> pd.Categorical:
    sensor_id = _categories(_column(table, "sensor_id"), size)
    blank = (sensor_id.codes == -1) | np.asarray(sensor_id == "")
    verdicts.reject(blank, "sensor_id", "missing")
    return sensor_id


def validate(
    table: pa.Table,
    feed: FeedDefinition,
    convention: TimeConvention | None = None,
    city_zone: str | None = None,
    keep: int | None = None,
) -> ValidRows:
    """Check every row against `feed`; convert values into canonical units and times to UTC.

    `convention` is the source's time convention (default: the feed's, for canonical
    sources); `city_zone` is the zone `local` times are read in. The first `keep` rejected
    and flagged rows are listed (None: all), and all are counted.
    """
    size = table.num_rows
    lines = table.column("line").to_numpy()
    verdicts = Verdicts(lines)

    sensor_id = _sensor_ids(table, size, verdicts)
    lon, lat = _check_coordinates(table, verdicts)

    def series() -> pd.DataFrame:  # only needed for local times in a DST overlap
        return pd.DataFrame(
            {
                "sensor_id": _text(_column(table, "sensor_id"), size),
                "variable": _text(table.column("variable"), size),
            }
        )

    times = parse_times(
        table.column("time"),
        convention or feed.time_convention(None),
        city_zone,
        verdicts,
        hours=_column(table, HOUR),
        series=series,
    )
    value = _check_values(table, verdicts)
    variable = _categories(table.column("variable"), size)
    canonical = _to_canonical(
        feed, variable, _categories(_column(table, "unit"), size), value, verdicts
    )

    ok = verdicts.ok
    frame = pd.DataFrame(
        {
            **_station_columns(table, ok, lines, sensor_id, lon, lat),
            "time": times[ok].reset_index(drop=True),
            "variable": variable[ok],
            "value": canonical.value[ok],
            "flagged": canonical.flagged[ok],
            **_properties(table, size, ok),
        }
    )
    flagged = np.flatnonzero(canonical.flagged)
    flagged_rows = [
        Rejection(int(lines[row]), "value", canonical.flag_messages[row]) for row in flagged[:keep]
    ]
    return ValidRows(
        frame,
        verdicts.rejections(keep),
        flagged_rows,
        verdicts.notes,
        rejected_total=verdicts.count(),
        flagged_total=len(flagged),
    )


def _station_columns(
    table: pa.Table,
    ok: np.ndarray,
    lines: np.ndarray,
    sensor_id: pd.Categorical,
    lon: np.ndarray,
    lat: np.ndarray,
) -> dict[str, object]:
    """The columns naming and placing the sensor of each kept row."""
    return {
        "line": lines[ok],
        "sensor_id": sensor_id[ok],
        "name": _categories(_column(table, "name"), table.num_rows)[ok],
        "lon": lon[ok],
        "lat": lat[ok],
    }


def validate_stations(table: pa.Table) -> ValidRows:
    """Check a station list: an id and a valid location on every row."""
    size = table.num_rows
    lines = table.column("line").to_numpy()
    verdicts = Verdicts(lines)
    sensor_id = _sensor_ids(table, size, verdicts)
    lon, lat = _check_coordinates(table, verdicts)
    verdicts.reject(np.isnan(lon), "lon", "missing: a station needs its location")
    ok = verdicts.ok
    frame = pd.DataFrame(
        {
            **_station_columns(table, ok, lines, sensor_id, lon, lat),
            **_properties(table, size, ok),
        }
    )
    return ValidRows(frame, verdicts.rejections(), [])
