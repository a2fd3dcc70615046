"""`/twin/state` and `/twin/stream`: the live twin, from the latest reading of every sensor."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import numpy as np
import orjson
from fastapi import APIRouter, FastAPI, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from citytwin.api.deps import ConnDep, FeedsDep, SettingsDep, VariablesDep
from citytwin.api.formats import json_response
from citytwin.api.params import AreaDep, OptionalVariableDep
from citytwin.core.limits import INT64_MAX, check_int
from citytwin.db.connect import resolve_database_url
from citytwin.db.pool import Pool
from citytwin.db.queries.source_health import source_health
from citytwin.db.queries.twin import StateQuery, event_bounds, events_after, state_snapshot
from citytwin.db.queries.twin import latest_readings as fetch_latest
from citytwin.db.twin_listener import EventListener
from citytwin.errors import InvalidParameter
from citytwin.feeds import FeedRegistry
from citytwin.query.cells import parents
from citytwin.query.params import parse_time
from citytwin.twin.hub import KEEP_ALIVE, EventHub, sse_message
from citytwin.twin.state import (
    cell_documents,
    cell_state,
    latest_frame,
    sensor_documents,
    sensor_state,
)

KEEP_ALIVE_SECONDS = 15.0
EVENTS_PER_READ = 100
RETRY = b"retry: 3000\n\n"  # clients reconnect after 3 s, sending Last-Event-ID


class TwinStream:
    """The app's event hub, fed by one listening connection opened for the first subscriber."""

    def __init__(self, url: str) -> None:
        self.hub = EventHub()
        self._listener = EventListener(url, self.hub.announce)
        self._starting = asyncio.Lock()

    async def start(self) -> None:
        """Listen for events (once)."""
        async with self._starting:
            await self._listener.start()

    async def close(self) -> None:
        await self._listener.close()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The stream of the app's store; its listening connection closes with the app."""
    app.state.twin_stream = TwinStream(await resolve_database_url(app.state.settings))
    try:
        yield
    finally:
        await app.state.twin_stream.close()


router = APIRouter(tags=["twin"], lifespan=lifespan)

ResolutionQuery = Annotated[
    int | None,
    Query(ge=0, le=15, description="H3 resolution of the cells, 0 up to the base (default)."),
]


def _resolution(resolution: int | None, base: int) -> int:
    if resolution is None:
        return base
    if resolution > base:
        raise InvalidParameter("resolution", f"must be at most the base resolution {base}")
    return resolution


def _units(feeds: FeedRegistry, variables: dict[str, int]) -> dict[str, str | None]:
    return {name: feeds.unit_of(name) for name in variables}


@router.get("/twin/state", summary="The twin's live state")
async def get_state(
    conn: ConnDep,
    settings: SettingsDep,
    feeds: FeedsDep,
    variables: VariablesDep,
    variable: OptionalVariableDep,
    area: AreaDep,
    feed: Annotated[str | None, Query(description="Only this feed's sensors.")] = None,
    resolution: ResolutionQuery = None,
    now: Annotated[
        str | None,
        Query(description="ISO 8601 time to judge the state as of (default: now)."),
    ] = None,
) -> Response:
    """The latest value of every sensor and variable with its age and flags, and per H3 cell:
    the newest time, the mean of its sensors' latest values, and how many are stale or
    suspect; each source's health as its listener last wrote it. `event` is the newest stream
    event the answer includes."""
    base = settings.ingest.h3_resolution
    resolution = _resolution(resolution, base)
    if feed is not None:
        feeds[feed]  # unknown feed: 404 naming it
    as_of = parse_time(now, "now")
    clock = as_of or datetime.now(UTC)
    query = StateQuery(variable.id if variable else None, feed, area, as_of=as_of)
    rows, event = await state_snapshot(conn, query, base)
    state = sensor_state(latest_frame([dict(r) for r in rows]), feeds, clock)
    units = _units(feeds, variables)
    sources = await source_health(conn)
    return json_response(
        {
            "now": clock.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "event": event,
            "resolution": resolution,
            "sensors": sensor_documents(state, units),
            "cells": cell_documents(cell_state(state, resolution), units),
            "sources": [_source_document(source, clock) for source in sources],
        }
    )


def _source_document(source: dict, clock: datetime) -> dict:
    """A source's health with the age of its last write (a listener that died stops writing)."""
    updated = source.pop("updated")
    return {
        **source,
        "updated": updated.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        # A write between the answer's clock and its read of the table is no negative age.
        "age_seconds": max(round((clock - updated).total_seconds(), 1), 0.0),
    }


@dataclass(frozen=True)
class Question:
    """What a subscriber follows: one variable (None: all) at one resolution."""

    variable_id: int | None
    resolution: int


async def _event_message(
    app: FastAPI, event: dict, question: Question, names: dict[int, str]
) -> bytes | None:
    """The SSE message of one event for `question`: the new state of the cells it changed
    (None if it changed none of them)."""
    ids = np.asarray(event["variable_ids"], np.int64)
    changed = np.asarray(event["cells"], np.int64)
    if question.variable_id is not None:
        keep = ids == question.variable_id
        ids, changed = ids[keep], changed[keep]
    if not len(changed):
        return None
    tops = parents(changed, question.resolution)
    wanted = set(zip(tops.tolist(), (names.get(i) for i in ids.tolist()), strict=True))
    settings, feeds = app.state.settings, app.state.feeds
    query = StateQuery(
        question.variable_id,
        within=tuple(np.unique(tops).tolist()),
        within_resolution=question.resolution,
    )
    async with app.state.pool.acquire() as conn:
        rows = await fetch_latest(conn, query, settings.ingest.h3_resolution)
    state = sensor_state(latest_frame([dict(r) for r in rows]), feeds, datetime.now(UTC))
    cells = cell_state(state, question.resolution)
    picked = [(c, v) in wanted for c, v in zip(cells["cell"], cells["variable"], strict=True)]
    cells = cells.loc[np.asarray(picked, bool)]
    document = {
        "event": event["id"],
        "resolution": question.resolution,
        "cells": cell_documents(cells, _units(feeds, app.state.variables)),
    }
    return sse_message(document, "cells", event["id"])


def _fault_message(event: dict, question: Question, names: dict[int, str]) -> bytes | None:
    """The SSE message of a fault event: the faults that opened or closed, of the variable
    followed (None if none of them)."""
    faults = orjson.loads(event["faults"])
    if question.variable_id is not None:
        faults = [f for f in faults if f["variable"] == names.get(question.variable_id)]
    if not faults:
        return None
    return sse_message({"event": event["id"], "faults": faults}, "faults", event["id"])


async def _frames(app: FastAPI, question: Question, seen: int, reset: bool) -> AsyncIterator[bytes]:
    """The stream after event `seen`: each held event's message in id order, keep-alives
    while nothing happens."""
    stream: TwinStream = app.state.twin_stream
    pool: Pool = app.state.pool
    names = {number: name for name, number in app.state.variables.items()}
    yield RETRY
    if reset:
        detail = "events after your Last-Event-ID are no longer held: fetch /twin/state again"
        yield sse_message({"detail": detail, "event": seen}, "reset", seen)
    while True:
        async with pool.acquire() as conn:
            events = await events_after(conn, seen, EVENTS_PER_READ)
        for event in events:
            if event["faults"] is not None:
                message = _fault_message(dict(event), question, names)
            else:
                message = await stream.hub.shared(
                    (event["id"], question),
                    lambda event=event: _event_message(app, dict(event), question, names),
                )
            if message is not None:
                yield message
            seen = event["id"]
        if len(events) < EVENTS_PER_READ and not await stream.hub.wait_beyond(
            seen, KEEP_ALIVE_SECONDS
        ):
            yield KEEP_ALIVE


def _last_event_id(header: str | None, query: int | None) -> int | None:
    if header is None or not header.strip():
        return query
    try:
        value = int(header)
    except ValueError:
        raise InvalidParameter("Last-Event-ID", f"{header!r} is not an event id") from None
    return check_int(value, "Last-Event-ID")


@router.get(
    "/twin/stream",
    summary="Server-Sent Events of changed cells",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def get_stream(
    request: Request,
    settings: SettingsDep,
    variable: OptionalVariableDep,
    resolution: ResolutionQuery = None,
    last_event_id: Annotated[
        str | None, Header(description="Resume after this event (sent by reconnecting clients).")
    ] = None,
    after: Annotated[
        int | None,
        Query(ge=0, le=INT64_MAX, description="Resume after this event id (as Last-Event-ID)."),
    ] = None,
) -> StreamingResponse:
    """After each load, an event `cells` (id: the event's sequence number) with the new state of
    the cells it changed, in the shape of `/twin/state` cells, and an event `faults` when its
    quality stage opened or closed a sensor's fault (sensor, variable, kind, state, time).
    `Last-Event-ID` resumes after an event: every held event after it is sent (events are held
    for an hour; `reset` says some were lost)."""
    resolution = _resolution(resolution, settings.ingest.h3_resolution)
    resume = _last_event_id(last_event_id, after)
    stream: TwinStream = request.app.state.twin_stream
    await stream.start()  # listening before reading where to start: nothing falls between
    async with request.app.state.pool.acquire() as conn:
        oldest, newest = await event_bounds(conn)
    # Lost: pruned events lie after it, or the log is not the one the id came from.
    reset = resume is not None and (resume > newest or (oldest > 0 and resume + 1 < oldest))
    seen = newest if resume is None or reset else resume
    question = Question(variable.id if variable else None, resolution)
    return StreamingResponse(
        _frames(request.app, question, seen, reset),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
