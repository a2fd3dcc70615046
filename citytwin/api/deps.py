"""Typed dependencies: the pool's connection, settings, feeds, API-key check."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from citytwin.db.pool import Connection
from citytwin.errors import PayloadTooLarge
from citytwin.feeds import FeedRegistry
from citytwin.settings import Settings


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_feeds(request: Request) -> FeedRegistry:
    return request.app.state.feeds


async def get_variables(request: Request) -> dict[str, int]:
    return request.app.state.variables


async def get_conn(request: Request) -> AsyncIterator[Connection]:
    async with request.app.state.pool.acquire() as conn:
        yield conn


SettingsDep = Annotated[Settings, Depends(get_settings)]
FeedsDep = Annotated[FeedRegistry, Depends(get_feeds)]
VariablesDep = Annotated[dict[str, int], Depends(get_variables)]
ConnDep = Annotated[Connection, Depends(get_conn)]


async def require_api_key(
    settings: SettingsDep, x_api_key: Annotated[str | None, Header()] = None
) -> str:
    """Writes need one of the configured keys in `X-API-Key`."""
    if not settings.api_keys:
        raise HTTPException(403, "writes are disabled: no CITYTWIN_API_KEYS configured")
    if x_api_key is None:
        raise HTTPException(
            401, "X-API-Key header required", headers={"WWW-Authenticate": "ApiKey"}
        )
    if x_api_key not in settings.api_keys:
        raise HTTPException(403, "X-API-Key is not allowed to write")
    return x_api_key


WriterDep = Annotated[str, Depends(require_api_key)]


async def read_body(request: Request, limit: int, keep: int = 0) -> bytes:
    """The request body, refused past `limit` bytes with `PayloadTooLarge`, whose second argument
    holds the first `keep` bytes (for a dead letter)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        chunks.append(chunk)
        if size > limit:
            head = b"".join(chunks)[:keep]
            raise PayloadTooLarge(f"the body is larger than {limit >> 10} KiB; split it", head)
    return b"".join(chunks)
