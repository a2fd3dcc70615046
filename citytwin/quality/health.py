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
