"""The OpenAPI 3.0 document of `/ogc` as a service of its own: paths relative to its landing
page (`/collections/{collectionId}/items`, as GDAL and QGIS look them up), and one items path
per collection whose parameters name its queryables (GDAL sends `name=value` and CQL filters
only for properties the items operation declares)."""

import copy

from citytwin.query import ogc
from citytwin.query.cql import Queryable

PREFIX = "/ogc"
ITEMS = "/collections/{collectionId}/items"
SCHEMAS = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date-time": {"type": "string", "format": "date-time"},
}


def _relative(path: str) -> str | None:
    """`path` relative to the `/ogc` landing page, or None if outside it."""
    if path == PREFIX:
        return "/"
    if path.startswith(PREFIX + "/"):
        return path.removeprefix(PREFIX)
    return None


def _queryable_parameter(queryable: Queryable) -> dict:
    return {
        "name": queryable.name,
        "in": "query",
        "required": False,
        "description": f"Only features whose {queryable.name} equals this. "
        + queryable.description,
        "schema": SCHEMAS[queryable.type],
        "style": "form",
        "explode": False,
    }


def _mixes_variables(collection: ogc.Collection) -> bool:
    return collection.resolution is not None and collection.variable is None


def _collection_items(
    generic: dict, collection: ogc.Collection, queryables: dict[str, Queryable]
) -> dict:
    """The items operation of one collection: the generic one without `collectionId`, with a
    parameter per non-geometry queryable."""
    operation = copy.deepcopy(generic)
    declared = {item.get("name") for item in operation.get("parameters", [])}
    # `variable` chooses among the variables of the cells-r{N} collections only.
    dropped = {"collectionId"} | (set() if _mixes_variables(collection) else {"variable"})
    operation["parameters"] = [
        item for item in operation.get("parameters", []) if item.get("name") not in dropped
    ] + [
        _queryable_parameter(item)
        for item in queryables.values()
        if item.type != "geometry" and item.name not in declared
    ]
    operation["summary"] = f"Features of {collection.id}"
    operation["operationId"] = f"getItems_{collection.id.replace('-', '_')}"
    return operation


def ogc_openapi(
    whole: dict,
    root: str,
    listed: list[ogc.Collection],
    queryables: dict[str, dict[str, Queryable]],
) -> dict:
    """The `/ogc` part of `whole` (the app's OpenAPI 3.0 document) served from `root`, with an
    items path per collection of `listed` (`queryables` by collection id)."""
    paths = {}
    for path, item in whole["paths"].items():
        relative = _relative(path)
        if relative is not None:
            paths[relative] = item
    generic = paths[ITEMS]["get"]
    for collection in listed:
        operation = _collection_items(generic, collection, queryables[collection.id])
        paths[f"/collections/{collection.id}/items"] = {"get": operation}
    return {
        "openapi": whole["openapi"],
        "info": {
            **whole["info"],
            "title": "citytwin OGC API - Features and Tiles",
            "description": "The `/ogc` service of citytwin: sensors, the city's base layers and "
            "H3 cell aggregates as OGC API - Features collections (with queryables and CQL2 "
            "filters) and vector tilesets.",
        },
        "servers": [{"url": root}],
        "paths": paths,
        "components": whole.get("components", {}),
    }
