"""Source times to UTC interval starts, by the source's declared time convention.

Times with an offset keep it; times without are read in the declared zone (the city's zone for
`local`). A local time that does not exist (the spring DST gap) is rejected as such; one that
exists twice (the autumn overlap) is read as summer time at its first appearance in a series
(sensor and variable) and as winter time at its second, as exports list hours in order.
Hour-ending stamps are moved to the start of their hour.
"""

from collections.abc import Callable
from datetime import timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from citytwin.feeds.source import LOCAL, TimeConvention
from citytwin.ingest.verdicts import Messages, Verdicts

ZONE_SUFFIX = r"(Z|z|[+-]\d\d(:?\d\d)?)$"
NO_ZONE = (
    "no offset, and no time zone to read it in: set the city's zone (CITYTWIN_TIME_ZONE) "
    "or declare the source's time zone"
)


def _first_in_series(local: pd.Series, series: pd.DataFrame | None) -> np.ndarray:
    """True where a local time appears for the first time in its series."""
    keys = pd.DataFrame({"time": local.to_numpy()})
    if series is not None:
        keys = pd.concat([series.reset_index(drop=True), keys], axis=1)
    return ~keys.duplicated(keep="first").to_numpy()


def _localize(
    local: pd.Series, zone: str, series: Callable[[], pd.DataFrame | None], notes: list[str]
) -> tuple[pd.Series, np.ndarray]:
    """Naive local times in UTC, and where each fell in the DST gap.

    Most times are neither in the gap nor in the overlap: they take one vectorised pass; only
    the few that are look at their series (`series()`: sensor and variable of every row).
    """
    zoned = local.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
    unresolved = (local.notna() & zoned.isna()).to_numpy()
    gap = np.zeros(len(local), bool)
    if not unresolved.any():
        return zoned.dt.tz_convert("UTC"), gap
    rows = np.flatnonzero(unresolved)
    candidates = local.iloc[rows]
    # Gap times shift forward and stand; overlap times stay NaT: they are the ambiguous ones.
    shifted = candidates.dt.tz_localize(zone, ambiguous="NaT", nonexistent="shift_forward")
    overlap = shifted.isna().to_numpy()
    gap[rows[~overlap]] = True
    if overlap.any():
        twice = candidates[overlap]
        keys = series()
        keys = None if keys is None else keys.iloc[rows[overlap]]
        zoned.iloc[rows[overlap]] = twice.dt.tz_localize(
            zone, ambiguous=_first_in_series(twice, keys)
        )
        hours = ", ".join(sorted(set(twice.dt.strftime("%Y-%m-%d %H:%M"))))
        notes.append(
            f"{int(overlap.sum())} local times in the DST overlap of {zone} ({hours}) were "
            "read in order: summer time at their first appearance in a series, winter time "
            "at their second"
        )
    return zoned.dt.tz_convert("UTC"), gap


def _with_hours(
    dates: pd.Series, hours: pa.ChunkedArray, verdicts: Verdicts, present: np.ndarray
) -> pd.Series:
    """A date-only time plus an hour-of-day column (0-23)."""
    text = hours.cast(pa.string()).to_pandas().str.strip()
    number = pd.to_numeric(text, errors="coerce")
    bad = present & ~(number.between(0, 23) & (number % 1 == 0)).to_numpy()
    raw = text.to_numpy(dtype=object, na_value=None)
    verdicts.reject(bad, "time", Messages("hour {!r} is not a whole hour 0-23", raw))
    return dates + pd.to_timedelta(number.where(~bad), unit="h")


def parse_times(
    array: pa.ChunkedArray,
    convention: TimeConvention,
    city_zone: str | None,
    verdicts: Verdicts,
    hours: pa.ChunkedArray | None = None,
    series: Callable[[], pd.DataFrame | None] = lambda: None,
) -> pd.Series:
    """UTC start of each row's interval; rows that fail are rejected with the reason."""
    zone = city_zone if convention.zone == LOCAL else convention.zone
    shift = timedelta(hours=1) if convention.stamp == "hour-ending" else timedelta(0)
    if pa.types.is_timestamp(array.type) and array.type.tz is not None:
        return array.cast(pa.timestamp("us", tz="UTC")).to_pandas() - shift
    text = array.cast(pa.string())
    if convention.format is None and hours is None and text.null_count == 0:
        try:  # Fast path: ISO 8601 with an offset on every row (missing ones are named below).
            return pc.cast(text, pa.timestamp("us", tz="UTC")).to_pandas() - shift
        except pa.ArrowInvalid:
            pass
    frame = text.to_pandas()
    raw = frame.to_numpy(dtype=object, na_value=None)
    present = frame.notna().to_numpy()
    verdicts.reject(~present, "time", "missing")
    parsed = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us, UTC]")
    local = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us]")
    zoned_rows = np.zeros(len(frame), bool)
    if convention.format is not None or hours is not None:
        local[:] = pd.to_datetime(frame, format=convention.format or "ISO8601", errors="coerce")
        if hours is not None:
            local = _with_hours(local, hours, verdicts, present)
    else:
        zoned_rows = present & np.asarray(
            pc.match_substring_regex(text, ZONE_SUFFIX).to_numpy(zero_copy_only=False), dtype=bool
        )
        if zoned_rows.any():
            parsed[zoned_rows] = pd.to_datetime(
                frame[zoned_rows], format="ISO8601", utc=True, errors="coerce"
            )
        if (~zoned_rows).any():
            local[~zoned_rows] = pd.to_datetime(
                frame[~zoned_rows], format="ISO8601", errors="coerce"
            )
    naive = present & ~zoned_rows & local.notna().to_numpy()  # unparsed: named below
    if naive.any() and zone is None:
        verdicts.reject(naive, "time", NO_ZONE)
    elif naive.any():

        def naive_series() -> pd.DataFrame | None:
            keys = series()
            return None if keys is None else keys[naive]

        utc, gap = _localize(local[naive], zone, naive_series, verdicts.notes)
        parsed[naive] = utc
        in_gap = np.zeros(len(frame), bool)
        in_gap[np.flatnonzero(naive)[gap]] = True
        shown = np.full(len(frame), None, dtype=object)
        shown[in_gap] = local[in_gap].dt.strftime("%Y-%m-%d %H:%M").to_numpy(dtype=object)
        verdicts.reject(
            in_gap, "time", Messages("local time {} is in the DST gap of " + zone, shown)
        )
    bad = parsed.isna().to_numpy()
    verdicts.reject(bad, "time", Messages("cannot parse {!r} as a time", raw))
    return parsed - shift
