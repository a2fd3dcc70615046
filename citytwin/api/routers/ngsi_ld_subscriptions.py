"""NGSI-LD subscriptions at `/ngsi-ld/v1/subscriptions` (an API key for each call: they name
subscribers' endpoints). Notifications are sent by `services/notifications.py` after loads."""

from fastapi import APIRouter, Request, Response

from citytwin.api.deps import ConnDep, WriterDep
from citytwin.api.formats import json_response
from citytwin.api.standard_errors import ProblemRoute
from citytwin.db import subscriptions as store
from citytwin.errors import Conflict, InvalidParameter, NotFound
from citytwin.query.subscriptions import check_subscription

router = APIRouter(prefix="/ngsi-ld/v1", tags=["NGSI-LD"], route_class=ProblemRoute)


def _document(row: dict) -> dict:
    """The subscription as posted, with its delivery state (NGSI-LD `status`,
    `notification.timesSent`, `lastSuccess`, `lastFailure`)."""
    body = dict(row["body"])
    state = {"timesSent": row["sent"]}
    for name, column in (("lastSuccess", "last_success"), ("lastFailure", "last_failure")):
        if row[column] is not None:
            state[name] = row[column].isoformat().replace("+00:00", "Z")
    body["notification"] = {**(body.get("notification") or {}), **state}
    body["status"] = row["status"]
    return body


@router.post("/subscriptions", summary="NGSI-LD: subscribe to entity changes", status_code=201)
async def subscribe(request: Request, conn: ConnDep, _key: WriterDep) -> Response:
    try:
        body = await request.json()
    except ValueError:
        raise InvalidParameter("body", "not valid JSON") from None
    identifier, stored, endpoint = check_subscription(body)
    if await store.listed(conn, identifier):
        raise Conflict(f"subscription {identifier} exists")
    await store.create(conn, identifier, stored, endpoint)
    location = f"/ngsi-ld/v1/subscriptions/{identifier}"
    return Response(status_code=201, headers={"Location": location})


@router.get("/subscriptions", summary="NGSI-LD: subscriptions")
async def list_subscriptions(conn: ConnDep, _key: WriterDep) -> Response:
    return json_response([_document(dict(row)) for row in await store.listed(conn)])


@router.get("/subscriptions/{subscription_id}", summary="NGSI-LD: one subscription")
async def get_subscription(subscription_id: str, conn: ConnDep, _key: WriterDep) -> Response:
    rows = await store.listed(conn, subscription_id)
    if not rows:
        raise NotFound("subscription", subscription_id)
    return json_response(_document(dict(rows[0])))


@router.delete("/subscriptions/{subscription_id}", summary="NGSI-LD: unsubscribe", status_code=204)
async def unsubscribe(subscription_id: str, conn: ConnDep, _key: WriterDep) -> Response:
    if not await store.delete(conn, subscription_id):
        raise NotFound("subscription", subscription_id)
    return Response(status_code=204)
