"""`/layers/{id}/tiles`, legends and TileJSON over the small sample layer."""

import io
from urllib.parse import parse_qs, urlsplit

import httpx
import morecantile
import numpy as np
import pytest
from PIL import Image
from pyproj import Transformer

from citytwin.api.app import create_app
from citytwin.layers.store import LayerStore
from tests.asgi import asgi_client
from tests.layers.sample import sample_layer

TM = morecantile.tms.get("WebMercatorQuad")


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[LayerStore, str]:
    """The 10 x 8 nowcast of tests/sim in a fresh store."""
    store = LayerStore(tmp_path_factory.mktemp("layers"))
    return store, store.write(*sample_layer())


@pytest.fixture(scope="module")
async def tiles_client(settings, sample):
    """The app of `create_app` with the sample store on `app.state`."""
    app = create_app(settings)
    async with asgi_client(app, layer_store=sample[0]) as client:
        yield client


def decode(answer: httpx.Response) -> np.ndarray:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(answer.content))
    assert image.mode == "RGBA"
    return np.asarray(image)


def cell_tile(layer, row: int, col: int, z: int = 20) -> morecantile.Tile:
    """A tile small enough to lie inside the grid cell (row, col)."""
    return TM.tile(float(layer["lon"][row, col]), float(layer["lat"][row, col]), z)


def url(layer_id: str, tile: morecantile.Tile) -> str:
    return f"/layers/{layer_id}/tiles/{tile.z}/{tile.x}/{tile.y}.png"


async def test_a_tile_over_a_cell_has_the_cells_colour(tiles_client, sample):
    store, layer_id = sample
    layer = store.open(layer_id)
    no2 = layer["no2"].values
    low, high = float(np.nanmin(no2)), float(np.nanmax(no2))
    tile = cell_tile(layer, 2, 1)  # sensor A's cell: 10, 20, 30, 40 over the steps
    # Defaults: the first variable, the first step, viridis over the whole layer's range.
    pixels = decode(await tiles_client.get(url(layer_id, tile)))
    # 10, the layer's lowest value: viridis' first colour, #440154, in every pixel.
    assert no2[0, 2, 1] == pytest.approx(10.0) == low and high > low
    assert (pixels == [0x44, 0x01, 0x54, 255]).all()
    # A named step and scale: 30 at 02:00 in 0..60 is the middle of RdBu, near white.
    params = {"time": "2026-11-02T02:30:00Z", "colormap": "RdBu", "rescale": "0,60"}
    pixels = decode(await tiles_client.get(url(layer_id, tile), params=params))
    assert no2[2, 2, 1] == pytest.approx(30.0)
    # Every pixel one colour, within 2/255 of RdBu's white #F7F7F7.
    assert (pixels == pixels[0, 0]).all() and pixels[0, 0, 3] == 255
    assert np.abs(pixels[0, 0, :3].astype(int) - 0xF7).max() <= 2
    # The other variable: the distance to the nearest sensor is 0 on the sensor's cell.
    params = {"variable": "nearest_sensor_distance", "colormap": "magma", "rescale": "0,500"}
    pixels = decode(await tiles_client.get(url(layer_id, tile), params=params))
    assert pixels[128, 128].tolist() == [0, 0, 4, 255]


async def test_values_nearer_zero_than_the_threshold_are_transparent(tiles_client, sample):
    store, layer_id = sample
    tile = cell_tile(store.open(layer_id), 2, 1)  # sensor A's cell: 10 at the first step
    shown = decode(await tiles_client.get(url(layer_id, tile), params={"threshold": 10}))
    assert (shown[..., 3] == 255).all()  # 10 is not below 10
    hidden = await tiles_client.get(url(layer_id, tile), params={"threshold": 10.5})
    assert (decode(hidden) == 0).all()
    assert hidden.headers["etag"] != (await tiles_client.get(url(layer_id, tile))).headers["etag"]
    legend = await tiles_client.get(f"/layers/{layer_id}/legend.json", params={"threshold": 2})
    assert legend.json()["threshold"] == 2.0


async def test_pixels_off_the_grid_are_transparent(tiles_client, sample):
    layer_id = sample[1]
    # The tile holding the grid's north-west corner (537 500 E, 5 226 900 N in UTM 32N).
    lon, lat = Transformer.from_crs(32632, 4326, always_xy=True).transform(537_500, 5_226_900)
    tile = TM.tile(lon, lat, 16)
    box = TM.xy_bounds(tile)
    mx, my = Transformer.from_crs(4326, 3857, always_xy=True).transform(lon, lat)
    px = int((mx - box.left) / (box.right - box.left) * 256)
    py = int((box.top - my) / (box.top - box.bottom) * 256)
    assert 20 < px < 200 and 20 < py < 200  # the corner is well inside this tile
    pixels = decode(await tiles_client.get(url(layer_id, tile)))
    alpha = pixels[..., 3]
    # North and west of the corner nothing is drawn (3 px for UTM's grid convergence)...
    assert (alpha[: py - 3] == 0).all() and (alpha[:, : px - 3] == 0).all()
    assert (pixels[alpha == 0] == 0).all()
    # ...south-east of it the grid (1 km x 800 m, ~1.6 m pixels) is opaque.
    assert (alpha[py + 3 :, px + 3 :] == 255).all()
    far = await tiles_client.get(f"/layers/{layer_id}/tiles/10/0/0.png")
    assert (decode(far)[..., 3] == 0).all()


async def test_etag_and_304(tiles_client, sample):
    store, layer_id = sample
    tile = cell_tile(store.open(layer_id), 4, 4)
    first = await tiles_client.get(url(layer_id, tile))
    assert first.headers["cache-control"] == "public, max-age=31536000, immutable"
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    again = await tiles_client.get(url(layer_id, tile))
    assert (again.headers["etag"], again.content) == (etag, first.content)
    cached = await tiles_client.get(url(layer_id, tile), headers={"If-None-Match": etag})
    assert (cached.status_code, cached.content, cached.headers["etag"]) == (304, b"", etag)
    other = await tiles_client.get(url(layer_id, tile), headers={"If-None-Match": '"nope"'})
    assert other.status_code == 200 and other.content == first.content
    # Every parameter is part of the tag; an instant in the same step is the same tile.
    tags = {etag}
    for params in (
        {"colormap": "magma"},
        {"rescale": "0,100"},
        {"time": "2026-11-02T01:00:00Z"},
        {"variable": "nearest_sensor_distance"},
    ):
        tags.add((await tiles_client.get(url(layer_id, tile), params=params)).headers["etag"])
    assert len(tags) == 5
    same_step = await tiles_client.get(url(layer_id, tile), params={"time": "2026-11-02T00:59Z"})
    assert same_step.headers["etag"] == etag
    neighbour = cell_tile(store.open(layer_id), 4, 5)
    assert (await tiles_client.get(url(layer_id, neighbour))).headers["etag"] != etag


async def test_legend(tiles_client, sample):
    store, layer_id = sample
    no2 = store.open(layer_id)["no2"].values
    legend = await tiles_client.get(f"/layers/{layer_id}/legend.json")
    assert legend.status_code == 200
    body = legend.json()
    assert body["colormap"] == "viridis" and body["unit"] == "µg/m³"
    assert body["rescale"] == pytest.approx([np.nanmin(no2), np.nanmax(no2)])
    assert len(body["stops"]) == 11
    assert body["stops"][0] == [pytest.approx(np.nanmin(no2)), "#440154"]
    assert body["stops"][-1] == [pytest.approx(np.nanmax(no2)), "#fde725"]
    params = {"colormap": "RdBu_r", "rescale": "-10,10", "variable": "nearest_sensor_distance"}
    body = (await tiles_client.get(f"/layers/{layer_id}/legend.json", params=params)).json()
    assert (body["colormap"], body["rescale"], body["unit"]) == ("RdBu_r", [-10.0, 10.0], "m")
    assert body["stops"][0] == [-10.0, "#053061"] and body["stops"][-1] == [10.0, "#67001f"]
    assert body["stops"][5][0] == 0.0
    bar = await tiles_client.get(f"/layers/{layer_id}/legend.png", params={"colormap": "magma"})
    pixels = decode(bar)
    assert pixels.shape == (16, 256, 4)
    assert pixels[8, 0].tolist() == [0, 0, 4, 255] and pixels[8, 255].tolist()[:3] == [
        0xFC,
        0xFD,
        0xBF,
    ]


async def test_tilejson(tiles_client, sample):
    store, layer_id = sample
    layer = store.open(layer_id)
    params = {"time": "2026-11-02T03:00:00Z", "colormap": "plasma", "rescale": "0,80"}
    answer = await tiles_client.get(f"/layers/{layer_id}/tilejson.json", params=params)
    assert answer.status_code == 200
    document = answer.json()
    assert document["tilejson"] == "3.0.0"
    assert (document["minzoom"], document["maxzoom"]) == (10, 18)
    assert "vector_layers" not in document
    (template,) = document["tiles"]
    parts = urlsplit(template)
    assert parts.path == f"/layers/{layer_id}/tiles/{{z}}/{{x}}/{{y}}.png"
    assert parse_qs(parts.query) == {
        "variable": ["no2"],
        "time": ["2026-11-02T03:00:00Z"],
        "colormap": ["plasma"],
        "rescale": ["0,80"],
    }
    west, south, east, north = document["bounds"]
    lon, lat = layer["lon"].values, layer["lat"].values
    # The grid's outer edges lie half a cell (~0.0007° lon, ~0.00045° lat) beyond the centres.
    assert west < lon.min() < west + 0.002 and east - 0.002 < lon.max() < east
    assert south < lat.min() < south + 0.001 and north - 0.001 < lat.max() < north
    # The template, filled in, serves the tile the parameters describe.
    tile = cell_tile(layer, 2, 7)  # sensor B: 80 at 03:00
    filled = template.replace("{z}", str(tile.z)).replace("{x}", str(tile.x))
    pixels = decode(await tiles_client.get(filled.replace("{y}", str(tile.y))))
    # 80 at the top of 0..80: plasma's last colour, #F0F921 (matplotlib's table).
    assert layer["no2"].values[3, 2, 7] == pytest.approx(80.0)
    assert (pixels == [0xF0, 0xF9, 0x21, 255]).all()


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        ("tiles/18/0/0.png", {"colormap": "jet"}, "colormap"),
        ("tiles/18/0/0.png", {"rescale": "5"}, "rescale"),
        ("tiles/18/0/0.png", {"rescale": "5,5"}, "rescale"),
        ("tiles/18/0/0.png", {"rescale": "a,b"}, "rescale"),
        ("tiles/18/0/0.png", {"variable": "o3"}, "variable"),
        ("tiles/18/0/0.png", {"time": "2026-11-05T00:00:00Z"}, "time"),
        ("tiles/18/0/0.png", {"time": "yesterday"}, "time"),
        ("tiles/23/0/0.png", {}, "z"),
        ("tiles/2/4/0.png", {}, "x"),
        ("tiles/2/0/-1.png", {}, "y"),
        ("tiles/2/a/0.png", {}, "x"),
        ("legend.json", {"rescale": "9,1"}, "rescale"),
        ("tiles/18/0/0.png", {"threshold": "-1"}, "threshold"),
        ("tiles/18/0/0.png", {"threshold": "nan"}, "threshold"),
        ("legend.png", {"colormap": "Viridis"}, "colormap"),
        ("tilejson.json", {"time": "2026-11-01T00:00:00Z"}, "time"),
    ],
)
async def test_bad_input_is_400_naming_the_parameter(tiles_client, sample, path, params, parameter):
    answer = await tiles_client.get(f"/layers/{sample[1]}/{path}", params=params)
    assert answer.status_code == 400, answer.text
    assert answer.json()["parameter"] == parameter


@pytest.mark.parametrize("path", ["tiles/18/0/0.png", "legend.png", "legend.json", "tilejson.json"])
async def test_an_unknown_layer_is_404(tiles_client, path):
    for layer_id in ("0" * 32, "nope"):
        answer = await tiles_client.get(f"/layers/{layer_id}/{path}")
        assert answer.status_code == 404
        assert answer.json()["error"] == "NotFound"
