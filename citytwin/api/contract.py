"""The OpenAPI document made to tell the truth about what the API answers.

FastAPI writes 422 for bad parameters (the API answers 400 with `Error`), knows nothing of the
API key (routes read it as a header), of bodies read raw from the request, or of answers that
are not JSON. This adds, per operation: the security scheme of writes, their request bodies
with media types, every status the error table answers, and the real response media types.
"""

import re
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from citytwin.api.deps import require_api_key
from citytwin.api.standard_errors import ODataRoute

ERROR = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string", "description": "Kind of error, e.g. InvalidParameter."},
        "detail": {"type": "string"},
        "parameter": {"type": "string", "description": "The parameter, member or body at fault."},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}
PROBLEM = {"type": "object", "properties": {"title": {"type": "string"}}}
ERROR_CONTENT = {
    "application/json": {"schema": ERROR},
    "application/problem+json": {"schema": PROBLEM},
}
ODATA_ERROR = {  # what SensorThings read routes answer (`standard_errors.odata_error`)
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}
# A path under /v1.1 that matches no route is answered before routing, as everywhere else.
ODATA_CONTENT = {"application/json": {"schema": {"anyOf": [ODATA_ERROR, ERROR]}}}
STATUS_TEXT = {
    "400": "A parameter, member or line of the body is wrong (named in `parameter`)",
    "401": "A write without an API key",
    "403": "The key may not write here",
    "404": "The thing named does not exist",
    "405": "This instance is read-only",
    "408": "The body stalled",
    "409": "The request does not fit the current state",
    "413": "The body is too large",
    "429": "Too many writes from this key; see Retry-After",
    "507": "The layer store is full (CITYTWIN_LAYER_STORE_MAX_BYTES)",
    "503": "The database cannot be reached or is busy; see Retry-After",
}
WRITE_STATUSES = ("401", "403", "405", "408", "409", "413", "429")
ANY_JSON = {"schema": {}}
TEXT = {"schema": {"type": "string"}}
BINARY = {"schema": {"type": "string", "format": "binary"}}
GEOJSON_TABLES = {
    "application/geo+json": ANY_JSON,
    "application/json": ANY_JSON,
    "text/csv": TEXT,
    "application/vnd.apache.parquet": BINARY,
}
COVERAGES = {
    "application/json": ANY_JSON,
    "application/prs.coverage+json": ANY_JSON,
    "application/x-netcdf": BINARY,
}
# The answers of 200 by "METHOD path", first match wins; others are JSON.
ANSWERS: list[tuple[str, dict]] = [
    (
        r"\.mvt$|/tiles/\{tileMatrixSetId\}/\{tileMatrix\}",
        {"application/vnd.mapbox-vector-tile": BINARY},
    ),
    (r"\.png$", {"image/png": BINARY}),
    (r" /(sensors|readings|cells)(/\{sensor_id\})?$|/items", GEOJSON_TABLES),
    (r" /city", {"application/geo+json": ANY_JSON, "application/json": ANY_JSON}),
    (r"^GET /sensors/health$", {"application/geo+json": ANY_JSON}),
    (r"/series$", {"application/json": ANY_JSON, "text/csv": TEXT}),
    (r"/(cube|area|position)$|^GET /layers/\{layer_id\}/diff$", COVERAGES),
    (r" /twin/stream$", {"text/event-stream": ANY_JSON}),  # each event's data is JSON
    (r" /$", {"text/html": TEXT, "application/json": ANY_JSON}),
    (r" /ngsi-ld/", {"application/json": ANY_JSON, "application/ld+json": ANY_JSON}),
]
READINGS = {
    "text/csv": TEXT,
    "application/x-ndjson": TEXT,
    "application/geo+json": ANY_JSON,
    "application/json": ANY_JSON,
    "application/ld+json": ANY_JSON,
}
# Bodies read raw (so that a stalled one holds no connection): their media types by path.
BODIES: dict[str, dict] = {
    "/feeds/{feed}/readings": READINGS,
    "/ngsi-ld/v1/entityOperations/upsert": {
        "application/json": ANY_JSON,
        "application/ld+json": ANY_JSON,
    },
    "/Observations": {"application/json": ANY_JSON},
    "/v1.1/Observations": {"application/json": ANY_JSON},
    "/CreateObservations": {"application/json": ANY_JSON},
    "/v1.1/CreateObservations": {"application/json": ANY_JSON},
    "/scenarios": {"application/json": ANY_JSON, "application/yaml": TEXT},
}


def _calls(dependant: Any) -> set:
    """Every dependency callable of a route, however deep."""
    found = set()
    for dependency in dependant.dependencies:
        found |= {dependency.call} | _calls(dependency)
    return found


def _api_routes(app: FastAPI) -> Iterator[RouteContext]:
    """Every API operation's route as mounted (FastAPI keeps included routers nested)."""
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield context


def _writes(app: FastAPI) -> set[tuple[str, str]]:
    """(path, method) of the operations that need a key."""
    return {
        (route.path_format, method.lower())
        for route in _api_routes(app)
        if require_api_key in _calls(route.dependant)
        for method in route.methods
    }


def _odata(app: FastAPI) -> set[tuple[str, str]]:
    """(path, method) of the operations that answer errors as OData (SensorThings reads)."""
    return {
        (route.path_format, method.lower())
        for route in _api_routes(app)
        if isinstance(route.original_route, ODataRoute)
        for method in route.methods
    }


def _operation(path: str, method: str, operation: dict, write: bool, odata: bool) -> None:
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)
    errors = ODATA_CONTENT if odata else ERROR_CONTENT

    def answer(status: str) -> dict:
        return {"description": STATUS_TEXT[status], "content": errors}

    for status in set(responses) & set(STATUS_TEXT):  # errors a route declares: the one body
        responses[status]["content"] = errors
    for status in ("400", "404", "503"):
        responses.setdefault(status, answer(status))
    ok = next((code for code in ("200", "201", "202", "204", "207") if code in responses), None)
    if ok and ok != "204":
        for pattern, content in ANSWERS:
            if re.search(pattern, f"{method.upper()} {path}"):
                responses[ok]["content"] = content
                break
    if method == "get" and ok == "200":
        responses.setdefault("304", {"description": "Not modified (ETag)"})
    if write:
        operation["security"] = [{"ApiKey": []}, {"Basic": []}]
        for status in WRITE_STATUSES:
            responses.setdefault(status, answer(status))
        if method == "post" and path in BODIES:
            operation["requestBody"] = {"required": True, "content": BODIES[path]}
        if path in ("/feeds/{feed}/readings", "/ngsi-ld/v1/entityOperations/upsert"):
            responses.setdefault(
                "201", {"description": "Stored", "content": {"application/json": ANY_JSON}}
            )
            responses.setdefault("204", {"description": "Nothing new to store"})
            responses.setdefault(
                "207",
                {"description": "Some items failed", "content": {"application/json": ANY_JSON}},
            )


def truthful_openapi(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document, made once and kept."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    document = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = document.setdefault("components", {})
    components.setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    components["securitySchemes"] = {
        "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        "Basic": {"type": "http", "scheme": "basic", "description": "The key as the password"},
    }
    writes, odata = _writes(app), _odata(app)
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            key = (path, method)
            _operation(path, method, operation, key in writes, key in odata)
    app.openapi_schema = document
    return document
