"""NGSI-LD subscriptions without I/O: a posted body checked (400 naming the member), its
entity selection as `/entities` parameters, and the notification document."""

import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit

from citytwin.errors import InvalidParameter


def check_subscription(body: object) -> tuple[str, dict, str]:
    """(id, body, endpoint URI) of a posted Subscription."""
    if not isinstance(body, dict) or body.get("type") != "Subscription":
        raise InvalidParameter("type", 'a Subscription object ({"type": "Subscription", …})')
    entities = body.get("entities")
    watched = body.get("watchedAttributes")
    if not entities and not watched:
        raise InvalidParameter("entities", "give entities or watchedAttributes")
    if entities is not None and not (
        isinstance(entities, list) and all(isinstance(e, dict) for e in entities)
    ):
        raise InvalidParameter("entities", "an array of {type, id, idPattern} objects")
    if watched is not None and not (
        isinstance(watched, list) and all(isinstance(a, str) for a in watched)
    ):
        raise InvalidParameter("watchedAttributes", "an array of attribute names")
    endpoint = ((body.get("notification") or {}).get("endpoint") or {}).get("uri")
    parts = urlsplit(endpoint) if isinstance(endpoint, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidParameter("notification.endpoint.uri", f"{endpoint!r} is not an HTTP URL")
    identifier = body.get("id") or f"urn:ngsi-ld:Subscription:{uuid.uuid4()}"
    if not isinstance(identifier, str) or not identifier.startswith("urn:"):
        raise InvalidParameter("id", f"{identifier!r} is not a URN")
    return identifier, {**body, "id": identifier}, endpoint


def subscription_params(body: dict) -> dict[str, str]:
    """The entities a subscription watches, as `/entities` parameters."""
    entities = body.get("entities") or []
    params = {
        "type": ",".join(e["type"] for e in entities if e.get("type")),
        "id": ",".join(e["id"] for e in entities if e.get("id")),
        "idPattern": next((e["idPattern"] for e in entities if e.get("idPattern")), ""),
        "attrs": ",".join(body.get("watchedAttributes") or []),
        "q": body.get("q") or "",
    }
    geo = body.get("geoQ") or {}
    if geo:
        params |= {"georel": geo.get("georel", ""), "geometry": geo.get("geometry", "")}
        params["coordinates"] = str(geo.get("coordinates", ""))
    return {name: value for name, value in params.items() if value}


def key_values(body: dict) -> bool:
    """Whether notifications carry simplified entities."""
    return (body.get("notification") or {}).get("format") == "keyValues"


def notification(subscription_id: str, entities: list[dict]) -> dict:
    """The Notification sent to a subscriber."""
    return {
        "id": f"urn:ngsi-ld:Notification:{uuid.uuid4()}",
        "type": "Notification",
        "subscriptionId": subscription_id,
        "notifiedAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "data": entities,
    }
