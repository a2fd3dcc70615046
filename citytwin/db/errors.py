"""The one place where database errors become citytwin errors (stac-fastapi-pgstac style)."""

import asyncpg
from asyncpg.exceptions import _base

from citytwin.errors import CityTwinError, Conflict, DatabaseUnavailable, InvalidParameter

# The server is gone, restarting, refusing, or no pooled connection came in time.
UNREACHABLE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.InterfaceError,
)
# A value the store cannot hold: out of a column's range, a NUL in text, a bad encoding.
OUT_OF_RANGE = (
    _base.DataError,  # raised by asyncpg itself while encoding an argument
    asyncpg.DataError,
    asyncpg.exceptions.ProgramLimitExceededError,
)
DATABASE_ERRORS = (*UNREACHABLE, *OUT_OF_RANGE, asyncpg.PostgresError)


def translate(exc: BaseException) -> CityTwinError | None:
    """The citytwin error a database error stands for; None if it is a defect of ours."""
    if isinstance(exc, CityTwinError):
        return exc
    if isinstance(exc, OUT_OF_RANGE):
        return InvalidParameter("request", f"a value cannot be stored or compared: {exc}")
    if isinstance(exc, TimeoutError):
        return DatabaseUnavailable("the database is busy: no connection came in time")
    if isinstance(exc, UNREACHABLE):
        return DatabaseUnavailable(f"the database cannot be reached: {exc}")
    if isinstance(exc, asyncpg.CheckViolationError) and "no partition of relation" in str(exc):
        # An operator detached (archived) a month's partition and left its table behind.
        return Conflict(
            f"{exc}: a month these readings fall in is detached from the store (archived); "
            "attach it again or drop its table, then send them again"
        )
    return None
