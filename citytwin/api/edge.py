"""Checks at the door, before routing: a NUL byte in the path or the query string, which no
identifier or parameter may hold (PostgreSQL text cannot), is a 400 naming the parameter."""

from urllib.parse import parse_qsl, unquote

from starlette.types import ASGIApp, Receive, Scope, Send

from citytwin.api.errors import invalid_parameter_response


def nul_parameter(path: str, query_string: bytes) -> str | None:
    """The name of the first parameter holding a NUL byte ("path" for the path), or None."""
    if "\x00" in unquote(path):
        return "path"
    query = query_string.decode("latin-1")
    if "\x00" not in unquote(query):
        return None
    for name, value in parse_qsl(query, keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return name.replace("\x00", "") or "query"
    return "query"


class RefuseNul:
    """ASGI middleware answering 400 for a NUL byte anywhere in the path or query."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            parameter = nul_parameter(scope["path"], scope.get("query_string", b""))
            if parameter is not None:
                answer = invalid_parameter_response(parameter, "must not contain a NUL byte")
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)
