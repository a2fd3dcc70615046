"""What tileset descriptions (TileJSON, OGC API - Tiles) say about the tiles: where hexagons are
drawn, which fields the tiles carry, and whose data they show."""

from citytwin.db.pool import Connection
from citytwin.db.queries.features import cell_parents, layer_bounds
from citytwin.feeds import FeedRegistry
from citytwin.query.cells import Bounds, cells_bounds

CELL_FIELDS = {
    "h3": "String",
    "count": "Number",
    "mean": "Number",
    "min": "Number",
    "max": "Number",
}
SENSOR_FIELDS = {"id": "Number", "feed": "String", "external_id": "String", "name": "String"}
DISTRICT_FIELDS = {"id": "String", "name": "String"}


async def cells_drawn_bounds(conn: Connection, resolution: int) -> Bounds | None:
    """The extent of the whole hexagons at `resolution` that hold data (None: no data).

    A client asks only for tiles inside the bounds it is given; bounds of the cell centres
    would cut the hexagons reaching beyond them at a tile edge.
    """
    return cells_bounds(await cell_parents(conn, resolution))


async def sensors_bounds(conn: Connection) -> Bounds | None:
    """The extent of the sensor points (None: no sensors)."""
    return await layer_bounds(conn, "sensors")


async def districts_bounds(conn: Connection) -> Bounds | None:
    """The extent of the whole district polygons (None before a city is imported)."""
    return await layer_bounds(conn, "districts")


def sensor_fields(feeds: FeedRegistry) -> dict[str, str]:
    """The fields of the sensor tiles: the sensor's own, and per variable of every feed its
    latest value and that value's time."""
    names = sorted({name for feed in feeds.values() for name in feed.variables})
    latest = {name: "Number" for name in names}
    times = {f"{name}_time": "String" for name in names}
    return SENSOR_FIELDS | latest | times


def attribution(feeds: FeedRegistry) -> str:
    """Whose data the tiles show: each feed's attribution, once, in feed order."""
    credits = dict.fromkeys(feed.attribution for feed in feeds.values() if feed.attribution)
    return "; ".join(["citytwin", *credits])
