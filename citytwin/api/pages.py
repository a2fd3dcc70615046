"""Keyset pagination links and cursors."""

import base64
from datetime import datetime

import orjson
from fastapi import Request

from citytwin.db.queries.readings import ReadingCursor
from citytwin.errors import InvalidParameter


def next_link(request: Request, **cursor: object) -> dict:
    """A `next` link: this request's URL with the cursor parameters replaced."""
    url = request.url.include_query_params(**{k: str(v) for k, v in cursor.items()})
    return {"rel": "next", "href": str(url), "type": "application/geo+json"}


def encode_cursor(cursor: ReadingCursor) -> str:
    raw = orjson.dumps([cursor.sensor_id, cursor.variable_id, cursor.time.isoformat()])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> ReadingCursor:
    """The cursor a `next` link carries; InvalidParameter if it was tampered with."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        sensor_id, variable_id, time = orjson.loads(raw)
        return ReadingCursor(int(sensor_id), int(variable_id), datetime.fromisoformat(time))
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise InvalidParameter("cursor", "not a cursor from a next link") from None
