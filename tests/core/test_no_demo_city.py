"""Nothing in the package names the demo city or fixes its constants: its name, its
coordinates, or a step, cell size or time zone given as a literal default of a function (they
come from the city record or the settings; the record's own defaults live in core/city.py)."""

import ast
import itertools
import re

from tests.conftest import ROOT

PACKAGE = ROOT / "citytwin"
SOURCES = sorted(
    path
    for path in PACKAGE.rglob("*")
    if path.suffix in {".py", ".yaml", ".sql", ".js", ".html", ".css"}
    and "vendor" not in path.parts
)
PYTHON = [path for path in SOURCES if path.suffix == ".py"]
# Parameters that must come from the city record or the settings.
CITY_PARAMETERS = {"step_seconds", "step", "cell_size", "timezone", "time_zone", "epsg"}
# The demo city's surroundings (Liechtenstein and its neighbours), lon and lat in degrees.
DEMO_LON, DEMO_LAT = (9.40, 9.70), (47.00, 47.30)


def name(path) -> str:
    return str(path.relative_to(ROOT))


def test_the_sources_are_found():
    assert len(PYTHON) > 100 and PACKAGE / "core" / "city.py" in PYTHON


def test_no_source_names_the_demo_city():
    naming = [
        name(path) for path in SOURCES if re.search("vaduz|liechtenstein", path.read_text(), re.I)
    ]
    assert naming == []


def _literal_defaults(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    arguments = node.args.posonlyargs + node.args.args
    defaults = [None] * (len(arguments) - len(node.args.defaults)) + node.args.defaults
    pairs = [
        *zip(arguments, defaults, strict=True),
        *zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True),
    ]
    return [
        f"{node.name}({argument.arg}={ast.unparse(default)})"
        for argument, default in pairs
        if argument.arg in CITY_PARAMETERS
        and isinstance(default, ast.Constant)
        and default.value is not None
    ]


def _demo_points(node: ast.AST) -> list[str]:
    """(lon, lat) pairs of number literals next to each other that fall in the demo city."""
    items = node.elts if isinstance(node, ast.Tuple | ast.List) else getattr(node, "args", [])
    values = [i.value if isinstance(i, ast.Constant) else None for i in items]
    return [
        f"line {node.lineno}: ({lon}, {lat})"
        for lon, lat in itertools.pairwise(values)
        if isinstance(lon, float)
        and isinstance(lat, float)
        and DEMO_LON[0] < lon < DEMO_LON[1]
        and DEMO_LAT[0] < lat < DEMO_LAT[1]
    ]


def offences(code: str) -> list[str]:
    """Literal defaults of city parameters and demo coordinates in Python `code`."""
    found = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found += _literal_defaults(node)
        if isinstance(node, ast.Tuple | ast.List | ast.Call):
            found += _demo_points(node)
    return found


def test_no_function_fixes_a_city_constant_or_demo_coordinates():
    found = {name(path): offences(path.read_text()) for path in PYTHON}
    assert {path: where for path, where in found.items() if where} == {}


def test_the_guard_catches_what_it_guards():
    code = (
        "def grid(cells, cell_size=100.0, *, step_seconds: int = 3600, timezone=None):\n"
        "    return Point(9.52, 47.14), [0.5, 9.5]\n"
    )
    assert offences(code) == [
        "grid(cell_size=100.0)",
        "grid(step_seconds=3600)",
        "line 2: (9.52, 47.14)",
    ]
