"""The SensorThings aggregates extension: `$apply=aggregate(result with average as avg, …)`
per `$interval` on `Datastreams(id)/Observations`, its time range bounded by `$filter` on
phenomenonTime (a restricted form of the OData Data Aggregation `$apply` proposed in
FraunhoferIOSB/FROST-Server#26). Pure: the question and the answer's documents."""

import re
from dataclasses import dataclass
from datetime import datetime

from odata_query import ast

from citytwin.errors import InvalidParameter
from citytwin.query.odata import QueryOptions, split_top_level
from citytwin.query.series import SeriesAggregates, parse_duration, series_aggregates
from citytwin.query.sta_documents import Step, iso
from citytwin.query.sta_model import DATASTREAM_FACTOR

# OData aggregation methods onto the store's columns.
FUNCTIONS = {"average": "avg", "sum": "sum", "min": "min", "max": "max", "$count": "count"}
ITEM = re.compile(r"^(?:result with (?P<method>\w+)|(?P<count>\$count)) as (?P<alias>\w+)$")


@dataclass(frozen=True)
class AggregateQuery:
    series: SeriesAggregates
    columns: tuple[tuple[str, str], ...]  # (alias, store column)


def _columns(text: str) -> tuple[tuple[str, str], ...]:
    if not (text.startswith("aggregate(") and text.endswith(")")):
        raise InvalidParameter("$apply", "only aggregate(result with <method> as <alias>, …)")
    columns = []
    for item in split_top_level(text[len("aggregate(") : -1], ","):
        match = ITEM.match(item)
        method = match and ("$count" if match["count"] else match["method"])
        if method not in FUNCTIONS:
            known = ", ".join(FUNCTIONS)
            raise InvalidParameter("$apply", f"{item!r}: methods are {known}")
        columns.append((match["alias"], FUNCTIONS[method]))
    return tuple(columns)


def _bounds(node: ast._Node | None) -> tuple[datetime | None, datetime | None]:
    """[start, end) from `phenomenonTime ge|gt … and phenomenonTime lt|le …`."""
    if node is None:
        return None, None
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
        left, right = _bounds(node.left), _bounds(node.right)
        return left[0] or right[0], left[1] or right[1]
    if (
        isinstance(node, ast.Compare)
        and getattr(node.left, "name", None) == "phenomenonTime"
        and isinstance(node.right, ast.DateTime)
        and isinstance(node.comparator, ast.GtE | ast.Gt | ast.Lt | ast.LtE)
    ):
        moment = datetime.fromisoformat(node.right.val)
        if isinstance(node.comparator, ast.GtE | ast.Gt):
            return moment, None
        return None, moment
    raise InvalidParameter("$filter", "with $apply, $filter only bounds phenomenonTime")


def aggregate_query(steps: list[Step], options: QueryOptions, max_periods: int) -> AggregateQuery:
    """The aggregates asked of `Datastreams(id)/Observations`, at most `max_periods` of them;
    400 for anything else."""
    if (
        len(steps) < 2
        or steps[-1].name != "Observations"
        or steps[-2].entity.name != "Datastreams"
        or steps[-2].id is None
    ):
        raise InvalidParameter("$apply", "applies to Datastreams(id)/Observations")
    if options.interval is None:
        raise InvalidParameter("$interval", "required with $apply (an ISO 8601 duration)")
    datastream = steps[-2].id
    series = [(datastream // DATASTREAM_FACTOR, datastream % DATASTREAM_FACTOR)]
    period = parse_duration(options.interval, "$interval")
    start, end = _bounds(options.filter)
    question = series_aggregates(series, start, end, period, "$filter", max_periods)
    return AggregateQuery(question, _columns(options.apply))


def documents(query: AggregateQuery, rows: list[dict]) -> list[dict]:
    """One document per period with data: `phenomenonTime` as an interval and the aliases."""
    period = query.series.period
    answer = []
    for row in rows:
        start = row["start"]
        item = {"phenomenonTime": f"{iso(start)}/{iso(start + period)}"}
        item |= {alias: row[column] for alias, column in query.columns}
        item["fromRollups"] = row["from_rollups"]
        answer.append(item)
    return answer
