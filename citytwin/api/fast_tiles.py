"""Warm vector tiles answered before routing: the last answer of each tile URL is replayed as
long as the tile version cache still holds the data version it was made from (a load forgets
only the versions whose place and time it touched), so a warm tile skips routing, dependencies
and the handler; everything else passes through."""

from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citytwin.api.tile_responses import etag_matches
from citytwin.tiles.cache import VersionCache

PREFIXES = ("/tiles/cells/", "/tiles/sensors/")
ENCODINGS = 2  # a tile's answer is kept plain and gzipped


@dataclass(frozen=True)
class _Answer:
    made_from: tuple[tuple[tuple, object], ...]  # (version key, version) pairs
    etag: str
    headers: list[tuple[bytes, bytes]]
    body: bytes


class FastTiles:
    """ASGI middleware replaying the last 200 answer of a tile URL while its version holds."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.answers: dict[tuple, _Answer] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not (scope["path"].startswith(PREFIXES) and scope["path"].endswith(".mvt"))
            or not scope["app"].state.settings.api.tile_cache_size  # 0: no tile kept anywhere
        ):
            await self.app(scope, receive, send)
            return
        versions: VersionCache = scope["app"].state.tile_versions
        headers = dict(scope["headers"])
        gzip_ok = b"gzip" in headers.get(b"accept-encoding", b"")
        key = (scope["path"], scope["query_string"], gzip_ok)
        answer = self.answers.get(key)
        if answer is not None and _still_current(versions, answer.made_from):
            await _replay(answer, headers.get(b"if-none-match", b"").decode(), send)
            return
        await self._answer_and_keep(scope, receive, send, key, versions)

    async def _answer_and_keep(
        self, scope: Scope, receive: Receive, send: Send, key: tuple, versions: VersionCache
    ) -> None:
        start, chunks = {}, []
        scope.setdefault("state", {})

        async def keep(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, keep)
        etag = dict(start.get("headers", [])).get(b"etag")
        made_from = scope["state"].get("tile_versions")
        # Only a whole 200 made from versions still remembered is worth replaying.
        if start.get("status") == 200 and etag and made_from:
            if not _still_current(versions, made_from):
                return
            if len(self.answers) >= ENCODINGS * scope["app"].state.settings.api.tile_cache_size:
                self.answers.clear()
            self.answers[key] = _Answer(
                made_from, etag.decode(), start["headers"], b"".join(chunks)
            )


def _still_current(versions: VersionCache, made_from: tuple) -> bool:
    return all(versions.holds(key, version) for key, version in made_from)


async def _replay(answer: _Answer, if_none_match: str, send: Send) -> None:
    if etag_matches(answer.etag, if_none_match or None):
        kept = [(k, v) for k, v in answer.headers if k in (b"etag", b"cache-control", b"vary")]
        await send({"type": "http.response.start", "status": 304, "headers": kept})
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.start", "status": 200, "headers": answer.headers})
    await send({"type": "http.response.body", "body": answer.body})
