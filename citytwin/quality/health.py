"""A sensor's health from the per-kind counts of its readings' quality codes. Pure."""

from datetime import datetime

from citytwin.quality.checks import KINDS

ANY = "any"
# The kinds the store is asked about: each check, and any of them (for the score).
ASKED = {**KINDS, ANY: sum(KINDS.values())}


def _iso(time: datetime | None) -> str | None:
    return None if time is None else time.strftime("%Y-%m-%dT%H:%M:%SZ")


def health_document(rows: list[dict], window_hours: float) -> dict:
    """Per variable: readings, newest, score (share without a fault), status, open faults
    (kind and since when) and each check's state, from `sensor_health` rows."""
    variables: dict[str, dict] = {}
    for row in rows:
        entry = variables.setdefault(
            row["variable"],
            {"readings": row["readings"], "newest": _iso(row["newest"]), "checks": {}},
        )
        if row["kind"] == ANY:
            entry["score"] = round(1 - row["flagged"] / row["readings"], 4)
            continue
        entry["checks"][row["kind"]] = {
            "status": "fault" if row["open"] else "ok",
            "since": _iso(row["since"]),
            "flagged": row["flagged"],
        }
    for entry in variables.values():
        entry["open"] = [
            {"kind": kind, "since": check["since"]}
            for kind, check in entry["checks"].items()
            if check["status"] == "fault"
        ]
        entry["status"] = "fault" if entry["open"] else "ok"
    return {"window_hours": window_hours, "variables": variables}


def _score(readings: int, flagged: int) -> float | None:
    return round(1 - flagged / readings, 4) if readings else None


def network_document(rows: list[dict], window_hours: float) -> dict:
    """A GeoJSON FeatureCollection of sensors with their score, status and open faults, and per
    kind of fault the sensors it is open at and its flagged readings, from `network_health`
    rows."""
    features = []
    totals = {kind: {"open": 0, "flagged": 0} for kind in KINDS}
    for row in rows:
        opened = [
            {"variable": variable, "kind": kind, "since": _iso(since)}
            for variable, kind, since in zip(
                row["open_variables"] or [],
                row["open_kinds"] or [],
                row["open_since"] or [],
                strict=True,
            )
        ]
        for kind in {fault["kind"] for fault in opened}:
            totals[kind]["open"] += 1
        for kind, count in zip(
            row["flagged_kinds"] or [], row["flagged_counts"] or [], strict=True
        ):
            totals[kind]["flagged"] += count
        score = _score(row["readings"], row["flagged"])
        features.append(
            {
                "type": "Feature",
                "id": row["id"],
                "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]},
                "properties": {
                    "id": row["id"],
                    "feed": row["feed"],
                    "external_id": row["external_id"],
                    "name": row["name"],
                    "readings": row["readings"],
                    "flagged": row["flagged"],
                    "score": score,
                    "status": "fault" if opened else "ok" if score is not None else "no data",
                    "open": opened,
                },
            }
        )
    return {
        "type": "FeatureCollection",
        "window_hours": window_hours,
        "sensors": len(features),
        "faulty": sum(f["properties"]["status"] == "fault" for f in features),
        "kinds": totals,
        "features": features,
    }
