"""`citytwin serve`: the API (and, with --listen, the listener of the sources)."""

import asyncio
from typing import Annotated

import typer

from citytwin.cli.common import (
    HostOption,
    PortOption,
    app,
    fail,
    out,
    prepare_store,
)
from citytwin.errors import CityTwinError
from citytwin.settings import Settings


def log_config() -> dict:
    """uvicorn's logging, with citytwin's own loggers (retention, listener) on its handler, so
    what the service does on its own (a retention run) is always in the log."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["citytwin"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def run_api(
    settings: Settings, host: str, port: int, workers: int = 1, access_log: bool = True
) -> None:
    """Serve the API under uvicorn until stopped."""
    import uvicorn

    from citytwin.api.app import create_app

    base = f"http://{host}:{port}"
    out.print(f"API:  {base}/\nDocs: {base}/docs\nTry:  {base}/cells?variable=no2&resolution=8")
    if workers > 1:
        # Each worker process builds its own app from the same CITYTWIN_* environment.
        target: object = "citytwin.api.app:create_app"
        options = {"factory": True, "workers": workers}
    else:
        target, options = create_app(settings), {}
    uvicorn.run(
        target,
        host=host,
        port=port,
        log_level="info",
        log_config=log_config(),
        access_log=access_log,
        **options,
    )


@app.command("serve")
def serve(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes (one per core is a good start).")
    ] = 1,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log every request.")
    ] = True,
    listen: Annotated[
        bool, typer.Option("--listen", help="Also run the sources' listener (one worker only).")
    ] = False,
) -> None:
    """Serve the query API (starts and migrates the embedded database if needed)."""
    settings = Settings()
    if listen:
        if workers > 1:
            fail(ValueError("--listen runs one listener: use it with one worker"))
        settings = settings.updated(mqtt_listen=True)
    try:
        asyncio.run(prepare_store(settings))
    except CityTwinError as exc:
        fail(exc)
    run_api(settings, host, port, workers, access_log)
