"""Keyset pagination links and cursors."""

import base64
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, TypeVar

import orjson
from fastapi import Query, Request

from citytwin.core.limits import INT16_MAX, INT32_MAX, check_int, check_time
from citytwin.db.queries.readings import ReadingCursor
from citytwin.errors import InvalidParameter

T = TypeVar("T")
LimitQuery = Annotated[
    int, Query(ge=1, description="Items per page, at most `CITYTWIN_MAX_PAGE_SIZE` (10,000).")
]
RecordLimitQuery = Annotated[
    int, Query(ge=1, description="Records per page, at most `CITYTWIN_RECORD_PAGE_SIZE` (1,000).")
]


def page_limit(limit: int, max_page_size: int) -> int:
    """`limit` if a page may hold that many items, else `InvalidParameter` naming it."""
    return check_int(limit, "limit", max_page_size, low=1)


def split_page(rows: Sequence[T], limit: int) -> tuple[Sequence[T], bool]:
    """The page (first `limit` rows) and whether more follow (queries fetch `limit + 1`)."""
    return rows[:limit], len(rows) > limit


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
        cursor = ReadingCursor(int(sensor_id), int(variable_id), datetime.fromisoformat(time))
        check_int(cursor.sensor_id, "cursor", INT32_MAX)
        check_int(cursor.variable_id, "cursor", INT16_MAX)
        check_time(cursor.time, "cursor")
        return cursor
    except (ValueError, TypeError, OverflowError, orjson.JSONDecodeError):
        raise InvalidParameter("cursor", "not a cursor from a next link") from None
