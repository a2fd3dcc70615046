"""Unknown query parameters are errors: a client whose filter is ignored gets wrong data silently
(OWSLib's EDR `parameter_names`, a `crs` the route does not take), so routes with this dependency
answer 400 naming every parameter they do not know."""

from collections.abc import Callable
from typing import TypeVar

from fastapi import Request
from fastapi.dependencies.models import Dependant

from citytwin.errors import InvalidParameter

Endpoint = TypeVar("Endpoint", bound=Callable)
ExtraParameters = Callable[[Request], frozenset[str]]


def also_takes(extra: ExtraParameters) -> Callable[[Endpoint], Endpoint]:
    """Mark an endpoint as taking the query parameters `extra(request)` names besides those it
    declares (OGC API - Features' `name=value` parameters of a collection's queryables)."""

    def mark(endpoint: Endpoint) -> Endpoint:
        endpoint.extra_parameters = extra  # type: ignore[attr-defined]
        return endpoint

    return mark


def known_parameters(request: Request) -> frozenset[str]:
    """The query parameters the matched route takes: those it declares (its dependencies'
    included) and those its endpoint is marked to take for this request."""
    route = request.scope.get("route")
    dependant: Dependant | None = getattr(route, "dependant", None)
    declared = frozenset() if dependant is None else frozenset(_aliases(dependant))
    extra: ExtraParameters | None = getattr(
        getattr(route, "endpoint", None), "extra_parameters", None
    )
    return declared if extra is None else declared | extra(request)


def _aliases(dependant: Dependant) -> set[str]:
    # The dependant's own fields and its dependencies' (FastAPI's flattening is internal).
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _aliases(sub)
    return names


async def reject_unknown_parameters(request: Request) -> None:
    """A router dependency: 400 naming the query parameters the route does not declare."""
    known = known_parameters(request)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        listed = ", ".join(sorted(known)) or "none"
        plural = "s" if len(unknown) > 1 else ""
        raise InvalidParameter(
            ",".join(unknown), f"unknown query parameter{plural} (this route takes: {listed})"
        )
