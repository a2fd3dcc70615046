"""Error bodies in the shape each standard's clients read: an OData error for SensorThings,
problem+json with the NGSI-LD error type for NGSI-LD. Routes opt in through their route class;
the rest of the API keeps `api/errors.py`."""

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from citytwin.api.errors import STATUS
from citytwin.api.formats import json_response
from citytwin.errors import CityTwinError

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
CODES = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound"}
NGSI_LD_TYPES = {
    400: "BadRequestData",
    404: "ResourceNotFound",
    409: "AlreadyExists",
    413: "RequestEntityTooLarge",
}
NGSI_LD_ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"


def describe(exc: Exception) -> tuple[int, str, str | None] | None:
    """(status, message, parameter at fault) of an error a route raised; None: not ours."""
    if isinstance(exc, CityTwinError):
        status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 500)
        if status == 500:
            return None
        return status, getattr(exc, "message", str(exc)), getattr(exc, "parameter", None)
    if isinstance(exc, RequestValidationError):
        first = exc.errors()[0]
        where = [str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body")]
        return 400, first.get("msg", "invalid"), ".".join(where) or None
    if isinstance(exc, HTTPException):
        return exc.status_code, str(exc.detail), None
    return None


def odata_error(status: int, message: str, target: str | None) -> Response:
    """OData JSON error format: {"error": {"code", "message", "target"}}."""
    body = {"code": CODES.get(status, str(status)), "message": message}
    if target:
        body["target"] = target
    return json_response({"error": body}, status_code=status)


def problem(status: int, message: str, target: str | None) -> Response:
    """RFC 7807 problem details with the NGSI-LD error type."""
    kind = NGSI_LD_TYPES.get(status, "InternalError" if status >= 500 else "BadRequestData")
    body = {"type": NGSI_LD_ERRORS + kind, "title": kind, "status": status, "detail": message}
    if target:
        body["detail"] = f"{target}: {message}"
    return json_response(body, status_code=status, media_type="application/problem+json")


def _route_class(render: Callable[[int, str, str | None], Response]) -> type[APIRoute]:
    class StandardRoute(APIRoute):
        def get_route_handler(self) -> Handler:
            handler = super().get_route_handler()

            async def answer(request: Request) -> Response:
                try:
                    return await handler(request)
                except Exception as exc:
                    described = describe(exc)
                    if described is None:
                        raise
                    return render(*described)

            return answer

    return StandardRoute


ODataRoute = _route_class(odata_error)
ProblemRoute = _route_class(problem)
