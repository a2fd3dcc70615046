"""The app's OpenAPI 3.1 document (what FastAPI writes) restated as OpenAPI 3.0.3, the version
OGC API - Features Part 1 and EDR name in their `oas30` conformance classes and that GDAL and
QGIS read."""

from typing import Any

VERSION = "3.0.3"
DROPPED = ("$schema", "jsonSchemaDialect", "webhooks", "contentMediaType", "contentEncoding")


def _nullable(alternatives: list) -> dict | None:
    """`anyOf: [X, {type: null}]` as X with `nullable: true`; None for other unions."""
    others = [item for item in alternatives if item != {"type": "null"}]
    if len(others) == len(alternatives):
        return None
    if len(others) == 1:
        only = _schema(others[0])
        return {"allOf": [only], "nullable": True} if "$ref" in only else {**only, "nullable": True}
    return {"anyOf": [_schema(item) for item in others], "nullable": True}


def _schema(node: Any) -> Any:
    """One node converted, recursively."""
    if isinstance(node, list):
        return [_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict = {}
    for key, value in node.items():
        if key in DROPPED:
            continue
        if key == "anyOf" and isinstance(value, list) and (merged := _nullable(value)):
            out.update(merged)
        elif key == "type" and isinstance(value, list):
            kinds = [kind for kind in value if kind != "null"]
            out["type"] = kinds[0]
            if len(kinds) < len(value):
                out["nullable"] = True
        elif key == "const":
            out["enum"] = [value]
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            out["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            out[key] = True
        elif key == "examples" and isinstance(value, list) and "in" not in node:
            if value:
                out["example"] = _schema(value[0])  # schema objects: 3.0 has one example
        else:
            out[key] = _schema(value)
    return out


def downgrade(document: dict) -> dict:
    """`document` (OpenAPI 3.1) as an OpenAPI 3.0.3 document."""
    converted = _schema(document)
    converted["openapi"] = VERSION
    return converted


def app_openapi_30(app: Any) -> dict:
    """The FastAPI `app`'s description as OpenAPI 3.0.3, made once per app."""
    document = app.state.__dict__.get("openapi_30")
    if document is None:
        document = app.state.openapi_30 = downgrade(app.openapi())
    return document
