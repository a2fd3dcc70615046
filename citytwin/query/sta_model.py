"""The SensorThings 1.1 data model over citytwin's tables: entity sets, their properties as SQL
expressions, and the relations between them. Pure data, no I/O.

A Thing, its Location, HistoricalLocation, Sensor and FeatureOfInterest are all one `sensors` row
(same id); an ObservedProperty is a variable; a Datastream is a (sensor, variable) series with id
`sensor id * 1000 + variable id`; an Observation is one reading, id `"<datastream id>:<time>"`.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from citytwin.errors import NotFound

DATASTREAM_FACTOR = 1000  # variable ids stay below it: a store holds tens of variables
OM_MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
SENSOR_NAME = "coalesce(s.name, s.external_id)"
DATASTREAM_ID = f"(s.id::bigint * {DATASTREAM_FACTOR} + v.id)"
GEOJSON = "ST_AsGeoJSON({})::json"


@dataclass(frozen=True)
class Prop:
    """A property: `sql` for filters and ordering, `out` (default `sql`) for the answer;
    `kind` types literals compared with it: number, text, time, geometry, json, interval."""

    sql: str
    kind: str
    out: str | None = None

    @property
    def output(self) -> str:
        return self.out or self.sql


@dataclass(frozen=True)
class Relation:
    """A navigation to `target`: its rows where `condition` holds for this row's `key`.
    `inline`: the target's properties read from this row's own joins (usable in $filter)."""

    target: str
    key: str
    condition: str
    many: bool
    inline: bool = False


@dataclass(frozen=True)
class EntitySet:
    name: str
    source: str
    id: Prop
    properties: dict[str, Prop]
    relations: dict[str, Relation] = field(default_factory=dict)
    order: str = ""  # default order (a unique key) when $orderby gives none

    def id_condition(self, value: object, bind: object) -> str:
        """The condition selecting the entity with `value` as id (NotFound if it cannot be)."""
        if self.name == "Observations":
            datastream, time = observation_key(value)
            return (
                f"r.sensor_id = {bind(datastream // DATASTREAM_FACTOR)} AND "
                f"r.variable_id = {bind(datastream % DATASTREAM_FACTOR)} AND "
                f"r.time = {bind(time)}"
            )
        if not isinstance(value, int):
            raise NotFound(self.name, value)
        return f"{self.id.sql} = {bind(value)}"


def observation_id(sensor_id: int, variable_id: int, time: datetime) -> str:
    """The id of a reading as an Observation (the same text the SQL of `@iot.id` makes)."""
    utc = time.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    return f"{sensor_id * DATASTREAM_FACTOR + variable_id}:{utc}"


def observation_key(value: object) -> tuple[int, datetime]:
    """(datastream id, time) of an Observation id; NotFound when it is not one."""
    text = str(value)
    datastream, _, time = text.partition(":")
    try:
        moment = datetime.fromisoformat(time)
        return int(datastream), moment
    except ValueError:
        raise NotFound("Observations", value) from None


SENSOR_KEY = "s.id"
SAME_SENSOR = "s.id = {key}"
THING = Relation("Things", SENSOR_KEY, SAME_SENSOR, many=False, inline=True)
LOCATIONS = Relation("Locations", SENSOR_KEY, SAME_SENSOR, many=True, inline=True)
HISTORICAL = Relation("HistoricalLocations", SENSOR_KEY, SAME_SENSOR, many=True, inline=True)
SENSOR_DATASTREAMS = Relation("Datastreams", SENSOR_KEY, "l.sensor_id = {key}", many=True)

POINT = Prop("s.geom", "geometry", GEOJSON.format("s.geom"))
ENTITY_SETS: dict[str, EntitySet] = {
    "Things": EntitySet(
        "Things",
        "sensors s",
        Prop("s.id", "number"),
        {
            "name": Prop(SENSOR_NAME, "text"),
            "description": Prop("'sensor ' || s.external_id || ' of feed ' || s.feed", "text"),
            "properties": Prop(
                "jsonb_build_object('feed', s.feed, 'externalId', s.external_id, "
                "'mobile', s.mobile) || s.properties",
                "json",
            ),
        },
        {
            "Locations": LOCATIONS,
            "HistoricalLocations": HISTORICAL,
            "Datastreams": SENSOR_DATASTREAMS,
        },
        "s.id",
    ),
    "Locations": EntitySet(
        "Locations",
        "sensors s",
        Prop("s.id", "number"),
        {
            "name": Prop(SENSOR_NAME, "text"),
            "description": Prop("'where sensor ' || s.external_id || ' is registered'", "text"),
            "encodingType": Prop("'application/geo+json'", "text"),
            "location": POINT,
        },
        {
            "Things": Relation("Things", SENSOR_KEY, SAME_SENSOR, many=True, inline=True),
            "HistoricalLocations": HISTORICAL,
        },
        "s.id",
    ),
    "HistoricalLocations": EntitySet(
        "HistoricalLocations",
        "sensors s",
        Prop("s.id", "number"),
        {"time": Prop("s.created_at", "time")},
        {"Thing": THING, "Locations": LOCATIONS},
        "s.id",
    ),
    "Sensors": EntitySet(
        "Sensors",
        "sensors s",
        Prop("s.id", "number"),
        {
            "name": Prop(SENSOR_NAME, "text"),
            "description": Prop("'sensor ' || s.external_id || ' of feed ' || s.feed", "text"),
            "encodingType": Prop("'text/plain'", "text"),
            "metadata": Prop("s.feed", "text"),
        },
        {"Datastreams": SENSOR_DATASTREAMS},
        "s.id",
    ),
    "FeaturesOfInterest": EntitySet(
        "FeaturesOfInterest",
        "sensors s",
        Prop("s.id", "number"),
        {
            "name": Prop(SENSOR_NAME, "text"),
            "description": Prop("'the place of sensor ' || s.external_id", "text"),
            "encodingType": Prop("'application/geo+json'", "text"),
            "feature": POINT,
        },
        {"Observations": Relation("Observations", SENSOR_KEY, "r.sensor_id = {key}", many=True)},
        "s.id",
    ),
    "ObservedProperties": EntitySet(
        "ObservedProperties",
        "variables v",
        Prop("v.id", "number"),
        {
            "name": Prop("v.name", "text"),
            "definition": Prop("'urn:citytwin:variable:' || v.name", "text"),
            "description": Prop("v.name || ' in ' || v.unit", "text"),
        },
        {"Datastreams": Relation("Datastreams", "v.id", "l.variable_id = {key}", many=True)},
        "v.id",
    ),
    "Datastreams": EntitySet(
        "Datastreams",
        "latest_readings l JOIN sensors s ON s.id = l.sensor_id "
        "JOIN variables v ON v.id = l.variable_id",
        Prop(DATASTREAM_ID, "number"),
        {
            "name": Prop(f"v.name || ' of ' || {SENSOR_NAME}", "text"),
            "description": Prop(f"v.name || ' measured by ' || {SENSOR_NAME}", "text"),
            "unitOfMeasurement": Prop(
                "json_build_object('name', v.unit, 'symbol', v.unit, 'definition', "
                "'urn:citytwin:unit:' || v.unit)",
                "json",
            ),
            "observationType": Prop(f"'{OM_MEASUREMENT}'", "text"),
            "observedArea": POINT,
            # The first reading is the series' first index entry; the last is the live state.
            "phenomenonTime": Prop(
                "(SELECT x.time FROM latest_readings x "
                "WHERE x.sensor_id = s.id AND x.variable_id = v.id)",
                "time",
                "ARRAY[(SELECT min(x.time) FROM readings x "
                "WHERE x.sensor_id = s.id AND x.variable_id = v.id), l.time]",
            ),
        },
        {
            "Thing": Relation("Things", SENSOR_KEY, SAME_SENSOR, many=False, inline=True),
            "Sensor": Relation("Sensors", SENSOR_KEY, SAME_SENSOR, many=False, inline=True),
            "ObservedProperty": Relation(
                "ObservedProperties", "v.id", "v.id = {key}", many=False, inline=True
            ),
            "Observations": Relation(
                "Observations",
                DATASTREAM_ID,
                f"r.sensor_id = {{key}} / {DATASTREAM_FACTOR} "
                f"AND r.variable_id = {{key}} % {DATASTREAM_FACTOR}",
                many=True,
            ),
        },
        "l.sensor_id, l.variable_id",
    ),
    "Observations": EntitySet(
        "Observations",
        "readings r JOIN sensors s ON s.id = r.sensor_id JOIN variables v ON v.id = r.variable_id",
        # Filters compare the text; answers select its parts (`ID_PARTS`) and format them in
        # Python, as to_char on every row would cost more than the query.
        Prop(
            f"{DATASTREAM_ID}::text || ':' || "
            "to_char(r.time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
            "text",
            'r.sensor_id AS "id:sensor", r.variable_id AS "id:variable", r.time AS "id:time"',
        ),
        {
            "phenomenonTime": Prop("r.time", "time"),
            "resultTime": Prop("r.time", "time"),
            "result": Prop("r.value", "number"),
            "resultQuality": Prop("CASE WHEN r.flagged THEN 'flagged' ELSE 'ok' END", "text"),
            "parameters": Prop(
                "CASE WHEN r.geom IS NULL THEN NULL ELSE json_build_object('location', "
                "ST_AsGeoJSON(r.geom)::json) END",
                "json",
            ),
        },
        {
            "Datastream": Relation(
                "Datastreams",
                DATASTREAM_ID,
                f"l.sensor_id = {{key}} / {DATASTREAM_FACTOR} "
                f"AND l.variable_id = {{key}} % {DATASTREAM_FACTOR}",
                many=False,
                inline=True,
            ),
            "FeatureOfInterest": Relation(
                "FeaturesOfInterest", SENSOR_KEY, SAME_SENSOR, many=False, inline=True
            ),
        },
        "r.time, r.sensor_id, r.variable_id",
    ),
}


def entity_set(name: str) -> EntitySet:
    """The entity set called `name`; NotFound otherwise."""
    if name not in ENTITY_SETS:
        raise NotFound("entity set", name)
    return ENTITY_SETS[name]


def resolve_path(entity: EntitySet, path: list[str]) -> Prop:
    """The property at `path` (`name`, `Thing/name`, `Datastream/Thing/Locations/location`)
    through inline relations; KeyError naming the first step that is not one."""
    current = entity
    for step in path[:-1]:
        relation = current.relations.get(step)
        if relation is None or not relation.inline:
            raise KeyError("/".join(path))
        current = ENTITY_SETS[relation.target]
    last = path[-1]
    if last == "id":
        return current.id
    if last not in current.properties:
        raise KeyError("/".join(path))
    return current.properties[last]
