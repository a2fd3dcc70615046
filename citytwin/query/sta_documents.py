"""SensorThings resource paths and answer documents (selfLinks, navigation links, nested
expansions, nextLinks), without I/O."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import urlencode

import orjson

from citytwin.errors import NotFound
from citytwin.query.odata import QueryOptions
from citytwin.query.sta_model import ENTITY_SETS, EntitySet, Relation, entity_set

SEGMENT = re.compile(r"^(?P<name>[A-Za-z]+)(?:\((?P<id>\d+|'(?:[^']|'')*')\))?$")


@dataclass(frozen=True)
class Segment:
    name: str
    id: object = None


@dataclass(frozen=True)
class ResourcePath:
    """`Things(1)/Datastreams` as segments, and whether `$ref` or `$value` ends it."""

    segments: tuple[Segment, ...]
    ref: bool = False
    value: bool = False


@dataclass(frozen=True)
class Step:
    """One entity set along a path: reached through `relation` (named `name`) of the step
    before, one entity if `id` is given."""

    entity: EntitySet
    id: object
    name: str
    relation: Relation | None

    @property
    def single(self) -> bool:
        return self.id is not None or (self.relation is not None and not self.relation.many)


def parse_path(path: str) -> ResourcePath:
    """A resource path below the service root; NotFound for what is not one."""
    parts = [part for part in path.strip("/").split("/") if part]
    ref = bool(parts) and parts[-1] == "$ref"
    value = bool(parts) and parts[-1] == "$value"
    if ref or value:
        parts.pop()
    segments = []
    for part in parts:
        match = SEGMENT.match(part)
        if match is None:
            raise NotFound("resource", path)
        raw = match["id"]
        if raw is None:
            key = None
        else:
            key = raw[1:-1].replace("''", "'") if raw.startswith("'") else int(raw)
        segments.append(Segment(match["name"], key))
    if not segments:
        raise NotFound("resource", path)
    return ResourcePath(tuple(segments), ref, value)


def resolve(path: ResourcePath) -> tuple[list[Step], str | None]:
    """The entity sets along `path` and the property it ends with (if any); NotFound for an
    unknown set, relation, property, or an id where a to-one relation stands."""
    first = path.segments[0]
    steps = [Step(entity_set(first.name), first.id, first.name, None)]
    last = len(path.segments) - 1
    for position, segment in enumerate(path.segments[1:], start=1):
        current = steps[-1]
        if not current.single:
            raise NotFound(current.entity.name, segment.name)
        relation = current.entity.relations.get(segment.name)
        if relation is not None and (relation.many or segment.id is None):
            steps.append(Step(ENTITY_SETS[relation.target], segment.id, segment.name, relation))
            continue
        known = segment.name in current.entity.properties or segment.name == "id"
        if known and segment.id is None and position == last:
            return steps, segment.name
        raise NotFound(f"{current.entity.name} property", segment.name)
    if path.value:
        raise NotFound("resource", "$value")
    return steps, None


def id_text(value: object) -> str:
    """An id as it stands in a URL: `1` or `'text'`."""
    return str(value) if isinstance(value, int) else "'" + str(value).replace("'", "''") + "'"


def iso(value: datetime) -> str:
    """A time as ISO 8601 in UTC with `Z`."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def format_value(value: object) -> object:
    """A [start, end] pair of times as an interval; anything else as it is (the answer's JSON
    writes times in UTC)."""
    if isinstance(value, list) and len(value) == 2 and isinstance(value[1], datetime):
        first, last = value
        return f"{iso(first or last)}/{iso(last)}"
    return value


def next_link(url: str, params: dict[str, str], options: QueryOptions) -> str:
    """The URL of the next page: the same request with `$skip` moved on by `$top`."""
    following = {**params, "$skip": str(options.skip + options.top), "$top": str(options.top)}
    return f"{url}?{urlencode(following)}"


@lru_cache(maxsize=256)
def layout(
    entity: str, select: tuple[str, ...], expanded: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(properties, navigation links) an entity's documents hold, worked out once per shape."""
    found = ENTITY_SETS[entity]
    properties = tuple(name for name in found.properties if not select or name in select)
    links = tuple(
        name for name in found.relations if name not in expanded and (not select or name in select)
    )
    return properties, links


def document(
    entity: EntitySet, row: dict, base: str, options: QueryOptions
) -> dict | orjson.Fragment:
    """One entity's JSON: its id and selfLink, properties, navigation links and expansions
    (or the JSON text the database wrote of it, `doc:`)."""
    if "doc:" in row:
        return orjson.Fragment(row["doc:"])
    identifier = row["@iot.id"]
    self_link = f"{base}/{entity.name}({id_text(identifier)})"
    answer: dict = {"@iot.id": identifier, "@iot.selfLink": self_link}
    properties, links = layout(entity.name, options.select, tuple(options.expand))
    for name in properties:
        if name in row:
            value = row[name]
            answer[name] = format_value(value) if isinstance(value, list) else value
    for name in links:
        answer[f"{name}@iot.navigationLink"] = f"{self_link}/{name}"
    for name, nested in options.expand.items():
        relation = entity.relations[name]
        target, found = ENTITY_SETS[relation.target], row.get(name)
        if relation.many:
            if f"{name}@count" in row:
                answer[f"{name}@iot.count"] = row[f"{name}@count"]
            answer[name] = [document(target, child, base, nested) for child in found or []]
            if row.get(f"{name}@more"):
                answer[f"{name}@iot.nextLink"] = next_link(f"{self_link}/{name}", {}, nested)
        else:
            answer[name] = None if found is None else document(target, found, base, nested)
    return answer
