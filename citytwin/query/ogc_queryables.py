"""The queryables of each OGC API - Features collection: the properties `filter`, `sortby` and
the Part 1 property parameters may name, each a fixed SQL expression over the collection's row
(`s.` sensors, `b.` the city's base layers, `a.` cell aggregates)."""

from citytwin.query.cql import Queryable
from citytwin.query.ogc import Collection


def _q(name: str, sql: str, kind: str, description: str) -> Queryable:
    return Queryable(name, sql, kind, description, sortable=kind != "geometry")


SENSORS = (
    _q("id", "s.id", "integer", "The sensor's id."),
    _q("feed", "s.feed", "string", "The feed the sensor belongs to, e.g. air."),
    _q("external_id", "s.external_id", "string", "The sensor's id in its publisher's data."),
    _q("name", "s.name", "string", "The sensor's name."),
    _q("h3", "to_hex(s.cell)", "string", "The sensor's H3 cell at the base resolution (hex)."),
    _q(
        "mobile", "s.mobile", "boolean", "Whether the sensor has reported from away from its point."
    ),
    _q(
        "site_type",
        "s.properties ->> 'site_type'",
        "string",
        "The station's site type as its station list declares it (traffic, urban background, "
        "suburban, industrial, rural, background); null for sensors of no station list.",
    ),
    _q("geometry", "s.geom", "geometry", "The sensor's point."),
)
BASE = {
    "districts": (
        _q("id", "b.id", "string", "The district's id."),
        _q("name", "b.name", "string", "The district's name."),
    ),
    "roads": (
        _q("id", "b.id", "string", "The road's id."),
        _q("road_class", "b.road_class", "string", "The OSM highway class, e.g. primary."),
        _q("name", "b.name", "string", "The road's name."),
        _q("maxspeed", "b.maxspeed", "number", "Speed limit in km/h."),
        _q("lanes", "b.lanes", "integer", "Number of lanes."),
        _q("oneway", "b.oneway", "boolean", "Whether the road is one-way."),
    ),
    "buildings": (
        _q("id", "b.id", "string", "The building's id."),
        _q("use", "b.use", "string", "The OSM building use, e.g. residential."),
        _q("name", "b.name", "string", "The building's name."),
        _q("levels", "b.levels", "number", "Number of levels."),
        _q("height", "b.height", "number", "Height in metres."),
        _q("year", "b.year", "integer", "Year of construction."),
    ),
}
BASE_GEOMETRY = _q("geometry", "b.geom", "geometry", "The feature's geometry.")
CELLS = (
    _q("h3", "to_hex(a.cell)", "string", "The H3 cell (hex)."),
    _q("count", "a.count", "integer", "Readings aggregated in the window."),
    _q("mean", "a.mean", "number", "Mean of the readings, in the variable's unit."),
    _q("min", "a.min", "number", "Smallest reading, in the variable's unit."),
    _q("max", "a.max", "number", "Largest reading, in the variable's unit."),
    _q("std", "a.std", "number", "Sample standard deviation of the readings."),
)
CELL_VARIABLE = _q("variable", "a.variable", "string", "The variable aggregated, e.g. no2.")


def queryables_of(collection: Collection) -> dict[str, Queryable]:
    """The queryables of `collection` by name."""
    if collection.resolution is not None:
        chosen = CELLS if collection.variable else (*CELLS[:1], CELL_VARIABLE, *CELLS[1:])
    elif collection.layer == "sensors":
        chosen = SENSORS
    else:
        chosen = (*BASE[collection.layer], BASE_GEOMETRY)
    return {item.name: item for item in chosen}
