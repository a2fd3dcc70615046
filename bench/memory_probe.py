"""One all-rejected CSV body of `argv[2]` MiB posted in a process of its own (run by
bench/memory.py and tests/robustness/test_memory_bound.py): streamed to the app (ASGI, the
service's own request path) by a client that never holds it whole, read in pieces of at most
`argv[3]` MiB (default: the service's), then one JSON line with the body size, the peak
resident memory before and after, the seconds taken, and what the answer said."""

import asyncio
import resource
import sys
import time
from collections.abc import AsyncIterator

import httpx
import orjson

from citytwin.api.app import create_app
from citytwin.services import ingest as pipeline
from citytwin.settings import Settings

KEY = "memory-probe"
HEADER = b"sensor_id,lon,lat,time,variable,value,unit\n"
LINE = b"S1,9.52,47.14,2026-11-20T10:00:00Z,no2,x,ppb\n"  # a value that is not a number
CHUNK_LINES = 2**16 // len(LINE)  # about 64 KiB, as a server reads a socket


def rows(mib: int) -> int:
    """The rows of a body of `mib` MiB."""
    return mib * 2**20 // len(LINE)


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def body(mib: int) -> AsyncIterator[bytes]:
    """The body, made as it is sent."""
    yield HEADER
    left = rows(mib)
    while left:
        count = min(left, CHUNK_LINES)
        yield LINE * count
        left -= count


async def main(database_url: str, mib: int) -> None:
    app = create_app(
        Settings().updated(database_url=database_url, api_keys=[KEY], writes_per_minute=0)
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://probe") as client:
            await client.get("/sensors")  # every module the answer needs is loaded
            before, start = peak_mib(), time.perf_counter()
            answer = await client.post(
                "/feeds/air/readings",
                content=body(mib),
                headers={"X-API-Key": KEY, "Content-Type": "text/csv"},
                timeout=None,
            )
            after, seconds = peak_mib(), time.perf_counter() - start
    report = answer.json()
    figures = {
        "status": answer.status_code,
        "body_mib": mib,
        "rows": rows(mib),
        "seconds": round(seconds, 1),
        "before_mib": before,
        "after_mib": after,
        "answer_bytes": len(answer.content),
        "read": report.get("read"),
        "rejected_total": report.get("rejected_total"),
        "rejected_listed": len(report.get("rejected", [])),
    }
    print(orjson.dumps(figures).decode())


if __name__ == "__main__":
    if len(sys.argv) > 3:
        pipeline.PIECE_BYTES = int(sys.argv[3]) << 20
        pipeline.FIRST_PIECE_BYTES = min(pipeline.FIRST_PIECE_BYTES, pipeline.PIECE_BYTES)
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
