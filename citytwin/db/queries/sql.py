"""A tiny builder that numbers `$n` placeholders, so WHERE clauses compose with bound values."""

from collections.abc import Sequence

from citytwin.query.cells import descendant_range
from citytwin.query.params import Area


class Bind:
    """Collects bound values; `bind(v)` returns the placeholder for `v`."""

    def __init__(self) -> None:
        self.values: list[object] = []

    def __call__(self, value: object) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def cell_ranges_clause(column: str, cells: Sequence[int], base_resolution: int, bind: Bind) -> str:
    """`column` (a base-resolution cell) lies under one of `cells` (any coarser resolution)."""
    ranges = [descendant_range(cell, base_resolution) for cell in cells]
    low, high = bind([r[0] for r in ranges]), bind([r[1] for r in ranges])
    return (
        f"EXISTS (SELECT 1 FROM unnest({low}::int8[], {high}::int8[]) AS rng (lo, hi) "
        f"WHERE {column} BETWEEN rng.lo AND rng.hi)"
    )


def area_clauses(area: Area, cell_column: str, base_resolution: int, bind: Bind) -> list[str]:
    """Conditions restricting a base-cell column to an area (geometry and/or cells)."""
    clauses = []
    if area.geometry is not None:
        clauses.append(
            f"{cell_column} IN (SELECT cell FROM cells "
            f"WHERE ST_Intersects(center, ST_GeomFromText({bind(area.wkt)}, 4326)))"
        )
    if area.cells:
        clauses.append(cell_ranges_clause(cell_column, area.cells, base_resolution, bind))
    return clauses
