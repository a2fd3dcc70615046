"""One table from citytwin errors to HTTP answers; every error body names what is at fault.

Database errors are translated by `db.errors.translate` (unreachable: 503; a value the store
cannot hold: 400); anything else unexpected is still a JSON body (500), logged with its trace.
"""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from citytwin.api.formats import json_response
from citytwin.db.errors import DATABASE_ERRORS, translate
from citytwin.errors import (
    CityTwinError,
    Conflict,
    DatabaseUnavailable,
    InvalidParameter,
    InvalidParameters,
    MalformedInput,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    RequestTimeout,
    StoreFull,
)

logger = logging.getLogger("citytwin.api")

STATUS = {
    InvalidParameter: 400,
    MalformedInput: 400,
    NotFound: 404,
    RequestTimeout: 408,
    Conflict: 409,
    PayloadTooLarge: 413,
    RateLimited: 429,
    DatabaseUnavailable: 503,
    StoreFull: 507,
}
RETRY_AFTER_SECONDS = 5  # what a 503 asks clients to wait


def _body(error: str, detail: str, parameter: str | None = None) -> dict:
    body = {"error": error, "detail": detail}
    if parameter is not None:
        body["parameter"] = parameter
    return body


def _headers(exc: Exception, status: int) -> dict[str, str] | None:
    if isinstance(exc, RateLimited):
        return {"Retry-After": str(exc.retry_after)}
    if status == 503:
        return {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return None


def _unexpected(exc: Exception) -> Response:
    logger.error("unexpected error", exc_info=exc)
    return json_response(_body("InternalError", "an unexpected error; it is logged"), 500)


async def _citytwin_error(request: Request, exc: Exception) -> Response:
    status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), None)
    if status is None:
        return _unexpected(exc)
    parameter = getattr(
        exc,
        "parameter",
        "body" if isinstance(exc, MalformedInput | PayloadTooLarge | RequestTimeout) else None,
    )
    detail = getattr(exc, "message", str(exc))
    body = _body(type(exc).__name__, detail, parameter)
    if isinstance(exc, InvalidParameters):  # a document checked whole: every error, not one
        body["errors"] = [{"parameter": p.parameter, "detail": p.message} for p in exc.problems]
    return json_response(body, status_code=status, headers=_headers(exc, status))


async def _database_error(request: Request, exc: Exception) -> Response:
    translated = translate(exc)
    if translated is None:
        return _unexpected(exc)
    return await _citytwin_error(request, translated)


def invalid_parameter_response(parameter: str, detail: str) -> Response:
    """The 400 answer naming `parameter`."""
    return json_response(_body("InvalidParameter", detail, parameter), status_code=400)


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    first = exc.errors()[0]
    location = [str(part) for part in first.get("loc", ()) if part not in ("query", "path", "body")]
    return invalid_parameter_response(".".join(location) or "request", first.get("msg", "invalid"))


async def _http_error(request: Request, exc: HTTPException) -> Response:
    return json_response(
        _body("HTTPError", str(exc.detail)),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def _server_error(request: Request, exc: Exception) -> Response:
    """The last resort (Starlette's server-error middleware): a JSON body, never plain text."""
    translated = translate(exc)
    if translated is not None:
        return await _citytwin_error(request, translated)
    return _unexpected(exc)


def install_error_handlers(app: FastAPI) -> None:
    """Register the mapping on `app`."""
    app.add_exception_handler(CityTwinError, _citytwin_error)
    for kind in DATABASE_ERRORS:
        app.add_exception_handler(kind, _database_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _server_error)
