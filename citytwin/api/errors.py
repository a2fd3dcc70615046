"""One table from citytwin errors to HTTP answers; every error body names what is at fault."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from citytwin.api.formats import json_response
from citytwin.errors import (
    CityTwinError,
    Conflict,
    DatabaseUnavailable,
    InvalidParameter,
    InvalidParameters,
    MalformedInput,
    NotFound,
    PayloadTooLarge,
)

logger = logging.getLogger("citytwin.api")

STATUS = {
    InvalidParameter: 400,
    MalformedInput: 400,
    NotFound: 404,
    Conflict: 409,
    PayloadTooLarge: 413,
    DatabaseUnavailable: 503,
}


def _body(error: str, detail: str, parameter: str | None = None) -> dict:
    body = {"error": error, "detail": detail}
    if parameter is not None:
        body["parameter"] = parameter
    return body


async def _citytwin_error(request: Request, exc: Exception) -> Response:
    status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 500)
    if status == 500:
        logger.exception("unexpected citytwin error", exc_info=exc)
    parameter = getattr(
        exc, "parameter", "body" if isinstance(exc, MalformedInput | PayloadTooLarge) else None
    )
    detail = getattr(exc, "message", str(exc))
    body = _body(type(exc).__name__, detail, parameter)
    if isinstance(exc, InvalidParameters):  # a document checked whole: every error, not one
        body["errors"] = [{"parameter": p.parameter, "detail": p.message} for p in exc.problems]
    return json_response(body, status_code=status)


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    first = exc.errors()[0]
    location = [str(part) for part in first.get("loc", ()) if part not in ("query", "path", "body")]
    parameter = ".".join(location) or "request"
    return json_response(
        _body("InvalidParameter", first.get("msg", "invalid"), parameter), status_code=400
    )


async def _http_error(request: Request, exc: HTTPException) -> Response:
    return json_response(
        _body("HTTPError", str(exc.detail)),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the mapping on `app`."""
    app.add_exception_handler(CityTwinError, _citytwin_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
