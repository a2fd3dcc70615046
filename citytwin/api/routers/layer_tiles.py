"""`/layers/{id}/tiles`: PNG raster tiles of a layer, its legend and TileJSON 3.0.

Layers are immutable, so a tile, once rendered, is final: it is cached for a year with a strong
ETag from the layer id, the tile and the resolved rendering parameters.
"""

from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated
from urllib.parse import urlencode

import numpy as np
import xarray as xr
from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from pyproj import Transformer

from citytwin.api.deps import LayerId, LayerStoreDep
from citytwin.api.formats import OutputFormat, json_response
from citytwin.api.tile_responses import (
    etag_matches,
    tile_cache,
    tile_response,
    tile_url_template,
)
from citytwin.layers.selection import grid_of, pick_variable, step_starts, time_window, unit_of
from citytwin.layers.store import LayerStore
from citytwin.tiles.cache import strong_etag
from citytwin.tiles.raster import (
    colormap,
    legend_png,
    legend_stops,
    parse_rescale,
    render_tile,
    sample_grid,
    tile_xy_bounds,
    value_range,
)
from citytwin.tiles.tile_matrix import parse_tile

router = APIRouter(tags=["layer tiles"])
PNG = OutputFormat.PNG.media_type
IMMUTABLE = "public, max-age=31536000, immutable"
MIN_ZOOM, MAX_ZOOM = 10, 18
Z = Annotated[int, Path(description="Zoom level (WebMercatorQuad).")]
X = Annotated[int, Path(description="Tile column.")]
Y = Annotated[int, Path(description="Tile row.")]
IfNoneMatch = Annotated[str | None, Header()]


@dataclass(frozen=True)
class RenderQuery:
    """How to draw a layer, as the client asked for it."""

    variable: Annotated[
        str | None, Query(description="Variable of the layer (default: its first).")
    ] = None
    time: Annotated[
        str | None,
        Query(description="ISO 8601 instant: the time step holding it (default: the first)."),
    ] = None
    colormap: Annotated[
        str, Query(description="viridis, magma, inferno, plasma, cividis, RdBu (or *_r).")
    ] = "viridis"
    rescale: Annotated[
        str | None,
        Query(description="`min,max` of the colormap (default: the variable's range)."),
    ] = None
    threshold: Annotated[
        float,
        Query(
            ge=0,
            allow_inf_nan=False,
            description="Pixels whose value is nearer zero than this are transparent "
            "(a negligible concentration, a difference of about nil).",
        ),
    ] = 0.0


RenderDep = Annotated[RenderQuery, Depends()]


@dataclass(frozen=True)
class Style:
    """A query resolved against a layer: variable, step index, colormap and value range."""

    variable: str
    step: int
    colormap: str
    low: float
    high: float
    threshold: float

    def etag(self, layer_id: str, *extra: object) -> str:
        """A strong ETag of this style on the layer (plus a tile or a legend kind)."""
        return strong_etag(
            layer_id,
            self.variable,
            self.step,
            self.colormap,
            self.low,
            self.high,
            self.threshold,
            extra,
        )


@lru_cache(maxsize=256)
def _extremes(store: LayerStore, layer_id: str, variable: str) -> tuple[float, float]:
    """Min and max of a variable over the whole layer (immutable, so computed once)."""
    values = store.open(layer_id)[variable]
    low, high = (float(v) for v in (values.min(skipna=True), values.max(skipna=True)))
    return value_range(low, high)


def _resolve(store: LayerStore, layer: xr.Dataset, layer_id: str, query: RenderQuery) -> Style:
    lut_name = query.colormap
    colormap(lut_name)  # unknown names fail before any reading
    rescale = parse_rescale(query.rescale)
    variable = pick_variable(layer, query.variable)
    step = 0 if query.time is None else time_window(layer, query.time).first
    low, high = rescale or _extremes(store, layer_id, variable)
    return Style(variable, step, lut_name, low, high, query.threshold)


def _png_response(body: bytes, etag: str, if_none_match: str | None) -> Response:
    return tile_response(body, PNG, etag, IMMUTABLE, if_none_match)


@router.get("/layers/{layer_id}/tiles/{z}/{x}/{y}.png", summary="Raster tile of a layer")
def get_layer_tile(
    request: Request,
    store: LayerStoreDep,
    layer_id: LayerId,
    query: RenderDep,
    z: Z,
    x: X,
    y: Y,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """A 256 px RGBA PNG of one variable at one time step; off-grid and NaN are transparent."""
    tile = parse_tile(z, x, y)
    layer = store.open(layer_id)
    style = _resolve(store, layer, layer_id, query)
    etag = style.etag(layer_id, "tile", tile.z, tile.x, tile.y)
    if etag_matches(etag, if_none_match):
        # The tag alone decides a 304: no need to render what the client already holds.
        return _png_response(b"", etag, if_none_match)
    key = ("layer", layer_id, tile, style)
    cache = tile_cache(request)
    body = cache.get(key, etag)
    if body is None:
        sampling = sample_grid(grid_of(layer), tile_xy_bounds(tile))
        window = sampling.window
        block = None
        if window is not None:
            selection = layer[style.variable].isel(time=style.step, y=window[0], x=window[1])
            block = np.asarray(selection.values, dtype=float)
        body = render_tile(
            block, sampling, colormap(style.colormap), style.low, style.high, style.threshold
        )
        cache.put(key, etag, body)
    return _png_response(body, etag, if_none_match)


@router.get("/layers/{layer_id}/legend.png", summary="Colorbar of a layer's tiles")
def get_legend_png(
    store: LayerStoreDep,
    layer_id: LayerId,
    query: RenderDep,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """A 256 x 16 horizontal colorbar, `rescale` min on the left."""
    style = _resolve(store, store.open(layer_id), layer_id, query)
    body = legend_png(colormap(style.colormap))
    return _png_response(body, style.etag(layer_id, "legend"), if_none_match)


@router.get("/layers/{layer_id}/legend.json", summary="Legend of a layer's tiles")
def get_legend_json(store: LayerStoreDep, layer_id: LayerId, query: RenderDep) -> Response:
    """Colormap, value range, threshold, unit and 11 evenly spaced [value, colour] stops."""
    layer = store.open(layer_id)
    style = _resolve(store, layer, layer_id, query)
    return json_response(
        {
            "layer": layer_id,
            "variable": style.variable,
            "time": step_starts(layer)[style.step],
            "colormap": style.colormap,
            "rescale": [style.low, style.high],
            "threshold": style.threshold,
            "unit": unit_of(layer, style.variable),
            "stops": legend_stops(colormap(style.colormap), style.low, style.high),
        }
    )


@router.get("/layers/{layer_id}/tilejson.json", summary="TileJSON of a layer's raster tiles")
def get_layer_tilejson(
    request: Request, store: LayerStoreDep, layer_id: LayerId, query: RenderDep
) -> Response:
    """TileJSON 3.0 whose tile URL carries `variable`, `time`, `colormap` and `rescale`."""
    layer = store.open(layer_id)
    style = _resolve(store, layer, layer_id, query)
    grid = grid_of(layer)
    to_wgs84 = Transformer.from_crs(grid.crs, 4326, always_xy=True)
    bounds = [round(v, 7) for v in to_wgs84.transform_bounds(*grid.bounds)]
    template = tile_url_template(request, "get_layer_tile", layer_id=layer_id)
    carried = {
        "variable": style.variable,
        "time": query.time,
        "colormap": style.colormap,
        "rescale": query.rescale,
        "threshold": query.threshold,
    }
    centre_zoom = (MIN_ZOOM + MAX_ZOOM) // 2
    return json_response(
        {
            "tilejson": "3.0.0",
            "name": layer.attrs.get("title") or f"citytwin layer {layer_id}",
            "description": f"{style.variable} of layer {layer_id}",
            "tiles": [template + "?" + urlencode({k: v for k, v in carried.items() if v})],
            "minzoom": MIN_ZOOM,
            "maxzoom": MAX_ZOOM,
            "bounds": bounds,
            "center": [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, centre_zoom],
            "legend": str(request.url_for("get_legend_json", layer_id=layer_id)),
        }
    )
