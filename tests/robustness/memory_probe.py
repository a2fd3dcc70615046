"""Run by test_memory_bound in a process of its own: an all-rejected CSV body of `argv[2]` MiB
posted to the app (ASGI, the service's own request path), then one JSON line with the body
size, the peak resident memory before and after, and what the answer said."""

import asyncio
import resource
import sys

import httpx
import orjson

from citytwin.api.app import create_app
from citytwin.settings import Settings

KEY = "memory-probe"
LINE = b"S1,9.52,47.14,2026-11-20T10:00:00Z,no2,x,ppb\n"  # a value that is not a number


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def main(database_url: str, mib: int) -> None:
    body = b"sensor_id,lon,lat,time,variable,value,unit\n" + LINE * (mib * 2**20 // len(LINE))
    app = create_app(
        Settings().updated(database_url=database_url, api_keys=[KEY], writes_per_minute=0)
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://probe") as client:
            await client.get("/sensors")  # every module the answer needs is loaded
            before = peak_mib()
            answer = await client.post(
                "/feeds/air/readings",
                content=body,
                headers={"X-API-Key": KEY, "Content-Type": "text/csv"},
                timeout=None,
            )
            after = peak_mib()
    report = answer.json()
    figures = {
        "status": answer.status_code,
        "body_mib": len(body) / 2**20,
        "before_mib": before,
        "after_mib": after,
        "answer_bytes": len(answer.content),
        "read": report.get("read"),
        "rejected_total": report.get("rejected_total"),
        "rejected_listed": len(report.get("rejected", [])),
    }
    print(orjson.dumps(figures).decode())


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
