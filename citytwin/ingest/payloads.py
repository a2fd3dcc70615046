"""Platform payloads (FIWARE NGSI-LD entities, OGC SensorThings Observations) as canonical rows.

Pure: each mapper turns one parsed JSON document into canonical rows (`sensor_id, lon, lat,
time, variable, value, unit[, name]`), each tagged with the 1-based position of the item it
came from, plus per-item rejections. A document that cannot be read at all raises
`MalformedInput`. Units stay as sent (UN/CEFACT codes translated to the feed's unit names), so
the feed's aliases convert them during validation, exactly as for files.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import orjson
import pandas as pd

from citytwin.errors import MalformedInput
from citytwin.feeds import FeedRegistry
from citytwin.feeds.json_ld import compact_entity
from citytwin.feeds.smart_data_models import ENTITY_TYPES, UNIT_CODES
from citytwin.ingest.read import RawRows, rows_table
from citytwin.ingest.validate import Rejection

ZONED = r"(?:Z|z|[+-]\d\d(?::?\d\d)?)$"  # a time with its offset (validate.ZONE_SUFFIX)


@dataclass
class MappedRows:
    """Canonical rows (each with the `item` it came from) and the items rejected while mapping."""

    rows: list[dict] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    def to_raw_rows(self) -> RawRows:
        """The rows as read canonical readings (line i is rows[i - 1]), as reading them from
        NDJSON would give, without encoding them to JSON and parsing them again."""
        lines = list(range(1, len(self.rows) + 1))
        return RawRows(rows_table(self.rows, lines, skip=frozenset({"item"})), [])


def load_json(data: bytes) -> object:
    """Parse a JSON body, or say why it is not one."""
    if not data.strip():
        raise MalformedInput("the body is empty")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise MalformedInput(f"not valid JSON: {exc}") from None


def _short_type(value: object) -> str:
    # Expanded types (https://smartdatamodels.org/dataModel.Environment/AirQualityObserved).
    text = str(value or "")
    return text.rsplit("/", 1)[-1].rsplit("#", 1)[-1]


def _object(value: object) -> dict:
    """`value` if it is a JSON object, else an empty one: a member of another type (or null)
    is treated as absent, and the check that needs it names it."""
    return value if isinstance(value, dict) else {}


def _point(geometry: object) -> tuple[float | None, float | None]:
    if isinstance(geometry, dict) and geometry.get("type") == "GeoProperty":
        geometry = geometry.get("value")
    if isinstance(geometry, dict) and geometry.get("type") == "Point":
        coordinates = geometry.get("coordinates")
        if isinstance(coordinates, list) and len(coordinates) >= 2:
            return coordinates[0], coordinates[1]
    return None, None


def _plain(member: object) -> object:
    """The value of a normalized Property, or the member itself (keyValues)."""
    if isinstance(member, dict) and member.get("type") in ("Property", "GeoProperty"):
        member = member.get("value")
    if isinstance(member, dict) and "@value" in member:  # DateTime as {"@type", "@value"}
        return member["@value"]
    return member


def _seconds_between(start: object, end: object) -> float | None:
    try:
        begin = datetime.fromisoformat(str(start).replace("Z", "+00:00"))
        finish = datetime.fromisoformat(str(end).replace("Z", "+00:00"))
    except ValueError:
        return None
    seconds = (finish - begin).total_seconds()
    return seconds if seconds > 0 else None


def entity_feed(entity: object) -> str | None:
    """The feed an NGSI-LD entity belongs to, by its type (None for a type we do not map)."""
    if not isinstance(entity, dict):
        return None
    known = ENTITY_TYPES.get(_short_type(entity.get("type")))
    return known[0] if known else None


def map_entity(entity: dict, item: int) -> tuple[list[dict], Rejection | None]:
    """One NGSI-LD entity (normalized or keyValues, its names compact or expanded IRIs) as
    canonical rows, or why it cannot be."""
    entity = compact_entity(entity)
    kind = _short_type(entity.get("type"))
    if kind not in ENTITY_TYPES:
        known = ", ".join(ENTITY_TYPES)
        return [], Rejection(item, "type", f"entity type {kind!r} is not mapped (known: {known})")
    sensor = entity.get("id")
    if not isinstance(sensor, str) or not sensor:
        return [], Rejection(item, "id", "missing entity id")
    _, attributes = ENTITY_TYPES[kind]
    lon, lat = _point(entity.get("location"))
    observed = _plain(entity.get("dateObserved")) or _plain(entity.get("dateObservedTo"))
    name = _plain(entity.get("name"))
    rows = []
    for attribute, (variable, default_unit) in attributes.items():
        if attribute not in entity:
            continue
        member = entity[attribute]
        value, unit = _plain(member), default_unit
        time = observed
        if isinstance(member, dict) and member.get("type") == "Property":
            unit = UNIT_CODES.get(member.get("unitCode"), member.get("unitCode")) or unit
            time = member.get("observedAt") or time
        if isinstance(time, str) and "/" in time:  # an ISO interval: the reading is its end
            time = time.split("/", 1)[1]
        if variable == "vehicle_count" and isinstance(value, int | float):
            # SDM intensity counts vehicles over dateObservedFrom..dateObservedTo: make it a rate.
            period = _seconds_between(
                _plain(entity.get("dateObservedFrom")), _plain(entity.get("dateObservedTo"))
            )
            value = value * 3600 / period if period else value
        row = {"sensor_id": sensor, "lon": lon, "lat": lat, "time": time, "variable": variable}
        row |= {"value": value, "unit": unit, "item": item}
        if isinstance(name, str):
            row["name"] = name
        rows.append(row)
    if not rows:
        wanted = ", ".join(attributes)
        return [], Rejection(item, "entity", f"{sensor}: none of the attributes {wanted}")
    return rows, None


def map_ngsi_batch(document: object) -> dict[str, MappedRows]:
    """An NGSI-LD batch (array of entities, or one entity) as rows per feed.

    Raises `MalformedInput` when nothing in it is an entity of a mapped type.
    """
    entities = [document] if isinstance(document, dict) else document
    if not isinstance(entities, list) or not entities:
        raise MalformedInput("an NGSI-LD upsert body is a non-empty array of entities")
    if not any(entity_feed(entity) for entity in entities):
        kinds = sorted({_short_type(e.get("type")) for e in entities if isinstance(e, dict)})
        known = ", ".join(ENTITY_TYPES)
        raise MalformedInput(f"no entity of a mapped type (got {kinds}; known: {known})")
    by_feed: dict[str, MappedRows] = {}
    unmapped = MappedRows()
    for item, entity in enumerate(entities, start=1):
        if not isinstance(entity, dict):
            unmapped.rejected.append(Rejection(item, "entity", "not a JSON object"))
            continue
        feed = entity_feed(entity)
        rows, rejection = map_entity(entity, item)
        target = by_feed.setdefault(feed, MappedRows()) if feed else unmapped
        target.rows += rows
        if rejection:
            target.rejected.append(rejection)
    if unmapped.rejected:
        by_feed[""] = unmapped  # items of no feed: rejected only
    return by_feed


# --- OGC SensorThings -------------------------------------------------------------------------


def _key(text: object) -> str:
    return "".join(ch for ch in str(text).lower() if ch.isalnum())


def variable_feed(feeds: FeedRegistry, observed_property: object) -> tuple[str, str] | None:
    """(feed, variable) of an ObservedProperty name: `NO2`, `PM2.5`, `vehicle_count`…"""
    wanted = _key(observed_property)
    for feed in feeds.values():
        for variable in feed.variables:
            if _key(variable) == wanted:
                return feed.name, variable
    return None


def _datastream_row(
    feeds: FeedRegistry, datastream: object, item: int
) -> tuple[dict, str] | Rejection:
    """The sensor, place, variable and unit a Datastream gives its Observations, and the feed."""
    if not isinstance(datastream, dict):
        return Rejection(item, "Datastream", "missing: give the Datastream inline")
    if set(datastream) <= {"@iot.id", "@iot.selfLink"}:
        return Rejection(
            item,
            "Datastream",
            f"reference {datastream.get('@iot.id')!r} by id is not supported: "
            "give the Datastream inline with its Thing and ObservedProperty",
        )
    prop = _object(datastream.get("ObservedProperty")).get("name")
    if not isinstance(prop, str):
        return Rejection(item, "ObservedProperty", "needs a name (text)")
    found = variable_feed(feeds, prop)
    if found is None:
        return Rejection(item, "ObservedProperty", f"{prop!r} is not a variable of any feed")
    thing = _object(datastream.get("Thing"))
    sensor = thing.get("name") or thing.get("@iot.id") or datastream.get("name")
    if not isinstance(sensor, str | int) or isinstance(sensor, bool) or sensor == "":
        return Rejection(item, "Thing", "the Datastream's Thing needs a name or @iot.id")
    locations = thing.get("Locations")
    if locations is not None and not isinstance(locations, list):
        return Rejection(item, "Thing.Locations", "must be a list of Locations")
    first = _object(locations[0]) if locations else {}
    lon, lat = _point(first.get("location"))
    unit = _object(datastream.get("unitOfMeasurement")).get("symbol")
    if unit is not None and not isinstance(unit, str):
        return Rejection(item, "unitOfMeasurement", "symbol must be text")
    feed, variable = found
    row = {"sensor_id": str(sensor), "lon": lon, "lat": lat, "variable": variable, "unit": unit}
    return row, feed


def _observation_row(base: dict, observation: dict, item: int) -> dict | Rejection:
    time = observation.get("phenomenonTime")
    if isinstance(time, str) and "/" in time:  # an interval: the reading belongs to its end
        time = time.split("/", 1)[1]
    if "result" not in observation:
        return Rejection(item, "result", "missing")
    lon, lat = _point((observation.get("FeatureOfInterest") or {}).get("feature"))
    row = {**base, "time": time, "value": observation["result"], "item": item}
    if lon is not None:
        row |= {"lon": lon, "lat": lat}  # where it was observed (mobile sensors)
    return row


def map_observations(feeds: FeedRegistry, observations: list) -> dict[str, MappedRows]:
    """SensorThings Observations (each with its Datastream inline) as rows per feed."""
    by_feed: dict[str, MappedRows] = {}
    for item, observation in enumerate(observations, start=1):
        if not isinstance(observation, dict):
            by_feed.setdefault("", MappedRows()).rejected.append(
                Rejection(item, "Observation", "not a JSON object")
            )
            continue
        found = _datastream_row(feeds, observation.get("Datastream"), item)
        if isinstance(found, Rejection):
            by_feed.setdefault("", MappedRows()).rejected.append(found)
            continue
        base, feed = found
        row = _observation_row(base, observation, item)
        target = by_feed.setdefault(feed, MappedRows())
        if isinstance(row, Rejection):
            target.rejected.append(row)
        else:
            target.rows.append(row)
    return by_feed


def data_array_observations(document: object) -> list:
    """The Observations of a `CreateObservations` body, in dataArray order."""
    if not isinstance(document, list) or not document:
        raise MalformedInput("a CreateObservations body is a non-empty array of dataArray sets")
    observations = []
    for number, group in enumerate(document, start=1):
        if not isinstance(group, dict):
            raise MalformedInput(f"dataArray set {number}: not a JSON object")
        components, data = group.get("components"), group.get("dataArray")
        if not isinstance(components, list) or not isinstance(data, list):
            raise MalformedInput(f"dataArray set {number}: needs components and dataArray")
        for values in data:
            observation = dict(zip(components, values, strict=False)) if values else {}
            if "FeatureOfInterest/id" in observation:
                observation.pop("FeatureOfInterest/id")
            observations.append({**observation, "Datastream": group.get("Datastream")})
    return observations


def map_canonical(document: object, feed: str | None) -> dict[str, MappedRows]:
    """Canonical readings (one object or a list) as rows of `feed`, numbered from 1; items
    that are not JSON objects are rejected. MalformedInput without a feed to put them in."""
    if feed is None:
        raise MalformedInput("a canonical reading needs a topic that names its feed ({feed})")
    mapped = MappedRows()
    for number, row in enumerate(document if isinstance(document, list) else [document], 1):
        if isinstance(row, dict):
            mapped.rows.append({**row, "item": number})
        else:
            mapped.rejected.append(Rejection(number, "reading", "not a JSON object"))
    return {feed: mapped}


def parse_item_times(texts: pd.Series, timezone: str | None) -> pd.Series:
    """Item times as UTC (NaT where pandas cannot tell; validation will judge those)."""
    zoned = texts.str.contains(ZONED, regex=True, na=False).to_numpy(bool)
    parsed = pd.Series(pd.NaT, index=texts.index, dtype="datetime64[us, UTC]")
    if zoned.any():
        times = pd.to_datetime(texts[zoned], format="ISO8601", utc=True, errors="coerce")
        parsed[zoned] = times.dt.as_unit("us")
    naive = ~zoned & texts.notna().to_numpy(bool)
    if naive.any() and timezone:  # no zone: validation rejects them
        local = pd.to_datetime(texts[naive], format="ISO8601", errors="coerce").dt.as_unit("us")
        parsed[naive] = local.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
    return parsed


def reject_future(
    mapped: MappedRows, timezone: str | None, now: datetime, future: timedelta
) -> None:
    """Move rows timed later than `now + future` (a clock gone wrong) to the rejections."""
    latest = now + future
    times = [row.get("time") for row in mapped.rows]
    texts = pd.Series([t if isinstance(t, str) else None for t in times], dtype="string")
    parsed = parse_item_times(texts, timezone)
    late = (parsed > pd.Timestamp(latest)).to_numpy(bool)
    if not late.any():
        return
    seconds = int(future.total_seconds())
    kept = []
    for row, too_late in zip(mapped.rows, late, strict=True):
        if too_late:
            error = (
                f"{row['time']!r} is more than {seconds} s ahead of the service's clock "
                f"({now:%Y-%m-%dT%H:%M:%SZ})"
            )
            mapped.rejected.append(Rejection(row["item"], "time", error))
        else:
            kept.append(row)
    mapped.rows = kept
