"""OGC API - Tiles for the vector tile sets, so OGC tile clients (OpenLayers' OGCVectorTile,
QGIS) find them: tile matrix sets, tileset metadata per collection, and the tiles themselves
(served by the `/tiles` routes, with the same ETags)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response

from citytwin.api.deps import ConnDep, PoolDep, SettingsDep, VariablesDep
from citytwin.api.formats import json_response
from citytwin.api.params import variable_of
from citytwin.api.strict_query import reject_unknown_parameters
from citytwin.api.tile_responses import (
    MVT,
    base_tile_answer,
    cells_tile_answer,
    sensors_tile_answer,
)
from citytwin.db.pool import Connection
from citytwin.errors import InvalidParameter, NotFound
from citytwin.query import ogc
from citytwin.query.cells import Bounds
from citytwin.query.params import parse_time_range
from citytwin.services.tilesets import (
    CELL_FIELDS,
    DISTRICT_FIELDS,
    SENSOR_FIELDS,
    cells_drawn_bounds,
    districts_bounds,
    sensors_bounds,
)
from citytwin.tiles.tile_matrix import MATRIX_SETS, MAX_ZOOM, matrix_limits, tms_document

router = APIRouter(
    prefix="/ogc", tags=["OGC API - Tiles"], dependencies=[Depends(reject_unknown_parameters)]
)
TILING_SCHEME = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"
CollectionId = Annotated[
    str,
    Path(
        alias="collectionId",
        description="sensors, districts, cells-r{N} or cells-r{N}-{variable}.",
    ),
]
TileMatrixSetId = Annotated[
    str, Path(alias="tileMatrixSetId", description="WebMercatorQuad or WorldCRS84Quad.")
]
VariableQuery = Annotated[
    str | None,
    Query(
        description="cells-r{N}: the variable (required for tiles; the id of cells-r{N}-{v} "
        "names its own)."
    ),
]
# TileJSON field kinds as JSON Schema types.
KINDS = {"String": "string", "Number": "number"}
# Per tiled layer: the fields its tiles carry and the dimension of its geometries.
LAYER_FIELDS = {"cells": CELL_FIELDS, "sensors": SENSOR_FIELDS, "districts": DISTRICT_FIELDS}
DIMENSION = {"cells": 2, "sensors": 0, "districts": 2}


def _tiled_collection(
    collection_id: str, base_resolution: int, variables: list[str], variable: str | None
) -> ogc.Collection:
    found = ogc.find_collection(collection_id, base_resolution, variables)
    if found is None or found.layer not in ogc.TILED_LAYERS:
        raise NotFound("tiled collection", collection_id)
    if found.variable is not None and variable not in (None, found.variable):
        raise InvalidParameter("variable", f"{collection_id} holds {found.variable} only")
    return found


def _check_tms(tile_matrix_set_id: str) -> None:
    if tile_matrix_set_id not in MATRIX_SETS:
        raise NotFound("tile matrix set", tile_matrix_set_id)


def _tms_link(request: Request, matrix_set: str) -> str:
    return str(request.url_for("ogc_tile_matrix_set", tileMatrixSetId=matrix_set))


@router.get("/tileMatrixSets", summary="Tile matrix sets")
async def tile_matrix_sets(request: Request) -> Response:
    listing = [
        {
            "id": name,
            "title": served.tms.title,
            "uri": served.tms.uri,
            "links": [ogc.link("self", _tms_link(request, name), "application/json")],
        }
        for name, served in MATRIX_SETS.items()
    ]
    return json_response({"tileMatrixSets": listing})


@router.get(
    "/tileMatrixSets/{tileMatrixSetId}", name="ogc_tile_matrix_set", summary="One tile matrix set"
)
async def tile_matrix_set(tile_matrix_set_id: TileMatrixSetId) -> Response:
    _check_tms(tile_matrix_set_id)
    return json_response(tms_document(tile_matrix_set_id))


def _tileset(
    request: Request,
    collection: ogc.Collection,
    variable: str | None,
    known: list[str],
    bounds: Bounds | None,
    matrix_set: str,
) -> dict:
    """A tileset of `matrix_set`; for cells without `variable`, its item template names
    `{variable}`."""
    tms = MATRIX_SETS[matrix_set].tms
    tileset = str(
        request.url_for("ogc_tileset", collectionId=collection.id, tileMatrixSetId=matrix_set)
    )
    cells = collection.layer == "cells"
    # cells-r{N}-{variable}: the collection's id names the variable, its URLs need none.
    named = collection.variable is not None
    item = {"rel": "item", "type": MVT, "templated": True}
    template = tileset + "/{tileMatrix}/{tileRow}/{tileCol}"
    if cells and variable is None:
        item["variables"] = {"variable": {"type": "string", "enum": known}}
        template += "?variable={variable}"
    elif cells and not named:
        template += f"?variable={variable}"
        tileset += f"?variable={variable}"
    fields = {name: {"type": KINDS[kind]} for name, kind in LAYER_FIELDS[collection.layer].items()}
    document = {
        "title": collection.title + (f": {variable}" if variable and not named else ""),
        "dataType": "vector",
        "crs": tms.crs.srs,
        "tileMatrixSetURI": tms.uri,
        "links": [
            ogc.link("self", tileset, "application/json"),
            ogc.link(TILING_SCHEME, _tms_link(request, matrix_set), "application/json"),
            {**item, "href": template},
        ],
        "layers": [
            {
                "id": collection.layer,
                "dataType": "vector",
                "geometryDimension": DIMENSION[collection.layer],
                "propertiesSchema": {"type": "object", "properties": fields},
            }
        ],
    }
    if bounds is not None:
        west, south, east, north = bounds
        document["boundingBox"] = {
            "lowerLeft": [west, south],
            "upperRight": [east, north],
            "crs": ogc.CRS84,
        }
        document["tileMatrixSetLimits"] = matrix_limits(bounds, MAX_ZOOM, matrix_set)
    return document


async def _bounds(conn: Connection, collection: ogc.Collection) -> Bounds | None:
    if collection.layer == "districts":
        return await districts_bounds(conn)
    if collection.resolution is None:
        return await sensors_bounds(conn)
    return await cells_drawn_bounds(conn, collection.resolution)


@router.get("/collections/{collectionId}/tiles", summary="Tilesets of a collection")
async def tilesets(
    request: Request,
    conn: ConnDep,
    settings: SettingsDep,
    variables: VariablesDep,
    collection_id: CollectionId,
    variable: VariableQuery = None,
) -> Response:
    """The collection's tilesets, one per tile matrix set and, for cells, per variable (or
    only `variable`'s)."""
    known = sorted(variables)
    collection = _tiled_collection(collection_id, settings.ingest.h3_resolution, known, variable)
    bounds = await _bounds(conn, collection)
    if collection.layer != "cells":
        names: list[str | None] = [None]
    elif collection.variable is not None:
        names = [collection.variable]
    elif variable is None:
        names = list(known)
    else:
        names = [variable_of(variable, variables).name]
    listing = [
        _tileset(request, collection, name, known, bounds, matrix_set)
        for name in names
        for matrix_set in MATRIX_SETS
    ]
    return json_response({"tilesets": listing})


@router.get(
    "/collections/{collectionId}/tiles/{tileMatrixSetId}",
    name="ogc_tileset",
    summary="Tileset metadata",
)
async def tileset(
    request: Request,
    conn: ConnDep,
    settings: SettingsDep,
    variables: VariablesDep,
    collection_id: CollectionId,
    tile_matrix_set_id: TileMatrixSetId,
    variable: VariableQuery = None,
) -> Response:
    """Tileset metadata; its `item` link is the tile URL template OGC clients follow."""
    collection = _tiled_collection(
        collection_id, settings.ingest.h3_resolution, sorted(variables), variable
    )
    _check_tms(tile_matrix_set_id)
    variable = collection.variable or variable
    name = None if variable is None else variable_of(variable, variables).name
    bounds = await _bounds(conn, collection)
    document = _tileset(request, collection, name, sorted(variables), bounds, tile_matrix_set_id)
    return json_response(document)


@router.get(
    "/collections/{collectionId}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
    summary="A vector tile",
)
async def tile(
    request: Request,
    pool: PoolDep,
    settings: SettingsDep,
    variables: VariablesDep,
    collection_id: CollectionId,
    tile_matrix_set_id: TileMatrixSetId,
    tile_matrix: Annotated[int, Path(alias="tileMatrix")],
    tile_row: Annotated[int, Path(alias="tileRow")],
    tile_col: Annotated[int, Path(alias="tileCol")],
    variable: VariableQuery = None,
    start: Annotated[str | None, Query()] = None,
    end: Annotated[str | None, Query()] = None,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """The MVT of the collection's tile (cells at the collection's resolution)."""
    collection = _tiled_collection(
        collection_id, settings.ingest.h3_resolution, sorted(variables), variable
    )
    _check_tms(tile_matrix_set_id)
    variable = collection.variable or variable
    if collection.layer == "sensors":
        return await sensors_tile_answer(
            request,
            pool,
            settings,
            tile_matrix,
            tile_col,
            tile_row,
            if_none_match,
            tile_matrix_set_id,
        )
    if collection.layer == "districts":
        return await base_tile_answer(
            request,
            pool,
            settings,
            "districts",
            tile_matrix,
            tile_col,
            tile_row,
            tile_matrix_set_id,
        )
    if variable is None:
        raise InvalidParameter("variable", f"required for {collection.id}: one of the tilesets")
    chosen = variable_of(variable, variables)
    return await cells_tile_answer(
        request,
        pool,
        settings,
        chosen,
        parse_time_range(start, end),
        tile_matrix,
        tile_col,
        tile_row,
        collection.resolution,
        if_none_match,
        tile_matrix_set_id,
    )
