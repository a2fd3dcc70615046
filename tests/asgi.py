"""An app in process: its lifespan entered and an httpx client over ASGI."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI


@asynccontextmanager
async def asgi_client(
    app: FastAPI, base_url: str = "http://citytwin", **state: object
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `app` once started, with `state` set on `app.state` (e.g. a layer store)."""
    async with app.router.lifespan_context(app):
        for name, value in state.items():
            setattr(app.state, name, value)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=base_url
        ) as client:
            yield client
