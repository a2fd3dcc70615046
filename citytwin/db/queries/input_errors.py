"""PostgreSQL refusing a query built from a caller's expression (`$filter`, `q`, `georel`):
a type mismatch, a bad value or a geometry PostGIS cannot read is the caller's 400, not a 500."""

from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg

from citytwin.errors import InvalidParameter

# SQLSTATE: class 22 data exceptions, undefined function/operator (42883), datatype mismatch
# (42804), and PostGIS's own parse errors, which it raises as internal errors (XX000).
CALLER_STATES = ("42883", "42804", "XX000")


@contextmanager
def caller_input(parameter: str) -> Iterator[None]:
    """Run a query whose expression came from `parameter`; its refusals become 400s."""
    try:
        yield
    except asyncpg.PostgresError as exc:
        state = getattr(exc, "sqlstate", "") or ""
        if state.startswith("22") or state in CALLER_STATES:
            raise InvalidParameter(parameter, exc.args[0] if exc.args else str(exc)) from None
        raise
