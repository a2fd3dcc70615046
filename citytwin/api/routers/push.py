"""Push endpoints of the platforms cities run: NGSI-LD batch upserts, SensorThings Observations,
and the dead letters of what could not be stored (the work itself is `services/push.py`)."""

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from citytwin.api.deps import (
    ConnDep,
    FeedsDep,
    PoolDep,
    ServiceWriterDep,
    SettingsDep,
    VariablesDep,
    Writer,
    WriterDep,
    read_body,
)
from citytwin.api.formats import json_response
from citytwin.api.pages import RecordLimitQuery, page_limit
from citytwin.api.tile_responses import data_changed
from citytwin.core.limits import INT64_MAX
from citytwin.db import dead_letters
from citytwin.db.pool import Connection, Pool
from citytwin.db.queries import sta
from citytwin.errors import InvalidParameter, PayloadTooLarge
from citytwin.feeds import FeedRegistry
from citytwin.ingest.payload_formats import NGSI_LD, STA_DATA_ARRAY, STA_OBSERVATION
from citytwin.query.sta_model import observation_id
from citytwin.services.push import (
    KEPT_BYTES,
    PushResult,
    push_payload,
    replay,
)
from citytwin.settings import Settings

router = APIRouter(tags=["push"])


async def _push(
    request: Request,
    pool: Pool,
    settings: Settings,
    feeds: FeedRegistry,
    format: str,
    writer: Writer,
) -> PushResult:
    """The body is read whole before a connection is taken: a stalled upload holds none."""
    try:
        data = await read_body(
            request, min(settings.api.push_max_bytes, settings.api.max_body_bytes), KEPT_BYTES
        )
    except PayloadTooLarge as exc:
        reason = f"{exc.message} (the first {len(exc.kept)} bytes are kept)"
        async with pool.acquire() as conn:
            await dead_letters.record(conn, None, format, reason, exc.kept)
        raise
    async with pool.acquire() as conn:
        result = await push_payload(
            conn,
            feeds,
            data,
            format,
            resolution=settings.ingest.h3_resolution,
            bucket_seconds=settings.database.rollup_bucket_seconds,
            check_feeds=writer.check_feeds,
            future=timedelta(seconds=settings.ingest.future_seconds),
        )
    await data_changed(request)
    return result


@router.post(
    "/ngsi-ld/v1/entityOperations/upsert",
    summary="NGSI-LD batch upsert of Smart Data Models entities",
    status_code=201,
)
async def ngsi_upsert(
    request: Request, pool: PoolDep, settings: SettingsDep, feeds: FeedsDep, writer: WriterDep
) -> Response:
    """Entities land in the feed of their type: AirQualityObserved → air,
    TrafficFlowObserved → traffic, ACMeasurement → energy.

    201 with the ids when new readings landed, 204 when every reading was already stored
    (a replay), 207 with `success` and `errors` (NGSI-LD BatchOperationResult) when some failed.
    """
    result = await _push(request, pool, settings, feeds, NGSI_LD, writer)
    ids = {n: e.get("id") if isinstance(e, dict) else None for n, e in enumerate(result.items, 1)}
    success = list(dict.fromkeys(i for n, i in ids.items() if n not in result.errors))
    if result.errors:
        errors = [
            {
                "entityId": ids[item],
                "position": item,
                "error": {
                    "type": "https://uri.etsi.org/ngsi-ld/errors/BadRequestData",
                    "title": "entity not stored",
                    "detail": "; ".join(reasons),
                },
            }
            for item, reasons in result.errors.items()
        ]
        body = {"success": success, "errors": errors, "readings": result.summary()}
        return json_response(body, status_code=207)
    if result.loaded == 0:
        return Response(status_code=204)
    return json_response(success, status_code=201)


async def _self_link(request: Request, conn: Connection, variables: dict, row: dict) -> str:
    """The stored reading's selfLink on the SensorThings read side."""
    sensor = await sta.sensor_id(conn, row["feed"], row["sensor_id"])
    time = datetime.fromisoformat(str(row["time"]).replace("z", "Z"))
    identifier = observation_id(sensor, variables[row["variable"]], time)
    return f"{str(request.base_url).rstrip('/')}/v1.1/Observations('{identifier}')"


@router.post("/Observations", summary="SensorThings: create one Observation", status_code=201)
@router.post("/v1.1/Observations", summary="SensorThings: create one Observation", status_code=201)
async def create_observation(
    request: Request,
    pool: PoolDep,
    settings: SettingsDep,
    feeds: FeedsDep,
    writer: WriterDep,
    variables: VariablesDep,
) -> Response:
    """One Observation with its Datastream (ObservedProperty, unitOfMeasurement, Thing with
    Locations) inline; a by-id Datastream reference is refused."""
    result = await _push(request, pool, settings, feeds, STA_OBSERVATION, writer)
    if result.errors:
        reason = "; ".join(next(iter(result.errors.values())))
        parameter, _, message = reason.partition(": ")
        raise InvalidParameter(parameter, message)
    if 1 not in result.rows:  # e.g. an empty list: nothing to create
        raise InvalidParameter("body", "one Observation (a JSON object) is expected")
    row = result.rows[1]
    async with pool.acquire() as conn:
        link = await _self_link(request, conn, variables, row)
    body = {
        "@iot.id": link.split("('", 1)[1][:-2],
        "@iot.selfLink": link,
        "phenomenonTime": row["time"],
        "result": row["value"],
    }
    return json_response(body, status_code=201, headers={"Location": link})


@router.post("/CreateObservations", summary="SensorThings: dataArray Observations", status_code=201)
@router.post(
    "/v1.1/CreateObservations", summary="SensorThings: dataArray Observations", status_code=201
)
async def create_observations(
    request: Request,
    pool: PoolDep,
    settings: SettingsDep,
    feeds: FeedsDep,
    writer: WriterDep,
    variables: VariablesDep,
) -> Response:
    """The dataArray extension: one answer per Observation, its selfLink or `error`."""
    result = await _push(request, pool, settings, feeds, STA_DATA_ARRAY, writer)
    async with pool.acquire() as conn:
        answer = [
            "error"
            if item in result.errors or item not in result.rows
            else await _self_link(request, conn, variables, result.rows[item])
            for item in range(1, len(result.items) + 1)
        ]
    return json_response(answer, status_code=201)


def _letter(row: dict) -> dict:
    payload = bytes(row.pop("payload"))
    return {
        **row,
        "received_at": row["received_at"].isoformat(),
        "replayed_at": row["replayed_at"] and row["replayed_at"].isoformat(),
        "size": len(payload),
        "payload": payload.decode("utf-8", errors="replace"),
    }


@router.get("/deadletters", summary="Payloads that could not be stored")
async def list_dead_letters(
    conn: ConnDep,
    _key: ServiceWriterDep,
    settings: SettingsDep,
    limit: RecordLimitQuery = 100,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
    pending: Annotated[bool, Query(description="Only those not replayed yet.")] = False,
) -> Response:
    """Newest first, each with its raw payload (as text) and the reason."""
    limit = page_limit(limit, settings.api.record_page_size)
    total, rows = await dead_letters.list_dead_letters(conn, limit, offset, pending)
    return json_response(
        {"total": total, "limit": limit, "offset": offset, "items": [_letter(r) for r in rows]}
    )


@router.post("/deadletters/{letter_id}/replay", summary="Replay a dead letter")
async def replay_dead_letter(
    request: Request,
    conn: ConnDep,
    settings: SettingsDep,
    feeds: FeedsDep,
    _key: ServiceWriterDep,
    letter_id: Annotated[int, Path(ge=1, le=INT64_MAX)],
) -> Response:
    """Run the payload through its path again; it is marked replayed when all of it lands."""
    result = await replay(
        conn,
        feeds,
        letter_id,
        resolution=settings.ingest.h3_resolution,
        bucket_seconds=settings.database.rollup_bucket_seconds,
        future=timedelta(seconds=settings.ingest.future_seconds),
    )
    await data_changed(request)
    errors = {str(item): reasons for item, reasons in result.errors.items()}
    return json_response({"replayed": not errors, "errors": errors, **result.summary()})
