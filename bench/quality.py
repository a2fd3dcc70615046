"""Quality benchmark: faults planted into real PM2.5 series, found by `citytwin.quality`.

Series: the Aberdeen sensor.community SDS011 export and the London LAQN hourly export in
`../shared/data/real` (skipped when absent), and the demo air feed everywhere; PM2.5 as hourly
means per sensor. A seeded half of each network's sensors gets one planted fault each, after a
week of clean training data: spikes, stuck, offset, drift (20 % per week), noise. Precision and
recall per kind: per reading for spikes and stuck, per sensor-day for offset, drift and noise.
False alarms: sensor-days of unplanted sensors with any flag. Baseline in the same run: a fixed
range and jump check without history (what the twin's `suspect` flag does). Ingest cost: the
quality stage's time over the package's ingest time of the same readings (bench/ingest.py's CSV).
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


def plant(frame: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    """A copy with faults in a seeded half of the sensors: sensor → (kind, planted mask)."""
    values = frame.to_numpy(copy=True)
    hours = len(frame)
    planted: dict[str, tuple[str, np.ndarray]] = {}
    chosen = rng.permutation(frame.shape[1])[: frame.shape[1] // 2]
    for number, column in enumerate(chosen):
        kind = FAULTS[number % len(FAULTS)]
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
            mask[start : start + 168] = True
            ramp = np.arange(mask.sum()) / 168 * 0.2  # 20 % per week
            series[mask] *= 1 + ramp
        else:
            mask[start : start + 72] = True
            series[mask] += rng.normal(0, max(5.0, level), mask.sum())
        mask &= np.isfinite(series)
        values[:, column] = series
        planted[frame.columns[column]] = (kind, mask)
    return pd.DataFrame(values, index=frame.index, columns=frame.columns), planted


def score(
    codes: pd.DataFrame, unplanted: pd.DataFrame, planted: dict, days: np.ndarray, has: pd.DataFrame
) -> dict:
    """Counts per kind (tp, flagged, planted), false-alarm sensor-days, first drift flag delay.

    A flag the same check also raises on the unplanted series (a fault of the real data, such as
    Aberdeen's humidity spikes) is neither a hit nor a false hit of a planted fault; such flags
    are what the false-alarm figure counts, on the sensors left unplanted. Range flags are
    validation's, not the checks': they are left out of the false alarms (and counted apart).
    """
    tally = {kind: [0, 0, 0] for kind in FAULTS}
    alarms = clean_days = ranged = 0
    by_kind = dict.fromkeys(FAULTS, 0)  # false-alarm sensor-days per kind
    delays = []
    network = sum(KINDS[kind] for kind in FAULTS)
    for sensor in codes.columns:
        flags = codes[sensor].to_numpy()
        real = unplanted[sensor].to_numpy()
        kind_of, mask = planted.get(sensor, (None, None))
        present = has[sensor].groupby(days).any()
        if kind_of is None:
            alarms += int(pd.Series((flags & network) != 0).groupby(days).any().sum())
            for kind in FAULTS:
                flagged = pd.Series((flags & KINDS[kind]) != 0).groupby(days).any()
                by_kind[kind] += int(flagged.sum())
            ranged += int(pd.Series((flags & KINDS["range"]) != 0).groupby(days).any().sum())
            clean_days += int(present.sum())
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
            found = np.flatnonzero(((flags & (KINDS["drift"] | KINDS["offset"])) != 0) & mask)
            delays.append(found[0] - np.flatnonzero(mask)[0] if len(found) else np.inf)
    return {
        "tally": tally,
        "alarms": alarms,
        "by_kind": by_kind,
        "ranged": ranged,
        "clean_days": clean_days,
        "delays": delays,
    }


def empty_totals() -> dict:
    return {
        "tally": {kind: [0, 0, 0] for kind in FAULTS},
        "alarms": 0,
        "by_kind": dict.fromkeys(FAULTS, 0),
        "ranged": 0,
        "clean_days": 0,
        "delays": [],
    }


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="figures as JSON on the last line")
    parser.add_argument("--rows", type=int, default=200_000, help="readings for the ingest cost")
    args = parser.parse_args()
    networks = {"demo (Vaduz, generated)": demo}
    if REAL.exists():
        networks |= {"Aberdeen sensor.community": aberdeen, "London LAQN": london}
    rng = np.random.default_rng(20261203)
    ours, base = empty_totals(), empty_totals()
    for name, load in networks.items():
        frame = load()
        faulty, planted = plant(frame, rng)
        days = np.asarray(pd.to_datetime(frame.index).floor("D"))
        for total, check in ((ours, assess), (base, baseline)):
            found = score(check(faulty), check(frame), planted, days, frame.notna())
            for kind in FAULTS:
                total["tally"][kind] = [
                    a + b for a, b in zip(total["tally"][kind], found["tally"][kind], strict=True)
                ]
            for key in ("alarms", "ranged", "clean_days", "delays"):
                total[key] += found[key]
            for kind in FAULTS:
                total["by_kind"][kind] += found["by_kind"][kind]
        console.print(
            f"{name}: {frame.shape[1]} sensors, {frame.shape[0]} hours, {len(planted)} planted"
        )
    figures = {kind: prf(*ours["tally"][kind]) for kind in FAULTS}
    table = Table(title="planted faults found (ours vs history-free baseline)")
    for column in ("kind", "precision", "recall", "F1", "baseline F1"):
        table.add_column(column, justify="right")
    for kind in FAULTS:
        row, ref = figures[kind], prf(*base["tally"][kind])
        table.add_row(
            kind,
            f"{row['precision']:.2f}",
            f"{row['recall']:.2f}",
            f"{row['f1']:.2f}",
            f"{ref['f1']:.2f}",
        )
    console.print(table)
    delays = [d for d in ours["delays"] if np.isfinite(d)]
    delay = float(np.median(delays)) if delays else float("inf")
    alarms = ours["alarms"] / max(ours["clean_days"], 1)
    cost, stage_seconds, ingest_seconds = ingest_cost(args.rows)
    console.print(
        f"drift found after {delay:.0f} h (median; {len(delays)} of "
        f"{len(ours['delays'])} drifting sensors found); false alarms "
        f"{alarms:.2%} of {ours['clean_days']} unplanted sensor-days (sensor-days by kind: "
        f"{ours['by_kind']}; range flags of validation "
        f"on {ours['ranged'] / max(ours['clean_days'], 1):.2%} more; baseline "
        f"{base['alarms'] / max(base['clean_days'], 1):.2%}); ingest cost {cost:.1%} "
        f"(stage {stage_seconds:.2f} s of {ingest_seconds:.2f} s for {args.rows:,} readings)"
    )
    if args.json:
        print(
            json.dumps(
                {
                    "faults": figures,
                    "drift_delay_hours": delay if np.isfinite(delay) else None,
                    "false_alarm_sensor_days": round(alarms, 4),
                    "false_alarm_days_by_kind": ours["by_kind"],
                    "ingest_cost": round(cost, 4),
                }
            )
        )


def prf(tp: int, flagged: int, planted: int) -> dict:
    precision = tp / flagged if flagged else 0.0
    recall = tp / planted if planted else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3)}


if __name__ == "__main__":
    main()
