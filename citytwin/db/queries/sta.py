"""SensorThings reads: entity sets, navigation and nested `$expand` as set-based SQL.

An expansion is one query per level for all parents at once (a LATERAL subquery per parent
key), so a page of 100 Datastreams with their Observations costs two queries, not 101.
"""

from dataclasses import dataclass, replace

import asyncpg
import orjson

from citytwin.db.queries.input_errors import caller_input
from citytwin.db.queries.sql import Bind
from citytwin.errors import InvalidParameter, NotFound
from citytwin.query.odata import QueryOptions
from citytwin.query.odata_sql import FilterSql
from citytwin.query.sta_documents import layout
from citytwin.query.sta_json import built_in_database, observation_json
from citytwin.query.sta_model import ENTITY_SETS, EntitySet, Prop, Relation, observation_id
from citytwin.twin.flags import STUCK_READINGS

# The live state as an Observations source: "latest per Datastream" never scans readings. Its
# resultQuality adds the twin's suspect rules (twin/flags.py), read from the feeds' stored
# ranges: stuck (STUCK_READINGS equal values, not at the range's floor) or a jump faster than
# the whole range per hour.
LATEST_READINGS = f"""(
    SELECT l.sensor_id, l.variable_id, l.time, l.value, l.flagged, NULL::geometry AS geom,
           (l.run_length >= {STUCK_READINGS} AND l.value IS DISTINCT FROM (x.rng ->> 0)::float8)
           OR coalesce(abs(l.value - l.prev_value)
                       / nullif(extract(epoch FROM l.time - l.prev_time) / 3600, 0)
                       > (x.rng ->> 1)::float8 - (x.rng ->> 0)::float8, false) AS suspect
    FROM latest_readings l
    JOIN sensors o ON o.id = l.sensor_id JOIN feeds f ON f.name = o.feed
    JOIN variables w ON w.id = l.variable_id
    CROSS JOIN LATERAL (SELECT f.definition -> 'variables' -> w.name -> 'range' AS rng) x
) r JOIN sensors s ON s.id = r.sensor_id JOIN variables v ON v.id = r.variable_id"""
OBSERVATIONS = ENTITY_SETS["Observations"]
LATEST = replace(
    OBSERVATIONS,
    source=LATEST_READINGS,
    properties=OBSERVATIONS.properties
    | {
        "resultQuality": Prop(
            "CASE WHEN r.flagged THEN 'flagged' WHEN r.suspect THEN 'suspect' ELSE 'ok' END",
            "text",
        )
    },
)


@dataclass(frozen=True)
class Page:
    """A page of a collection: its rows (expanded), or `json`, the JSON array of their
    documents when the database wrote it; whether more follow; the count if asked."""

    rows: list[dict]
    more: bool
    count: int | None
    json: str | None = None


@dataclass(frozen=True)
class Scope:
    """The rows of a set that a parent's relation reaches: `condition` holds for `key`."""

    condition: str
    key: object


def _columns(
    entity: EntitySet, options: QueryOptions, keys: list[str], base: str | None, bind: Bind
) -> tuple[str, str]:
    """(the SELECT list, a join it needs): the document's parts, or the whole document (column
    `doc:`) when the database can write it and the service root `base` is given."""
    for name in options.select:
        if name not in entity.properties and name not in entity.relations and name != "id":
            raise InvalidParameter("$select", f"{name!r} is not a property of {entity.name}")
    if base is not None and built_in_database(entity, bool(options.expand), keys):
        properties, links = layout(entity.name, options.select, ())
        # The root is bound as the content of a JSON string (quotes and backslashes escaped).
        root = bind(orjson.dumps(base).decode()[1:-1])
        document, join = observation_json(entity, properties, links, f"{root}::text")
        return f'{document} AS "doc:"', join
    parts = entity.id.out is not None  # an id selected in parts, made in `_rows`
    columns = [entity.id.output if parts else f'{entity.id.sql} AS "@iot.id"']
    for name in options.select or tuple(entity.properties):
        if name in entity.properties:
            columns.append(f'{entity.properties[name].output} AS "{name}"')
    for name in keys:
        columns.append(f'{entity.relations[name].key} AS "key:{name}"')
    return ", ".join(columns), ""


def _rows(records: list[asyncpg.Record]) -> list[dict]:
    """Rows as dicts, an Observation's id parts (sensor, variable, time) made its id."""
    rows = [dict(record) for record in records]
    for row in rows:
        if "id:time" in row:
            parts = row.pop("id:sensor"), row.pop("id:variable"), row.pop("id:time")
            row["@iot.id"] = observation_id(*parts)
    return rows


def _expanded(entity: EntitySet, options: QueryOptions) -> list[str]:
    for name in options.expand:
        _relation(entity, name)
    return list(options.expand)


def _relation(entity: EntitySet, name: str) -> Relation:
    if name not in entity.relations:
        known = ", ".join(entity.relations)
        raise InvalidParameter("$expand", f"{entity.name} has no {name!r} (it has {known})")
    return entity.relations[name]


def _query(
    entity: EntitySet,
    options: QueryOptions,
    bind: Bind,
    conditions: list[str],
    keys: list[str],
    base: str | None = None,
) -> tuple[str, str, int]:
    """(the page's SELECT, the WHERE clause it filters by, how many bound values the WHERE
    holds: they are bound first); with the service root `base`, documents the database can
    write come whole."""
    translate = FilterSql(entity, bind)
    where = [*conditions]
    if options.filter is not None:
        where.append(translate.sql(options.filter))
    where_sql = " AND ".join(where) or "true"
    where_values = len(bind.values)
    columns, join = _columns(entity, options, keys, base, bind)
    order = ", ".join([*translate.order(options.orderby), entity.order])
    sql = (
        f"SELECT {columns} FROM {entity.source} {join} WHERE {where_sql} "
        f"ORDER BY {order} LIMIT {bind(options.top + 1)} OFFSET {bind(options.skip)}"
    )
    return sql, where_sql, where_values


def is_latest(options: QueryOptions) -> bool:
    """`$top=1;$orderby=phenomenonTime desc` and nothing else: the live state answers."""
    order = options.orderby
    return (
        options.top == 1
        and options.skip == 0
        and options.filter is None
        and not options.expand
        and len(order) == 1
        and order[0].descending
        and getattr(order[0].expression, "name", None) in ("phenomenonTime", "resultTime")
    )


async def collection(
    conn: asyncpg.Connection,
    entity: EntitySet,
    options: QueryOptions,
    scope: Scope | None,
    base: str | None = None,
) -> Page:
    """A page of `entity` (in `scope`) and the count when `$count=true`. With the service root
    `base`, documents the database can write come as one JSON array."""
    bind = Bind()
    conditions = [scope.condition.format(key=f"{bind(scope.key)}::bigint")] if scope else []
    expanded = _expanded(entity, options)
    sql, where_sql, where_values = _query(entity, options, bind, conditions, expanded, base)
    count = None
    with caller_input("$filter"):
        if options.count:
            count = await conn.fetchval(
                f"SELECT count(*) FROM {entity.source} WHERE {where_sql}",
                *bind.values[:where_values],
            )
        records = await conn.fetch(sql, *bind.values)
    if base is not None and built_in_database(entity, bool(expanded), expanded):
        # The documents' texts joined as they come: no dict, no Python object per entity.
        documents = [record[0] for record in records[: options.top]]
        return Page([], len(records) > options.top, count, f"[{','.join(documents)}]")
    rows = _rows(records)
    more = len(rows) > options.top
    rows = rows[: options.top]
    await expand(conn, entity, rows, options, base)
    return Page(rows, more, count)


async def entity_by_id(
    conn: asyncpg.Connection,
    entity: EntitySet,
    value: object,
    options: QueryOptions,
    scope: Scope | None = None,
    keys: tuple[str, ...] = (),
) -> dict:
    """One entity (in `scope`; by id unless `value` is None, for a to-one relation) with its
    expansions and the keys of the relations `keys`; NotFound if there is none."""
    bind = Bind()
    conditions = [] if value is None else [entity.id_condition(value, bind)]
    if scope:
        conditions.append(scope.condition.format(key=f"{bind(scope.key)}::bigint"))
    wanted = list(dict.fromkeys([*_expanded(entity, options), *keys]))
    single = replace(options, filter=None, orderby=(), top=1, skip=0)
    sql, _, _ = _query(entity, single, bind, conditions, wanted)
    with caller_input("$select"):
        found_rows = _rows(await conn.fetch(sql, *bind.values))
    if not found_rows:
        raise NotFound(entity.name, value)
    found = found_rows[0]
    await expand(conn, entity, [found], options)
    return found


async def expand(
    conn: asyncpg.Connection,
    entity: EntitySet,
    rows: list[dict],
    options: QueryOptions,
    base: str | None = None,
) -> None:
    """Attach each `$expand` item to `rows` (in place): a list (plus `<name>@more`) for a
    to-many relation, an entity or None for a to-one; `base` as in `collection`."""
    for name, nested in options.expand.items():
        relation = _relation(entity, name)
        target = ENTITY_SETS[relation.target]
        if not relation.many:
            nested = replace(nested, top=1, skip=0)
        elif target.name == "Observations" and is_latest(nested):
            target = LATEST
        parents = list(dict.fromkeys(row[f"key:{name}"] for row in rows))
        children = await _children(conn, relation, target, nested, parents, base)
        counts = await _counts(conn, relation, target, nested, parents) if nested.count else {}
        for row in rows:
            key = row.pop(f"key:{name}")
            found = children.get(key, [])
            if relation.many:
                row[name] = found[: nested.top]
                row[f"{name}@more"] = len(found) > nested.top
                if nested.count:
                    row[f"{name}@count"] = counts.get(key, 0)
            else:
                row[name] = found[0] if found else None


async def _children(
    conn: asyncpg.Connection,
    relation: Relation,
    target: EntitySet,
    options: QueryOptions,
    parents: list[object],
    base: str | None,
) -> dict[object, list[dict]]:
    if not parents:
        return {}
    bind = Bind()
    placeholder = bind(parents)
    condition = [relation.condition.format(key="p.key")]
    inner, _, _ = _query(target, options, bind, condition, _expanded(target, options), base)
    sql = (
        f'SELECT p.key AS "parent:", x.* FROM unnest({placeholder}::bigint[]) AS p (key) '
        f"CROSS JOIN LATERAL ({inner}) x"
    )
    with caller_input("$expand"):
        rows = _rows(await conn.fetch(sql, *bind.values))
    await expand(conn, target, rows, options, base)
    grouped: dict[object, list[dict]] = {}
    for row in rows:
        grouped.setdefault(row.pop("parent:"), []).append(row)
    return grouped


async def sensor_id(conn: asyncpg.Connection, feed: str, external_id: str) -> int | None:
    """The store's id of a feed's sensor (a Thing's id)."""
    return await conn.fetchval(
        "SELECT id FROM sensors WHERE feed = $1 AND external_id = $2", feed, external_id
    )


async def _counts(
    conn: asyncpg.Connection,
    relation: Relation,
    target: EntitySet,
    options: QueryOptions,
    parents: list[object],
) -> dict[object, int]:
    """`$count` of a nested collection: its rows per parent (under its `$filter`)."""
    bind = Bind()
    placeholder = bind(parents)
    where = [relation.condition.format(key="p.key")]
    if options.filter is not None:
        where.append(FilterSql(target, bind).sql(options.filter))
    sql = (
        f"SELECT p.key, (SELECT count(*) FROM {target.source} WHERE {' AND '.join(where)}) "
        f"FROM unnest({placeholder}::bigint[]) AS p (key)"
    )
    with caller_input("$expand"):
        return {row[0]: row[1] for row in await conn.fetch(sql, *bind.values)}
