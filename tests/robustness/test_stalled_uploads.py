"""A dozen uploads that stall mid-body hold no pooled connection: reads on a live server stay
fast, and each stalled upload is answered 408 once its body stops arriving."""

import asyncio
import time

import httpx

from citytwin.api.app import create_app
from tests.factories import API_KEY
from tests.live_server import serve

STALLED = 12
HEAD = (
    "POST /feeds/air/readings HTTP/1.1\r\nHost: citytwin\r\nX-API-Key: {key}\r\n"
    "Content-Type: text/csv\r\nContent-Length: 1000000\r\n\r\nsensor_id,lon,lat,time,"
)


async def test_stalled_uploads_do_not_freeze_reads(settings, conn):
    tight = {"pool_max_size": 3, "pool_timeout": 5, "body_timeout": 4}
    app = create_app(settings.updated(**tight))
    async with serve(app) as url:
        port = int(url.rsplit(":", 1)[1])
        stalled = []
        for _ in range(STALLED):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(HEAD.format(key=API_KEY).encode())
            await writer.drain()
            stalled.append((reader, writer))
        await asyncio.sleep(0.5)  # every upload has started and stalled
        async with httpx.AsyncClient(base_url=url) as client:
            slowest = 0.0
            for _ in range(20):
                began = time.perf_counter()
                answer = await client.get("/sensors")
                slowest = max(slowest, time.perf_counter() - began)
                assert answer.status_code == 200
        assert slowest < 1.0
        answers = await asyncio.gather(*(reader.read(4096) for reader, _ in stalled))
        for answer in answers:
            assert answer.startswith(b"HTTP/1.1 408 ")
            assert b'"parameter":"body"' in answer
        for _, writer in stalled:
            writer.close()
