"""The `citytwin` command. Each module registers one group of commands on the one Typer app."""

from citytwin.cli import city, database, demo, ingesting, serving, simulation, streams
from citytwin.cli.common import app, prepare_store, store_connection
from citytwin.cli.demo import demo_samples

__all__ = [
    "app",
    "city",
    "database",
    "demo",
    "demo_samples",
    "ingesting",
    "prepare_store",
    "serving",
    "simulation",
    "store_connection",
    "streams",
]
