"""OGC SensorThings API 1.1, read side, at `/v1.1`: the service root, entity sets, entities by
id, navigation, `$ref`, properties and `$value`, with the OData query options, and the
aggregates extension (`$apply`), whole hours from the sensor hours. Errors are OData error
bodies."""

from datetime import datetime

import orjson
from fastapi import APIRouter, Request, Response

from citytwin.api.deps import ConnDep, SettingsDep
from citytwin.api.standard_errors import ODataRoute
from citytwin.api.standard_json import utc_json
from citytwin.db.pool import Connection
from citytwin.db.queries import series, sta
from citytwin.query import sta_apply
from citytwin.query.odata import QueryOptions, parse_options
from citytwin.query.sta_documents import (
    Step,
    document,
    format_value,
    iso,
    next_link,
    parse_path,
    resolve,
)
from citytwin.query.sta_model import ENTITY_SETS

PREFIX = "/v1.1"
SPEC = "http://www.opengis.net/spec/iot_sensing/1.1/req/"
CONFORMANCE = [
    SPEC + "datamodel",
    SPEC + "resource-path/resource-path-to-entities",
    SPEC + "request-data",
]
AGGREGATES = "https://citytwin.example/sta/aggregates"

router = APIRouter(prefix=PREFIX, tags=["SensorThings"], route_class=ODataRoute)


def _base(request: Request) -> str:
    return f"{str(request.base_url).rstrip('/')}{PREFIX}"


@router.get("", summary="SensorThings service root")
async def service_root(request: Request, settings: SettingsDep) -> Response:
    """The entity sets and `serverSettings`: the conformance classes met and the extensions."""
    base = _base(request)
    sets = [{"name": name, "url": f"{base}/{name}"} for name in ENTITY_SETS]
    aggregates = {
        "description": "Observations of a Datastream aggregated per interval, of unflagged "
        "readings, as proposed by FROST's users (FraunhoferIOSB/FROST-Server#26)",
        "example": f"{base}/Datastreams(1001)/Observations?$apply=aggregate(result with "
        "average as avg,result with max as max,$count as n)&$interval=PT1H"
        "&$filter=phenomenonTime ge 2026-11-02T00:00:00Z and phenomenonTime lt "
        "2026-11-03T00:00:00Z",
        "functions": list(sta_apply.FUNCTIONS),
        "interval": "ISO 8601 duration; whole hours over a range of whole hours are summed "
        "from the sensor hours (fromRollups: true), other periods from the readings",
    }
    settings_doc = {
        "conformance": CONFORMANCE,
        SPEC + "request-data": {"maxTop": settings.api.max_page_size},
        AGGREGATES: aggregates,
    }
    return utc_json({"value": sets, "serverSettings": settings_doc})


async def _walk(conn: Connection, steps: list[Step]) -> sta.Scope | None:
    """The scope of the last step: each entity along the path looked up (404 if missing)."""
    scope, parent = None, None
    for position, step in enumerate(steps):
        if step.relation is not None:
            scope = sta.Scope(step.relation.condition, parent[f"key:{step.name}"])
        if position < len(steps) - 1:
            # Only the key the next step needs (a Datastream's month reads no first time).
            keys, key_only = (steps[position + 1].name,), QueryOptions(select=("id",))
            parent = await sta.entity_by_id(conn, step.entity, step.id, key_only, scope, keys)
    return scope


@router.get("/{resource:path}", summary="SensorThings entities, navigation, $ref, properties")
async def read(request: Request, resource: str, conn: ConnDep, settings: SettingsDep) -> Response:
    """Any resource path below the root with `$filter`, `$expand`, `$select`, `$orderby`,
    `$top`, `$skip`, `$count`; `$apply` + `$interval` on a Datastream's Observations."""
    params = dict(request.query_params)
    options = parse_options(params, settings.api.max_page_size)
    path = parse_path(resource)
    steps, prop = resolve(path)
    scope = await _walk(conn, steps)
    last, base = steps[-1], _base(request)
    if options.apply is not None:
        query = sta_apply.aggregate_query(steps, options, settings.api.series_max_periods)
        found = await series.series_aggregates(conn, query.series)
        return utc_json({"value": sta_apply.documents(query, [dict(r) for r in found])})
    if prop is not None or path.ref:
        options.select = (prop,) if prop else ("id",)
    if last.single:
        row = await sta.entity_by_id(conn, last.entity, last.id, options, scope)
        answer = document(last.entity, row, base, options)
        if prop is not None:
            value = format_value(row["@iot.id"] if prop == "id" else row[prop])
            if path.value:
                text = iso(value) if isinstance(value, datetime) else str(value)
                return Response(text, media_type="text/plain")
            return utc_json({prop: value})
        if path.ref:
            return utc_json({"@iot.selfLink": answer["@iot.selfLink"]})
        return utc_json(answer)
    whole = None if path.ref else base  # `$ref` answers take only the selfLinks
    page = await sta.collection(conn, last.entity, options, scope, whole)
    items = [document(last.entity, row, base, options) for row in page.rows]
    if path.ref:
        items = [{"@iot.selfLink": item["@iot.selfLink"]} for item in items]
    answer = {} if page.count is None else {"@iot.count": page.count}
    answer["value"] = items if page.json is None else orjson.Fragment(page.json)
    if page.more:
        answer["@iot.nextLink"] = next_link(f"{base}/{resource.strip('/')}", params, options)
    return utc_json(answer)
