"""Unknown query parameters are errors: a client whose filter is ignored gets wrong data silently
(OWSLib's EDR `parameter_names`, a `crs` the route does not take), so routes with this dependency
answer 400 naming every parameter they do not know."""

from fastapi import Request
from fastapi.dependencies.models import Dependant

from citytwin.errors import InvalidParameter


def known_parameters(request: Request) -> frozenset[str]:
    """The query parameters the matched route declares (its dependencies' included)."""
    route = request.scope.get("route")
    dependant: Dependant | None = getattr(route, "dependant", None)
    return frozenset() if dependant is None else frozenset(_aliases(dependant))


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
