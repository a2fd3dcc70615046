"""NGSI-LD read side at `/ngsi-ld/v1`: entities (one per sensor, with its latest values),
types, attributes, the batch query, and the temporal API with aggregation (whole hours from
the sensor hours).
Errors are problem+json with the NGSI-LD error types."""

from datetime import datetime, timedelta

from fastapi import APIRouter, Request, Response

from citytwin.api.deps import ConnDep, SettingsDep
from citytwin.api.standard_errors import ProblemRoute
from citytwin.api.standard_json import utc_json
from citytwin.db.pool import Connection
from citytwin.db.queries import ngsi_ld as store
from citytwin.db.queries.series import series_documents
from citytwin.db.queries.sql import Bind
from citytwin.errors import InvalidParameter, NotFound
from citytwin.feeds import json_ld
from citytwin.query import ngsi_ld as ld
from citytwin.query.params import parse_time
from citytwin.query.series import parse_duration
from citytwin.query.series import series_aggregates as aggregate_question
from citytwin.settings import ApiSettings

JSON_LD_CONTEXT = "http://www.w3.org/ns/json-ld#context"
router = APIRouter(prefix="/ngsi-ld/v1", tags=["NGSI-LD"], route_class=ProblemRoute)


def context_url(request: Request) -> str:
    """Where this service serves the context its entities are written in."""
    return str(request.url_for("json_ld_context", context_id=json_ld.CONTEXT_NAME))


def _answer(request: Request, document: object, headers: dict | None = None) -> Response:
    """JSON-LD with `@context` inside when asked for `application/ld+json`, else JSON with
    the context in a Link header: citytwin's context, served by this service."""
    context = context_url(request)
    if "application/ld+json" in request.headers.get("accept", ""):
        items = document if isinstance(document, list) else [document]
        for item in items:
            if isinstance(item, dict):
                item["@context"] = context
        return utc_json(document, media_type="application/ld+json", headers=headers)
    link = f'<{context}>; rel="{JSON_LD_CONTEXT}"; type="application/ld+json"'
    return utc_json(document, headers={**(headers or {}), "Link": link})


@router.get("/jsonldContexts", summary="NGSI-LD: the JSON-LD contexts this service holds")
async def json_ld_contexts(request: Request) -> Response:
    """The URLs of the contexts served here (held in the package, never fetched)."""
    return utc_json([context_url(request)])


@router.get("/jsonldContexts/{context_id}", summary="NGSI-LD: one JSON-LD context")
async def json_ld_context(context_id: str) -> Response:
    """citytwin's context: the NGSI-LD core context and the Smart Data Models terms mapped."""
    if context_id != json_ld.CONTEXT_NAME:
        raise NotFound("JSON-LD context", context_id)
    return utc_json(json_ld.context_document(), media_type="application/ld+json")


async def _entities(
    conn: Connection, params: dict[str, str], allowed: tuple[str, ...]
) -> tuple[list[dict], int | None, ld.EntityQuery]:
    ld.check_params(params, allowed)
    limit, offset, count = ld.page(params)
    bind = Bind()
    query = ld.entity_query(params, bind)
    rows, total = await store.entities(conn, query, bind, limit, offset, count)
    return rows, total, query


@router.get("/entities", summary="NGSI-LD: query entities")
async def query_entities(request: Request, conn: ConnDep) -> Response:
    """`type`, `id`, `idPattern`, `attrs`, `q`, `georel`/`geometry`/`coordinates`,
    `limit`/`offset`, `count`, `options=keyValues`."""
    params = dict(request.query_params)
    options = ld.options_of(params)
    rows, total, query = await _entities(conn, params, ld.ENTITY_PARAMS)
    key_values = "keyValues" in options
    documents = [ld.entity_document(row, query.attrs, key_values) for row in rows]
    headers = {} if total is None else {"NGSILD-Results-Count": str(total)}
    return _answer(request, documents, headers)


@router.get("/entities/{entity_id}", summary="NGSI-LD: one entity")
async def get_entity(request: Request, entity_id: str, conn: ConnDep) -> Response:
    params = {**dict(request.query_params), "id": entity_id}
    options = ld.options_of(params)
    rows, _, query = await _entities(conn, params, ld.ENTITY_PARAMS)
    if not rows:
        raise NotFound("entity", entity_id)
    return _answer(request, ld.entity_document(rows[0], query.attrs, "keyValues" in options))


@router.post("/entityOperations/query", summary="NGSI-LD: query entities by a Query body")
async def post_query(request: Request, conn: ConnDep) -> Response:
    """A `Query` body: `entities` (type, id, idPattern), `attrs`, `q`, `geoQ`."""
    try:
        body = await request.json()
    except ValueError:
        raise InvalidParameter("body", "not valid JSON") from None
    if not isinstance(body, dict) or body.get("type") != "Query":
        raise InvalidParameter("body", 'a Query object ({"type": "Query", …})')
    selectors = body.get("entities") or [{}]
    params = dict(request.query_params)
    params |= {"attrs": ",".join(body.get("attrs") or []), "q": body.get("q") or ""}
    geo = body.get("geoQ") or {}
    if geo:
        params |= {"georel": geo.get("georel", ""), "geometry": geo.get("geometry", "")}
        params["coordinates"] = str(geo.get("coordinates", "")).replace("'", '"')
    documents = []
    for selector in selectors:
        asked = {
            **params,
            **{k: v for k, v in selector.items() if k in ("type", "id", "idPattern")},
        }
        rows, _, query = await _entities(
            conn, {k: v for k, v in asked.items() if v}, ld.ENTITY_PARAMS
        )
        documents += [ld.entity_document(row, query.attrs, False) for row in rows]
    return _answer(request, documents)


@router.get("/types", summary="NGSI-LD: entity types held")
async def types(request: Request, conn: ConnDep) -> Response:
    held = sorted({row["type"] for row in await store.held_attributes(conn)})
    document = {"id": "urn:ngsi-ld:EntityTypeList:citytwin", "type": "EntityTypeList"}
    return _answer(request, document | {"typeList": held})


@router.get("/attributes", summary="NGSI-LD: attributes held")
async def attributes(request: Request, conn: ConnDep) -> Response:
    rows = await store.held_attributes(conn)
    held = sorted({ld.attribute_of(row["variable"]) for row in rows})
    document = {"id": "urn:ngsi-ld:AttributeList:citytwin", "type": "AttributeList"}
    return _answer(request, document | {"attributeList": held})


def _time_range(params: dict[str, str]) -> tuple[datetime | None, datetime | None]:
    timerel = params.get("timerel")
    at = parse_time(params.get("timeAt"), "timeAt")
    if timerel is None:
        return None, None
    if at is None:
        raise InvalidParameter("timeAt", "required with timerel")
    if timerel == "before":
        return None, at
    if timerel == "after":
        return at + timedelta(microseconds=1), None
    if timerel == "between":
        end = parse_time(params.get("endTimeAt"), "endTimeAt")
        if end is None or end <= at:
            raise InvalidParameter("endTimeAt", "required with timerel=between, after timeAt")
        return at, end
    raise InvalidParameter("timerel", f"{timerel!r}: before, after or between")


async def _temporal(conn: Connection, params: dict, limits: ApiSettings) -> list[dict]:
    """Each selected entity's attributes over time: instances (at most `temporal_max_instances`
    per attribute), or aggregates per period."""
    options = ld.options_of(params)
    rows, _, query = await _entities(conn, params, ld.TEMPORAL_PARAMS)
    start, end = _time_range(params)
    sensors = [row["id"] for row in rows]
    variables = [ld.variable_of(a) for a in query.attrs] or None
    if "aggrMethods" in params:
        methods = ld.aggregate_methods(params["aggrMethods"])
        period = parse_duration(params.get("aggrPeriodDuration", "P1D"), "aggrPeriodDuration")
        held = await store.series_ids(conn, sensors, variables)
        pairs = [(r["sensor_id"], r["variable_id"]) for r in held]
        names = {r["variable_id"]: r["variable"] for r in held}
        question = aggregate_question(
            pairs, start, end, period, "timeAt", limits.series_max_periods
        )
        found = await series_documents(conn, question, ld.aggregated_member(methods))
        members: dict[int, dict[str, str]] = {}
        for row in found:
            members.setdefault(row["sensor_id"], {})[names[row["variable_id"]]] = row["document"]
        return [ld.aggregated_document(row, members.get(row["id"], {})) for row in rows]
    last = params.get("lastN")
    if last is not None and not (last.isdigit() and int(last) > 0):
        raise InvalidParameter("lastN", f"{last!r}: a positive integer")
    most = min(int(last or limits.temporal_max_instances), limits.temporal_max_instances)
    readings = await store.series(
        conn, sensors, variables, start, end, most, newest=last is not None
    )
    per_sensor: dict[int, dict[str, list]] = {}
    for r in readings:
        per_sensor.setdefault(r["sensor_id"], {}).setdefault(r["variable"], []).append(
            (r["time"], r["value"])
        )
    temporal_values = "temporalValues" in options
    return [
        ld.temporal_document(row, per_sensor.get(row["id"], {}), temporal_values) for row in rows
    ]


@router.get("/temporal/entities", summary="NGSI-LD temporal: entities over time")
async def temporal_entities(request: Request, conn: ConnDep, settings: SettingsDep) -> Response:
    """`timerel`/`timeAt`/`endTimeAt`, `lastN`, `options=temporalValues`, `aggrMethods` with
    `aggrPeriodDuration` (whole hours from the sensor hours), and the entity selection of
    `/entities`."""
    params = dict(request.query_params)
    return _answer(request, await _temporal(conn, params, settings.api))


@router.get("/temporal/entities/{entity_id}", summary="NGSI-LD temporal: one entity over time")
async def temporal_entity(
    request: Request, entity_id: str, conn: ConnDep, settings: SettingsDep
) -> Response:
    params = {**dict(request.query_params), "id": entity_id}
    documents = await _temporal(conn, params, settings.api)
    if not documents:
        raise NotFound("entity", entity_id)
    return _answer(request, documents[0])
