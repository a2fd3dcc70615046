"""Quality benchmark: faults planted into real PM2.5 series, found by `citytwin.quality`.

Series: the Aberdeen sensor.community SDS011 export and the London LAQN hourly export in
`../shared/data/real` (skipped when absent), and the demo air feed everywhere; PM2.5 as hourly
means per sensor. Over `ROUNDS` seeded rounds, a different half of each network's sensors gets one
planted fault each, the kinds rotated from round to round so that every network gets every kind,
after a week of clean training data: spikes, stuck, offset, drift (20 % per week, for up to
three weeks: a drifting sensor does not recover by itself), noise. Precision and recall per kind,
pooled over the rounds: per reading for spikes and stuck, per sensor-day for offset, drift and
noise. False alarms: sensor-days of the unplanted series (every sensor, nothing planted) with
any flag of the checks; also apart, those sensor-days that hold no reading beyond the network by
the physical rule of `beyond_network` (a real fault of the data). Baseline in the same run: a
fixed range and jump check without history (what the twin's `suspect` flag does). Ingest cost:
the quality stage's time over the package's ingest time of the same readings (bench/ingest.py's
CSV).
"""

import argparse
import asyncio
import io
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from ingest import make_csv, run_ours
from rich.console import Console
from rich.table import Table

from citytwin.cli import prepare_store
from citytwin.db.pool import connect
from citytwin.feeds import load_feeds
from citytwin.quality.checks import KINDS, assess
from citytwin.quality.stage import hour_codes, hourly, policy_of, reading_codes
from citytwin.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
REAL = Path(os.environ.get("CITYTWIN_REAL_DATA", ROOT.parent.parent / "shared" / "data" / "real"))
FAULTS = ("spike", "stuck", "offset", "drift", "noise")
START_HOUR = 8 * 24  # faults begin after a week of training data (and a day)
ROUNDS = 5  # plantings per network: each sensor's kind rotates, so every network gets every kind
DRIFT_HOURS = 3 * 168  # a drift lasts up to three weeks (to the end of a shorter series)
# A sensor-hour beyond every other sensor of its network by this factor is a real fault of the
# data, not a false alarm of the checks: PM2.5 is mostly regional (secondary aerosol), so a
# city's sensors read within a few times of each other at the same hour unless one is faulty or
# sits in a local plume, which its cell's air does not share either.
BEYOND_FACTOR = 3.0
console = Console()


def aberdeen() -> pd.DataFrame:
    raw = pd.read_csv(
        REAL / "aberdeen_sensor_community" / "sds011_aberdeen_2019-04.csv",
        sep=";",
        usecols=["sensor_id", "timestamp", "P2"],
        parse_dates=["timestamp"],
    )
    raw["hour"] = raw["timestamp"].dt.floor("h")
    return raw.pivot_table(index="hour", columns="sensor_id", values="P2", aggfunc="mean")


def london() -> pd.DataFrame:
    raw = pd.read_csv(
        REAL / "london_laqn_kdd2018" / "london_aq_hourly_long.csv",
        usecols=["station_id", "time_utc", "pm25"],
    )
    raw = raw[raw["time_utc"].str.startswith(("2017-01", "2017-02"))]
    frame = raw.pivot_table(index="time_utc", columns="station_id", values="pm25")
    return frame.loc[:, frame.notna().mean() > 0.8]


def demo() -> pd.DataFrame:
    raw = pd.read_json(ROOT / "sensors" / "samples" / "air.ndjson", lines=True)
    raw = raw[raw["variable"] == "pm25"]
    return raw.pivot_table(index="time", columns="sensor_id", values="value")


def plant(
    frame: pd.DataFrame, rng: np.random.Generator, round_: int = 0
) -> tuple[pd.DataFrame, dict]:
    """A copy with faults in a seeded half of the sensors, the kinds rotated by `round_`:
    sensor → (kind, planted mask)."""
    values = frame.to_numpy(copy=True)
    hours = len(frame)
    planted: dict[str, tuple[str, np.ndarray]] = {}
    chosen = rng.permutation(frame.shape[1])[: frame.shape[1] // 2]
    for number, column in enumerate(chosen):
        kind = FAULTS[(number + round_) % len(FAULTS)]
        series = values[:, column]
        start = min(START_HOUR, hours - 24) if hours > 2 * START_HOUR else hours // 2
        mask = np.zeros(hours, bool)
        level = np.nanmedian(series)
        if kind == "spike":
            at = rng.choice(np.arange(start, hours), size=min(8, hours - start), replace=False)
            series[at] += np.maximum(60.0, 5 * level)
            mask[at] = True
        elif kind == "stuck":
            mask[start : start + 12] = True
            series[mask] = series[start - 1] if np.isfinite(series[start - 1]) else level
        elif kind == "offset":
            mask[start : start + 72] = True
            series[mask] += max(5.0, 0.6 * level)
        elif kind == "drift":
            mask[start : start + DRIFT_HOURS] = True
            ramp = np.arange(mask.sum()) / 168 * 0.2  # 20 % per week
            series[mask] *= 1 + ramp
        else:
            mask[start : start + 72] = True
            series[mask] += rng.normal(0, max(5.0, level), mask.sum())
        mask &= np.isfinite(series)
        values[:, column] = series
        planted[frame.columns[column]] = (kind, mask)
    return pd.DataFrame(values, index=frame.index, columns=frame.columns), planted


def score(codes: pd.DataFrame, unplanted: pd.DataFrame, planted: dict, days: np.ndarray) -> dict:
    """Counts per kind (tp, flagged, planted) and each drifting sensor's first flag (hours).

    A flag the same check also raises on the unplanted series (a fault of the real data, such as
    Aberdeen's humidity spikes) is neither a hit nor a false hit of a planted fault: those are
    what the false alarms count (`false_alarms`).
    """
    tally = {kind: [0, 0, 0] for kind in FAULTS}
    delays = []
    for sensor in codes.columns:
        flags = codes[sensor].to_numpy()
        real = unplanted[sensor].to_numpy()
        kind_of, mask = planted.get(sensor, (None, None))
        for kind in FAULTS:
            hit = (flags & KINDS[kind]) != 0
            known = (real & KINDS[kind]) != 0
            truth = mask if kind == kind_of else np.zeros(len(flags), bool)
            if kind in ("offset", "drift", "noise"):  # per sensor-day
                hit = pd.Series(hit).groupby(days).any().to_numpy()
                known = pd.Series(known).groupby(days).any().to_numpy()
                truth = pd.Series(truth).groupby(days).any().to_numpy()
            hit = hit & (~known | truth)
            tally[kind][0] += int((hit & truth).sum())
            tally[kind][1] += int(hit.sum())
            tally[kind][2] += int(truth.sum())
        if kind_of == "drift":
            # Found: a shift fault that opens while it drifts after a day without one (not one
            # open, or flickering, before it began), where the unplanted series has none.
            shift = KINDS["drift"] | KINDS["offset"]
            hit = ((flags & shift) != 0) & ((real & shift) == 0)
            before = np.convolve(hit, np.ones(24), mode="full")[: len(hit)] - hit
            found = np.flatnonzero(hit & (before == 0) & mask)
            delays.append(found[0] - np.flatnonzero(mask)[0] if len(found) else np.inf)
    return {"tally": tally, "delays": delays}


def beyond_network(values: pd.DataFrame, factor: float = BEYOND_FACTOR) -> np.ndarray:
    """Sensor-hours whose reading is more than `factor` times the highest, or below
    1 / `factor` of the lowest, of every other sensor of the network at that hour (three or
    more of them reading): a real fault of the data by a rule that does not use the checks."""
    x = values.to_numpy(float)
    out = np.zeros(x.shape, bool)
    for column in range(x.shape[1]):
        others = np.delete(x, column, axis=1)
        enough = np.isfinite(others).sum(axis=1) >= 3
        highest = np.max(np.where(np.isfinite(others), others, -np.inf), axis=1)
        lowest = np.min(np.where(np.isfinite(others), others, np.inf), axis=1)
        with np.errstate(invalid="ignore"):
            beyond = (x[:, column] > factor * highest) | (x[:, column] < lowest / factor)
        out[:, column] = enough & beyond
    return out


def false_alarms(codes: pd.DataFrame, values: pd.DataFrame, days: np.ndarray) -> dict:
    """On the unplanted series: sensor-days with data, those with a flag of the checks (and per
    kind), those of them with no reading beyond the network (`beyond_network`), and
    validation's range flags apart."""
    flags = codes.to_numpy()
    checks = sum(KINDS[kind] for kind in FAULTS)

    def days_with(mask: np.ndarray) -> np.ndarray:
        return pd.DataFrame(mask).groupby(days).any().to_numpy()

    present = days_with(values.notna().to_numpy())
    flagged = days_with((flags & checks) != 0)
    real = days_with(beyond_network(values))
    return {
        "days": int(present.sum()),
        "alarms": int(flagged.sum()),
        "alarms_without_real_faults": int((flagged & ~real).sum()),
        "by_kind": {kind: int(days_with((flags & KINDS[kind]) != 0).sum()) for kind in FAULTS},
        "ranged": int(days_with((flags & KINDS["range"]) != 0).sum()),
    }


def empty_totals() -> dict:
    return {
        "tally": {kind: [0, 0, 0] for kind in FAULTS},
        "delays": [],
        "days": 0,
        "alarms": 0,
        "alarms_without_real_faults": 0,
        "by_kind": dict.fromkeys(FAULTS, 0),
        "ranged": 0,
    }


def add(total: dict, found: dict) -> None:
    """Adds counts of `score` or `false_alarms` into `total`."""
    for key, value in found.items():
        if key == "tally":
            for kind in FAULTS:
                pairs = zip(total["tally"][kind], value[kind], strict=True)
                total["tally"][kind] = [a + b for a, b in pairs]
        elif key == "by_kind":
            for kind in FAULTS:
                total["by_kind"][kind] += value[kind]
        else:
            total[key] += value


def baseline(values: pd.DataFrame) -> pd.DataFrame:
    """Range and a fixed 50 µg/m³ jump, no history: spikes only (and stuck never)."""
    jump = values.diff().abs() > 50
    return (jump.astype(np.uint8) * KINDS["spike"]).where(values.notna(), 0)


def ingest_cost(rows: int) -> tuple[float, float, float]:
    """(share, stage seconds, ingest seconds): the quality stage's time over the time of the
    package's ingest of the same `rows` readings (bench/ingest.py's CSV), which includes it."""
    data = make_csv(rows)
    settings = Settings().updated(pg_database="citytwin_bench")
    feed = load_feeds(settings.ingest.feeds_dir)["air"]

    async def ingested() -> float:
        url = await prepare_store(settings)
        conn = await connect(url)
        try:
            await conn.execute(
                "TRUNCATE sensors, readings, cell_rollups, cell_rollup_deltas, "
                "cell_rollup_months, cell_rollup_months_built, sensor_hours, sensor_hour_deltas, "
                "cells"
            )
            seconds, _ = await run_ours(conn, feed, data, settings)
            await conn.execute(
                "TRUNCATE sensors, readings, cell_rollups, cell_rollup_deltas, "
                "cell_rollup_months, cell_rollup_months_built, sensor_hours, sensor_hour_deltas, "
                "cells"
            )
        finally:
            await conn.close()
        return seconds

    ingest_seconds = asyncio.run(ingested())
    table = pd.read_csv(io.BytesIO(data), usecols=["sensor_id", "time", "variable", "value"])
    table["time"] = pd.to_datetime(table["time"], utc=True)
    parts = [
        (part, feed.variables[variable])
        for variable, part in table.groupby("variable")
        if feed.variables[variable].quality is not None
    ]

    def stage() -> float:
        began = time.perf_counter()
        for part, spec in parts:
            sensors = part["sensor_id"].astype(str).to_numpy()
            own = hourly(sensors, part["time"], part["value"].to_numpy(float))
            codes = hour_codes(own.iloc[:0], own, policy_of(spec, spec.quality))
            reading_codes(sensors, part["time"], codes)
        return time.perf_counter() - began

    # The median of three: the shared machine's load moves single runs by a third.
    stage_seconds = float(np.median([stage() for _ in range(3)]))
    return stage_seconds / ingest_seconds, stage_seconds, ingest_seconds


def networks() -> dict:
    """The series measured: the demo feed, and the real ones where `REAL` exists."""
    found = {"demo (Vaduz, generated)": demo}
    if REAL.exists():
        found |= {"Aberdeen sensor.community": aberdeen, "London LAQN": london}
    return found


def measure(series: dict, rounds: int = ROUNDS) -> dict:
    """Totals of ours and the baseline per network (name → {"ours", "baseline"})."""
    rng = np.random.default_rng(20261203)
    out = {}
    for name, load in series.items():
        frame = load()
        days = np.asarray(pd.to_datetime(frame.index).floor("D"))
        seeds = rng.integers(2**32, size=rounds)  # the same plantings for ours and the baseline
        totals = {}
        for label, check in (("ours", assess), ("baseline", baseline)):
            unplanted = check(frame)
            totals[label] = empty_totals()
            add(totals[label], false_alarms(unplanted, frame, days))
            for round_, seed in enumerate(seeds):
                faulty, planted = plant(frame, np.random.default_rng(seed), round_)
                add(totals[label], score(check(faulty), unplanted, planted, days))
        out[name] = totals | {"shape": frame.shape}
    return out


def summary(total: dict) -> dict:
    """Figures of pooled totals: F1 per kind, drift delays, false-alarm shares."""
    delays = np.asarray(total["delays"], float)
    found = delays[np.isfinite(delays)]
    median = float(np.median(delays)) if len(delays) else np.inf  # a drift not found: never
    days = max(total["days"], 1)
    return {
        "faults": {kind: prf(*total["tally"][kind]) for kind in FAULTS},
        "drift_delay_hours": median if np.isfinite(median) else None,
        "drift_delay_hours_of_found": float(np.median(found)) if len(found) else None,
        "drift_found": [len(found), len(delays)],
        "drift_within_48h": int((found <= 48).sum()),
        "false_alarm_sensor_days": round(total["alarms"] / days, 4),
        "false_alarm_sensor_days_without_real_faults": round(
            total["alarms_without_real_faults"] / days, 4
        ),
        "false_alarm_days_by_kind": total["by_kind"],
        "range_sensor_days": round(total["ranged"] / days, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="figures as JSON on the last line")
    parser.add_argument("--rows", type=int, default=200_000, help="readings for the ingest cost")
    args = parser.parse_args()
    measured = measure(networks())
    ours, base = empty_totals(), empty_totals()
    for name, totals in measured.items():
        add(ours, totals["ours"])
        add(base, totals["baseline"])
        figures = summary(totals["ours"])
        f1 = ", ".join(f"{kind} {figures['faults'][kind]['f1']:.2f}" for kind in FAULTS)
        console.print(
            f"{name}: {totals['shape'][1]} sensors, {totals['shape'][0]} hours; F1 {f1}; "
            f"drift found {figures['drift_found'][0]} of {figures['drift_found'][1]} "
            f"(median {figures['drift_delay_hours_of_found']} h); false alarms "
            f"{figures['false_alarm_sensor_days']:.2%}"
        )
    figures, reference = summary(ours), summary(base)
    table = Table(title=f"planted faults found, {ROUNDS} rounds (ours vs history-free baseline)")
    for column in ("kind", "precision", "recall", "F1", "baseline F1"):
        table.add_column(column, justify="right")
    for kind in FAULTS:
        row = figures["faults"][kind]
        table.add_row(
            kind,
            f"{row['precision']:.2f}",
            f"{row['recall']:.2f}",
            f"{row['f1']:.2f}",
            f"{reference['faults'][kind]['f1']:.2f}",
        )
    console.print(table)
    cost, stage_seconds, ingest_seconds = ingest_cost(args.rows)
    found, planted = figures["drift_found"]
    console.print(
        f"drift: {found} of {planted} drifting sensors found (median delay "
        f"{figures['drift_delay_hours_of_found']} h), {figures['drift_within_48h']} within 48 h; "
        f"false "
        f"alarms {figures['false_alarm_sensor_days']:.2%} of {ours['days']} unplanted "
        f"sensor-days ({figures['false_alarm_sensor_days_without_real_faults']:.2%} without the "
        f"days holding a reading {BEYOND_FACTOR:g}× beyond the network; by kind "
        f"{ours['by_kind']}; range flags of validation on {figures['range_sensor_days']:.2%} "
        f"more; baseline {reference['false_alarm_sensor_days']:.2%}); ingest cost {cost:.1%} "
        f"(stage {stage_seconds:.2f} s of {ingest_seconds:.2f} s for {args.rows:,} readings)"
    )
    if args.json:
        print(json.dumps(figures | {"ingest_cost": round(cost, 4)}))


def prf(tp: int, flagged: int, planted: int) -> dict:
    precision = tp / flagged if flagged else 0.0
    recall = tp / planted if planted else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3)}


if __name__ == "__main__":
    main()
