"""The citytwin error tree. No HTTP here: `api/errors.py` maps these onto status codes."""


class CityTwinError(Exception):
    """Base of every error citytwin raises on purpose."""


class InvalidParameter(CityTwinError, ValueError):
    """A caller-supplied parameter is wrong; `parameter` names it."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.message = message


class InvalidParameters(InvalidParameter):
    """Several parameters of one document are wrong: all of them, the first one named as usual."""

    def __init__(self, problems: list[InvalidParameter]) -> None:
        super().__init__(problems[0].parameter, problems[0].message)
        self.problems = problems
        self.args = ("\n".join(str(problem) for problem in problems),)


class NotFound(CityTwinError, LookupError):
    """A named thing (feed, sensor, cell) does not exist."""

    def __init__(self, what: str, key: object) -> None:
        super().__init__(f"{what} {key!r} not found")
        self.what = what
        self.key = key


class MalformedInput(CityTwinError, ValueError):
    """A whole file or body cannot be read (encoding, missing columns, garbage)."""


class PayloadTooLarge(CityTwinError, ValueError):
    """A body is larger than the service accepts; `kept` holds its first bytes (for a dead
    letter)."""

    def __init__(self, message: str, kept: bytes = b"") -> None:
        super().__init__(message)
        self.message = message
        self.kept = kept


class RequestTimeout(CityTwinError, TimeoutError):
    """A body did not arrive in time."""


class RateLimited(CityTwinError, RuntimeError):
    """A writer sent more than its share; `retry_after` is the seconds until it may again."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class StoreFull(CityTwinError, RuntimeError):
    """A write would take a store past its quota."""


class FeedDefinitionError(CityTwinError, ValueError):
    """A feed definition in `sensors/` is wrong."""


class DatabaseUnavailable(CityTwinError, ConnectionError):
    """The database cannot be reached or went away during a load."""


class SchedulerUnavailable(CityTwinError, ConnectionError):
    """The Dask scheduler simulations are sent to cannot be reached (or is not an address)."""


class EmbeddedClusterError(CityTwinError, RuntimeError):
    """The project-local PostGIS cluster could not be created or started."""


class RunCancelled(CityTwinError, RuntimeError):
    """A scenario run was cancelled before it finished."""


class Conflict(CityTwinError, RuntimeError):
    """The request does not fit the current state of what it names (e.g. cancelling a
    finished run)."""


class CityNotImported(NotFound):
    """No city record in the database yet."""

    def __init__(self) -> None:
        super().__init__("city", None)
        self.message = "no city imported yet: run `citytwin city import` (or `citytwin demo`)"
        self.args = (self.message,)
