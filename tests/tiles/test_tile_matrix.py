"""The H3 resolution each zoom shows."""

import h3
import pytest

from citytwin.tiles.tile_matrix import HEXAGON_PIXELS, TILE_PIXELS, resolution_for_zoom

EQUATOR = 40_075_016.686


def across(resolution: int, z: int) -> float:
    """Pixels across an average hexagon at the equator on a 512 px tile of zoom z."""
    return 2 * h3.average_hexagon_edge_length(resolution, "m") / (EQUATOR / TILE_PIXELS / 2**z)


@pytest.mark.parametrize("z", range(21))
def test_each_zoom_shows_the_coarsest_hexagons_still_readable(z):
    shown = resolution_for_zoom(z, 15)
    assert across(shown, z) <= HEXAGON_PIXELS
    if shown > 0:
        assert across(shown - 1, z) > HEXAGON_PIXELS


def test_a_small_city_is_not_swallowed_at_zoom_9():
    # Resolution 5 (two hexagons over Vaduz) was shown at zoom 9; resolution 7 now.
    assert [resolution_for_zoom(z, 10) for z in (9, 12, 13, 16)] == [7, 9, 10, 10]
    assert resolution_for_zoom(16, 12) == 12
