import h3.api.basic_int as h3
import h3.api.basic_str as h3_str
import pytest

from citytwin.errors import InvalidParameter
from citytwin.query.cells import boundary, descendant_range, parse_cell, parse_cells, to_hex

VADUZ = h3.latlng_to_cell(47.1410, 9.5209, 10)


@pytest.mark.parametrize("parent_resolution", [5, 7, 9])
def test_descendant_range_holds_exactly_the_children(parent_resolution):
    parent = h3.cell_to_parent(VADUZ, parent_resolution)
    low, high = descendant_range(parent, 10)
    children = h3.cell_to_children(parent, 10)
    assert all(low <= child <= high for child in children)
    # Neighbours' children fall outside the range.
    for neighbour in h3.grid_ring(parent, 1):
        assert not any(low <= child <= high for child in h3.cell_to_children(neighbour, 10))


def test_descendant_range_of_a_resolution_0_cell_holds_its_descendants():
    parent = h3.cell_to_parent(VADUZ, 0)
    low, high = descendant_range(parent, 10)
    assert low <= VADUZ <= high
    assert low <= h3.cell_to_center_child(parent, 10) <= high


def test_descendant_range_of_a_base_cell_is_itself():
    assert descendant_range(VADUZ, 10) == (VADUZ, VADUZ)


def test_hex_round_trip_and_boundary_is_a_closed_ring():
    text = to_hex(VADUZ)
    assert text == h3_str.latlng_to_cell(47.1410, 9.5209, 10) == "8a1f8e7290cffff"
    assert parse_cell(text) == VADUZ
    ring = boundary(VADUZ)
    assert len(ring) == 7 and ring[0] == ring[-1]
    assert all(9.51 < lon < 9.53 and 47.13 < lat < 47.15 for lon, lat in ring)


@pytest.mark.parametrize("text", ["zzz", "8a1f8e7290dfff0", ""])
def test_bad_cells_name_the_parameter(text):
    with pytest.raises(InvalidParameter) as error:
        parse_cells(text, 10)
    assert error.value.parameter == "cells"


def test_cells_finer_than_base_are_refused():
    fine = h3.latlng_to_cell(47.1410, 9.5209, 12)
    with pytest.raises(InvalidParameter, match="finer than the base resolution 10"):
        parse_cells(to_hex(fine), 10)
