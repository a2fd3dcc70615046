"""Typed dependencies: the pool's connection, settings, feeds, API-key check."""

import asyncio
import base64
import binascii
import tempfile
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, BinaryIO, cast

from fastapi import Depends, Header, HTTPException, Path, Request

from citytwin.db.pool import Connection, Pool
from citytwin.errors import PayloadTooLarge, RequestTimeout
from citytwin.feeds import FeedRegistry
from citytwin.layers.store import LayerStore
from citytwin.settings import Settings

SPOOL_MEMORY_BYTES = 1 << 20  # a body larger than this waits in a file on disk


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_feeds(request: Request) -> FeedRegistry:
    return request.app.state.feeds


async def get_variables(request: Request) -> dict[str, int]:
    return request.app.state.variables


async def get_conn(request: Request) -> AsyncIterator[Connection]:
    async with request.app.state.pool.acquire() as conn:
        yield conn


async def get_pool(request: Request) -> Pool:
    """The pool itself, for routes that need a connection only on some paths (warm tiles)."""
    return request.app.state.pool


SettingsDep = Annotated[Settings, Depends(get_settings)]
PoolDep = Annotated[Pool, Depends(get_pool)]
FeedsDep = Annotated[FeedRegistry, Depends(get_feeds)]
VariablesDep = Annotated[dict[str, int], Depends(get_variables)]
ConnDep = Annotated[Connection, Depends(get_conn)]


async def get_layer_store(request: Request) -> LayerStore:
    """The layer store the app was started with."""
    return request.app.state.layer_store


LayerStoreDep = Annotated[LayerStore, Depends(get_layer_store)]
LayerId = Annotated[str, Path(description="Layer id (32 hex characters).")]


@dataclass(frozen=True)
class Writer:
    """Who is writing: their key and the feeds it may write to (None: every feed)."""

    key: str
    feeds: frozenset[str] | None

    def check_feeds(self, feeds: Iterable[str]) -> None:
        """Forbidden unless the key may write to each of `feeds`."""
        if self.feeds is None:
            return
        for feed in sorted(set(feeds) - self.feeds):
            allowed = ", ".join(sorted(self.feeds))
            raise HTTPException(403, f"this key may write to {allowed} only, not to feed {feed!r}")


def basic_password(authorization: str | None) -> str | None:
    """The password of an HTTP Basic `Authorization` header (None for anything else)."""
    scheme, _, credentials = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        return base64.b64decode(credentials, validate=True).decode().partition(":")[2] or None
    except (binascii.Error, UnicodeDecodeError):
        return None


async def require_api_key(
    request: Request,
    settings: SettingsDep,
    x_api_key: Annotated[str | None, Header()] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> Writer:
    """Writes need a configured key in `X-API-Key` (or as the password of HTTP Basic
    authentication, which SensorThings clients such as FROST's speak): one of `api_keys`
    (every feed) or of `feed_api_keys` (its feeds only)."""
    if settings.api.read_only:
        raise HTTPException(405, "this instance is read-only: send writes to the primary")
    x_api_key = x_api_key or basic_password(authorization)
    if not (settings.api.api_keys or settings.api.feed_api_keys):
        raise HTTPException(403, "writes are disabled: no CITYTWIN_API_KEYS configured")
    if x_api_key is None:
        raise HTTPException(
            401, "X-API-Key header required", headers={"WWW-Authenticate": "ApiKey"}
        )
    if x_api_key in settings.api.api_keys:
        writer = Writer(x_api_key, None)
    else:
        feeds = frozenset(f for f, keys in settings.api.feed_api_keys.items() if x_api_key in keys)
        if not feeds:
            raise HTTPException(403, "X-API-Key is not allowed to write")
        writer = Writer(x_api_key, feeds)
    request.app.state.write_limits.take(x_api_key)
    return writer


async def require_service_key(writer: Annotated[Writer, Depends(require_api_key)]) -> Writer:
    """Service-wide writes (scenario runs, dead letters) need a key for every feed."""
    if writer.feeds is not None:
        raise HTTPException(403, "this key writes to its feeds only; use a service key")
    return writer


WriterDep = Annotated[Writer, Depends(require_api_key)]
ServiceWriterDep = Annotated[Writer, Depends(require_service_key)]


async def _body_chunks(request: Request, limit: int) -> AsyncIterator[bytes]:
    """The request body as it arrives; `PayloadTooLarge` after the chunk that passes `limit`
    bytes, `RequestTimeout` when it stalls for longer than the `body_timeout` setting."""
    timeout = request.app.state.settings.api.body_timeout
    size = 0
    stream = aiter(request.stream())
    while True:
        try:
            async with asyncio.timeout(timeout):
                chunk = await anext(stream)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise RequestTimeout(f"the body stalled for {timeout:g} s; send it again") from None
        size += len(chunk)
        yield chunk
        if size > limit:
            raise PayloadTooLarge(_too_large(limit))


def _refuse_declared(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(_too_large(limit))


async def read_body(request: Request, limit: int, keep: int = 0) -> bytes:
    """The request body, refused past `limit` bytes with `PayloadTooLarge` (which holds the
    first `keep` bytes, for a dead letter), or with `RequestTimeout` when it stalls for longer
    than the `body_timeout` setting. Routes read it before they take a pooled connection."""
    if not keep:
        _refuse_declared(request, limit)
    chunks: list[bytes] = []
    try:
        async for chunk in _body_chunks(request, limit):
            chunks.append(chunk)
    except PayloadTooLarge as exc:
        raise PayloadTooLarge(exc.message, b"".join(chunks)[:keep]) from None
    return b"".join(chunks)


@asynccontextmanager
async def spooled_body(request: Request, limit: int) -> AsyncIterator[BinaryIO]:
    """The request body in a temporary file (in memory up to SPOOL_MEMORY_BYTES), read whole
    and rewound, refused as `read_body` refuses: a body of any size is then read piece by
    piece, and, taken before a pooled connection, a stalled upload holds none."""
    _refuse_declared(request, limit)
    with tempfile.SpooledTemporaryFile(SPOOL_MEMORY_BYTES) as spool:
        async for chunk in _body_chunks(request, limit):
            spool.write(chunk)
        spool.seek(0)
        yield cast(BinaryIO, spool)


def _too_large(limit: int) -> str:
    return f"the body is larger than {limit >> 10} KiB; split it"
