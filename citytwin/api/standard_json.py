"""JSON of the standards' answers: times in UTC written with `Z`, serialised by orjson (in Rust,
so answers of thousands of instants are not formatted one by one in Python)."""

import orjson
from fastapi import Response

OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def utc_json(
    document: object,
    status_code: int = 200,
    media_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> Response:
    """`document` as JSON with its datetimes as `…Z`."""
    body = orjson.dumps(document, option=OPTIONS)
    return Response(body, status_code=status_code, media_type=media_type, headers=headers)
