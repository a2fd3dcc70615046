"""OData query options of SensorThings requests, parsed without I/O.

`$filter` and `$orderby` expressions are parsed by `odata-query` (a maintained OData parser);
`$expand` and `$select` lists, whose nesting it does not cover, are split here.
"""

from dataclasses import dataclass, field

from odata_query import ast, exceptions, grammar

from citytwin.errors import InvalidParameter

# SensorThings 1.1 geometry functions besides OData's geo.*: the parser checks function names
# and argument counts against this table, so they are registered once, here.
grammar.ODATA_FUNCTIONS.update(
    {
        "substringof": 2,
        "st_equals": 2,
        "st_disjoint": 2,
        "st_touches": 2,
        "st_within": 2,
        "st_overlaps": 2,
        "st_crosses": 2,
        "st_intersects": 2,
        "st_contains": 2,
        "st_distance": 2,
    }
)

DEFAULT_TOP = 100
OPTIONS = ("$filter", "$expand", "$select", "$orderby", "$top", "$skip", "$count")
EXTENSION_OPTIONS = ("$apply", "$interval")


@dataclass(frozen=True)
class Order:
    expression: ast._Node
    descending: bool


@dataclass
class QueryOptions:
    """The options of one level of a request (the top level or one `$expand` item)."""

    filter: ast._Node | None = None
    select: tuple[str, ...] = ()
    orderby: tuple[Order, ...] = ()
    top: int = DEFAULT_TOP
    top_given: bool = False
    skip: int = 0
    count: bool = False
    expand: dict[str, "QueryOptions"] = field(default_factory=dict)
    apply: str | None = None
    interval: str | None = None


def parse_expression(text: str, parameter: str) -> ast._Node:
    """An OData expression as an AST; a 400 naming the token and its position otherwise."""
    try:
        return grammar.ODataParser().parse(grammar.ODataLexer().tokenize(text))
    except exceptions.TokenizingException as exc:
        token = exc.token
        raise InvalidParameter(
            parameter, f"cannot read {token.value!r} at position {token.index}"
        ) from None
    except exceptions.ParsingException as exc:
        if exc.eof or exc.token is None:
            raise InvalidParameter(
                parameter, f"unexpected end of expression at position {len(text)}"
            ) from None
        token, position = exc.token, exc.token.index
        near = str(token.value)
        if near.isspace():  # the parser stops at the blank before what it cannot use
            rest = text[position:]
            position += len(rest) - len(rest.lstrip())
            near = rest.strip().split(" ", 1)[0]
        raise InvalidParameter(parameter, f"unexpected {near!r} at position {position}") from None
    except exceptions.ODataException as exc:
        raise InvalidParameter(parameter, str(exc)) from None


def split_top_level(text: str, separator: str) -> list[str]:
    """`text` split at `separator` outside parentheses and quotes."""
    parts, depth, quoted, start = [], 0, False, 0
    for position, char in enumerate(text):
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and char == separator:
            parts.append(text[start:position])
            start = position + 1
    parts.append(text[start:])
    return [part.strip() for part in parts if part.strip()]


def _integer(text: str, parameter: str, highest: int | None = None) -> int:
    if not text.isdigit():
        raise InvalidParameter(parameter, f"{text!r} is not a non-negative integer")
    value = int(text)
    if highest is not None and value > highest:
        raise InvalidParameter(parameter, f"at most {highest}")
    return value


def _orderby(text: str) -> tuple[Order, ...]:
    orders = []
    for part in split_top_level(text, ","):
        words = part.rsplit(" ", 1)
        descending = len(words) == 2 and words[1].lower() == "desc"
        expression = words[0] if len(words) == 2 and words[1].lower() in ("asc", "desc") else part
        orders.append(Order(parse_expression(expression, "$orderby"), descending))
    return tuple(orders)


def _expand(text: str, max_top: int) -> dict[str, QueryOptions]:
    """`A($top=1;$expand=B),C/D` as {name: options}; a path `C/D` nests D in C."""
    expanded: dict[str, QueryOptions] = {}
    for item in split_top_level(text, ","):
        name, _, inner = item.partition("(")
        if inner and not inner.endswith(")"):
            raise InvalidParameter("$expand", f"unbalanced parentheses in {item!r}")
        options = {}
        for pair in split_top_level(inner[:-1], ";") if inner else []:
            key, equals, value = pair.partition("=")
            if not equals:
                raise InvalidParameter("$expand", f"{pair!r}: an option is key=value")
            options[key.strip()] = value.strip()
        steps = [step.strip() for step in name.split("/")]
        target = expanded
        for step in steps[:-1]:
            target = target.setdefault(step, QueryOptions()).expand
        target[steps[-1]] = parse_options(options, max_top, nested=True)
    return expanded


def parse_options(params: dict[str, str], max_top: int, nested: bool = False) -> QueryOptions:
    """The query options of one level, `$top` at most `max_top`; an unknown option is a 400
    naming it."""
    allowed = OPTIONS + (() if nested else EXTENSION_OPTIONS)
    for name in params:
        if name not in allowed:
            raise InvalidParameter(name, f"unknown query option (known: {', '.join(allowed)})")
    options = QueryOptions()
    if "$filter" in params:
        options.filter = parse_expression(params["$filter"], "$filter")
    if "$select" in params:
        options.select = tuple(split_top_level(params["$select"], ","))
    if "$orderby" in params:
        options.orderby = _orderby(params["$orderby"])
    if "$top" in params:
        options.top = _integer(params["$top"], "$top", max_top)
        options.top_given = True
    if "$skip" in params:
        options.skip = _integer(params["$skip"], "$skip")
    if "$count" in params:
        if params["$count"] not in ("true", "false"):
            raise InvalidParameter("$count", "true or false")
        options.count = params["$count"] == "true"
    if "$expand" in params:
        options.expand = _expand(params["$expand"], max_top)
    options.apply = params.get("$apply")
    options.interval = params.get("$interval")
    return options
