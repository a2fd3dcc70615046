"""OData `$filter` and `$orderby` ASTs (odata-query's) as SQL over a SensorThings entity set.

Every literal is bound through `bind` (a callable returning its `$n` placeholder, as
`db.queries.sql.Bind`), never written into the SQL text. Pure: no I/O.
"""

from collections.abc import Callable
from datetime import date, datetime

import shapely
from odata_query import ast

from citytwin.errors import InvalidParameter
from citytwin.query.odata import Order
from citytwin.query.sta_model import EntitySet, resolve_path

Binder = Callable[[object], str]

COMPARATORS = {ast.Eq: "=", ast.NotEq: "<>", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
ARITHMETIC = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
# name → SQL template over the translated arguments {0}, {1}, …
FUNCTIONS = {
    "contains": "(strpos({0}, {1}) > 0)",
    "substringof": "(strpos({1}, {0}) > 0)",
    "startswith": "starts_with({0}, {1})",
    "endswith": "(right({0}, char_length({1})) = {1})",
    "length": "char_length({0})",
    "indexof": "(strpos({0}, {1}) - 1)",
    "tolower": "lower({0})",
    "toupper": "upper({0})",
    "trim": "btrim({0})",
    "concat": "({0} || {1})",
    "year": "extract(year FROM {0} AT TIME ZONE 'UTC')",
    "month": "extract(month FROM {0} AT TIME ZONE 'UTC')",
    "day": "extract(day FROM {0} AT TIME ZONE 'UTC')",
    "hour": "extract(hour FROM {0} AT TIME ZONE 'UTC')",
    "minute": "extract(minute FROM {0} AT TIME ZONE 'UTC')",
    "second": "floor(extract(second FROM {0} AT TIME ZONE 'UTC'))",
    "fractionalseconds": "(extract(second FROM {0}) - floor(extract(second FROM {0})))",
    "date": "({0} AT TIME ZONE 'UTC')::date",
    "time": "({0} AT TIME ZONE 'UTC')::time",
    "totaloffsetminutes": "0",  # times are stored in UTC
    "now": "now()",
    "round": "round({0})",
    "floor": "floor({0})",
    "ceiling": "ceil({0})",
    "geo.intersects": "ST_Intersects({0}, {1})",
    "geo.distance": "ST_Distance({0}, {1})",
    "geo.length": "ST_Length({0})",
    "st_equals": "ST_Equals({0}, {1})",
    "st_disjoint": "ST_Disjoint({0}, {1})",
    "st_touches": "ST_Touches({0}, {1})",
    "st_within": "ST_Within({0}, {1})",
    "st_overlaps": "ST_Overlaps({0}, {1})",
    "st_crosses": "ST_Crosses({0}, {1})",
    "st_intersects": "ST_Intersects({0}, {1})",
    "st_contains": "ST_Contains({0}, {1})",
    "st_distance": "ST_Distance({0}, {1})",
}


def _geometry(text: str, bind: Binder) -> str:
    wkt = text.split(";", 1)[1] if text.upper().startswith("SRID=") else text
    try:
        shapely.from_wkt(wkt)
    except shapely.errors.GEOSException as exc:
        raise InvalidParameter("$filter", f"geography'{text}' is not WKT: {exc}") from None
    return f"ST_GeomFromText({bind(wkt)}, 4326)"


def _datetime(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidParameter("$filter", f"{text!r} is not an ISO 8601 time") from None


class FilterSql:
    """Translates expressions over `entity`; `parameter` names the option in errors."""

    def __init__(self, entity: EntitySet, bind: Binder, parameter: str = "$filter") -> None:
        self.entity, self.bind, self.parameter = entity, bind, parameter

    def _path(self, node: ast._Node) -> list[str]:
        if isinstance(node, ast.Identifier):
            return [*node.namespace, node.name]
        if isinstance(node, ast.Attribute):
            return [*self._path(node.owner), node.attr]
        raise InvalidParameter(self.parameter, f"{node} is not a property path")

    def property(self, node: ast._Node) -> str:
        path = self._path(node)
        try:
            return resolve_path(self.entity, path).sql
        except KeyError:
            raise InvalidParameter(
                self.parameter, f"{'/'.join(path)!r} is not a property of {self.entity.name}"
            ) from None

    def _literal(self, node: ast._Literal) -> str:
        bind = self.bind
        match node:
            case ast.Null():
                return "NULL"
            case ast.Boolean():
                return f"{bind(node.val.lower() == 'true')}::boolean"
            case ast.Integer():
                return f"{bind(int(node.val))}::bigint"
            case ast.Float():
                return f"{bind(float(node.val))}::float8"
            case ast.String():
                return f"{bind(node.val)}::text"
            case ast.DateTime():
                return f"{bind(_datetime(node.val))}::timestamptz"
            case ast.Date():
                return f"{bind(date.fromisoformat(node.val))}::date"
            case ast.Geography():
                return _geometry(node.val, bind)
            case ast.List():
                return "(" + ", ".join(self._literal(item) for item in node.val) + ")"
        raise InvalidParameter(self.parameter, f"literal {node} is not supported")

    def sql(self, node: ast._Node) -> str:
        """SQL of one expression node."""
        match node:
            case ast.Identifier() | ast.Attribute():
                return self.property(node)
            case ast._Literal():
                return self._literal(node)
            case ast.Compare(comparator=ast.In()):
                return f"({self.sql(node.left)} IN {self.sql(node.right)})"
            case ast.Compare():
                return self._compare(node)
            case ast.BoolOp():
                word = "AND" if isinstance(node.op, ast.And) else "OR"
                return f"({self.sql(node.left)} {word} {self.sql(node.right)})"
            case ast.UnaryOp(op=ast.Not()):
                return f"(NOT {self.sql(node.operand)})"
            case ast.UnaryOp(op=ast.USub()):
                return f"(-{self.sql(node.operand)})"
            case ast.BinOp(op=ast.Mod()):
                return f"mod({self.sql(node.left)}::numeric, {self.sql(node.right)}::numeric)"
            case ast.BinOp():
                operator = ARITHMETIC[type(node.op)]
                return f"({self.sql(node.left)} {operator} {self.sql(node.right)})"
            case ast.Call():
                return self._call(node)
        raise InvalidParameter(self.parameter, f"{type(node).__name__} is not supported")

    def _compare(self, node: ast.Compare) -> str:
        operator = COMPARATORS[type(node.comparator)]
        if isinstance(node.right, ast.Null) and operator in ("=", "<>"):
            return f"({self.sql(node.left)} IS {'' if operator == '=' else 'NOT '}NULL)"
        return f"({self.sql(node.left)} {operator} {self.sql(node.right)})"

    def _call(self, node: ast.Call) -> str:
        name = node.func.full_name()
        args = [self.sql(arg) for arg in node.args]
        if name == "substring":  # OData counts from 0, SQL from 1
            length = f", {args[2]}" if len(args) > 2 else ""
            return f"substr({args[0]}, ({args[1]} + 1)::int{length})"
        if name not in FUNCTIONS:
            raise InvalidParameter(self.parameter, f"function {name} is not supported")
        return FUNCTIONS[name].format(*args)

    def order(self, orders: tuple[Order, ...]) -> list[str]:
        """ORDER BY items of `$orderby`."""
        return [f"{self.sql(o.expression)} {'DESC' if o.descending else 'ASC'}" for o in orders]
