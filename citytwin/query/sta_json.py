"""Observation documents written by PostgreSQL: a page of thousands of Observations is written as
JSON text in the database, instead of one dict per row in Python
(the SensorThings answers' hot path: a Datastream's month, the latest Observation of every
Datastream). The text parses to what `sta_documents.document` writes. Pure SQL text, no I/O."""

from citytwin.query.json_sql import JSON_TEXT
from citytwin.query.sta_model import EntitySet


def built_in_database(entity: EntitySet, expanded: bool, keys: list[str]) -> bool:
    """Whether a page of `entity` is written by `observation_json`: Observations with nothing
    expanded below them and no relation keys asked for."""
    return entity.name == "Observations" and not expanded and not keys


def observation_json(
    entity: EntitySet, properties: tuple[str, ...], links: tuple[str, ...], base: str
) -> tuple[str, str]:
    """(SQL of one Observation's document as JSON text, the join it reads its id from): id,
    selfLink (under `base`, a placeholder of the service root as JSON string content),
    `properties` and the navigation links `links`. The id is made once a row (`OFFSET 0`
    keeps the planner from inlining it in each of its uses)."""
    join = f"CROSS JOIN LATERAL (SELECT {entity.id.sql} AS id OFFSET 0) doc"
    self_link = f"{base} || '/{entity.name}(''' || doc.id || ''')'"
    parts = [f"""'{{"@iot.id":"' || doc.id || '","@iot.selfLink":"' || {self_link} || '"'"""]
    for name in properties:
        prop = entity.properties[name]
        parts.append(f"""',"{name}":' || {JSON_TEXT[prop.kind].format(prop.output)}""")
    for name in links:
        parts.append(f"""',"{name}@iot.navigationLink":"' || {self_link} || '/{name}"'""")
    return f"({' || '.join(parts)} || '}}')", join
