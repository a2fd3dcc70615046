"""Row validation, vectorised: every rejected row names its line, field and reason."""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from citytwin.errors import InvalidParameter
from citytwin.feeds.definition import FeedDefinition
from citytwin.ingest.read import PROPERTY

ZONE_SUFFIX = r"(Z|z|[+-]\d\d(:?\d\d)?)$"


@dataclass(frozen=True)
class Rejection:
    line: int
    field: str
    error: str


@dataclass(frozen=True)
class ValidRows:
    """Rows fit to store: typed, in canonical units; plus the rejected and the flagged ones."""

    # line, sensor_id, name, lon, lat, time, variable, value, flagged, and property:* columns
    frame: pd.DataFrame
    rejected: list[Rejection]
    flagged: list[Rejection]


class _Verdicts:
    """The first failing field of each row; later checks only see rows still standing."""

    def __init__(self, lines: np.ndarray) -> None:
        self.lines = lines
        self.ok = np.ones(len(lines), dtype=bool)
        self.field = np.full(len(lines), None, dtype=object)
        self.error = np.full(len(lines), None, dtype=object)

    def reject(self, mask: np.ndarray, field: str, error: str | np.ndarray) -> None:
        fresh = mask & self.ok
        if not fresh.any():
            return
        self.ok[fresh] = False
        self.field[fresh] = field
        self.error[fresh] = error if isinstance(error, str) else error[fresh]

    def rejections(self) -> list[Rejection]:
        bad = ~self.ok
        return [
            Rejection(int(line), f, e)
            for line, f, e in zip(self.lines[bad], self.field[bad], self.error[bad], strict=True)
        ]


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


def _localize(
    local: pd.Series, timezone: str | None, verdicts: _Verdicts, mask: np.ndarray
) -> pd.Series | None:
    if getattr(local.dt, "tz", None) is not None:
        return local.dt.tz_convert("UTC")
    if timezone is None:
        verdicts.reject(mask, "time", "no time zone offset, and the feed declares no timezone")
        return None
    return local.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")


def _parse_times(
    array: pa.ChunkedArray, timezone: str | None, fmt: str | None, verdicts: _Verdicts
) -> pd.Series:
    if pa.types.is_timestamp(array.type) and array.type.tz is not None:
        return array.cast(pa.timestamp("us", tz="UTC")).to_pandas()
    text = array.cast(pa.string())
    if fmt is None:
        try:  # Fast path: ISO 8601 with an offset on every row.
            return pc.cast(text, pa.timestamp("us", tz="UTC")).to_pandas()
        except pa.ArrowInvalid:
            pass
    series = text.to_pandas()
    present = series.notna().to_numpy()
    verdicts.reject(~present, "time", "missing")
    parsed = pd.Series(pd.NaT, index=series.index, dtype="datetime64[us, UTC]")
    if fmt is not None:
        local = _localize(
            pd.to_datetime(series, format=fmt, errors="coerce"), timezone, verdicts, present
        )
        if local is not None:
            parsed[:] = local
    else:
        zoned = present & np.asarray(
            pc.match_substring_regex(text, ZONE_SUFFIX).to_numpy(zero_copy_only=False), dtype=bool
        )
        if zoned.any():
            parsed[zoned] = pd.to_datetime(
                series[zoned], format="ISO8601", utc=True, errors="coerce"
            )
        naive = present & ~zoned
        if naive.any():
            local = _localize(
                pd.to_datetime(series[naive], format="ISO8601", errors="coerce"),
                timezone,
                verdicts,
                naive,
            )
            if local is not None:
                parsed[naive] = local
    bad = parsed.isna().to_numpy()
    raw = series.to_numpy(dtype=object, na_value=None)
    verdicts.reject(bad, "time", _messages(bad, raw, "cannot parse {!r} as a time"))
    return parsed


def _short(value: object, limit: int = 40) -> object:
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + "…"
    return value


def _messages(mask: np.ndarray, raw: np.ndarray, template: str) -> np.ndarray:
    out = np.full(len(mask), None, dtype=object)
    out[mask] = [template.format(_short(value)) for value in raw[mask]]
    return out


def _categories(array: pa.ChunkedArray | None, size: int) -> pd.Categorical:
    """Text as a pandas Categorical: a few distinct values stay cheap over a million rows."""
    if array is None:
        return pd.Categorical([None] * size)
    encoded = pc.dictionary_encode(array.cast(pa.string())).combine_chunks()
    return pd.Categorical.from_codes(
        encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False),
        categories=pd.Index(encoded.dictionary.to_pylist(), dtype=object),
    )


def _check_coordinates(table: pa.Table, verdicts: _Verdicts) -> tuple[np.ndarray, np.ndarray]:
    size = table.num_rows
    coordinates = []
    for field, limit in (("lon", 180.0), ("lat", 90.0)):
        array = _column(table, field)
        if array is None:
            coordinates.append(np.full(size, np.nan))
            continue
        values = _to_float(array)
        present = pc.is_valid(array).to_numpy(zero_copy_only=False)
        verdicts.reject(present & np.isnan(values), field, "not a number")
        outside = present & (np.abs(values) > limit)
        verdicts.reject(outside, field, f"must be within -{limit:g}..{limit:g}")
        coordinates.append(values)
    lon, lat = coordinates
    lon_given, lat_given = ~np.isnan(lon), ~np.isnan(lat)
    missing = "lat" if lon_given.any() else "lon"
    verdicts.reject(lon_given != lat_given, missing, "lon and lat must be given together")
    return lon, lat


def _check_values(table: pa.Table, verdicts: _Verdicts) -> np.ndarray:
    raw = table.column("value")
    value = _to_float(raw)
    nan, inf = np.isnan(value), np.isinf(value)
    if nan.any() or inf.any():
        text = _text(raw, table.num_rows)
        verdicts.reject(nan & pd.isna(text), "value", "missing")
        verdicts.reject(nan, "value", _messages(nan, text, "{!r} is not a number"))
        verdicts.reject(inf, "value", _messages(inf, text, "{!r} is not finite"))
    return value


@dataclass(frozen=True)
class _Canonical:
    value: np.ndarray
    flagged: np.ndarray
    flag_messages: np.ndarray


def _to_canonical(
    feed: FeedDefinition,
    variable: pd.Categorical,
    unit: pd.Categorical,
    value: np.ndarray,
    verdicts: _Verdicts,
) -> _Canonical:
    """Known variables, convertible units, plausible values; each (variable, unit) pair once."""
    size = len(value)
    unknown = ~np.isin(
        variable.codes,
        [code for code, name in enumerate(variable.categories) if name in feed.variables],
    )
    known_names = ", ".join(sorted(feed.variables))
    verdicts.reject(
        unknown,
        "variable",
        _messages(
            unknown,
            np.asarray(variable, dtype=object),
            f"{{!r}} is not a variable of feed {feed.name!r} ({known_names})",
        ),
    )

    scale, offset = np.ones(size), np.zeros(size)
    low, high = np.full(size, -np.inf), np.full(size, np.inf)
    flag_range = np.zeros(size, bool)
    pairs = variable.codes.astype(np.int64) * (len(unit.categories) + 1) + unit.codes + 1
    for pair in np.unique(pairs[verdicts.ok]):
        rows = verdicts.ok & (pairs == pair)
        name = variable.categories[pair // (len(unit.categories) + 1)]
        unit_code = pair % (len(unit.categories) + 1) - 1
        unit_name = unit.categories[unit_code] if unit_code >= 0 else ""
        spec = feed.variables[name]
        try:
            conversion = spec.conversion(unit_name or spec.unit)
        except InvalidParameter as exc:
            verdicts.reject(rows, "unit", f"{exc.message} for variable {name!r}")
            continue
        scale[rows], offset[rows] = conversion.scale, conversion.offset
        if spec.range is not None:
            low[rows], high[rows] = spec.range
            flag_range[rows] = spec.out_of_range == "flag"

    value = value * scale + offset
    outside = verdicts.ok & ((value < low) | (value > high))
    messages = np.full(size, None, dtype=object)
    messages[outside] = [
        f"{v:g} is outside the plausible range {lo:g}..{hi:g}"
        for v, lo, hi in zip(value[outside], low[outside], high[outside], strict=True)
    ]
    verdicts.reject(outside & ~flag_range, "value", messages)
    return _Canonical(value, outside & flag_range, messages)


def validate(
    table: pa.Table,
    feed: FeedDefinition,
    timezone: str | None = None,
    time_format: str | None = None,
) -> ValidRows:
    """Check every row against `feed`; convert values into canonical units."""
    size = table.num_rows
    lines = table.column("line").to_numpy()
    verdicts = _Verdicts(lines)

    sensor_id = _categories(_column(table, "sensor_id"), size)
    blank = (sensor_id.codes == -1) | np.asarray(sensor_id == "")
    verdicts.reject(blank, "sensor_id", "missing")
    lon, lat = _check_coordinates(table, verdicts)
    times = _parse_times(table.column("time"), timezone or feed.timezone, time_format, verdicts)
    value = _check_values(table, verdicts)
    variable = _categories(table.column("variable"), size)
    canonical = _to_canonical(
        feed, variable, _categories(_column(table, "unit"), size), value, verdicts
    )

    ok = verdicts.ok
    properties = {
        name: _text(table.column(name), size)[ok]
        for name in table.column_names
        if name.startswith(PROPERTY)
    }
    frame = pd.DataFrame(
        {
            "line": lines[ok],
            "sensor_id": sensor_id[ok],
            "name": _categories(_column(table, "name"), size)[ok],
            "lon": lon[ok],
            "lat": lat[ok],
            "time": times[ok].reset_index(drop=True),
            "variable": variable[ok],
            "value": canonical.value[ok],
            "flagged": canonical.flagged[ok],
            **properties,
        }
    )
    flagged = canonical.flagged
    flagged_rows = [
        Rejection(int(line), "value", message)
        for line, message in zip(lines[flagged], canonical.flag_messages[flagged], strict=True)
    ]
    return ValidRows(frame, verdicts.rejections(), flagged_rows)
