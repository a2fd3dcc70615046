"""`/`: the web map for people (HTML) or the landing document for programs (JSON); the API
description also as OpenAPI 3.0 for OGC clients."""

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import FileResponse

from citytwin import __version__
from citytwin.api.formats import json_response
from citytwin.api.openapi30 import app_openapi_30
from citytwin.query.ogc import OPENAPI, OPENAPI_30_PATH

router = APIRouter(tags=["web map"])
STATIC = Path(__file__).resolve().parent.parent / "static"
LINKS = [
    {"rel": "service-doc", "href": "/docs"},
    {"rel": "service-desc", "href": "/openapi.json"},
    {"rel": "service-desc", "href": OPENAPI_30_PATH, "title": "The same as OpenAPI 3.0"},
    {"rel": "data", "href": "/feeds"},
    {"rel": "data", "href": "/variables"},
    {"rel": "data", "href": "/sensors"},
    {"rel": "data", "href": "/readings"},
    {"rel": "data", "href": "/cells"},
    {"rel": "data", "href": "/layers"},
    {"rel": "data", "href": "/scenarios"},
    {"rel": "service", "href": "/ogc", "title": "OGC API - Features"},
    {"rel": "service", "href": "/edr", "title": "OGC API - EDR"},
    {"rel": "alternate", "href": "/", "type": "text/html", "title": "The web map"},
]


@router.get("/", summary="Web map (HTML) or landing document (JSON)")
async def landing(accept: Annotated[str | None, Header()] = None) -> Response:
    """Browsers (`Accept: text/html`) get the web map; everything else the links of the API."""
    if accept and "text/html" in accept:
        return FileResponse(STATIC / "index.html", media_type="text/html")
    return json_response({"title": "citytwin", "version": __version__, "links": LINKS})


@router.get(OPENAPI_30_PATH, include_in_schema=False)
async def openapi_30(request: Request) -> Response:
    """The API description as OpenAPI 3.0.3 (FastAPI writes 3.1 at `/openapi.json`)."""
    return json_response(app_openapi_30(request.app), media_type=OPENAPI)
