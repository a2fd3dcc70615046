"""OGC API - Features Part 3: queryables, CQL2 filters (text and JSON), `sortby` and `properties`.

cql2 and pygeofilter parse the filter; this module turns its syntax tree into a SQL condition over a
collection's queryables, each a fixed SQL expression. Every literal is bound through `bind` (a
callable returning its `$n` placeholder, as `db.queries.sql.Bind`), never written into the SQL
text; property names only select among the fixed expressions. Pure: no I/O.
"""

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import cql2
from pygeofilter import ast, values
from pygeofilter.parsers.cql2_json import parse as parse_cql2_json

from citytwin.errors import InvalidParameter
from citytwin.query.params import parse_time

Binder = Callable[[object], str]

# The names a client may send in `filter-lang`; GDAL up to 3.6 sends the draft's `cql-text`,
# whose comparisons, LIKE, IS NULL, AND/OR/NOT are written as in CQL2 text.
FILTER_LANGS = ("cql2-text", "cql2-json", "cql-text")
JSON_SCHEMA = "application/schema+json"
TYPES = ("string", "integer", "number", "boolean", "date-time", "geometry")

COMPARATORS = {
    ast.ComparisonOp.EQ: "=",
    ast.ComparisonOp.NE: "<>",
    ast.ComparisonOp.LT: "<",
    ast.ComparisonOp.LE: "<=",
    ast.ComparisonOp.GT: ">",
    ast.ComparisonOp.GE: ">=",
}
SPATIAL = {
    ast.SpatialComparisonOp.INTERSECTS: "ST_Intersects",
    ast.SpatialComparisonOp.DISJOINT: "ST_Disjoint",
    ast.SpatialComparisonOp.CONTAINS: "ST_Contains",
    ast.SpatialComparisonOp.WITHIN: "ST_Within",
    ast.SpatialComparisonOp.TOUCHES: "ST_Touches",
    ast.SpatialComparisonOp.CROSSES: "ST_Crosses",
    ast.SpatialComparisonOp.OVERLAPS: "ST_Overlaps",
    ast.SpatialComparisonOp.EQUALS: "ST_Equals",
}
ARITHMETIC = {
    ast.ArithmeticOp.ADD: "+",
    ast.ArithmeticOp.SUB: "-",
    ast.ArithmeticOp.MUL: "*",
    ast.ArithmeticOp.DIV: "/",
}
# CQL2's CASEI is parsed by pygeofilter as lower(); upper() is offered beside it.
FUNCTIONS = {"lower": "lower", "upper": "upper"}


@dataclass(frozen=True)
class Queryable:
    name: str
    sql: str  # a fixed SQL expression over the collection's row (never from a request)
    type: str  # one of TYPES
    description: str
    sortable: bool = True


def parse_filter(text: str | None, lang: str | None) -> ast.Node | None:
    """The syntax tree of `filter` in `filter-lang` (default cql2-text); None without a filter.

    CQL2 text is parsed by cql2 (cql2-rs, which follows the standard's precedence: AND binds
    tighter than OR) into CQL2 JSON; pygeofilter turns CQL2 JSON into its syntax tree."""
    if text is None or not text.strip():
        return None
    language = (lang or "cql2-text").strip().lower()
    if language not in FILTER_LANGS:
        raise InvalidParameter("filter-lang", f"{lang!r} is not one of {', '.join(FILTER_LANGS)}")
    try:
        document = json.loads(text) if language == "cql2-json" else cql2.parse_text(text).to_json()
        return parse_cql2_json(_as_pygeofilter_reads(document))
    except RecursionError:
        raise InvalidParameter("filter", "nested too deeply") from None
    except (cql2.ParseError, ValueError, KeyError, TypeError, AttributeError) as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        raise InvalidParameter("filter", f"not {language}: {' '.join(lines)[:300]}") from None


def _as_pygeofilter_reads(node: object) -> object:
    """CQL2 JSON as pygeofilter 0.4 reads it: `between` with its bounds in one list (the 1.0
    standard gives three arguments), and `bbox` in the order its Envelope names its fields
    (x1, x2, y1, y2), not the standard's minx, miny, maxx, maxy."""
    if isinstance(node, list):
        return [_as_pygeofilter_reads(item) for item in node]
    if not isinstance(node, dict):
        return node
    if isinstance(node.get("bbox"), list) and len(node["bbox"]) in (4, 6):
        box = node["bbox"]
        half = len(box) // 2
        return {"bbox": [box[0], box[half], box[1], box[half + 1]]}
    converted = {key: _as_pygeofilter_reads(value) for key, value in node.items()}
    args = converted.get("args")
    if converted.get("op") == "between" and isinstance(args, list) and len(args) == 3:
        converted["args"] = [args[0], [args[1], args[2]]]
    return converted


def filter_sql(node: ast.Node, queryables: dict[str, Queryable], bind: Binder) -> str:
    """`node` as a SQL condition over `queryables`; 400 naming what is not queryable or typed."""
    try:
        return _Translator(queryables, bind).condition(node)
    except RecursionError:
        raise InvalidParameter("filter", "nested too deeply") from None


class _Translator:
    def __init__(self, queryables: dict[str, Queryable], bind: Binder) -> None:
        self.queryables = queryables
        self.bind = bind

    def condition(self, node: object) -> str:
        if isinstance(node, ast.Not):
            return f"(NOT {self.condition(node.sub_node)})"
        if isinstance(node, ast.Combination):
            return f"({self.condition(node.lhs)} {node.op.value} {self.condition(node.rhs)})"
        if isinstance(node, ast.Comparison):
            kind = self._kind(node.lhs, node.rhs)
            lhs, rhs = self.scalar(node.lhs, kind), self.scalar(node.rhs, kind)
            return f"({lhs} {COMPARATORS[node.op]} {rhs})"
        if isinstance(node, ast.Between):
            kind = self._kind(node.lhs, node.low, node.high)
            low, high = self.scalar(node.low, kind), self.scalar(node.high, kind)
            negation = "NOT " if node.not_ else ""
            return f"({self.scalar(node.lhs, kind)} {negation}BETWEEN {low} AND {high})"
        if isinstance(node, ast.Like):
            self._expect(node.lhs, "string", "LIKE")
            if not isinstance(node.pattern, str):
                raise InvalidParameter("filter", "LIKE needs a text pattern")
            operator = "ILIKE" if node.nocase else "LIKE"
            negation = "NOT " if node.not_ else ""
            # CQL2 LIKE patterns are SQL's: % any text, _ one character, \ escapes.
            pattern = self.bind(str(node.pattern))
            return f"({self.scalar(node.lhs, 'string')} {negation}{operator} {pattern})"
        if isinstance(node, ast.In):
            kind = self._kind(node.lhs, *node.sub_nodes)
            options = ", ".join(self.scalar(option, kind) for option in node.sub_nodes)
            negation = "NOT " if node.not_ else ""
            return f"({self.scalar(node.lhs, kind)} {negation}IN ({options}))"
        if isinstance(node, ast.IsNull):
            negation = "NOT " if node.not_ else ""
            return f"({self.scalar(node.lhs, self._kind(node.lhs))} IS {negation}NULL)"
        if isinstance(node, ast.SpatialComparisonPredicate):
            return f"{SPATIAL[node.op]}({self.geometry(node.lhs)}, {self.geometry(node.rhs)})"
        if isinstance(node, ast.BBox):
            box = self._envelope(node.minx, node.miny, node.maxx, node.maxy)
            return f"ST_Intersects({self.geometry(node.lhs)}, {box})"
        if isinstance(node, bool):
            return self.bind(node) + "::boolean"
        raise InvalidParameter("filter", f"{_name_of(node)} is not supported here")

    def _kind(self, *operands: object) -> str | None:
        """The type of the queryables among `operands` (None: only literals); 400 when they
        are of different kinds, which SQL could not compare."""
        found = [kind for kind in map(self._attribute_type, operands) if kind is not None]
        if len({_FAMILY.get(kind, kind) for kind in found}) > 1:
            raise InvalidParameter("filter", f"compares {_a(found[0])} with {_a(found[1])}")
        return found[0] if found else None

    def _attribute_type(self, operand: object) -> str | None:
        if isinstance(operand, ast.Attribute):
            return self.queryable(operand.name).type
        if isinstance(operand, ast.Function) and operand.arguments:
            return self._attribute_type(operand.arguments[0])
        if isinstance(operand, ast.Arithmetic):
            return "number"
        return None

    def _expect(self, operand: object, kind: str, where: str) -> None:
        found = self._attribute_type(operand)
        if found is not None and found != kind:
            raise InvalidParameter("filter", f"{where} needs {_a(kind)} property, not {_a(found)}")

    def queryable(self, name: str) -> Queryable:
        found = self.queryables.get(name)
        if found is None:
            listed = ", ".join(self.queryables)
            raise InvalidParameter(
                "filter", f"{name!r} is not queryable here (queryables: {listed})"
            )
        return found

    def scalar(self, node: object, kind: str | None) -> str:
        """A value expression: a queryable, a function or arithmetic over them, or a literal."""
        if isinstance(node, ast.Attribute):
            queryable = self.queryable(node.name)
            if queryable.type == "geometry":
                raise InvalidParameter("filter", f"{node.name!r} is a geometry: use S_INTERSECTS")
            return queryable.sql
        if isinstance(node, ast.Function):
            function = FUNCTIONS.get(node.name.lower())
            if function is None or len(node.arguments) != 1:
                raise InvalidParameter("filter", f"function {node.name!r} is not supported")
            self._expect(node.arguments[0], "string", node.name)
            return f"{function}({self.scalar(node.arguments[0], 'string')})"
        if isinstance(node, ast.Arithmetic):
            for operand in (node.lhs, node.rhs):
                if _FAMILY.get(self._attribute_type(operand) or "number") != "number":
                    raise InvalidParameter("filter", "arithmetic needs numbers")
            lhs, rhs = self.scalar(node.lhs, "number"), self.scalar(node.rhs, "number")
            return f"({lhs} {ARITHMETIC[node.op]} {rhs})"
        return self.literal(node, kind)

    def literal(self, value: object, kind: str | None) -> str:
        """`value` bound, converted to the type `kind` of what it is compared with."""
        if kind == "date-time" or (kind is None and isinstance(value, date)):
            return self.bind(_instant(value)) + "::timestamptz"
        if kind in ("number", "integer") or (kind is None and _is_number(value)):
            if not _is_number(value):
                raise InvalidParameter("filter", f"{value!r} is not a number")
            return self.bind(float(value)) + "::float8"
        if kind == "boolean" or (kind is None and isinstance(value, bool)):
            if not isinstance(value, bool):
                raise InvalidParameter("filter", f"{value!r} is not true or false")
            return self.bind(value) + "::boolean"
        if isinstance(value, str):
            return self.bind(value) + "::text"
        raise InvalidParameter("filter", f"{value!r} cannot be compared with a {kind}")

    def geometry(self, node: object) -> str:
        """A geometry expression: the geometry queryable, or a literal (GeoJSON, WKT, BBOX)."""
        if isinstance(node, ast.Attribute):
            queryable = self.queryable(node.name)
            if queryable.type != "geometry":
                raise InvalidParameter("filter", f"{node.name!r} is not a geometry")
            return queryable.sql
        if isinstance(node, values.Geometry):
            return f"ST_SetSRID(ST_GeomFromGeoJSON({self.bind(json.dumps(node.geometry))}), 4326)"
        if isinstance(node, values.Envelope):  # x1, x2: west, east; y1, y2: south, north
            return self._envelope(node.x1, node.y1, node.x2, node.y2)
        if isinstance(node, ast.Function) and node.name.lower() == "bbox":
            numbers = node.arguments
            if len(numbers) in (4, 6) and all(_is_number(value) for value in numbers):
                half = len(numbers) // 2
                return self._envelope(numbers[0], numbers[1], numbers[half], numbers[half + 1])
        raise InvalidParameter("filter", f"{_name_of(node)} is not a geometry")

    def _envelope(self, *corners: object) -> str:
        bound = ", ".join(self.bind(float(value)) + "::float8" for value in corners)
        return f"ST_MakeEnvelope({bound}, 4326)"


_FAMILY = {"integer": "number", "number": "number"}


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _instant(value: object) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        return parse_time(value, "filter")
    raise InvalidParameter("filter", f"{value!r} is not a time")


def _name_of(node: object) -> str:
    if isinstance(node, ast.Node):
        return type(node).__name__
    return repr(node)


@dataclass(frozen=True)
class Selection:
    """What a page of a collection keeps and in which order: a filter over its queryables and
    `sortby`'s terms (SQL expression, descending)."""

    queryables: dict[str, Queryable]
    filter: ast.Node | None = None
    order: tuple[tuple[str, bool], ...] = ()

    def where(self, bind: Binder) -> list[str]:
        """The SQL conditions of the filter (none without one)."""
        return [] if self.filter is None else [filter_sql(self.filter, self.queryables, bind)]


def property_filter(
    parameters: dict[str, str], queryables: dict[str, Queryable]
) -> ast.Node | None:
    """Part 1's `name=value` parameters over the non-geometry queryables, as one equality each
    (values typed by their queryable), joined by AND; None when there are none."""
    equalities: list[ast.Node] = []
    for name, text in parameters.items():
        queryable = queryables.get(name)
        if queryable is None or queryable.type == "geometry":
            continue
        equalities.append(ast.Equal(ast.Attribute(name), _typed(text, queryable, name)))
    if not equalities:
        return None
    combined = equalities[0]
    for item in equalities[1:]:
        combined = ast.And(combined, item)
    return combined


def both(first: ast.Node | None, second: ast.Node | None) -> ast.Node | None:
    """The AND of two optional filters."""
    if first is None or second is None:
        return first or second
    return ast.And(first, second)


def _typed(text: str, queryable: Queryable, parameter: str) -> object:
    if queryable.type in ("integer", "number"):
        try:
            return float(text)
        except ValueError:
            raise InvalidParameter(parameter, f"{text!r} is not a number") from None
    if queryable.type == "boolean":
        if text.lower() not in ("true", "false"):
            raise InvalidParameter(parameter, f"{text!r} is not true or false")
        return text.lower() == "true"
    if queryable.type == "date-time":
        return parse_time(text, parameter)
    return text


def parse_sortby(text: str | None, queryables: dict[str, Queryable]) -> list[tuple[str, bool]]:
    """`sortby` (`name`, `+name`, `-name`, comma-separated) as (SQL expression, descending)."""
    if text is None or not text.strip():
        return []
    order = []
    for part in text.split(","):
        item = part.strip()
        descending = item.startswith("-")
        name = item.lstrip("+-").strip()
        found = queryables.get(name)
        if found is None or not found.sortable:
            sortable = ", ".join(key for key, value in queryables.items() if value.sortable)
            raise InvalidParameter("sortby", f"{name!r} is not sortable (sortable: {sortable})")
        order.append((found.sql, descending))
    return order


def order_sql(order: Sequence[tuple[str, bool]], tie_breaker: str) -> str:
    """ORDER BY text of `order`, then `tie_breaker` so pages never overlap."""
    terms = [f"{sql} {'DESC' if descending else 'ASC'} NULLS LAST" for sql, descending in order]
    return ", ".join([*terms, tie_breaker])


def parse_properties(text: str | None, names: Sequence[str]) -> tuple[str, ...] | None:
    """`properties`: the feature properties to return (None: all); 400 naming an unknown one."""
    if text is None:
        return None
    chosen = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [name for name in chosen if name not in names]
    if unknown:
        raise InvalidParameter("properties", f"{', '.join(unknown)} not among {', '.join(names)}")
    return chosen


def queryables_schema(url: str, title: str, queryables: dict[str, Queryable]) -> dict:
    """The queryables of a collection as the JSON Schema Part 3 asks for."""
    properties = {}
    for name, queryable in queryables.items():
        if queryable.type == "geometry":
            schema: dict = {"format": "geometry-any"}
        elif queryable.type == "date-time":
            schema = {"type": "string", "format": "date-time"}
        else:
            schema = {"type": queryable.type}
        properties[name] = {"title": name, "description": queryable.description, **schema}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": url,
        "type": "object",
        "title": title,
        "properties": properties,
        "additionalProperties": False,
    }
