"""NGSI-LD reads without I/O: Smart Data Models types and attributes of the stored variables,
the `q` language and `georel` as SQL conditions (values bound, never written into the SQL),
and entity documents (normalized, keyValues, temporal, aggregated; their times stay datetimes,
which the answer's JSON writes in UTC).

Each sensor is one entity, typed by its feed's kind as the upsert maps it; its id is its
external id when that is already an NGSI-LD URN, else `urn:ngsi-ld:<type>:<external id>`.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import orjson

from citytwin.errors import InvalidParameter
from citytwin.feeds.smart_data_models import ENTITY_TYPES, UNIT_CODES

Binder = Callable[[object], str]
# feed kind → type; variable → attribute (the upsert's mapping read backwards)
KIND_TYPES = {feed: kind for kind, (feed, _) in ENTITY_TYPES.items()}
ATTRIBUTES = {
    variable: attribute
    for _, attributes in ENTITY_TYPES.values()
    for attribute, (variable, _) in attributes.items()
}
VARIABLES = {attribute: variable for variable, attribute in ATTRIBUTES.items()}
CODES = {unit: code for code, unit in UNIT_CODES.items()}
ENTITY_ID = (
    "CASE WHEN s.external_id LIKE 'urn:ngsi-ld:%' THEN s.external_id "
    "ELSE 'urn:ngsi-ld:' || t.type || ':' || s.external_id END"
)
OPERATORS = {"==": "=", "!=": "<>", ">=": ">=", "<=": "<=", ">": ">", "<": "<"}
TERM = re.compile(r"\s*([A-Za-z_][\w.]*)\s*(==|!=|>=|<=|>|<)\s*(\"[^\"]*\"|'[^']*'|[^;|()]+)\s*")
GEOREL = {
    "within": "ST_Within(s.geom, {g})",
    "intersects": "ST_Intersects(s.geom, {g})",
    "contains": "ST_Contains(s.geom, {g})",
    "disjoint": "ST_Disjoint(s.geom, {g})",
    "equals": "ST_Equals(s.geom, {g})",
    "overlaps": "ST_Overlaps(s.geom, {g})",
}


def attribute_of(variable: str) -> str:
    return ATTRIBUTES.get(variable, variable)


def variable_of(attribute: str) -> str:
    return VARIABLES.get(attribute, attribute)


@dataclass
class EntityQuery:
    """Which entities: SQL conditions over `s` (sensors) and `t` (kind, type), bound values."""

    conditions: list[str] = field(default_factory=list)
    attrs: tuple[str, ...] = ()


def type_table(bind: Binder) -> str:
    """The (kind, type) pairs as a joinable row set."""
    kinds, types = list(KIND_TYPES), list(KIND_TYPES.values())
    return f"unnest({bind(kinds)}::text[], {bind(types)}::text[]) AS t (kind, type)"


def q_condition(text: str, bind: Binder) -> str:
    """The NGSI-LD query language (`no2>40;pm25<10`, `|` for or, parentheses) as SQL over
    each sensor's latest values; 400 naming the token and position it cannot read."""
    sql, position = [], 0
    while position < len(text):
        char = text[position]
        if char in "()":
            sql.append(char)
            position += 1
            continue
        if char in ";|":
            sql.append(" AND " if char == ";" else " OR ")
            position += 1
            continue
        match = TERM.match(text, position)
        if match is None:
            token = text[position:].split(";")[0][:20]
            raise InvalidParameter("q", f"cannot read {token!r} at position {position}")
        attribute, operator, raw = match.groups()
        value: object = raw.strip()
        if raw[0] in "\"'":
            raise InvalidParameter("q", f"{attribute} holds numbers, not text ({raw})")
        try:
            value = float(raw)
        except ValueError:
            raise InvalidParameter(
                "q", f"{raw.strip()!r} at position {match.start(3)} is not a number"
            ) from None
        sql.append(
            "EXISTS (SELECT 1 FROM latest_readings x JOIN variables y ON y.id = x.variable_id "
            f"WHERE x.sensor_id = s.id AND y.name = {bind(variable_of(attribute))} "
            f"AND x.value {OPERATORS[operator]} {bind(value)}::float8)"
        )
        position = match.end()
    if sql.count("(") != sql.count(")"):
        raise InvalidParameter("q", f"unbalanced parentheses at position {len(text)}")
    return "(" + "".join(sql) + ")"


def geo_condition(georel: str, geometry: str | None, coordinates: str | None, bind: Binder) -> str:
    """`georel` (`near;maxDistance==2000`, `within`, `intersects`…) against the GeoJSON given
    by `geometry` and `coordinates`, as SQL."""
    if geometry is None or coordinates is None:
        raise InvalidParameter("georel", "needs geometry and coordinates")
    try:
        parsed = orjson.loads(coordinates)
    except orjson.JSONDecodeError:
        raise InvalidParameter("coordinates", f"{coordinates!r} is not a JSON array") from None
    geojson = orjson.dumps({"type": geometry, "coordinates": parsed}).decode()
    shape = f"ST_SetSRID(ST_GeomFromGeoJSON({bind(geojson)}), 4326)"
    relation, _, modifier = georel.partition(";")
    if relation == "near":
        name, _, distance = modifier.partition("==")
        if name not in ("maxDistance", "minDistance") or not distance.isdigit():
            raise InvalidParameter("georel", "near needs maxDistance==<m> or minDistance==<m>")
        within = f"ST_DWithin(s.geom::geography, {shape}::geography, {bind(float(distance))})"
        return within if name == "maxDistance" else f"NOT {within}"
    if relation not in GEOREL:
        raise InvalidParameter("georel", f"{relation!r}: one of near, {', '.join(GEOREL)}")
    return GEOREL[relation].format(g=shape)


def _property(attribute: dict) -> dict:
    member = {"type": "Property", "value": attribute["value"], "observedAt": attribute["time"]}
    if attribute["unit"] in CODES:
        member["unitCode"] = CODES[attribute["unit"]]
    if attribute["flagged"]:
        member["flagged"] = {"type": "Property", "value": True}
    return member


def entity_document(row: dict, attrs: tuple[str, ...], key_values: bool) -> dict:
    """One sensor as an NGSI-LD entity with its latest value of each (asked) attribute."""
    document: dict = {"id": row["entity_id"], "type": row["type"]}
    latest = [a for a in row["attributes"] if not attrs or attribute_of(a["variable"]) in attrs]
    if key_values:
        document["location"] = row["location"]
        document |= {attribute_of(a["variable"]): a["value"] for a in latest}
        return document
    document["location"] = {"type": "GeoProperty", "value": row["location"]}
    document["name"] = {"type": "Property", "value": row["name"]}
    document["dateObserved"] = {
        "type": "Property",
        "value": {"@type": "DateTime", "@value": max(a["time"] for a in row["attributes"])},
    }
    document |= {attribute_of(a["variable"]): _property(a) for a in latest}
    return document


AGGREGATES = {"totalCount": "count", "sum": "sum", "avg": "avg", "min": "min", "max": "max"}


def temporal_document(
    entity: dict, series: dict[str, list[tuple[datetime, float]]], temporal_values: bool
) -> dict:
    """An entity's attributes as instances in time (or `values` pairs)."""
    document = {"id": entity["entity_id"], "type": entity["type"]}
    for variable, points in series.items():
        if temporal_values:
            values = [[value, time] for time, value in points]
            document[attribute_of(variable)] = {"type": "Property", "values": values}
        else:
            document[attribute_of(variable)] = [
                {"type": "Property", "value": value, "observedAt": time} for time, value in points
            ]
    return document


def aggregated_member(methods: tuple[str, ...]) -> str:
    """SQL of one attribute's aggregates as its NGSI-LD member's JSON text, `{"type":
    "Property", method: [[value, start, end], …]}`: an aggregate over the periods `a` (columns
    count, sum, avg, min, max, start, and `span`, the JSON strings of start and end)."""
    parts = ["""'{"type":"Property"'"""]
    for method in methods:
        value = f"a.{AGGREGATES[method]}::text"
        parts.append(
            f"""',"{method}":[' || string_agg('[' || {value} || ',' || a.span || ']', ','"""
            " ORDER BY a.start) || ']'"
        )
    return f"({' || '.join(parts)} || '}}')"


def aggregated_document(entity: Mapping, members: Mapping[str, str]) -> dict:
    """An entity with its attributes' aggregates, each the JSON text of its member (by
    variable) as `aggregated_member` has the database write it."""
    document = {"id": entity["entity_id"], "type": entity["type"]}
    for variable, member in members.items():
        document[attribute_of(variable)] = orjson.Fragment(member)
    return document


def aggregate_methods(text: str) -> tuple[str, ...]:
    """`aggrMethods` as a tuple; 400 for one this store cannot answer."""
    methods = tuple(part.strip() for part in text.split(",") if part.strip())
    for method in methods:
        if method not in AGGREGATES:
            raise InvalidParameter("aggrMethods", f"{method!r}: one of {', '.join(AGGREGATES)}")
    return methods


ENTITY_PARAMS = ("type", "id", "idPattern", "attrs", "q", "georel", "geometry", "coordinates")
ENTITY_PARAMS += ("geoproperty", "limit", "offset", "count", "options")
TEMPORAL_PARAMS = (*ENTITY_PARAMS, "timerel", "timeAt", "endTimeAt", "lastN", "timeproperty")
TEMPORAL_PARAMS += ("aggrMethods", "aggrPeriodDuration")


def check_params(params: dict[str, str], allowed: tuple[str, ...]) -> None:
    """400 for a parameter the endpoint does not know (not silently ignored)."""
    for name in params:
        if name not in allowed:
            raise InvalidParameter(name, f"unknown parameter (known: {', '.join(allowed)})")


def _listed(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def entity_query(params: dict[str, str], bind: Binder) -> EntityQuery:
    """The entities selected by `type`, `id`, `idPattern`, `attrs`, `q` and `georel`."""
    query = EntityQuery(attrs=tuple(_listed(params.get("attrs"))))
    if types := _listed(params.get("type")):
        short = [kind.rsplit("/", 1)[-1].rsplit("#", 1)[-1] for kind in types]
        query.conditions.append(f"t.type = ANY({bind(short)}::text[])")
    if ids := _listed(params.get("id")):
        query.conditions.append(f"({ENTITY_ID}) = ANY({bind(ids)}::text[])")
    if pattern := params.get("idPattern"):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise InvalidParameter("idPattern", f"not a regular expression: {exc}") from None
        query.conditions.append(f"({ENTITY_ID}) ~ {bind(pattern)}")
    if query.attrs:
        variables = [variable_of(a) for a in query.attrs]
        query.conditions.append(
            "EXISTS (SELECT 1 FROM latest_readings x JOIN variables y ON y.id = x.variable_id "
            f"WHERE x.sensor_id = s.id AND y.name = ANY({bind(variables)}::text[]))"
        )
    if q := params.get("q"):
        query.conditions.append(q_condition(q, bind))
    if georel := params.get("georel"):
        query.conditions.append(
            geo_condition(georel, params.get("geometry"), params.get("coordinates"), bind)
        )
    return query


def page(params: dict[str, str]) -> tuple[int, int, bool]:
    """(limit, offset, count) with NGSI-LD's bounds."""
    numbers = {}
    for name, default, highest in (("limit", 20, 1000), ("offset", 0, None)):
        text = params.get(name, str(default))
        if not text.isdigit() or (highest is not None and int(text) > highest):
            bound = f" at most {highest}" if highest else ""
            raise InvalidParameter(name, f"{text!r}: a non-negative integer{bound}")
        numbers[name] = int(text)
    return numbers["limit"], numbers["offset"], params.get("count") == "true"


def options_of(params: dict[str, str]) -> set[str]:
    """`options` as a set; 400 for one not known."""
    options = set(_listed(params.get("options")))
    unknown = options - {"keyValues", "temporalValues", "sysAttrs", "normalized"}
    if unknown:
        raise InvalidParameter("options", f"unknown {sorted(unknown)}")
    return options
